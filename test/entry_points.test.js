'use strict';

// The package's entry points: CommonJS and ESM give the same objects, for both implementations.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

function runNode(args, input) {
  const res = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', input });
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout.trim();
}

test('CommonJS: realtime-core is native, realtime-core/js is the twin (self-reference through exports)', () => {
  const out = runNode(['-e', `
    const a = require('realtime-core');
    const b = require('realtime-core/js');
    console.log(JSON.stringify([a.implementation, b.implementation, typeof a.DocumentStore, typeof b.merge3]));
  `]);
  expect(JSON.parse(out)).toEqual(['native', 'js', 'function', 'function']);
});

test('ESM: named and default imports are the CommonJS objects', () => {
  const out = runNode(['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    import rt, { DocumentStore, implementation, applyPatch } from 'realtime-core';
    import twin, { implementation as twinImpl, merge3 } from 'realtime-core/js';
    const require = createRequire(import.meta.url);
    console.log(JSON.stringify([
      implementation, twinImpl,
      rt === require('realtime-core'), twin === require('realtime-core/js'),
      DocumentStore === rt.DocumentStore, merge3 === twin.merge3,
      applyPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }]).a,
    ]));
  `]);
  expect(JSON.parse(out)).toEqual(['native', 'js', true, true, true, true, 2]);
});

test('package.json declares the entry points, types and Node >= 20', () => {
  const pkg = require('../package.json');
  expect(pkg.name).toBe('realtime-core');
  expect(pkg.engines.node).toBe('>=20');
  expect(pkg.exports['.']).toEqual({
    import: { types: './index.d.mts', default: './lib/index.mjs' },
    require: { types: './index.d.ts', default: './lib/index.js' },
  });
  expect(pkg.exports['./js']).toEqual({
    import: { types: './index.d.mts', default: './lib/js/index.mjs' },
    require: { types: './index.d.ts', default: './lib/js/index.js' },
  });
  expect(pkg.scripts.install).toBe('node-gyp-build');
});
