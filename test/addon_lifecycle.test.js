'use strict';

// What frameworks do to an addon: load it from two installed copies in one process (Next.js and
// Jest module registries, nested node_modules), create engines in worker threads that are then
// terminated, and end the process (naturally or with process.exit) while engines are live.
// Each case runs in a child process: a crash or a hang there is a failed exit, not a Jest crash.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
let dir;

// An installed copy of the package (lib, package.json, the built addon) under `name`.
function installCopy(name) {
  const pkg = path.join(dir, name, 'node_modules', 'realtime-core');
  fs.mkdirSync(path.join(pkg, 'build', 'Release'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'lib'), path.join(pkg, 'lib'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.copyFileSync(path.join(ROOT, 'build', 'Release', 'realtime_core.node'), path.join(pkg, 'build', 'Release', 'realtime_core.node'));
  return pkg;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-life-'));
  installCopy('a');
  installCopy('b');
  fs.cpSync(path.join(ROOT, 'node_modules', 'node-gyp-build'), path.join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function runChild(code) {
  return spawnSync(process.execPath, ['-e', code], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, REALTIME_CORE_IMPLEMENTATION: '', RT_DIR: dir },
  });
}

// Live engines of every kind, with their threads and timers: a durable queue (writer thread),
// a durable recovering hub (timers + log), an optimistic state with auto-expiry, a store.
const LIVE_ENGINES = `
function liveEngines(rt, tag) {
  const base = require('node:path').join(process.env.RT_DIR, 'data-' + tag + '-' + process.pid + '-' + Math.random().toString(36).slice(2));
  const queue = new rt.OfflineQueue({ path: base + '-queue', fsync: 'interval' });
  for (let i = 0; i < 200; i++) queue.push('c' + (i % 7), { event: 'e', payload: JSON.stringify({ i }) });
  const hub = new rt.FanoutHub({ recovery: true, durable: { path: base + '-hub' } });
  const h = hub.connect();
  hub.join(h, ['r1', 'r2']);
  for (let i = 0; i < 100; i++) hub.publish({ rooms: ['r1'], event: 'x', payload: i, key: 'k' + (i % 3) });
  const state = new rt.OptimisticState({ n: 0 }, { timeoutMs: 60000 });
  state.apply('m1', { mergePatch: { n: 1 } });
  const store = new rt.DocumentStore();
  store.put('d', { v: 1 });
  return { queue, hub, state, store };
}
`;

test('two installed copies load in one process, each a working native engine', () => {
  const res = runChild(`
    const a = require('./a/node_modules/realtime-core');
    const b = require('./b/node_modules/realtime-core');
    const sa = new a.DocumentStore(); sa.put('x', { n: 1 });
    const sb = new b.DocumentStore(); sb.put('x', { n: 2 });
    sa.apply('x', { mergePatch: { n: 10 } });
    console.log(JSON.stringify({
      distinct: a !== b && a.DocumentStore !== b.DocumentStore,
      impl: [a.implementation, b.implementation],
      docs: [sa.get('x'), sb.get('x')],
      merge: b.merge3({ v: 1 }, { v: 2 }, { v: 1 }).doc,
    }));
  `);
  expect(res.stderr).toBe('');
  expect(res.status).toBe(0);
  expect(JSON.parse(res.stdout)).toEqual({ distinct: true, impl: ['native', 'native'], docs: [{ n: 10 }, { n: 2 }], merge: { v: 2 } });
});

test('the process ends by itself with live engines of both copies (nothing keeps it alive, no crash)', () => {
  const res = runChild(`${LIVE_ENGINES}
    liveEngines(require('./a/node_modules/realtime-core'), 'a');
    liveEngines(require('./b/node_modules/realtime-core'), 'b');
    process.on('exit', (code) => { process.stdout.write('exit ' + code); });
  `);
  expect(res.signal).toBeNull();
  expect(res.status).toBe(0);
  expect(res.stdout).toBe('exit 0');
});

test('process.exit() while engines are live and writing does not crash', () => {
  const res = runChild(`${LIVE_ENGINES}
    const rt = require('./a/node_modules/realtime-core');
    const engines = liveEngines(rt, 'exit');
    setImmediate(() => {
      for (let i = 0; i < 1000; i++) engines.queue.push('late', { event: 'e', payload: String(i) });
      process.exit(7);
    });
  `);
  expect(res.signal).toBeNull();
  expect(res.status).toBe(7);
});

test('worker threads that hold live engines can be terminated, and the process ends cleanly', () => {
  const res = runChild(`
    const { Worker } = require('node:worker_threads');
    const source = ${JSON.stringify(LIVE_ENGINES)} + \`
      const { parentPort, workerData } = require('node:worker_threads');
      const rt = require(workerData.entry);
      liveEngines(rt, 'w' + workerData.n);
      parentPort.postMessage('ready');
      setInterval(() => {}, 1000); // keeps the worker alive until it is terminated
    \`;
    const entries = ['./a/node_modules/realtime-core', './b/node_modules/realtime-core'].map((p) => require.resolve(p));
    const workers = [0, 1, 2, 3].map((n) => new Worker(source, { eval: true, env: process.env, workerData: { n, entry: entries[n % 2] } }));
    Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); })))
      .then(() => Promise.all(workers.map((w) => w.terminate())))
      .then((codes) => { console.log(JSON.stringify(codes)); })
      .catch((err) => { console.error(err); process.exitCode = 1; });
  `);
  expect(res.stderr).toBe('');
  expect(res.signal).toBeNull();
  expect(res.status).toBe(0);
  expect(JSON.parse(res.stdout)).toEqual([1, 1, 1, 1]);
});
