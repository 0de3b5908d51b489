'use strict';

// realtime-core/nestjs on the other NestJS majors: the repository has Nest 11; for Nest 10 and 12
// (the latest of each) a temporary project gets that major from the npm registry and a copy of
// this package (package.json, lib/ and the built addon, where node-gyp-build finds it), then
// majors_scenario.js runs there in a child node process (module, adapter, gateway: mutate,
// duplicate, merge, sync, applyServer broadcast, shutdown; both implementations, forRoot and
// forRootAsync). Nest 12 is ESM-only and loads through Node 20's require(esm).
// The per-test timeout covers `npm install`; nothing is timed.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const ADDON = path.join(ROOT, 'build', 'Release', 'realtime_core.node');
const NEST_PACKAGES = ['@nestjs/common', '@nestjs/core', '@nestjs/websockets', '@nestjs/platform-socket.io', '@nestjs/platform-express'];
const OTHERS = { 'reflect-metadata': '^0.2.2', rxjs: '^7.8.2', 'socket.io-client': '^4.8.1', 'node-gyp-build': '^4.8.4' };

jest.setTimeout(300000);

function run(file, args, cwd) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, RT_IMPL: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// a temporary project with Nest `major` and a copy of this package
async function project(major) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `realtime-core-nest${major}-`));
  const dependencies = { ...OTHERS };
  for (const name of NEST_PACKAGES) dependencies[name] = `^${major}.0.0`;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `nest${major}-scenario`, private: true, dependencies }, null, 2));
  const npm = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  if (npm.code !== 0) throw new Error(`npm install of Nest ${major} failed (${npm.code}):\n${npm.stderr}`);
  const pkg = path.join(dir, 'node_modules', 'realtime-core');
  fs.mkdirSync(path.join(pkg, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(ROOT, 'lib'), path.join(pkg, 'lib'), { recursive: true });
  fs.copyFileSync(ADDON, path.join(pkg, 'build', 'Release', 'realtime_core.node'));
  fs.copyFileSync(path.join(__dirname, 'majors_scenario.js'), path.join(dir, 'scenario.js'));
  return dir;
}

describe.each([10, 12])('NestJS %i', (major) => {
  let dir;
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('module, adapter and gateway: mutate, duplicate, merge, sync, applyServer, shutdown (native and js)', async () => {
    dir = await project(major);
    const installed = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8')).version;
    expect(Number(installed.split('.')[0])).toBe(major);

    const out = await run(process.execPath, ['scenario.js'], dir);
    const line = out.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect({ code: out.code, stderr: out.code === 0 ? '' : out.stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(line.slice('RESULT '.length));
    expect(result.nest).toBe(installed);
    expect(result.results).toEqual([
      { impl: 'native', forRoot: 'forRoot', deltasB: 3 },
      { impl: 'native', forRoot: 'forRootAsync', deltasB: 3 },
      { impl: 'js', forRoot: 'forRoot', deltasB: 3 },
      { impl: 'js', forRoot: 'forRootAsync', deltasB: 3 },
    ]);
  });
});
