'use strict';

// Adapter from the engine interface (docs/internals.md) to the addon's positional functions.
// One addon call per engine call; documents cross as JSON text and come back as text, parsed
// here with JSON.parse only when the caller asked for values.

const path = require('path');
const binding = require('node-gyp-build')(path.join(__dirname, '..', '..'));
const { fromNativeError } = require('../common/errors');

// A string with lone surrogates goes over as its WTF-8 bytes, so the C++ parser reports
// ERR_RT_INVALID_UTF8 exactly where JSON.parse-based code would (N-API would silently turn the
// surrogates into U+FFFD).
function toWtf8(str) {
  const out = new Uint8Array(str.length * 3);
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 0x3f);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, n);
}

function wire(text) {
  return typeof text === 'string' && !text.isWellFormed() ? toWtf8(text) : text;
}

function parseIfValue(text, output) {
  return output === 'text' ? text : JSON.parse(text);
}

// Wraps an engine-level resolver so that whatever it throws reaches the caller as the very same
// object (fromNativeError would otherwise re-create errors that carry an ERR_RT_ code).
function resolverBridge(resolver) {
  if (typeof resolver !== 'function') return { fn: null, thrown: null };
  const bridge = { fn: null, thrown: null };
  bridge.fn = (conflictText) => {
    let r;
    try {
      r = resolver(conflictText);
    } catch (err) {
      bridge.thrown = { err };
      throw err;
    }
    return wire(r);
  };
  return bridge;
}

function rethrow(err, bridge) {
  if (bridge && bridge.thrown && bridge.thrown.err === err) {
    bridge.thrown = null;
    throw err;
  }
  if (bridge) bridge.thrown = null;
  throw fromNativeError(err);
}

function applyPatch(doc, patch, limits, output) {
  let text;
  try {
    text = binding.applyPatch(wire(doc), wire(patch), limits.maxDepth, limits.maxDocumentBytes, limits.maxPatchOps,
      limits.maxPatchGrowthBytes);
  } catch (err) {
    throw fromNativeError(err);
  }
  return parseIfValue(text, output);
}

function applyMergePatch(doc, patch, limits, output) {
  let text;
  try {
    text = binding.applyMergePatch(wire(doc), wire(patch), limits.maxDepth, limits.maxDocumentBytes,
      limits.maxPatchOps, limits.maxPatchGrowthBytes);
  } catch (err) {
    throw fromNativeError(err);
  }
  return parseIfValue(text, output);
}

function diff(a, b, format, arrayKey, limits, output) {
  let text;
  try {
    text = binding.diff(wire(a), wire(b), format, arrayKey, limits.maxDepth, limits.maxDocumentBytes,
      limits.maxPatchOps, limits.maxPatchGrowthBytes);
  } catch (err) {
    throw fromNativeError(err);
  }
  return parseIfValue(text, output);
}

function merge3(base, local, remote, opts, limits, output) {
  const bridge = resolverBridge(opts.resolver);
  let result;
  try {
    result = binding.merge3(wire(base), wire(local), wire(remote), opts.strategy, opts.arrayKey,
      opts.localTimestamp, opts.remoteTimestamp, bridge.fn, output === 'text', limits.maxDepth,
      limits.maxDocumentBytes, limits.maxPatchOps, limits.maxPatchGrowthBytes);
  } catch (err) {
    rethrow(err, bridge);
  }
  return output === 'text' ? result : JSON.parse(result);
}

class Clock {
  constructor(nodeId, maxDriftMs) {
    try {
      this._clock = new binding.Clock(nodeId, maxDriftMs);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  now(wallMs) {
    try {
      return this._clock.now(wallMs);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  receive(ts, wallMs) {
    try {
      return this._clock.receive(ts, wallMs);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  last() {
    return this._clock.last();
  }

  static compare(a, b) {
    try {
      return binding.compareTimestamps(a, b);
    } catch (err) {
      throw fromNativeError(err);
    }
  }
}

const STATUS = ['applied', 'merged', 'duplicate', 'rejected'];

class Store {
  constructor(opts) {
    this._bridge = resolverBridge(opts.resolver);
    // The addon writes [status code, version] here for results that need no object; only the
    // delta crosses as a JS value (see native/addon/addon.cpp).
    this._state = new Float64Array(2);
    try {
      this._store = new binding.Store({ ...opts, resolver: this._bridge.fn }, this._state);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  put(id, text, wallMs, output) {
    let delta;
    try {
      delta = this._store.put(id, wire(text), wallMs, output === 'text');
    } catch (err) {
      throw fromNativeError(err);
    }
    return { version: this._state[1], delta: delta === null || output === 'text' ? delta : JSON.parse(delta) };
  }

  get(id, output) {
    let t;
    try {
      t = this._store.get(id);
    } catch (err) {
      throw fromNativeError(err);
    }
    return t === undefined ? undefined : parseIfValue(t, output);
  }

  has(id) {
    try {
      return this._store.has(id);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  delete(id) {
    try {
      return this._store.delete(id);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  version(id) {
    try {
      return this._store.version(id);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  ids() {
    return this._store.ids();
  }

  size() {
    return this._store.size();
  }

  apply(id, m, wallMs, output) {
    let r;
    try {
      r = this._store.apply(id, m.kind === 'merge-patch', wire(m.patch), m.baseVersion, m.clientId, m.mutationId,
        m.timestamp, wallMs, output === 'text');
    } catch (err) {
      rethrow(err, this._bridge);
    }
    const code = this._state[0];
    if (code >= 0) {
      const text = output === 'text';
      return {
        status: STATUS[code],
        version: this._state[1],
        delta: r === null || text ? r : JSON.parse(r),
        conflicts: text ? '[]' : [],
      };
    }
    return output === 'text' ? r : JSON.parse(r);
  }

  changesSince(id, version, output) {
    let r;
    try {
      r = this._store.changesSince(id, version, output === 'text');
    } catch (err) {
      throw fromNativeError(err);
    }
    return output === 'text' ? r : JSON.parse(r);
  }
}

module.exports = {
  implementation: 'native',
  applyPatch,
  applyMergePatch,
  diff,
  merge3,
  Clock,
  Store,
};
