'use strict';

// The addon is context-aware: several worker threads load and use it at once.
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const rt = require(workerData.entry);
const store = new rt.DocumentStore({ nodeId: 'w' + workerData.n, clock: () => 1000 });
store.put('doc', { n: 0, items: [] });
for (let i = 1; i <= 500; i++) {
  store.apply('doc', { patch: [{ op: 'replace', path: '/n', value: i }, { op: 'add', path: '/items/-', value: i }] });
}
const merged = rt.merge3({ a: 1, b: 1 }, { a: 2, b: 1 }, { a: 1, b: 3 });
parentPort.postMessage({
  implementation: rt.implementation,
  version: store.version('doc'),
  n: store.get('doc').n,
  items: store.get('doc').items.length,
  merged: merged.doc,
});
`;

function runWorker(n) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { n, entry: path.join(__dirname, '..', 'lib', 'index.js') },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

test('two worker threads load the native addon at once and use it', async () => {
  const results = await Promise.all([runWorker(1), runWorker(2)]);
  for (const r of results) {
    expect(r).toEqual({ implementation: 'native', version: 501, n: 500, items: 500, merged: { a: 2, b: 3 } });
  }
});

test('a worker can load it again after another one exited, and the main thread still works', async () => {
  await runWorker(3);
  const again = await runWorker(4);
  expect(again.version).toBe(501);
  const rt = require('realtime-core');
  expect(rt.applyPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }])).toEqual({ a: 2 });
});
