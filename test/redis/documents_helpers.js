'use strict';

// Helpers of the cluster document store tests (test/redis/documents*.test.js): Redis clients,
// store nodes, a concurrent workload of one playlist, and the checks every run makes: one version
// history (against Redis), the same results as one DocumentStore given the committed order, and
// every node's copy converged. Every wait is event-driven; nothing asserts on timing.

const IORedis = require('ioredis');
const { createClient } = require('redis');
const { ClusterDocumentStore } = require('../../lib/cluster');
const native = require('realtime-core');
const js = require('realtime-core/js');
const { PLAYLIST, prng, randomChange } = require('./documents_helpers_core');

const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);
const API = { native, js };

function waitReady(client) {
  return new Promise((resolve) => {
    if (client.status === 'ready') resolve();
    else client.once('ready', resolve);
  });
}

// an ioredis client that retries quickly after an outage
async function ioredisClient(url) {
  const c = new IORedis(url, { retryStrategy: () => 50 });
  c.on('error', () => {});
  await waitReady(c);
  return c;
}

async function nodeRedisClient(url) {
  const c = createClient({ url, socket: { reconnectStrategy: () => 50 } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

function closeClient(c) {
  if (typeof c.disconnect === 'function' && c.status !== undefined) c.disconnect();
  else if (c.isOpen) c.destroy();
}

// One client of `store` doing `count` mutations of `id`: it refreshes its view (version and
// document, read together) now and then and otherwise mutates on a stale base. With an `hlc`, each
// mutation carries the client's timestamp (last-writer-wins). -> [{ mutation, result }]
async function runClient(store, id, { clientId, count, seed, hlc = null, refreshEvery = 3 }) {
  const rand = prng(seed);
  const out = [];
  let view = await store.changesSince(id, 0);
  for (let i = 1; i <= count; i++) {
    if (i % refreshEvery === 0) view = await store.changesSince(id, 0);
    const change = randomChange(rand, view.snapshot, `${clientId}-${i}`);
    const mutation = { ...change, baseVersion: view.version, clientId, mutationId: i };
    if (hlc) mutation.timestamp = hlc.now();
    const result = await store.apply(id, mutation);
    out.push({ mutation, result });
  }
  return out;
}

// The checks of a concurrent run. `runs`: every { mutation, result } of every node; `redis`: a
// raw ioredis client; `stores`: the nodes.
async function checkRun({ impl, runs, redis, prefix, id, initial, storeOptions, stores }) {
  const api = API[impl];
  // 1. one version history: every version after 1 accepted exactly once, as Redis holds it
  const changed = runs.filter(({ result }) => (result.status === 'applied' || result.status === 'merged') && result.delta !== null);
  const versions = changed.map(({ result }) => result.version).sort((a, b) => a - b);
  const finalVersion = Number(await redis.hget(`${prefix}d:${id}`, 'v'));
  expect(versions).toEqual(Array.from({ length: finalVersion - 1 }, (_, i) => i + 2));
  const history = (await redis.lrange(`${prefix}h:${id}`, 0, -1)).map((raw) => JSON.parse(raw));
  const limit = storeOptions.historyLimit === undefined ? 100 : storeOptions.historyLimit;
  const expectedHistory = Array.from({ length: Math.min(limit, finalVersion - 1) }, (_, i) => finalVersion - Math.min(limit, finalVersion - 1) + 1 + i);
  expect(history.map((e) => e.v)).toEqual(expectedHistory);
  for (const e of history) {
    const committed = changed.find(({ result }) => result.version === e.v);
    expect(JSON.parse(e.d)).toEqual(committed.result.delta);
  }
  // 2. the same results as one DocumentStore applying the committed mutations in that order
  const reference = new api.DocumentStore(storeOptions);
  reference.put(id, initial);
  for (const { mutation, result } of [...changed].sort((a, b) => a.result.version - b.result.version)) {
    const { clientId, mutationId, ...m } = mutation;
    const expected = reference.apply(id, m);
    expect({ status: result.status, version: result.version, delta: result.delta, conflicts: result.conflicts })
      .toEqual({ status: expected.status, version: expected.version, delta: expected.delta, conflicts: expected.conflicts });
  }
  const finalText = await redis.hget(`${prefix}d:${id}`, 'doc');
  expect(JSON.parse(finalText)).toEqual(reference.get(id));
  // 3. every result is one of: applied/merged with a version, duplicate, rejected with a code
  for (const { result } of runs) {
    expect(['applied', 'merged', 'rejected']).toContain(result.status);
    if (result.status === 'rejected') expect(result.error.code).toMatch(/^ERR_RT_/);
  }
  // 4. every node converges: after a read-only mutation (a `test` that always holds) each node's
  // copy is at the final version with exactly Redis's document text
  for (const store of stores) {
    const r = await store.apply(id, { patch: [{ op: 'test', path: '/name', value: JSON.parse(finalText).name }] });
    expect(r).toEqual({ status: 'applied', version: finalVersion, delta: null, conflicts: [] });
    expect(store.localCopy(id, { output: 'text' })).toEqual({ version: finalVersion, doc: finalText });
  }
  return { finalVersion, finalText, changed };
}

function makeStores(n, clients, options) {
  return Array.from({ length: n }, (_, i) => new ClusterDocumentStore({ redis: clients[i % clients.length], ...options }));
}

module.exports = {
  IMPLS, API, PLAYLIST, ioredisClient, nodeRedisClient, closeClient, waitReady, prng, randomChange, runClient, checkRun, makeStores,
};
