'use strict';

// Optimistic changes over a confirmed base, as specified in docs/optimistic-state.md: the base,
// an ordered list of pending changes, and the visible state (the base with every pending change
// applied in order). Twin of native/core/optimistic_state.{h,cpp}.
//
// Internal state never escapes: documents and deltas are copied or serialized on the way out,
// and pending changes keep their text (handed out as is, or parsed into a fresh value).
//
// Objects and their mutation:
// - `visible` is never modified once installed: an operation builds a new visible document (a
//   copy of the base with the pending changes re-applied, or a copy of the old one with the new
//   change applied), so the old one is still there to diff against and to restore.
// - `base` is modified in place, through a ChangeLog that can undo it exactly.
// - `pending` arrays are only ever appended to in place (apply); every other change of the list
//   installs a new array.
// - A pending change keeps its parsed form pristine: each application works on a copy of the
//   values it inserts.

const { RealtimeCoreError } = require('../common/errors');
const { DEFAULT_LIMITS } = require('../common/limits');
const { fail, isObject, parse, parseTrusted, deepEqual, clone } = require('./json');
const { ChangeLog, compilePatch, applyOps } = require('./patch');
const { applyMergePatch } = require('./merge_patch');
const { mergeDiff } = require('./diff');

const utf8Decoder = new TextDecoder('utf-8');

const PARSE_LABELS = { patch: 'patch', 'merge-patch': 'merge patch', snapshot: 'snapshot' };

// A change as the engine keeps it: `kind` ('patch', 'merge-patch' or 'snapshot') and its parsed
// form (`patch`: the compiled JSON Patch, otherwise the value). Parse errors are thrown here,
// with the precedence of semantics.md 1.2 and 1.4.
function compileChange(kind, text, limits) {
  const value = parse(text, limits, PARSE_LABELS[kind]);
  if (kind !== 'patch') return { kind, patch: value };
  const bytesUpperBound = typeof text === 'string' ? text.length * 3 : text.length;
  return { kind, patch: compilePatch(value, limits, bytesUpperBound, 2) };
}

// The compiled patch with fresh copies of the values its ops insert (applyOps moves them into
// the document). `test` values are only compared.
function freshOps(compiled) {
  const ops = compiled.ops.map((op) =>
    op.value === undefined || op.op === 'test' ? op : { ...op, value: clone(op.value) },
  );
  return { ...compiled, ops };
}

// Applies a change to `doc` in place and returns the new root. `once`: the change is used this
// one time, so its values may move into the document; otherwise they are copied first. Throws
// on failure; with a log the caller can then undo what was done.
function applyChange(doc, change, limits, log, once) {
  switch (change.kind) {
    case 'patch':
      return applyOps(doc, once ? change.patch : freshOps(change.patch), limits, true, log);
    case 'merge-patch':
      return applyMergePatch(doc, once ? change.patch : clone(change.patch), log);
    default:
      // A snapshot replaces the document.
      return once ? change.patch : clone(change.patch);
  }
}

// The delta of an operation: null when the visible state did not change, else the merge-patch
// diff (semantics.md 5.2), as a fresh value or as JSON text.
function deltaOf(before, after, output) {
  if (before === after) return null;
  const text = output === 'text';
  if (isObject(before) && isObject(after)) {
    // Between two objects the diff is {} exactly when they are deep-equal.
    const d = mergeDiff(before, after, !text);
    if (Object.keys(d).length === 0) return null;
    return text ? JSON.stringify(d) : d;
  }
  if (deepEqual(before, after)) return null;
  return text ? JSON.stringify(after) : clone(after);
}

function removals(entries, reason) {
  return entries.map((e) => ({ id: e.id, reason }));
}

function unknownId(id) {
  return fail('ERR_RT_UNKNOWN_ID', `no pending change has id "${id}"`);
}

class OptimisticState {
  #limits;
  #timeoutMs;
  #maxPending;
  #overflow;
  #base;
  #baseVersion;
  #visible;
  // Pending changes, oldest first: { id, kind, patch, text, createdAt }.
  #pending = [];
  #byId = new Map();
  // ChangeLogs of the in-place base changes of the running operation (or batch), oldest first.
  #baseLogs = [];

  constructor(initialText, opts = {}) {
    this.#limits = opts.limits || DEFAULT_LIMITS;
    this.#timeoutMs = opts.timeoutMs === undefined ? 30000 : opts.timeoutMs;
    this.#maxPending = opts.maxPending === undefined ? 100 : opts.maxPending;
    this.#overflow = opts.overflow || 'reject';
    this.#base = parse(initialText, this.#limits, 'document');
    this.#baseVersion = opts.baseVersion === undefined || opts.baseVersion === null ? 0 : opts.baseVersion;
    this.#visible = clone(this.#base);
  }

  // ---- reading ----

  state(output) {
    return output === 'text' ? JSON.stringify(this.#visible) : clone(this.#visible);
  }

  base(output) {
    return output === 'text' ? JSON.stringify(this.#base) : clone(this.#base);
  }

  baseVersion() {
    return this.#baseVersion;
  }

  pendingCount() {
    return this.#pending.length;
  }

  nextDeadline() {
    const pending = this.#pending;
    if (pending.length === 0) return null;
    let min = pending[0].createdAt;
    for (let i = 1; i < pending.length; i++) if (pending[i].createdAt < min) min = pending[i].createdAt;
    return min + this.#timeoutMs;
  }

  pending(output) {
    return this.#pending.map((e) => ({
      id: e.id,
      kind: e.kind,
      change: output === 'text' ? e.text : parseTrusted(e.text),
      createdAt: e.createdAt,
    }));
  }

  // ---- operations ----

  apply(id, kind, text, nowMs, output) {
    return this.#run(() => this.#apply(id, kind, text, nowMs, output));
  }

  commit(id, kind, text, version, output) {
    return this.#run(() => this.#commit(id, kind, text, version, output));
  }

  rollback(id, output) {
    return this.#run(() => this.#rollback(id, output));
  }

  rollbackAll(output) {
    return this.#run(() => this.#rollbackAll(output));
  }

  rebase(kind, text, version, confirms, output) {
    return this.#run(() => this.#rebase(kind, text, version, confirms, output));
  }

  expire(nowMs, output) {
    return this.#run(() => this.#expire(nowMs, output));
  }

  // All or nothing: a failing op restores the state as it was before the batch and its error
  // carries details.index.
  batch(ops, nowMs, output) {
    const before = this.#visible;
    const results = new Array(ops.length);
    this.#run(() => {
      for (let i = 0; i < ops.length; i++) {
        try {
          results[i] = this.#dispatch(ops[i], nowMs, output);
        } catch (err) {
          if (err !== null && typeof err === 'object') err.details = { index: i };
          throw err;
        }
      }
    });
    return { delta: deltaOf(before, this.#visible, output), results };
  }

  #dispatch(op, nowMs, output) {
    switch (op.op) {
      case 'apply':
        return this.#apply(op.id, op.kind, op.text, nowMs, output);
      case 'commit':
        return this.#commit(op.id, op.kind, op.text, op.version, output);
      case 'rollback':
        return this.#rollback(op.id, output);
      case 'rollbackAll':
        return this.#rollbackAll(output);
      case 'rebase':
        return this.#rebase(op.kind, op.text, op.version, op.confirms, output);
      default:
        throw fail('ERR_RT_INTERNAL', `unknown batch op "${op.op}"`);
    }
  }

  #apply(id, kind, text, nowMs, output) {
    if (this.#byId.has(id)) throw fail('ERR_RT_DUPLICATE_ID', `a change with id "${id}" is already pending`);
    const full = this.#pending.length >= this.#maxPending;
    if (full && this.#overflow === 'reject') {
      throw fail('ERR_RT_TOO_MANY_PENDING', `${this.#pending.length} changes are pending (maxPending)`);
    }
    const change = compileChange(kind, text, this.#limits);
    const entry = {
      id,
      kind,
      patch: change.patch,
      text: typeof text === 'string' ? text : utf8Decoder.decode(text),
      createdAt: nowMs,
    };
    const before = this.#visible;
    let rolledBack;
    let doc;
    if (full) {
      // rollback-oldest: the re-applied document is a fresh one, the new change can go in place.
      const victim = this.#pending[0];
      this.#forget([victim]);
      rolledBack = removals([victim], 'overflow').concat(this.#reapply(this.#pending.slice(1)));
      doc = this.#visible;
    } else {
      rolledBack = [];
      doc = clone(before);
    }
    // No log: on failure the whole operation is undone and `doc` dropped.
    this.#visible = applyChange(doc, entry, this.#limits, null, false);
    this.#pending.push(entry);
    this.#byId.set(id, entry);
    return { delta: deltaOf(before, this.#visible, output), rolledBack };
  }

  #commit(id, kind, text, version, output) {
    const entry = this.#entry(id);
    const canonical = kind === null ? null : compileChange(kind, text, this.#limits);
    const before = this.#visible;
    this.#forget([entry]);
    if (version !== null && version <= this.#baseVersion) {
      // Already part of the base (it came through a rebase).
      const conflicts = this.#reapply(this.#pending.filter((e) => e !== entry));
      return { version: this.#baseVersion, delta: deltaOf(before, this.#visible, output), rolledBack: conflicts };
    }
    if (canonical === null) this.#applyToBase(entry, false);
    else this.#applyToBase(canonical, true);
    this.#baseVersion = version === null ? this.#baseVersion + 1 : version;
    if (canonical === null && this.#pending[0] === entry) {
      // The oldest change moved into the base as it was: the visible state stays.
      this.#pending = this.#pending.slice(1);
      return { version: this.#baseVersion, delta: null, rolledBack: [] };
    }
    const conflicts = this.#reapply(this.#pending.filter((e) => e !== entry));
    return { version: this.#baseVersion, delta: deltaOf(before, this.#visible, output), rolledBack: conflicts };
  }

  #rollback(id, output) {
    const entry = this.#entry(id);
    const before = this.#visible;
    this.#forget([entry]);
    const conflicts = this.#reapply(this.#pending.filter((e) => e !== entry));
    const rolledBack = [{ id, reason: 'explicit' }].concat(conflicts);
    return { delta: deltaOf(before, this.#visible, output), rolledBack };
  }

  #rollbackAll(output) {
    const before = this.#visible;
    const rolledBack = removals(this.#pending, 'explicit');
    if (rolledBack.length === 0) return { delta: null, rolledBack };
    this.#byId = new Map();
    this.#reapply([]);
    return { delta: deltaOf(before, this.#visible, output), rolledBack };
  }

  #rebase(kind, text, version, confirms, output) {
    const change = compileChange(kind, text, this.#limits);
    if (version !== null && version <= this.#baseVersion) {
      return { status: 'duplicate', version: this.#baseVersion, delta: null, committed: [], rolledBack: [] };
    }
    const confirmed = new Set();
    for (const id of confirms) {
      this.#entry(id);
      confirmed.add(id);
    }
    const before = this.#visible;
    this.#applyToBase(change, true);
    this.#baseVersion = version === null ? this.#baseVersion + 1 : version;
    const committed = [];
    const others = [];
    for (const e of this.#pending) {
      if (confirmed.has(e.id)) committed.push(e.id);
      else others.push(e);
    }
    for (const id of committed) this.#byId.delete(id);
    const conflicts = this.#reapply(others);
    return {
      status: 'applied',
      version: this.#baseVersion,
      delta: deltaOf(before, this.#visible, output),
      committed,
      rolledBack: conflicts,
    };
  }

  #expire(nowMs, output) {
    const timeoutMs = this.#timeoutMs;
    const expired = [];
    const others = [];
    for (const e of this.#pending) {
      if (nowMs - e.createdAt >= timeoutMs) expired.push(e);
      else others.push(e);
    }
    if (expired.length === 0) return { delta: null, rolledBack: [] };
    const before = this.#visible;
    this.#forget(expired);
    const rolledBack = removals(expired, 'timeout').concat(this.#reapply(others));
    return { delta: deltaOf(before, this.#visible, output), rolledBack };
  }

  // ---- state changes ----

  #entry(id) {
    const entry = this.#byId.get(id);
    if (entry === undefined) throw unknownId(id);
    return entry;
  }

  // The id map follows the list: entries leave it as they leave the list.
  #forget(entries) {
    for (const e of entries) this.#byId.delete(e.id);
  }

  // Applies a change to the base in place; the log lets a failure (now or later in the
  // operation or batch) restore the base exactly.
  #applyToBase(change, once) {
    const log = new ChangeLog(null);
    this.#baseLogs.push(log);
    this.#base = applyChange(this.#base, change, this.#limits, log, once);
  }

  // Re-applies `entries` in order on a copy of the base, each one atomically; those that fail
  // are dropped. Installs the new visible state and pending list; returns the conflicts.
  #reapply(entries) {
    const limits = this.#limits;
    let doc = clone(this.#base);
    const kept = [];
    const conflicts = [];
    for (const e of entries) {
      const log = new ChangeLog(null);
      try {
        doc = applyChange(doc, e, limits, log, false);
        kept.push(e);
      } catch (err) {
        if (!(err instanceof RealtimeCoreError)) throw err;
        log.undo();
        this.#byId.delete(e.id);
        conflicts.push({ id: e.id, reason: 'conflict' });
      }
    }
    this.#visible = doc;
    this.#pending = kept;
    return conflicts;
  }

  // Runs an operation (or a whole batch) atomically: if it throws, every field is restored and
  // the base changes are undone (newest first).
  #run(operation) {
    const base = this.#base;
    const baseVersion = this.#baseVersion;
    const visible = this.#visible;
    const pending = this.#pending;
    const pendingLength = pending.length;
    try {
      const result = operation();
      this.#baseLogs = [];
      return result;
    } catch (err) {
      const logs = this.#baseLogs;
      for (let i = logs.length - 1; i >= 0; i--) logs[i].undo();
      this.#baseLogs = [];
      this.#base = base;
      this.#baseVersion = baseVersion;
      this.#visible = visible;
      // Only apply changes a list in place, and only by appending.
      pending.length = pendingLength;
      this.#pending = pending;
      this.#byId = new Map();
      for (const e of pending) this.#byId.set(e.id, e);
      throw err;
    }
  }
}

module.exports = { OptimisticState };
