'use strict';

// The package as users install it: `npm pack`, then the tarball installed into fresh projects on
// a PATH with node and npm only (no compiler, make or python: a node-gyp build cannot run), so the
// prebuilt binary is what loads. Every engine runs from CommonJS and from ESM, and typed usage
// files compile with `tsc --strict` for a CommonJS and an ESM ("type": "module") consumer.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, packPackage, npm, noCompilerPath, tempProject } = require('./helpers/pack');

jest.setTimeout(10 * 60 * 1000);

let work;
let tarball;
let files;
let project;
let env;

const SCENARIO = `
const rt = require('realtime-core');
const twin = require('realtime-core/js');
const out = { implementation: rt.implementation, twin: twin.implementation };
out.binary = require('node-gyp-build').resolve(require('node:path').dirname(require.resolve('realtime-core/package.json')));
out.patch = rt.applyPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }]);
out.merge3 = rt.merge3({ v: 1, w: 1 }, { v: 2, w: 1 }, { v: 1, w: 3 }).doc;
const store = new rt.DocumentStore();
store.put('p', { name: 'Lobby', volume: 5 });
store.apply('p', { mergePatch: { volume: 9 } });
out.store = store.apply('p', { mergePatch: { volume: 3, name: 'Hall' }, baseVersion: 1, clientId: 'c', mutationId: 1 });
const state = new rt.OptimisticState({ n: 0 }, { autoExpire: false });
state.apply('m1', { mergePatch: { n: 1 } });
out.optimistic = { state: state.state, pending: state.pendingCount };
state.close();
const queue = new rt.OfflineQueue({ path: process.argv[1] });
queue.push('c1', { event: 'e', payload: '{"x":1}' });
out.queue = queue.peek('c1').map((i) => [i.event, Buffer.from(i.payload).toString()]);
const hub = new rt.FanoutHub({ autoFlush: false });
const h = hub.connect();
hub.join(h, 'room');
const res = hub.publish({ rooms: ['room'], event: 'hello', payload: { a: 1 } });
out.fanout = { status: res.status, packet: res.deliveries[0].packet, handles: Array.from(res.deliveries[0].handles) };
Promise.all([queue.close(), hub.close()]).then(() => console.log(JSON.stringify(out)));
`;

const EXPECTED = {
  implementation: 'native',
  twin: 'js',
  patch: { a: 2 },
  merge3: { v: 2, w: 3 },
  optimistic: { state: { n: 1 }, pending: 1 },
  queue: [['e', '{"x":1}']],
  fanout: { status: 'delivered', packet: '2["hello",{"a":1}]', handles: [0] },
};

function node(args, cwd) {
  const res = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env });
  if (res.status !== 0) throw new Error(`node ${args.join(' ')} failed (exit ${res.status}):\n${res.stdout}\n${res.stderr}`);
  return res.stdout.trim();
}

beforeAll(() => {
  work = tempProject('rt-pack-');
  ({ tarball, files } = packPackage(work));
  project = tempProject('rt-consumer-', { allowScripts: { 'realtime-core': true } });
  env = { ...process.env, PATH: noCompilerPath(project), CC: '/nonexistent/cc', CXX: '/nonexistent/c++', REALTIME_CORE_IMPLEMENTATION: '' };
  // The install script is allowed (npm 11 blocks dependency install scripts unless told): it
  // finds the prebuilt binary and builds nothing; with no compiler on PATH a build would fail.
  npm(['install', tarball, 'typescript@5', '@types/node@20', 'socket.io@4', 'reflect-metadata', 'rxjs',
    '@nestjs/common@11', '@nestjs/core@11', '@nestjs/websockets@11', '@nestjs/platform-socket.io@11'], { cwd: project, env });
});

afterAll(() => {
  for (const dir of [work, project]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the stripped prebuilt binary, the sources for a fallback build, and the types; no tests or build output', () => {
  const binaries = files.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
  expect(binaries.length).toBeGreaterThan(0);
  for (const f of ['lib/index.js', 'lib/index.mjs', 'lib/js/index.js', 'lib/socket.io/index.js', 'lib/nestjs/index.js',
    'lib/cluster/index.js', 'lib/cluster/index.d.ts', 'lib/redis/client.js', 'index.d.ts', 'index.d.mts', 'socket.io.d.ts', 'nestjs.d.ts',
    'binding.gyp', 'native/sources.json', 'package.json', 'README.md']) {
    expect(files).toContain(f);
  }
  expect(files.some((f) => f.startsWith('native/core/') && f.endsWith('.cpp'))).toBe(true);
  expect(files.filter((f) => /^(test|benchmarks|build|examples|node_modules)\//.test(f))).toEqual([]);
  // stripped: no symbol table left
  const installed = path.join(project, 'node_modules', 'realtime-core', binaries[0]);
  const nm = spawnSync('nm', [installed], { encoding: 'utf8' });
  expect(`${nm.stdout}${nm.stderr}`).toMatch(/no symbols/);
});

test('installed without a compiler, require() loads the prebuilt binary and every engine works', () => {
  expect(fs.existsSync(path.join(project, 'node_modules', 'realtime-core', 'build'))).toBe(false);
  const out = JSON.parse(node(['-e', SCENARIO, path.join(project, 'queue-cjs')], project));
  expect(out.binary).toMatch(/[/\\]prebuilds[/\\]linux-x64[/\\][^/\\]+\.node$/);
  expect(out.store).toMatchObject({ status: 'merged', version: 3 });
  expect(out).toMatchObject(EXPECTED);
});

test('ESM import gives the same objects as require, for the root and every subpath', () => {
  fs.writeFileSync(path.join(project, 'esm.mjs'), `
    import { createRequire } from 'node:module';
    import rt, { DocumentStore, merge3, implementation } from 'realtime-core';
    import twin, { OptimisticState } from 'realtime-core/js';
    import * as sio from 'realtime-core/socket.io';
    import { RealtimeCoreModule, RealtimeIoAdapter } from 'realtime-core/nestjs';
    import { ClusterDocumentStore } from 'realtime-core/cluster';
    const require = createRequire(import.meta.url);
    console.log(JSON.stringify({
      implementation,
      root: rt === require('realtime-core') && DocumentStore === require('realtime-core').DocumentStore && merge3 === rt.merge3,
      js: twin === require('realtime-core/js') && OptimisticState === twin.OptimisticState,
      socketio: sio.createAdapter === require('realtime-core/socket.io').createAdapter,
      nestjs: RealtimeCoreModule === require('realtime-core/nestjs').RealtimeCoreModule
        && RealtimeIoAdapter === require('realtime-core/nestjs').RealtimeIoAdapter,
      cluster: ClusterDocumentStore === require('realtime-core/cluster').ClusterDocumentStore,
    }));
  `);
  expect(JSON.parse(node(['esm.mjs'], project))).toEqual({ implementation: 'native', root: true, js: true, socketio: true, nestjs: true, cluster: true });
});

// `files` ({ name: source }) compiled with tsc --strict in a project of that module type -> tsc's output
function tsc(dir, type, files, compilerOptions = {}) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type }));
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), source);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', types: ['node'], skipLibCheck: false,
      ...compilerOptions,
    },
    files: Object.keys(files),
  }));
  const bin = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnSync(process.execPath, [bin, '-p', dir], { cwd: dir, encoding: 'utf8', env });
  return { status: res.status, output: `${res.stdout}${res.stderr}`.trim() };
}

// the typed usage files of test/types compiled as a consumer would -> tsc's output ('' when clean)
function typecheck(dir, type, names, compilerOptions) {
  const files = Object.fromEntries(names.map((n) => [n, fs.readFileSync(path.join(ROOT, 'test', 'types', n), 'utf8')]));
  const res = tsc(dir, type, files, compilerOptions);
  return res.output + (res.status === 0 ? '' : `\n(exit ${res.status})`);
}

const DECORATORS = { experimentalDecorators: true, emitDecoratorMetadata: true };

test('typed usage of every engine and the adapter compiles with tsc --strict for a CommonJS consumer', () => {
  expect(typecheck(path.join(project, 'cjs'), 'commonjs', ['usage.ts'])).toBe('');
});

test('typed usage of every engine and the adapter compiles with tsc --strict for an ESM consumer', () => {
  expect(typecheck(path.join(project, 'esm'), 'module', ['usage.ts', 'default-import.ts'])).toBe('');
});

test('typed usage of the NestJS module compiles with tsc --strict for CommonJS and ESM consumers', () => {
  expect(typecheck(path.join(project, 'nest-cjs'), 'commonjs', ['nestjs-usage.ts'], DECORATORS)).toBe('');
  expect(typecheck(path.join(project, 'nest-esm'), 'module', ['nestjs-usage.ts'], DECORATORS)).toBe('');
});

test('a type error in a consumer is reported (the check is real)', () => {
  const res = tsc(path.join(project, 'bad'), 'commonjs', {
    'bad.ts': `
      import { DocumentStore } from 'realtime-core';
      const s = new DocumentStore({ strategy: 'newest-wins' });
      const v: string = s.version('x');
      export { v };
    `,
  });
  expect(res.status).not.toBe(0);
  expect(res.output).toMatch(/"newest-wins"/);
  expect(res.output).toMatch(/'number \| undefined' is not assignable to type 'string'/);
});
