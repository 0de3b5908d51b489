'use strict';

// JSON Pointer (RFC 6901) as specified in docs/semantics.md section 2.
// Twin of native/core/pointer.{h,cpp}.

const { fail, hasOwn, isArray } = require('./json');

const EMPTY = Object.freeze([]);

function unescapeToken(token) {
  if (token.indexOf('~') === -1) return token;
  for (let i = 0; i < token.length; i++) {
    if (token.charCodeAt(i) !== 0x7e) continue;
    const next = token.charCodeAt(i + 1);
    if (next !== 0x30 && next !== 0x31) return null;
    i++;
  }
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

// Throws ERR_RT_INVALID_POINTER.
function parsePointer(pointer) {
  if (pointer === '') return EMPTY;
  if (pointer.charCodeAt(0) !== 0x2f) {
    throw fail('ERR_RT_INVALID_POINTER', `invalid JSON pointer "${pointer}": must be empty or start with "/"`);
  }
  const tokens = pointer.slice(1).split('/');
  for (let i = 0; i < tokens.length; i++) {
    const t = unescapeToken(tokens[i]);
    if (t === null) {
      throw fail('ERR_RT_INVALID_POINTER', `invalid JSON pointer "${pointer}": "~" must be followed by 0 or 1`);
    }
    tokens[i] = t;
  }
  return tokens;
}

function escapeToken(token) {
  if (token.indexOf('~') === -1 && token.indexOf('/') === -1) return token;
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function formatPointer(tokens, count = tokens.length) {
  let out = '';
  for (let i = 0; i < count; i++) out += '/' + escapeToken(String(tokens[i]));
  return out;
}

// "0" or [1-9][0-9]*, as a number (possibly beyond any length); -1 when not an index token.
function arrayIndex(token) {
  const n = token.length;
  if (n === 0) return -1;
  const c0 = token.charCodeAt(0);
  if (c0 === 0x30) return n === 1 ? 0 : -1;
  for (let i = 0; i < n; i++) {
    const c = token.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(token);
}

// The value at tokens [0, count), or undefined when any step is missing (JSON has no
// undefined, so it is an unambiguous "absent").
function resolve(root, tokens, count = tokens.length) {
  let cur = root;
  for (let i = 0; i < count; i++) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    const t = tokens[i];
    if (isArray(cur)) {
      const idx = arrayIndex(t);
      if (idx < 0 || idx >= cur.length) return undefined;
      cur = cur[idx];
    } else {
      if (!hasOwn(cur, t)) return undefined;
      cur = cur[t];
    }
  }
  return cur;
}

module.exports = { parsePointer, escapeToken, formatPointer, arrayIndex, resolve, EMPTY };
