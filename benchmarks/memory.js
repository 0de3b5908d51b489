'use strict';

// Memory per stored document of a DocumentStore, for one implementation, in its own process so
// nothing else lives in the heap. Run by benchmarks/run.js:
//   node --expose-gc benchmarks/memory.js --impl=lib/index.js --docs=10000 --bytes=1024 --applies=10
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
