'use strict';

// Every conformance case runs against both implementations: the native addon and the JS twin.
// RT_IMPL=js (or native) narrows a local run to one of them; CI always runs both.
const only = process.env.RT_IMPL;
const native = only === 'js' ? null : require('realtime-core');
const js = only === 'native' ? null : require('realtime-core/js');

const IMPLS = [
  ['native', native],
  ['js', js],
].filter(([, impl]) => impl !== null);

function codeOf(fn) {
  try {
    fn();
  } catch (err) {
    return err.code || `${err.name}: ${err.message}`;
  }
  return 'no error';
}

module.exports = { native, js, IMPLS, codeOf };
