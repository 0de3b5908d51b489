'use strict';

const { RealtimeCoreError } = require('./errors');

function isJsonText(input) {
  return typeof input === 'string' || input instanceof Uint8Array;
}

// A JavaScript value becomes JSON text with JSON.stringify semantics, for both implementations,
// so the two see exactly the same input. Failures get stable codes.
function toJsonText(value, what = 'value') {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new RealtimeCoreError('ERR_RT_TOO_DEEP', `${what} is nested too deeply to serialize`);
    }
    throw new RealtimeCoreError('ERR_RT_INVALID_VALUE', `${what} cannot be represented as JSON: ${err.message}`);
  }
  if (text === undefined) {
    throw new RealtimeCoreError('ERR_RT_INVALID_VALUE', `${what} cannot be represented as JSON (${typeof value})`);
  }
  return text;
}

// JSON text stays as it is (string or bytes); anything else is serialized.
function asJsonText(input, what) {
  return isJsonText(input) ? input : toJsonText(input, what);
}

function utf8Length(str) {
  if (typeof Buffer !== 'undefined') return Buffer.byteLength(str, 'utf8');
  let bytes = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length && (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

module.exports = { isJsonText, toJsonText, asJsonText, utf8Length };
