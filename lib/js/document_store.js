'use strict';

// Versioned documents, as specified in docs/semantics.md section 8: history of inverse patches,
// per-client deduplication, stale-base merges and deltas. Twin of native/core/document_store.
//
// Internal state never escapes: documents are copied or serialized on the way out, and history
// deltas, inverses and remembered results are kept as JSON text (immutable, compact, and
// parsed into fresh objects on demand).

const { RealtimeCoreError, outOfRange, invalidArgument } = require('../common/errors');
const { DEFAULT_LIMITS } = require('../common/limits');
const { fail, hasOwn, isObject, setKey, parse, parseTrusted, deepEqual, clone, depthExceeds } = require('./json');
const { formatPointer, resolve } = require('./pointer');
const {
  KEY_SET,
  KEY_REMOVE,
  ROOT_SET,
  ChangeLog,
  compilePatch,
  applyOps,
  serializeOpsWithoutTests,
} = require('./patch');
const { applyMergePatch } = require('./merge_patch');
const { diff, mergeDiff } = require('./diff');
const { merge3 } = require('./merge3');
const { Clock, parseTimestamp } = require('./hlc');

const PATCH_FAILURES = new Set([
  'ERR_RT_PATH_NOT_FOUND',
  'ERR_RT_TEST_FAILED',
  'ERR_RT_INVALID_PATCH',
  'ERR_RT_TOO_DEEP',
  'ERR_RT_GROWTH_LIMIT',
]);

function isPatchFailure(err) {
  return err instanceof RealtimeCoreError && PATCH_FAILURES.has(err.code);
}

// ---- the merge-patch delta of a fresh-base apply (8.2) ----

const NONE = Symbol('none');

// `state.wholeDiff` is set when an object lands on a value an earlier primitive of the same
// patch replaced or removed: a merge patch cannot say "replace with this object" (it would merge
// into whatever the old document held there), so the delta falls back to a whole-document diff.
function compose(p, x, state) {
  if (!isObject(x) || p === NONE) return x;
  if (!isObject(p)) {
    state.wholeDiff = true;
    return x;
  }
  const keys = Object.keys(x);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    setKey(p, k, compose(hasOwn(p, k) ? p[k] : NONE, x[k], state));
  }
  return p;
}

class MergeDeltaBuilder {
  constructor() {
    this.delta = NONE;
    this.touched = null;
    this.wholeDiff = false;
    // Every contributed value is a copy: compose mutates the delta, and later primitives may
    // mutate the document values the primitives saw.
    this.observe = (t, tokens, n, key, had, old, value, outer) => {
      if (t === ROOT_SET) {
        this.contribute(null, 0, null, mergeDiff(old, value, true));
      } else if (outer >= 0) {
        this.touch(tokens, outer);
      } else if (t === KEY_SET) {
        const x = had && isObject(old) && isObject(value) ? mergeDiff(old, value, true) : clone(value);
        this.contribute(tokens, n, key, x);
      } else if (t === KEY_REMOVE) {
        this.contribute(tokens, n, key, null);
      }
      // Item primitives always have an outer array (their container), handled above.
    };
  }

  touch(tokens, count) {
    if (this.touched === null) this.touched = new Map();
    const ptr = formatPointer(tokens, count);
    if (!this.touched.has(ptr)) this.touched.set(ptr, tokens.slice(0, count));
  }

  // Path = tokens[0, n) followed by `key` when key is not null.
  contribute(tokens, n, key, x) {
    const total = key === null ? n : n + 1;
    if (total === 0) {
      this.delta = compose(this.delta, x, this);
      return;
    }
    if (this.delta === NONE || !isObject(this.delta)) this.delta = {};
    let node = this.delta;
    for (let i = 0; i < total - 1; i++) {
      const t = tokens[i];
      if (!hasOwn(node, t) || !isObject(node[t])) setKey(node, t, {});
      node = node[t];
    }
    const last = key === null ? tokens[n - 1] : key;
    setKey(node, last, compose(hasOwn(node, last) ? node[last] : NONE, x, this));
  }

  // `before()` rebuilds the document as it was before the patch (only needed for wholeDiff).
  finish(root, before) {
    if (this.wholeDiff) return mergeDiff(before(), root, true);
    if (this.touched !== null) {
      const ptrs = [...this.touched.keys()];
      for (const ptr of ptrs) {
        const covered = ptrs.some((q) => q !== ptr && (q === '' || ptr.startsWith(q + '/')));
        if (covered) continue;
        const tokens = this.touched.get(ptr);
        const v = resolve(root, tokens);
        if (v !== undefined) this.contribute(tokens, tokens.length, null, clone(v));
      }
    }
    return this.delta === NONE ? null : this.delta;
  }
}

// The json-patch delta of a merge-patch mutation: one op per primitive (8.2). The values are
// serialized before anything else can change them.
function jsonOpsObserver(ops) {
  return (t, tokens, n, key, had, old, value, outer, path) => {
    if (t === KEY_SET) ops.push(had ? { op: 'replace', path, value } : { op: 'add', path, value });
    else if (t === KEY_REMOVE) ops.push({ op: 'remove', path });
    else if (t === ROOT_SET) ops.push({ op: 'replace', path: '', value });
  };
}

// Writers' timestamps need not arrive in order, so the newest is searched, not the last.
function newestTimestampAfter(history, version) {
  let newest = null;
  for (let i = history.length - 1; i >= 0 && history[i].version > version; i--) {
    const t = history[i].timestamp;
    if (newest === null || t > newest) newest = t;
  }
  return newest;
}

// ---- the store ----

class Store {
  constructor(opts = {}) {
    this.strategy = opts.strategy || 'server-wins';
    this.resolver = opts.resolver || null;
    this.arrayKey = opts.arrayKey === undefined ? 'id' : opts.arrayKey;
    this.historyLimit = opts.historyLimit === undefined || opts.historyLimit === null ? 100 : opts.historyLimit;
    this.staleBase = opts.staleBase || 'reject';
    this.deltaFormat = opts.deltaFormat || 'merge-patch';
    this.limits = opts.limits || DEFAULT_LIMITS;
    this.dedupWindow = opts.dedupWindow === undefined || opts.dedupWindow === null ? 64 : opts.dedupWindow;
    this.clock = new Clock(opts.nodeId, opts.maxDriftMs === undefined || opts.maxDriftMs === null ? 60000 : opts.maxDriftMs);
    // Replaying history: inverse patches are the engine's own, may be long, and only restore
    // documents that were valid, so op count, growth and depth need no checks.
    this.replayLimits = Object.freeze({
      ...this.limits,
      maxPatchOps: Infinity,
      maxPatchGrowthBytes: Infinity,
    });
    this.docs = new Map();
    this.clients = new Map();
    this.busy = false;
  }

  #ensureNotBusy() {
    if (this.busy) {
      throw fail('ERR_RT_INTERNAL', 'DocumentStore is busy: a resolver cannot modify the store it resolves for');
    }
  }

  put(id, text, wallMs, output) {
    this.#ensureNotBusy();
    const doc = parse(text, this.limits, 'document');
    const entry = this.docs.get(id);
    if (entry === undefined) {
      this.docs.set(id, { doc, version: 1, history: [] });
      return { version: 1, delta: null };
    }
    if (deepEqual(entry.doc, doc)) return { version: entry.version, delta: null };
    const deltaText = JSON.stringify(diff(entry.doc, doc, this.deltaFormat, this.arrayKey));
    const inverseText = JSON.stringify(diff(doc, entry.doc, 'json-patch', this.arrayKey));
    const ts = this.clock.now(wallMs);
    entry.doc = doc;
    this.#commit(entry, deltaText, inverseText, ts);
    return { version: entry.version, delta: output === 'text' ? deltaText : parseTrusted(deltaText) };
  }

  get(id, output) {
    const entry = this.docs.get(id);
    if (entry === undefined) return undefined;
    return output === 'text' ? JSON.stringify(entry.doc) : clone(entry.doc);
  }

  has(id) {
    return this.docs.has(id);
  }

  delete(id) {
    this.#ensureNotBusy();
    return this.docs.delete(id);
  }

  version(id) {
    const entry = this.docs.get(id);
    return entry === undefined ? undefined : entry.version;
  }

  ids() {
    return [...this.docs.keys()];
  }

  size() {
    return this.docs.size;
  }

  changesSince(id, version, output) {
    const entry = this.#entry(id);
    const current = entry.version;
    if (version === current) return { version: current, changes: [] };
    const history = entry.history;
    if (version < current && version >= current - history.length) {
      const changes = [];
      for (let i = history.length - (current - version); i < history.length; i++) {
        const h = history[i];
        changes.push({
          version: h.version,
          delta: output === 'text' ? h.delta : parseTrusted(h.delta),
          timestamp: h.timestamp,
        });
      }
      return { version: current, changes };
    }
    return { version: current, snapshot: output === 'text' ? JSON.stringify(entry.doc) : clone(entry.doc) };
  }

  apply(id, m, wallMs, output) {
    // 1. Arguments and the patch; nothing has changed if any of this throws.
    this.#ensureNotBusy();
    const limits = this.limits;
    const isPatch = m.kind === 'patch';
    const patchText = m.patch;
    const patchValue = parse(patchText, limits, isPatch ? 'patch' : 'merge patch');
    const bytesUpperBound = typeof patchText === 'string' ? patchText.length * 3 : patchText.length;
    const compiled = isPatch ? compilePatch(patchValue, limits, bytesUpperBound, 2) : null;
    if (m.timestamp !== null && m.timestamp !== undefined) parseTimestamp(m.timestamp);
    const clientId = m.clientId === undefined ? null : m.clientId;
    const mutationId = m.mutationId === undefined ? null : m.mutationId;
    if ((clientId === null) !== (mutationId === null)) {
      throw invalidArgument('clientId and mutationId must be given together');
    }
    const entry = this.#entry(id);
    const current = entry.version;
    const base = m.baseVersion === undefined ? null : m.baseVersion;

    // 2. Deduplication.
    let client = null;
    if (clientId !== null) {
      client = this.clients.get(clientId) || null;
      if (client !== null && mutationId <= client.last) return this.#duplicate(client, mutationId, current, output);
    }

    // 3-6. Anything thrown from here on (a resolver error, a bad base) leaves the clock as it
    // was. A resolver must not re-enter the store while it is mid-apply.
    const clockState = this.clock.snapshot();
    this.busy = true;
    let r;
    try {
      // A writer's own timestamp is what last-writer-wins compares; receiving it still moves
      // the store's clock past it.
      let ts;
      if (m.timestamp !== null && m.timestamp !== undefined) {
        this.clock.receive(m.timestamp, wallMs);
        ts = m.timestamp;
      } else {
        ts = this.clock.now(wallMs);
      }
      if (base !== null && (!Number.isInteger(base) || base < 0 || base > current)) {
        throw outOfRange(`baseVersion must be an integer between 0 and the current version (${current})`);
      }
      if (base === null || base === current) {
        r = this.#applyFresh(entry, isPatch, patchValue, compiled, ts, 'applied');
      } else if (base >= current - entry.history.length) {
        r = this.#applyStale(entry, isPatch, patchValue, compiled, ts, base);
      } else if (this.staleBase === 'current') {
        r = this.#applyFresh(entry, isPatch, patchValue, compiled, ts, 'merged');
      } else {
        r = rejected(
          current,
          fail('ERR_RT_STALE_BASE', `baseVersion ${base} is older than the history (current ${current})`),
        );
      }
    } catch (err) {
      this.clock.restore(clockState);
      throw err;
    } finally {
      this.busy = false;
    }

    // 7. Remember the result for the client (a rejected one too: processed once).
    let gap = null;
    if (clientId !== null) {
      if (client === null) {
        client = { last: -1, results: new Map() };
        this.clients.set(clientId, client);
      } else if (mutationId > client.last + 1) {
        gap = { expected: client.last + 1, received: mutationId };
      }
      client.last = mutationId;
      if (this.dedupWindow > 0) {
        client.results.set(mutationId, {
          status: r.status,
          version: r.version,
          delta: r.deltaText,
          conflicts: r.conflictsText === undefined ? conflictsText(r.conflicts) : r.conflictsText,
          error: r.error,
          gap,
        });
        if (client.results.size > this.dedupWindow) client.results.delete(client.results.keys().next().value);
      }
    }

    const out = {
      status: r.status,
      version: r.version,
      delta: r.deltaText === null ? null : output === 'text' ? r.deltaText : r.deltaValue !== undefined ? r.deltaValue : parseTrusted(r.deltaText),
      conflicts: output === 'text' ? (r.conflictsText === undefined ? conflictsText(r.conflicts) : r.conflictsText) : conflictsValue(r.conflicts),
    };
    if (r.error !== null) out.error = { code: r.error.code, message: r.error.message };
    if (gap !== null) out.gap = gap;
    return out;
  }

  #entry(id) {
    const entry = this.docs.get(id);
    if (entry === undefined) throw fail('ERR_RT_NOT_FOUND', 'document not found');
    return entry;
  }

  #commit(entry, deltaText, inverseText, ts) {
    entry.version += 1;
    if (this.historyLimit === 0) return;
    const history = entry.history;
    history.push({ version: entry.version, delta: deltaText, inverse: inverseText, timestamp: ts });
    if (history.length > this.historyLimit) history.shift();
  }

  #duplicate(client, mutationId, current, output) {
    const rec = client.results.get(mutationId);
    if (rec === undefined) {
      return { status: 'duplicate', version: current, delta: null, conflicts: output === 'text' ? '[]' : [] };
    }
    const out = {
      status: 'duplicate',
      version: rec.version,
      delta: rec.delta === null || output === 'text' ? rec.delta : parseTrusted(rec.delta),
      conflicts: output === 'text' ? rec.conflicts : parseTrusted(rec.conflicts),
    };
    if (rec.error !== null) out.error = { code: rec.error.code, message: rec.error.message };
    if (rec.gap !== null) out.gap = { expected: rec.gap.expected, received: rec.gap.received };
    return out;
  }

  // Step 4: the patch applies in place on the stored document (no copy); the change log undoes
  // it on failure and yields the inverse for the history.
  #applyFresh(entry, isPatch, patchValue, compiled, ts, status) {
    const current = entry.version;
    let builder = null;
    let jsonOps = null;
    let deltaText = null;
    let log;
    if (this.deltaFormat === 'merge-patch') {
      builder = new MergeDeltaBuilder();
      log = new ChangeLog(builder.observe);
    } else if (isPatch) {
      // Serialized before applying: op values move into the document and may change later.
      deltaText = serializeOpsWithoutTests(compiled);
      log = new ChangeLog(null);
    } else {
      jsonOps = [];
      log = new ChangeLog(jsonOpsObserver(jsonOps));
    }
    let root;
    try {
      root = isPatch
        ? applyOps(entry.doc, compiled, this.limits, true, log)
        : applyMergePatch(entry.doc, patchValue, log);
    } catch (err) {
      log.undo();
      if (isPatchFailure(err)) return rejected(current, err);
      throw err;
    }
    if (!log.changed) return result(status, current, null, undefined, EMPTY);
    entry.doc = root;
    let deltaValue;
    if (builder !== null) {
      deltaValue = builder.finish(root, () => this.#rebuild(root, log.inverseText()));
      deltaText = JSON.stringify(deltaValue);
    } else if (jsonOps !== null) {
      deltaText = JSON.stringify(jsonOps);
    }
    this.#commit(entry, deltaText, log.inverseText(), ts);
    return result(status, entry.version, deltaText, deltaValue, EMPTY);
  }

  // A copy of `doc` with an inverse patch (JSON text) applied: an earlier version.
  #rebuild(doc, inverseText) {
    const inverse = compilePatch(parseTrusted(inverseText), this.replayLimits, Infinity, Infinity);
    return applyOps(clone(doc), inverse, this.replayLimits, false, null);
  }

  // Step 5: rebuild the base from the history, apply the patch to it, merge with current.
  #applyStale(entry, isPatch, patchValue, compiled, ts, base) {
    const current = entry.version;
    const history = entry.history;
    let baseDoc = clone(entry.doc);
    for (let i = history.length - 1; i >= 0 && history[i].version > base; i--) {
      const inverse = compilePatch(parseTrusted(history[i].inverse), this.replayLimits, Infinity, Infinity);
      baseDoc = applyOps(baseDoc, inverse, this.replayLimits, false, null);
    }
    let local;
    try {
      local = isPatch
        ? applyOps(clone(baseDoc), compiled, this.limits, false, null)
        : applyMergePatch(clone(baseDoc), patchValue, null);
    } catch (err) {
      if (isPatchFailure(err)) return rejected(current, err);
      throw err;
    }
    const merged = merge3(
      baseDoc,
      local,
      entry.doc,
      {
        strategy: this.strategy,
        arrayKey: this.arrayKey,
        localTimestamp: ts,
        remoteTimestamp: newestTimestampAfter(history, base),
        resolver: this.resolver,
      },
      this.limits,
    );
    const conflicts = merged.conflicts;
    const cText = conflictsText(conflicts);
    // Only a custom resolution can put a value deeper than the inputs were.
    if (this.strategy === 'custom' && conflicts.length > 0 && depthExceeds(merged.doc, this.limits.maxDepth)) {
      return rejected(
        current,
        fail('ERR_RT_TOO_DEEP', 'merged document nesting exceeds maxDepth'),
      );
    }
    if (deepEqual(merged.doc, entry.doc)) return result('merged', current, null, undefined, conflicts, cText);
    const deltaText = JSON.stringify(diff(entry.doc, merged.doc, this.deltaFormat, this.arrayKey));
    const inverseText = JSON.stringify(diff(merged.doc, entry.doc, 'json-patch', this.arrayKey));
    entry.doc = merged.doc;
    this.#commit(entry, deltaText, inverseText, ts);
    return result('merged', entry.version, deltaText, undefined, conflicts, cText);
  }
}

const EMPTY = Object.freeze([]);

function result(status, version, deltaText, deltaValue, conflicts, cText) {
  return { status, version, deltaText, deltaValue, conflicts, conflictsText: cText, error: null };
}

function rejected(version, err) {
  return {
    status: 'rejected',
    version,
    deltaText: null,
    deltaValue: undefined,
    conflicts: EMPTY,
    conflictsText: '[]',
    error: { code: err.code, message: err.message },
  };
}

function conflictsText(conflicts) {
  return conflicts.length === 0 ? '[]' : JSON.stringify(conflicts);
}

// Conflict records share values with documents; hand out copies.
function conflictsValue(conflicts) {
  return conflicts.length === 0 ? [] : clone(conflicts);
}

module.exports = { Store };
