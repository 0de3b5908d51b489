'use strict';

// JSON values with the semantics of docs/semantics.md section 1: parsing with the error
// precedence of 1.2, deep equality, sizeOf, depth, copies and prototype-safe key writes.
// Twin of native/core/json.{h,cpp}. No Node-specific API here (browser-ready).

const { RealtimeCoreError } = require('../common/errors');
const { utf8Length } = require('../common/json-text');

const hasOwnProperty = Object.prototype.hasOwnProperty;
const isArray = Array.isArray;

function hasOwn(obj, key) {
  return hasOwnProperty.call(obj, key);
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !isArray(v);
}

// Plain assignment of `__proto__` would call the Object.prototype setter and change the
// prototype; defining the property keeps it an ordinary own key (same position rules).
function setKey(obj, key, value) {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function fail(code, message) {
  return new RealtimeCoreError(code, message);
}

// ---- parsing ----

// ignoreBOM keeps a byte order mark in the text so JSON.parse rejects it (1.2: no BOM).
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

const isWellFormed =
  typeof String.prototype.isWellFormed === 'function'
    ? (s) => s.isWellFormed()
    : (s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

// A surrogate escape may be present (false positives such as "\\uD800" only cost a scan).
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

function hexValue(text, at) {
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const c = text.charCodeAt(i);
    v = v * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return v;
}

// One pass over syntactically valid JSON text: nesting depth (throws TOO_DEEP as soon as it
// is exceeded, which outranks UTF-8 problems) and whether a surrogate escape is unpaired.
// Iterative, so 100,000 levels cannot overflow the stack. String bodies are skipped with
// indexOf, so the per-character loop only runs over structure, numbers and literals.
function scanText(text, maxDepth, checkDepth, checkEscapes) {
  const n = text.length;
  let depth = 0;
  let badEscape = false;
  let nextBackslash = -1;
  let nextQuote = -1;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      for (;;) {
        // Both positions are cached: re-searching per escape would be quadratic.
        if (nextQuote < i) nextQuote = text.indexOf('"', i);
        const quote = nextQuote;
        if (nextBackslash < i) {
          nextBackslash = text.indexOf('\\', i);
          if (nextBackslash === -1) nextBackslash = n;
        }
        if (nextBackslash < quote) {
          const b = nextBackslash;
          if (text.charCodeAt(b + 1) === 0x75) {
            if (checkEscapes) {
              const u = hexValue(text, b + 2);
              if (u >= 0xd800 && u <= 0xdbff) {
                if (text.charCodeAt(b + 6) === 0x5c && text.charCodeAt(b + 7) === 0x75) {
                  const low = hexValue(text, b + 8);
                  if (low >= 0xdc00 && low <= 0xdfff) {
                    i = b + 12;
                    continue;
                  }
                }
                badEscape = true;
              } else if (u >= 0xdc00 && u <= 0xdfff) {
                badEscape = true;
              }
              if (badEscape && !checkDepth) return true;
            }
            i = b + 6;
          } else {
            i = b + 2;
          }
          continue;
        }
        i = quote + 1;
        break;
      }
      continue;
    }
    if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth && checkDepth) {
        throw fail('ERR_RT_TOO_DEEP', `JSON nesting exceeds maxDepth (${maxDepth})`);
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
    i++;
  }
  return badEscape;
}

function tooLarge(what, bytes, maxBytes) {
  return fail('ERR_RT_TOO_LARGE', `${what} is ${bytes} bytes, more than maxDocumentBytes (${maxBytes})`);
}

const WALK_MAX_DEPTH = 2000;

// Parses JSON text (string or UTF-8 bytes) with the checks of 1.2 in their order of precedence.
function parse(input, limits, what = 'JSON text') {
  const maxBytes = limits.maxDocumentBytes;
  let text;
  let badBytes = false;
  if (typeof input === 'string') {
    // A UTF-16 unit is 1 to 3 UTF-8 bytes, so the exact count is rarely needed.
    if (input.length > maxBytes || (input.length * 3 > maxBytes && utf8Length(input) > maxBytes)) {
      throw tooLarge(what, utf8Length(input), maxBytes);
    }
    text = input;
  } else {
    if (input.length > maxBytes) throw tooLarge(what, input.length, maxBytes);
    try {
      text = strictDecoder.decode(input);
    } catch {
      // Decode leniently so syntax errors are still found first; invalid bytes outside
      // strings become U+FFFD, which JSON.parse rejects as a syntax error (rule 2).
      badBytes = true;
      text = lenientDecoder.decode(input);
    }
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw fail('ERR_RT_INVALID_JSON', `${what} is not valid JSON: ${err.message}`);
  }
  const maxDepth = limits.maxDepth;
  // Depth d needs d opening and d closing brackets, so short texts cannot be too deep.
  if (text.length >= 2 * (maxDepth + 1)) {
    // Walking the parsed value is about twice as fast as scanning the text, but recurses per
    // level: only when maxDepth keeps that recursion small.
    if (maxDepth <= WALK_MAX_DEPTH) {
      if (depthExceeds(value, maxDepth)) throw fail('ERR_RT_TOO_DEEP', `JSON nesting exceeds maxDepth (${maxDepth})`);
    } else {
      scanText(text, maxDepth, true, false);
    }
  }
  const badEscape =
    text.indexOf('\\u') !== -1 && SURROGATE_ESCAPE.test(text) ? scanText(text, maxDepth, false, true) : false;
  if (badBytes || badEscape || (typeof input === 'string' && !isWellFormed(text))) {
    throw fail('ERR_RT_INVALID_UTF8', 'JSON text is not well-formed Unicode');
  }
  return value;
}

// Values the engine wrote itself (history entries) need no validation.
function parseTrusted(text) {
  return JSON.parse(text);
}

function serialize(value) {
  return JSON.stringify(value);
}

// ---- values ----
// The recursive walks below are bounded by maxDepth: every value they see was parsed or
// produced under that limit.

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const arrA = isArray(a);
  if (arrA !== isArray(b)) return false;
  if (arrA) {
    const n = a.length;
    if (n !== b.length) return false;
    for (let i = 0; i < n; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const keys = Object.keys(a);
  let countB = 0;
  for (const k in b) if (hasOwnProperty.call(b, k)) countB++;
  if (keys.length !== countB) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (!hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}

function clone(v) {
  if (typeof v !== 'object' || v === null) return v;
  if (isArray(v)) {
    const n = v.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = clone(v[i]);
    return out;
  }
  const out = {};
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    setKey(out, k, clone(v[k]));
  }
  return out;
}

// Section 1.3: an estimate of serialized size computed identically by both engines.
function sizeOf(v) {
  if (typeof v === 'string') return 2 + utf8Length(v);
  if (typeof v !== 'object' || v === null) return 8;
  let total = 2;
  if (isArray(v)) {
    for (let i = 0; i < v.length; i++) total += sizeOf(v[i]) + 1;
    return total;
  }
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    total += 2 + utf8Length(k) + sizeOf(v[k]) + 2;
  }
  return total;
}

function depth(v) {
  if (typeof v !== 'object' || v === null) return 0;
  let max = 0;
  if (isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const d = depth(v[i]);
      if (d > max) max = d;
    }
  } else {
    for (const k in v) {
      if (!hasOwnProperty.call(v, k)) continue;
      const d = depth(v[k]);
      if (d > max) max = d;
    }
  }
  return max + 1;
}

// depth(v) > limit, without walking further than limit + 1 levels. Scalars are skipped
// before the call: this is on every parse and patch op.
function depthExceeds(v, limit) {
  if (typeof v !== 'object' || v === null) return limit < 0;
  if (limit < 1) return true;
  if (isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null && depthExceeds(x, limit - 1)) return true;
    }
  } else {
    for (const k in v) {
      if (!hasOwnProperty.call(v, k)) continue;
      const x = v[k];
      if (typeof x === 'object' && x !== null && depthExceeds(x, limit - 1)) return true;
    }
  }
  return false;
}

// Canonical array index 0 .. 4294967294: the keys JavaScript orders first in an object.
function isArrayIndexKey(key) {
  const n = key.length;
  if (n === 0 || n > 10) return false;
  const c0 = key.charCodeAt(0);
  if (c0 === 48) return n === 1;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return n < 10 || Number(key) <= 4294967294;
}

module.exports = {
  hasOwn,
  isObject,
  isArray,
  setKey,
  fail,
  parse,
  parseTrusted,
  serialize,
  deepEqual,
  clone,
  sizeOf,
  depth,
  depthExceeds,
  isArrayIndexKey,
};
