'use strict';

// Loads the addon (a prebuilt binary from prebuilds/<platform>-<arch>/, else build/Release/).
// When it cannot load, the error says which files were looked for, on which platform and Node,
// why, and how to fix it; there is no silent fallback to the JS twin (that is an explicit
// opt-in: REALTIME_CORE_IMPLEMENTATION=js or require('realtime-core/js')).

const path = require('path');
const { RealtimeCoreError } = require('../common/errors');

const ROOT = path.join(__dirname, '..', '..');

function platformLine() {
  const napi = process.versions.napi ? `, N-API ${process.versions.napi}` : '';
  return `${process.platform}-${process.arch}, Node ${process.version} (ABI ${process.versions.modules}${napi})`;
}

function addonLoadError(cause) {
  const tried = [
    path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, '*.node'),
    path.join(ROOT, 'build', 'Release', 'realtime_core.node'),
  ];
  const reason = cause && cause.message ? cause.message.split('\n')[0] : String(cause);
  const err = new RealtimeCoreError(
    'ERR_RT_ADDON_LOAD',
    `realtime-core: the native addon could not be loaded on ${platformLine()}.\n` +
      `  looked for: ${tried.join(' and ')}\n` +
      `  because: ${reason}\n` +
      '  to fix: install a release with a prebuilt binary for this platform, or build it from source with\n' +
      '    npm rebuild realtime-core --build-from-source   (needs g++, make, python3, libboost-dev, nlohmann-json3-dev)\n' +
      "  or opt in to the pure-JS twin: REALTIME_CORE_IMPLEMENTATION=js, or require('realtime-core/js')",
    { tried, platform: process.platform, arch: process.arch, node: process.version, abi: process.versions.modules },
  );
  err.cause = cause;
  return err;
}

function loadAddon() {
  try {
    return require('node-gyp-build')(ROOT);
  } catch (cause) {
    throw addonLoadError(cause);
  }
}

module.exports = { loadAddon };
