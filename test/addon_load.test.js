'use strict';

// When the addon cannot load: a clear error (which files, which platform and Node, how to fix),
// no silent fallback; REALTIME_CORE_IMPLEMENTATION=js is the explicit opt-in to the twin.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
let project;

// A project with an installed copy of the package that has no binary at all.
beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-load-'));
  const pkg = path.join(project, 'node_modules', 'realtime-core');
  fs.mkdirSync(pkg, { recursive: true });
  fs.cpSync(path.join(ROOT, 'lib'), path.join(pkg, 'lib'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(ROOT, 'node_modules', 'node-gyp-build'), path.join(project, 'node_modules', 'node-gyp-build'), { recursive: true });
});

afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

function runIn(code, env = {}) {
  return spawnSync(process.execPath, ['-e', code], {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, REALTIME_CORE_IMPLEMENTATION: '', ...env },
  });
}

test('without a binary, require throws ERR_RT_ADDON_LOAD saying where it looked, on what, and how to fix it', () => {
  const res = runIn(`
    try { require('realtime-core'); console.log('loaded'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, name: e.name, message: e.message, details: e.details })); }
  `);
  expect(res.status).toBe(0);
  const err = JSON.parse(res.stdout);
  expect(err.code).toBe('ERR_RT_ADDON_LOAD');
  expect(err.name).toBe('RealtimeCoreError');
  expect(err.message).toContain(`${process.platform}-${process.arch}`);
  expect(err.message).toContain(`Node ${process.version}`);
  expect(err.message).toContain(path.join('prebuilds', `${process.platform}-${process.arch}`));
  expect(err.message).toContain(path.join('build', 'Release', 'realtime_core.node'));
  expect(err.message).toContain('--build-from-source');
  expect(err.message).toContain('REALTIME_CORE_IMPLEMENTATION=js');
  expect(err.details).toMatchObject({ platform: process.platform, arch: process.arch, node: process.version });
});

test('REALTIME_CORE_IMPLEMENTATION=js opts in to the twin, from CommonJS and ESM', () => {
  const cjs = runIn(`
    const rt = require('realtime-core');
    const s = new rt.DocumentStore(); s.put('a', { n: 1 });
    console.log(rt.implementation, s.apply('a', { mergePatch: { n: 2 } }).version);
  `, { REALTIME_CORE_IMPLEMENTATION: 'js' });
  expect(cjs.stdout.trim()).toBe('js 2');
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { implementation, merge3 } from 'realtime-core';
    console.log(implementation, JSON.stringify(merge3({ a: 1 }, { a: 2 }, { a: 1 }).doc));
  `], { cwd: project, encoding: 'utf8', env: { ...process.env, REALTIME_CORE_IMPLEMENTATION: 'js' } });
  expect(esm.stdout.trim()).toBe('js {"a":2}');
});

test('any other REALTIME_CORE_IMPLEMENTATION value is refused', () => {
  const res = runIn(`
    try { require('realtime-core'); } catch (e) { console.log(e.code, e.message); }
  `, { REALTIME_CORE_IMPLEMENTATION: 'wasm' });
  expect(res.stdout).toMatch(/^ERR_RT_INVALID_ARGUMENT REALTIME_CORE_IMPLEMENTATION must be "native" or "js", not "wasm"/);
});
