'use strict';

// A separate Node process running one ClusterDocumentStore node for
// test/redis/documents_process.test.js: argv = redis url, implementation, key prefix, entity,
// client id, count, seed, strategy[, 'verbose']. It runs one client's workload (documents_helpers.js
// runClient) and prints { runs, stats } as one JSON line on stdout; then, on a line on stdin, it
// catches up and prints { final, copy } (its copy of the entity).

const IORedis = require('ioredis');
const { ClusterDocumentStore } = require('../../lib/cluster');
const { prng, randomChange } = require('./documents_helpers_core');

async function main() {
  const [url, implementation, keyPrefix, id, clientId, count, seed, strategy, mode] = process.argv.slice(2);
  // 'verbose': each mutation as { sent } before it is sent and { result } after, then it waits
  // for a line on stdin before the next one (the parent kills it while one is in flight)
  const verbose = mode === 'verbose';
  const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  // the lines the parent writes on stdin, in order
  const inbox = [];
  const waiters = [];
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    buffered += d;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (waiters.length) waiters.shift()(line);
      else inbox.push(line);
    }
  });
  const nextLine = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => { waiters.push(resolve); }));
  const redis = new IORedis(url);
  redis.on('error', () => {});
  const store = new ClusterDocumentStore({ redis, implementation, keyPrefix, strategy, historyLimit: 1000 });
  const rand = prng(Number(seed));
  const runs = [];
  let view = await store.changesSince(id, 0);
  for (let i = 1; i <= Number(count); i++) {
    if (i % 3 === 0) view = await store.changesSince(id, 0);
    const change = randomChange(rand, view.snapshot, `${clientId}-${i}`);
    const mutation = { ...change, baseVersion: view.version, clientId, mutationId: i };
    if (verbose) say({ sent: mutation });
    const result = await store.apply(id, mutation);
    runs.push({ mutation, result });
    if (verbose) {
      say({ result });
      await nextLine(); // the parent lets it go on (or kills it)
    }
  }
  process.stdout.write(`${JSON.stringify({ runs, stats: store.stats() })}\n`);
  // when every node is done (the parent says so on stdin): catch up, report this node's copy
  await nextLine();
  const final = await store.apply(id, { patch: [] });
  process.stdout.write(`${JSON.stringify({ final, copy: store.localCopy(id, { output: 'text' }) })}\n`);
  redis.disconnect();
  process.stdin.pause();
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
