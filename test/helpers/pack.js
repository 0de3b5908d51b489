'use strict';

// The package as users get it: `npm pack` of this checkout (with its prebuilt binary), and
// temporary projects that install that tarball. `npm test` makes the prebuild first
// (scripts/run.js ensurePrebuild); run `npm run prebuild` before running these tests alone.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const PREBUILD_DIR = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);

function newestNativeSource() {
  const files = [path.join(ROOT, 'binding.gyp'), path.join(ROOT, 'native', 'sources.json')];
  for (const dir of ['native/core', 'native/addon']) {
    for (const f of fs.readdirSync(path.join(ROOT, dir))) files.push(path.join(ROOT, dir, f));
  }
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

function checkPrebuild() {
  const binaries = fs.existsSync(PREBUILD_DIR) ? fs.readdirSync(PREBUILD_DIR).filter((f) => f.endsWith('.node')) : [];
  if (binaries.length === 0) throw new Error(`no prebuilt binary in ${PREBUILD_DIR}: run \`npm run prebuild\``);
  for (const f of binaries) {
    if (fs.statSync(path.join(PREBUILD_DIR, f)).mtimeMs < newestNativeSource()) {
      throw new Error(`${path.join(PREBUILD_DIR, f)} is older than the native sources: run \`npm run prebuild\``);
    }
  }
  return binaries;
}

function npm(args, { cwd, env = {}, input } = {}) {
  const res = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    input,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    throw new Error(`npm ${args.join(' ')} failed (exit ${res.status}) in ${cwd}:\n${res.stdout}\n${res.stderr}`);
  }
  return res.stdout;
}

// -> { tarball, files }: the packed tarball in `dest` and the paths it holds
function packPackage(dest) {
  checkPrebuild();
  const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], { cwd: ROOT }));
  return { tarball: path.join(dest, out[0].filename), files: out[0].files.map((f) => f.path) };
}

function whichOnPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir, name);
    if (dir && fs.existsSync(file)) return file;
  }
  throw new Error(`${name} is not on PATH`);
}

// A PATH with node, npm and sh only (npm runs scripts with sh): no compiler, make or python, so
// no node-gyp build can run.
function noCompilerPath(dir) {
  const bin = path.join(dir, '.bin-node-only');
  fs.mkdirSync(bin, { recursive: true });
  const npmCli = fs.realpathSync(whichOnPath('npm'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  fs.writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
  return bin;
}

function tempProject(prefix, pkg = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir).toLowerCase(), private: true, version: '1.0.0', ...pkg }, null, 2));
  return dir;
}

module.exports = { ROOT, PREBUILD_DIR, checkPrebuild, npm, packPackage, noCompilerPath, tempProject };
