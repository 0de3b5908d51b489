'use strict';

// Bundles the pure-JS twin for the browser (served as /realtime-core.js): an IIFE that sets
// `window.RealtimeCore` to lib/js/browser.js, the real twin code, not a copy.
//
// `events` resolves to the npm `events` package (esbuild's browser platform does not treat node
// built-ins specially); lib/js/browser.js loads no other Node built-in.

const path = require('path');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '../../..');
const ENTRY = path.join(ROOT, 'lib/js/browser.js');

let cached = null;

// Resolves to the bundle's source text. Built once per process.
function buildBrowserBundle() {
  if (cached === null) {
    cached = esbuild
      .build({
        entryPoints: [ENTRY],
        bundle: true,
        write: false,
        platform: 'browser',
        format: 'iife',
        globalName: 'RealtimeCore',
        target: ['es2022'],
        legalComments: 'none',
        logLevel: 'silent',
        banner: { js: '/* realtime-core: the pure-JS twin, browser build (lib/js/browser.js) */' },
      })
      .then((result) => result.outputFiles[0].text)
      .catch((err) => {
        cached = null; // let a later call try again
        throw err;
      });
  }
  return cached;
}

module.exports = { buildBrowserBundle };
