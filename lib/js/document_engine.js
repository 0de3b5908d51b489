'use strict';

// The document half of the engine interface of docs/internals.md over the pure-JS core: the
// conflict functions, the clock, the store and the optimistic state. It needs no Node built-in,
// so the browser build (lib/js/browser.js) is this alone. Inputs are JSON text (string or UTF-8
// bytes); `output` picks values or JSON text for document-bearing results.

const { fail, parse, clone } = require('./json');
const { compilePatch, applyOps } = require('./patch');
const { applyMergePatch } = require('./merge_patch');
const { diff } = require('./diff');
const { merge3 } = require('./merge3');
const { Clock: HlcClock, compare } = require('./hlc');
const { Store: CoreStore } = require('./document_store');
const { OptimisticState } = require('./optimistic_state');

// The walks recurse once per nesting level, bounded by maxDepth. Only a maxDepth raised far
// above the default lets a document outgrow the JS stack; report that as a depth error.
function guard(fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      const deep = fail('ERR_RT_TOO_DEEP', 'document is nested too deeply for this engine');
      // A batch tells which of its operations failed.
      if (err.details !== undefined) deep.details = err.details;
      throw deep;
    }
    throw err;
  }
}

function bytesUpperBound(text) {
  return typeof text === 'string' ? text.length * 3 : text.length;
}

function out(value, output) {
  return output === 'text' ? JSON.stringify(value) : value;
}

function applyPatch(doc, patch, limits, output) {
  return guard(() => {
    const root = parse(doc, limits, 'document');
    const ops = compilePatch(parse(patch, limits, 'patch'), limits, bytesUpperBound(patch), 2);
    return out(applyOps(root, ops, limits, true, null), output);
  });
}

function applyMergePatchText(doc, patch, limits, output) {
  return guard(() => {
    const root = parse(doc, limits, 'document');
    return out(applyMergePatch(root, parse(patch, limits, 'merge patch'), null), output);
  });
}

function diffText(a, b, format, arrayKey, limits, output) {
  return guard(() => {
    const va = parse(a, limits, 'document');
    const vb = parse(b, limits, 'document');
    return out(diff(va, vb, format, arrayKey === undefined ? null : arrayKey), output);
  });
}

function merge3Text(base, local, remote, opts, limits, output) {
  return guard(() => {
    const vb = parse(base, limits, 'base');
    const vl = parse(local, limits, 'local');
    const vr = parse(remote, limits, 'remote');
    const { doc, conflicts } = merge3(vb, vl, vr, opts, limits);
    if (output === 'text') return { doc: JSON.stringify(doc), conflicts: JSON.stringify(conflicts) };
    // The document and the conflict records may share values; callers may mutate either.
    return { doc, conflicts: conflicts.length === 0 ? [] : clone(conflicts) };
  });
}

class Clock {
  #clock;

  constructor(nodeId, maxDriftMs) {
    this.#clock = new HlcClock(nodeId, maxDriftMs);
  }

  now(wallMs) {
    return this.#clock.now(wallMs);
  }

  receive(ts, wallMs) {
    return this.#clock.receive(ts, wallMs);
  }

  last() {
    return this.#clock.last();
  }

  static compare(a, b) {
    return compare(a, b);
  }
}

class Store {
  #store;

  constructor(opts) {
    this.#store = new CoreStore(opts);
  }

  put(id, text, wallMs, output) {
    return guard(() => this.#store.put(id, text, wallMs, output));
  }

  get(id, output) {
    return guard(() => this.#store.get(id, output));
  }

  has(id) {
    return this.#store.has(id);
  }

  delete(id) {
    return this.#store.delete(id);
  }

  version(id) {
    return this.#store.version(id);
  }

  ids() {
    return this.#store.ids();
  }

  size() {
    return this.#store.size();
  }

  apply(id, m, wallMs, output) {
    return guard(() => this.#store.apply(id, m, wallMs, output));
  }

  changesSince(id, version, output) {
    return guard(() => this.#store.changesSince(id, version, output));
  }
}

class Optimistic {
  #state;

  constructor(initialText, opts) {
    this.#state = guard(() => new OptimisticState(initialText, opts));
  }

  apply(id, kind, text, nowMs, output) {
    return guard(() => this.#state.apply(id, kind, text, nowMs, output));
  }

  commit(id, kind, text, version, output) {
    return guard(() => this.#state.commit(id, kind, text, version, output));
  }

  rollback(id, output) {
    return guard(() => this.#state.rollback(id, output));
  }

  rollbackAll(output) {
    return guard(() => this.#state.rollbackAll(output));
  }

  rebase(kind, text, version, confirms, output) {
    return guard(() => this.#state.rebase(kind, text, version, confirms, output));
  }

  expire(nowMs, output) {
    return guard(() => this.#state.expire(nowMs, output));
  }

  batch(ops, nowMs, output) {
    return guard(() => this.#state.batch(ops, nowMs, output));
  }

  state(output) {
    return guard(() => this.#state.state(output));
  }

  base(output) {
    return guard(() => this.#state.base(output));
  }

  baseVersion() {
    return this.#state.baseVersion();
  }

  pendingCount() {
    return this.#state.pendingCount();
  }

  nextDeadline() {
    return this.#state.nextDeadline();
  }

  pending(output) {
    return guard(() => this.#state.pending(output));
  }
}

module.exports = {
  implementation: 'js',
  applyPatch,
  applyMergePatch: applyMergePatchText,
  diff: diffText,
  merge3: merge3Text,
  Clock,
  Store,
  Optimistic,
};
