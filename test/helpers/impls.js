'use strict';

// Every conformance case runs against both implementations: the native addon and the JS twin.
const native = require('realtime-core');
const js = require('realtime-core/js');

const IMPLS = [
  ['native', native],
  ['js', js],
];

// Runs fn against both implementations and returns [nativeResult, jsResult]; a thrown error is
// captured as { error: code } so the two can be compared.
function both(fn) {
  return IMPLS.map(([, impl]) => {
    try {
      return { value: fn(impl) };
    } catch (err) {
      return { error: err.code || err.name, message: err.message, err };
    }
  });
}

function codeOf(fn) {
  try {
    fn();
  } catch (err) {
    return err.code || `${err.name}: ${err.message}`;
  }
  return 'no error';
}

module.exports = { native, js, IMPLS, both, codeOf };
