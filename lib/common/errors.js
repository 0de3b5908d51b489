'use strict';

// Every failure the engines report carries a stable `code`. Both implementations throw these
// classes (native errors are re-created here in JS), so `instanceof` works across Jest contexts.
class RealtimeCoreError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = 'RealtimeCoreError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

const ERROR_CODES = Object.freeze([
  'ERR_RT_INVALID_JSON',
  'ERR_RT_INVALID_UTF8',
  'ERR_RT_INVALID_VALUE',
  'ERR_RT_TOO_DEEP',
  'ERR_RT_TOO_LARGE',
  'ERR_RT_TOO_MANY_OPS',
  'ERR_RT_GROWTH_LIMIT',
  'ERR_RT_INVALID_PATCH',
  'ERR_RT_INVALID_POINTER',
  'ERR_RT_PATH_NOT_FOUND',
  'ERR_RT_TEST_FAILED',
  'ERR_RT_NOT_FOUND',
  'ERR_RT_STALE_BASE',
  'ERR_RT_INVALID_TIMESTAMP',
  'ERR_RT_CLOCK_DRIFT',
  'ERR_RT_DUPLICATE_ID',
  'ERR_RT_UNKNOWN_ID',
  'ERR_RT_TOO_MANY_PENDING',
  'ERR_RT_QUEUE_FULL',
  'ERR_RT_INVALID_OFFSET',
  'ERR_RT_DISK',
  'ERR_RT_CLOSED',
  // the Socket.io adapter (docs/socket-io-adapter.md)
  'ERR_RT_RATE_LIMITED',
  'ERR_RT_READ_ONLY',
  'ERR_RT_MISSING_PEER',
  'ERR_RT_UNAVAILABLE',
  'ERR_RT_INVALID_ARGUMENT',
  'ERR_RT_OUT_OF_RANGE',
  'ERR_RT_INTERNAL',
  // realtime-core/nestjs's mutation protocol (docs/nestjs.md): the authorize hook said no
  'ERR_RT_FORBIDDEN',
  // loading the addon failed (lib/native/load.js, docs/releasing.md)
  'ERR_RT_ADDON_LOAD',
]);

function invalidArgument(message) {
  const err = new TypeError(message);
  err.code = 'ERR_RT_INVALID_ARGUMENT';
  return err;
}

function outOfRange(message) {
  const err = new RangeError(message);
  err.code = 'ERR_RT_OUT_OF_RANGE';
  return err;
}

// Errors thrown by the addon are plain objects of another realm; turn them into ours. A failed
// batch operation carries its position as `batchIndex`, which becomes `details.index`.
function fromNativeError(err) {
  if (err && typeof err.code === 'string' && err.code.startsWith('ERR_RT_')) {
    let mapped;
    if (err.code === 'ERR_RT_INVALID_ARGUMENT') mapped = invalidArgument(err.message);
    else if (err.code === 'ERR_RT_OUT_OF_RANGE') mapped = outOfRange(err.message);
    else mapped = new RealtimeCoreError(err.code, err.message);
    if (typeof err.batchIndex === 'number') mapped.details = { index: err.batchIndex };
    return mapped;
  }
  return err;
}

module.exports = { RealtimeCoreError, ERROR_CODES, invalidArgument, outOfRange, fromNativeError };
