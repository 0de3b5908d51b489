'use strict';

// Memory per stored document of a DocumentStore, or per pending change of an OptimisticState
// (--what=pending), for one implementation, in its own process so nothing else lives in the
// heap. Run by benchmarks/run.js:
//   node --expose-gc benchmarks/memory.js --impl=lib/index.js --docs=10000 --bytes=1024 --applies=10
//   node --expose-gc benchmarks/memory.js --impl=lib/index.js --what=pending --pending=20000
// Prints one JSON line. Heap = V8 heapUsed (the JS twin keeps documents there); RSS = resident
// set (the native engine keeps documents in malloc'd memory, visible only there). Both are the
// growth from a baseline taken after the input texts were generated, divided by the doc count.

const path = require('node:path');
const data = require('./data');

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const impl = require(path.resolve(args.impl));
const docs = Number(args.docs || 10000);
const bytes = Number(args.bytes || 1024);
const applies = Number(args.applies || 10);

if (typeof global.gc !== 'function') {
  process.stderr.write('run with --expose-gc\n');
  process.exit(2);
}

function settle() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

if (args.what === 'pending') {
  measurePending(Number(args.pending || 20000));
  process.exit(0);
}

// Pending changes of the kind benchmarks/optimistic.js uses (30-120 bytes of JSON text each)
// on a 1 KB dashboard.
function measurePending(count) {
  const { pendingChange, asChange } = require('./optimistic');
  const doc = data.makeDashboard(1024, 101);
  const changes = Array.from({ length: count }, (_, i) => asChange(pendingChange(doc, i)));
  const textBytes = changes.reduce((s, c) => s + (c.patch || c.mergePatch).length, 0);
  const before = settle();
  const state = new impl.OptimisticState(JSON.stringify(doc), { autoExpire: false, maxPending: count, output: 'text' });
  for (let i = 0; i < count; i++) state.apply(`m${i}`, changes[i]);
  const after = settle();
  process.stdout.write(JSON.stringify({
    implementation: impl.implementation,
    pending: state.pendingCount,
    avgChangeTextBytes: Math.round(textBytes / count),
    heapPerPending: Math.round((after.heapUsed - before.heapUsed) / count),
    rssPerPending: Math.round((after.rss - before.rss) / count),
    raw: { before, after },
  }) + '\n');
}

const texts = Array.from({ length: docs }, (_, i) => JSON.stringify(data.makeEntity(i, bytes)));
const fresh = data.freshPatchPool();
const textBytes = texts.reduce((s, t) => s + t.length, 0);

const base = settle();
const store = new impl.DocumentStore({ nodeId: 'mem' });
for (let i = 0; i < docs; i++) store.put(`scr-${i}`, texts[i]);
const afterPut = settle();

// history: `applies` fresh writes per document (each one a history entry: delta + inverse)
const TEXT = { output: 'text' };
for (let k = 0; k < applies; k++) {
  for (let i = 0; i < docs; i++) store.apply(`scr-${i}`, { patch: fresh[(k + i) % data.POOL] }, TEXT);
}
const afterHistory = settle();

const per = (a, b) => ({
  heapPerDoc: Math.round((b.heapUsed - a.heapUsed) / docs),
  rssPerDoc: Math.round((b.rss - a.rss) / docs),
  externalPerDoc: Math.round((b.external - a.external) / docs),
});

process.stdout.write(JSON.stringify({
  implementation: impl.implementation,
  docs,
  applies,
  avgTextBytes: Math.round(textBytes / docs),
  size: store.size,
  baseline: base,
  put: per(base, afterPut),
  history: per(base, afterHistory),
  historyOnly: per(afterPut, afterHistory),
  raw: { afterPut, afterHistory },
}) + '\n');
