'use strict';

// Stable error codes of the example's acks and HTTP answers, named like realtime-core's own.
const CODES = {
  invalid: 'ERR_RT_INVALID_ARGUMENT',
  forbidden: 'ERR_RT_FORBIDDEN',
  notFound: 'ERR_RT_NOT_FOUND',
  unauthorized: 'ERR_RT_UNAUTHORIZED',
  unavailable: 'ERR_RT_UNAVAILABLE',
};

class RequestError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

const invalid = (message) => new RequestError(CODES.invalid, message, 400);
const forbidden = (message) => new RequestError(CODES.forbidden, message, 403);
const notFound = (message) => new RequestError(CODES.notFound, message, 404);

// -> { ok: false, error: { code, message } } for a socket ack; unexpected errors keep their
// message out of the answer (it could leak internals) and are logged by the caller.
function failure(err) {
  if (err instanceof RequestError) return { ok: false, error: { code: err.code, message: err.message } };
  return { ok: false, error: { code: 'ERR_RT_INTERNAL', message: 'internal error' } };
}

module.exports = { CODES, RequestError, invalid, forbidden, notFound, failure };
