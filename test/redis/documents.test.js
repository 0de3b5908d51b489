'use strict';

// ClusterDocumentStore (lib/cluster, docs/cluster-documents.md) against a real redis-server:
// several store nodes hammering one entity concurrently (one version history checked against
// Redis, conflicts resolved by the strategy, the same results as one DocumentStore, every node's
// copy converged), duplicate replays across nodes, a stale node catching up (by deltas and by a
// rebuild), Redis stopped and back, both implementations and both Redis client libraries.

const { startRedis } = require('../helpers/redis');
const { ClusterDocumentStore } = require('../../lib/cluster');
const {
  IMPLS, API, PLAYLIST, ioredisClient, nodeRedisClient, closeClient, waitReady, runClient, checkRun, makeStores,
} = require('./documents_helpers');

jest.setTimeout(120000);

let redis;
let raw; // an ioredis client for reading what Redis holds
const opened = [];
let prefixCount = 0;

async function client(kind = 'ioredis') {
  const c = kind === 'ioredis' ? await ioredisClient(redis.url) : await nodeRedisClient(redis.url);
  opened.push(c);
  return c;
}

function freshPrefix(name) {
  prefixCount += 1;
  return `t${prefixCount}:${name}:`;
}

beforeAll(async () => {
  redis = await startRedis();
  raw = await client();
});

afterAll(async () => {
  for (const c of opened) closeClient(c);
  if (redis) await redis.stop();
});

describe.each(IMPLS)('ClusterDocumentStore (%s)', (impl) => {
  const api = API[impl];

  test.each([
    ['server-wins', 'ioredis', {}],
    ['server-wins', 'node-redis', {}],
    ['client-wins', 'ioredis', {}],
    ['server-wins', 'ioredis', { deltaFormat: 'json-patch', staleBase: 'current', historyLimit: 4, arrayKey: null }],
  ])('three nodes, six clients, one entity (%s, %s, %j): one version history, same results as one store, all converge', async (strategy, kind, extra) => {
    const prefix = freshPrefix(strategy);
    const clients = [await client(kind), await client(kind), await client(kind)];
    const storeOptions = { strategy, historyLimit: 1000, ...extra };
    const stores = makeStores(3, clients, { implementation: impl, keyPrefix: prefix, ...storeOptions });
    const id = 'playlist:1';
    expect(await stores[0].put(id, PLAYLIST)).toEqual({ version: 1, delta: null });
    const runs = (await Promise.all([0, 1, 2, 3, 4, 5].map((i) => runClient(stores[i % 3], id, {
      clientId: `client-${i}`, count: 25, seed: 100 + i, refreshEvery: 2 + (i % 3),
    })))).flat();
    const { changed } = await checkRun({ impl, runs, redis: raw, prefix, id, initial: PLAYLIST, storeOptions, stores });
    // stale bases were merged (the run is meaningful) and conflicts went to the strategy's side
    const merged = changed.filter(({ result }) => result.status === 'merged');
    expect(merged.length).toBeGreaterThan(0);
    // the nodes did race for the same versions, and the losers merged again
    const stats = stores.map((s) => s.stats());
    expect(stats.reduce((n, s) => n + s.casFailures, 0)).toBeGreaterThan(0);
    // every mutation carried a client id, so every one was committed once (its dedup record)
    expect(stats.reduce((n, s) => n + s.commits, 0)).toBe(runs.length);
    for (const { result } of runs) {
      for (const c of result.conflicts) expect(c.winner).toBe(strategy === 'server-wins' ? 'remote' : 'local');
    }
  });

  test('last-writer-wins with client clocks: conflicts go to the later timestamp, on every node alike', async () => {
    const prefix = freshPrefix('lww');
    const clients = [await client(), await client()];
    const storeOptions = { strategy: 'last-writer-wins', historyLimit: 1000 };
    const stores = makeStores(2, clients, { implementation: impl, keyPrefix: prefix, ...storeOptions });
    const id = 'playlist:lww';
    await stores[1].put(id, PLAYLIST);
    const runs = (await Promise.all([0, 1, 2, 3].map((i) => runClient(stores[i % 2], id, {
      clientId: `lww-${i}`, count: 25, seed: 200 + i, hlc: new api.HybridLogicalClock({ nodeId: `c${i}` }), refreshEvery: 4,
    })))).flat();
    await checkRun({ impl, runs, redis: raw, prefix, id, initial: PLAYLIST, storeOptions, stores });
    const conflicts = runs.flatMap(({ result }) => result.conflicts);
    expect(conflicts.length).toBeGreaterThan(0);
    // local (the mutation) wins exactly when its timestamp is later than the newest change it
    // raced: the history entries (as Redis holds them) after its base, up to the version it merged on
    const history = (await raw.lrange(`${prefix}h:${id}`, 0, -1)).map((e) => JSON.parse(e));
    for (const { mutation, result } of runs) {
      if (result.conflicts.length === 0) continue;
      const mergedOn = result.delta === null ? result.version : result.version - 1;
      const raced = history.filter((e) => e.v > mutation.baseVersion && e.v <= mergedOn).map((e) => e.ts).sort();
      const remote = raced[raced.length - 1];
      const winner = api.HybridLogicalClock.compare(mutation.timestamp, remote) > 0 ? 'local' : 'remote';
      for (const c of result.conflicts) expect(c.winner).toBe(winner);
    }
  });

  test('duplicate replays on another node, and the same mutation sent to two nodes at once', async () => {
    const prefix = freshPrefix('dup');
    const clients = [await client(), await client(), await client('node-redis')];
    const [a, b, c] = makeStores(3, clients, { implementation: impl, keyPrefix: prefix });
    const id = 'doc';
    await a.put(id, { n: 0, tags: [] });
    const first = await a.apply(id, { mergePatch: { n: 1 }, baseVersion: 1, clientId: 'u', mutationId: 1 });
    expect(first).toEqual({ status: 'applied', version: 2, delta: { n: 1 }, conflicts: [] });
    const rejectedFirst = await a.apply(id, { patch: [{ op: 'remove', path: '/missing' }], clientId: 'u', mutationId: 2 });
    expect(rejectedFirst.status).toBe('rejected');
    for (const node of [b, c]) {
      expect(await node.apply(id, { mergePatch: { n: 99 }, baseVersion: 1, clientId: 'u', mutationId: 1 }))
        .toEqual({ ...first, status: 'duplicate' });
      expect(await node.apply(id, { patch: [], clientId: 'u', mutationId: 2 })).toEqual({ ...rejectedFirst, status: 'duplicate' });
      // an id older than the remembered window: duplicate at the current version
      expect(await node.apply(id, { patch: [], clientId: 'u', mutationId: 0 })).toEqual({ status: 'duplicate', version: 2, delta: null, conflicts: [] });
    }
    expect(await raw.hget(`${prefix}d:${id}`, 'v')).toBe('2');
    // one mutation sent to all three nodes at once: applied once, the others answer duplicate
    const same = { mergePatch: { tags: ['x'] }, baseVersion: 2, clientId: 'u', mutationId: 3 };
    const results = await Promise.all([a, b, c].map((node) => node.apply(id, same)));
    expect(results.filter((r) => r.status === 'applied')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(2);
    for (const r of results) expect({ ...r, status: 'x' }).toEqual({ status: 'x', version: 3, delta: { tags: ['x'] }, conflicts: [] });
    // a gap is reported and remembered
    const gap = await b.apply(id, { mergePatch: { n: 2 }, clientId: 'u', mutationId: 7 });
    expect(gap).toEqual({ status: 'applied', version: 4, delta: { n: 2 }, conflicts: [], gap: { expected: 4, received: 7 } });
    expect(await c.apply(id, { mergePatch: { n: 3 }, clientId: 'u', mutationId: 7 })).toEqual({ ...gap, status: 'duplicate' });
    // text output gives the same texts
    expect(await a.apply(id, { mergePatch: { n: 3 }, clientId: 'u', mutationId: 7 }, { output: 'text' }))
      .toEqual({ status: 'duplicate', version: 4, delta: '{"n":2}', conflicts: '[]', gap: { expected: 4, received: 7 } });
  });

  test('a dedup window of 2 remembers the last two results per client across nodes', async () => {
    const prefix = freshPrefix('window');
    const [a, b] = makeStores(2, [await client(), await client()], { implementation: impl, keyPrefix: prefix, dedupWindow: 2 });
    await a.put('w', { n: 0 });
    for (let i = 1; i <= 4; i++) await a.apply('w', { mergePatch: { n: i }, clientId: 'k', mutationId: i });
    expect((await b.apply('w', { mergePatch: { n: 9 }, clientId: 'k', mutationId: 4 })).delta).toEqual({ n: 4 });
    expect((await b.apply('w', { mergePatch: { n: 9 }, clientId: 'k', mutationId: 3 })).delta).toEqual({ n: 3 });
    expect(await b.apply('w', { mergePatch: { n: 9 }, clientId: 'k', mutationId: 2 })).toEqual({ status: 'duplicate', version: 5, delta: null, conflicts: [] });
    expect(await raw.hlen(`${prefix}c:k`)).toBe(3); // last + two results
  });

  test('a stale node catches up: by deltas, and by a rebuild when the history was trimmed', async () => {
    const prefix = freshPrefix('stale');
    const storeOptions = { historyLimit: 5 };
    const [a, b] = makeStores(2, [await client(), await client()], { implementation: impl, keyPrefix: prefix, ...storeOptions });
    const reference = new api.DocumentStore(storeOptions);
    const id = 'stale';
    const initial = { title: 'x', list: [{ id: 1, v: 0 }, { id: 2, v: 0 }], count: 0 };
    await a.put(id, initial);
    reference.put(id, initial);
    // b learns version 1
    expect(await b.apply(id, { patch: [{ op: 'test', path: '/count', value: 0 }] })).toEqual({ status: 'applied', version: 1, delta: null, conflicts: [] });
    expect(b.localCopy(id).version).toBe(1);
    const step = async (node, m) => {
      const got = await node.apply(id, m);
      expect(got).toEqual(reference.apply(id, m));
      return got;
    };
    // a moves on by 3 (within b's reach): b replays the deltas and merges a stale base
    for (let i = 1; i <= 3; i++) await step(a, { mergePatch: { count: i, title: `a${i}` } });
    expect(b.localCopy(id).version).toBe(1);
    await step(b, { mergePatch: { title: 'b', list: [{ id: 1, v: 1 }, { id: 2, v: 0 }] }, baseVersion: 2 });
    expect(b.localCopy(id).version).toBe(5);
    // a moves on by 12: the history (5) no longer reaches b's copy; b rebuilds from the
    // document and the history, and still merges a base the history reaches
    for (let i = 4; i <= 15; i++) await step(a, { patch: [{ op: 'replace', path: '/count', value: i }, { op: 'add', path: '/list/-', value: { id: 10 + i, v: i } }] });
    await step(b, { patch: [{ op: 'replace', path: '/count', value: -1 }, { op: 'remove', path: '/list/0' }], baseVersion: 14 });
    // a base older than the history is refused as by one store
    await step(b, { mergePatch: { title: 'old' }, baseVersion: 3 });
    const finalVersion = await a.version(id);
    expect(b.localCopy(id, { output: 'text' }).doc).toBe(await raw.hget(`${prefix}d:${id}`, 'doc'));
    // the same changes (each store stamps its own time; the history's timestamps are the nodes')
    const noTime = ({ version, changes, snapshot }) => (changes ? { version, changes: changes.map((c) => ({ version: c.version, delta: c.delta })) } : { version, snapshot });
    const recent = await b.changesSince(id, finalVersion - 2);
    expect(noTime(recent)).toEqual(noTime(reference.changesSince(id, finalVersion - 2)));
    for (const c of recent.changes) expect(c.timestamp).toMatch(/^[0-9a-f]{12}:[0-9a-f]{4}:/);
    expect(await a.changesSince(id, 1)).toEqual(reference.changesSince(id, 1));
    expect(await a.changesSince(id, finalVersion)).toEqual({ version: finalVersion, changes: [] });
    // a merge from a base a's own copy knows only by replayed deltas (base 16, written by b)
    await step(a, { mergePatch: { title: 'a-late' }, baseVersion: 16 });
    expect(await a.get(id)).toEqual(reference.get(id));
  });

  test('put, get, version, has, delete and re-create across nodes', async () => {
    const prefix = freshPrefix('crud');
    const [a, b] = makeStores(2, [await client(), await client('node-redis')], { implementation: impl, keyPrefix: prefix });
    expect(await b.get('x')).toBeUndefined();
    expect(await b.version('x')).toBeUndefined();
    expect(await b.has('x')).toBe(false);
    await expect(b.apply('x', { mergePatch: { a: 1 } })).rejects.toMatchObject({ code: 'ERR_RT_NOT_FOUND' });
    await expect(b.changesSince('x', 0)).rejects.toMatchObject({ code: 'ERR_RT_NOT_FOUND' });
    expect(await a.put('x', '{"a":1,  "b":[1,2]}')).toEqual({ version: 1, delta: null });
    expect(await b.get('x', { output: 'text' })).toBe('{"a":1,"b":[1,2]}');
    expect(await b.put('x', { a: 1, b: [1, 2] })).toEqual({ version: 1, delta: null }); // deep-equal: nothing
    expect(await b.put('x', { a: 2, b: [1, 2] })).toEqual({ version: 2, delta: { a: 2 } });
    expect(await a.apply('x', { mergePatch: { c: 3 }, baseVersion: 1 })).toEqual({ status: 'merged', version: 3, delta: { c: 3 }, conflicts: [] });
    expect(await b.version('x')).toBe(3);
    expect(await b.has('x')).toBe(true);
    // a put of a deep-equal document in another key order changes nothing, as on one store
    expect(await a.put('x', '{"c":3,"b":[1,2],"a":2}')).toEqual({ version: 3, delta: null });
    // a patch that only moves a key to the end is a change: the nodes agree on the text
    expect(await a.apply('x', { patch: [{ op: 'remove', path: '/a' }, { op: 'add', path: '/a', value: 2 }] }))
      .toEqual({ status: 'applied', version: 4, delta: { a: 2 }, conflicts: [] });
    expect(await b.apply('x', { patch: [] })).toMatchObject({ status: 'applied', version: 4 });
    expect(b.localCopy('x', { output: 'text' }).doc).toBe('{"b":[1,2],"c":3,"a":2}');
    expect(await b.get('x', { output: 'text' })).toBe('{"b":[1,2],"c":3,"a":2}');
    expect(await b.delete('x')).toBe(true);
    expect(await a.delete('x')).toBe(false);
    await expect(a.apply('x', { mergePatch: { a: 1 } })).rejects.toMatchObject({ code: 'ERR_RT_NOT_FOUND' });
    // re-created: version 1 of a new incarnation; a's old copy is not reused
    expect(await b.put('x', { fresh: true })).toEqual({ version: 1, delta: null });
    expect(await a.apply('x', { mergePatch: { more: 1 }, baseVersion: 1 })).toEqual({ status: 'applied', version: 2, delta: { more: 1 }, conflicts: [] });
    expect(await a.changesSince('x', 4)).toEqual({ version: 2, snapshot: { fresh: true, more: 1 } });
    // bad arguments throw as DocumentStore's do, before Redis is asked
    const one = new api.DocumentStore();
    one.put('x', { fresh: true });
    for (const m of [
      { mergePatch: { a: 1 }, clientId: 'c' },
      { patch: '[{"op":"nope"}]' },
      { patch: '[' },
      { mergePatch: { a: 1 }, extra: 1 },
      { mergePatch: { a: 1 }, timestamp: 'bad' },
      { mergePatch: { a: 1 }, baseVersion: -1 },
      { patch: [], mergePatch: {} },
      null,
    ]) {
      let expected;
      try {
        one.apply('x', m);
      } catch (err) {
        expected = err;
      }
      expect(expected).toBeDefined();
      await expect(a.apply('x', m)).rejects.toMatchObject({ code: expected.code, message: expected.message });
    }
    await expect(a.apply('x', { mergePatch: { a: 1 }, baseVersion: 7 })).rejects.toMatchObject({ code: 'ERR_RT_OUT_OF_RANGE', message: 'baseVersion must be an integer between 0 and the current version (2)' });
    await expect(a.put('', {})).rejects.toMatchObject({ code: 'ERR_RT_INVALID_ARGUMENT' });
    expect(await raw.hget(`${prefix}d:x`, 'v')).toBe('2');
  });

  test('Redis stopped: ERR_RT_UNAVAILABLE and nothing changes; Redis back: it works again', async () => {
    const prefix = freshPrefix('outage');
    const clients = [await client(), await client('node-redis')];
    const [a, b] = makeStores(2, clients, { implementation: impl, keyPrefix: prefix, timeoutMs: 2000 });
    const id = 'outage';
    await a.put(id, { n: 0 });
    await b.apply(id, { mergePatch: { n: 1 }, clientId: 'o', mutationId: 1 });
    await a.apply(id, { mergePatch: { m: 1 }, baseVersion: 1 });
    const copies = [a.localCopy(id, { output: 'text' }), b.localCopy(id, { output: 'text' })];
    await redis.stop();
    try {
      for (const node of [a, b]) {
        for (const op of [
          () => node.apply(id, { mergePatch: { n: 2 } }),
          () => node.apply(id, { mergePatch: { n: 2 }, clientId: 'o', mutationId: 2 }),
          () => node.put(id, { replaced: true }),
          () => node.put('other', { created: true }),
          () => node.get(id),
          () => node.version(id),
          () => node.has(id),
          () => node.changesSince(id, 0),
          () => node.delete(id),
        ]) {
          await expect(op()).rejects.toMatchObject({ code: 'ERR_RT_UNAVAILABLE' });
        }
      }
      // no local half-state: each node's copy is what it was (or dropped, to be rebuilt)
      // (delete drops the node's copy before it asks Redis)
      expect([undefined, copies[0]]).toContainEqual(a.localCopy(id, { output: 'text' }));
      expect([undefined, copies[1]]).toContainEqual(b.localCopy(id, { output: 'text' }));
    } finally {
      await redis.start();
    }
    await Promise.all([waitReady(clients[0]), raw.status === 'ready' ? null : waitReady(raw)]);
    if (!clients[1].isReady) await new Promise((resolve) => { clients[1].once('ready', resolve); });
    // this test Redis keeps nothing on disk: the document is gone, and the nodes notice
    await expect(a.apply(id, { mergePatch: { n: 2 } })).rejects.toMatchObject({ code: 'ERR_RT_NOT_FOUND' });
    expect(a.localCopy(id)).toBeUndefined();
    expect(await b.put(id, { n: 10 })).toEqual({ version: 1, delta: null });
    expect(await a.apply(id, { mergePatch: { n: 11 }, baseVersion: 1 })).toEqual({ status: 'applied', version: 2, delta: { n: 11 }, conflicts: [] });
    expect(await b.apply(id, { mergePatch: { x: 1 }, baseVersion: 1 })).toEqual({ status: 'merged', version: 3, delta: { x: 1 }, conflicts: [] });
    expect(await a.get(id)).toEqual({ n: 11, x: 1 });
  });

  test('Redis stopped in the middle of concurrent mutations: each one is committed or ERR_RT_UNAVAILABLE, and the history stays one', async () => {
    const prefix = freshPrefix('midway');
    const clients = [await client(), await client()];
    const [a, b] = makeStores(2, clients, { implementation: impl, keyPrefix: prefix, timeoutMs: 2000, historyLimit: 1000 });
    const id = 'midway';
    await a.put(id, { n: 0 });
    let stopping = null;
    const work = async (node, tag) => {
      const out = [];
      for (let i = 1; i <= 30; i++) {
        if (tag === 'a' && i === 10) stopping = redis.stop();
        try {
          out.push(await node.apply(id, { mergePatch: { [tag]: i } }));
        } catch (err) {
          expect(err.code).toBe('ERR_RT_UNAVAILABLE');
          out.push(null);
        }
      }
      return out;
    };
    const results = (await Promise.all([work(a, 'a'), work(b, 'b')])).flat();
    await stopping;
    expect(results.filter((r) => r === null).length).toBeGreaterThan(0);
    await redis.start();
    await Promise.all(clients.map(waitReady));
    if (raw.status !== 'ready') await waitReady(raw);
    // everything before the outage is lost with this non-persistent Redis; the nodes start over
    await expect(b.apply(id, { mergePatch: { n: 1 } })).rejects.toMatchObject({ code: 'ERR_RT_NOT_FOUND' });
    await a.put(id, { n: 0 });
    const after = await Promise.all([a, b, a, b].map((node, i) => node.apply(id, { mergePatch: { [`k${i}`]: i }, baseVersion: 1 })));
    expect(after.map((r) => r.version).sort()).toEqual([2, 3, 4, 5]);
    expect(await b.get(id)).toEqual({ n: 0, k0: 0, k1: 1, k2: 2, k3: 3 });
  });

  test('cacheLimit: the least recently used copies are dropped and rebuilt at their next use', async () => {
    const prefix = freshPrefix('cache');
    const [a, b] = makeStores(2, [await client(), await client()], { implementation: impl, keyPrefix: prefix, cacheLimit: 2 });
    for (const id of ['d1', 'd2', 'd3']) {
      await a.put(id, { id, n: 0 });
      await b.apply(id, { mergePatch: { n: 1 } });
      await a.apply(id, { mergePatch: { m: 1 }, baseVersion: 1 });
    }
    expect(b.localCopy('d1')).toBeUndefined();
    expect(b.localCopy('d3')).toEqual({ version: 2, doc: { id: 'd3', n: 1 } }); // as of b's last use
    const before = b.stats().rebuilds;
    // d1's copy is rebuilt from the document and the history: a stale base still merges
    expect(await b.apply('d1', { mergePatch: { k: 1 }, baseVersion: 1 })).toEqual({ status: 'merged', version: 4, delta: { k: 1 }, conflicts: [] });
    expect(b.stats().rebuilds).toBe(before + 1);
    expect(await a.get('d1')).toEqual({ id: 'd1', n: 1, m: 1, k: 1 });
  });

  test('options: refused when wrong, closed store refuses calls', async () => {
    const c = await client();
    expect(() => new ClusterDocumentStore({ implementation: impl })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => new ClusterDocumentStore({ redis: {}, implementation: impl })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => new ClusterDocumentStore({ redis: c, implementation: impl, strategy: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => new ClusterDocumentStore({ redis: c, implementation: impl, stratgy: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => new ClusterDocumentStore({ redis: c, implementation: impl, maxRetries: 0 })).toThrow(expect.objectContaining({ code: 'ERR_RT_OUT_OF_RANGE' }));
    const store = new ClusterDocumentStore({ redis: c, implementation: impl, keyPrefix: freshPrefix('opts'), strategy: 'client-wins' });
    expect(store.options.strategy).toBe('client-wins');
    expect(store.implementation).toBe(impl);
    await store.close();
    await expect(store.put('x', {})).rejects.toMatchObject({ code: 'ERR_RT_CLOSED' });
    await expect(store.get('x')).rejects.toMatchObject({ code: 'ERR_RT_CLOSED' });
    await expect(store.changesSince('x', 0)).rejects.toMatchObject({ code: 'ERR_RT_CLOSED' });
    await expect(store.apply('x', { patch: [] })).rejects.toMatchObject({ code: 'ERR_RT_CLOSED' });
  });
});
