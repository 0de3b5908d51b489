'use strict';

// The public OptimisticState (docs/optimistic-state.md) over either engine: argument checks,
// the clock, events and the expiry timer live here; the state lives in the engine.

const { EventEmitter } = require('events');
const { asJsonText } = require('../common/json-text');
const { normalizeLimits } = require('../common/limits');
const { invalidArgument } = require('../common/errors');
const { isPlainObject, checkOptions, oneOf, outputOption, integerOption, stringArg, clockOption } = require('./options');

const STATE_OPTIONS = ['timeoutMs', 'maxPending', 'overflow', 'baseVersion', 'clock', 'autoExpire', 'output', 'limits'];
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

function changeId(id) {
  return stringArg(id, 'id', { maxBytes: 256 });
}

function versionArg(value) {
  return integerOption(value, 'version', { min: 0, max: MAX_VERSION, fallback: null });
}

// A change is { patch } or { mergePatch } (and, for a rebase, { snapshot }): exactly one.
function parseChange(change, what, { allowSnapshot = false, extra = [], optional = false } = {}) {
  if (change === undefined && optional) return { kind: null, text: null };
  if (!isPlainObject(change)) throw invalidArgument(`${what} must be a plain object`);
  const kinds = allowSnapshot ? ['patch', 'mergePatch', 'snapshot'] : ['patch', 'mergePatch'];
  for (const key of Object.keys(change)) {
    if (!kinds.includes(key) && !extra.includes(key)) throw invalidArgument(`${what}: unknown field "${key}"`);
  }
  const given = kinds.filter((k) => change[k] !== undefined);
  if (given.length === 0 && optional) return { kind: null, text: null };
  if (given.length !== 1) throw invalidArgument(`${what} needs exactly one of ${kinds.join(', ')}`);
  const field = given[0];
  const kind = field === 'mergePatch' ? 'merge-patch' : field;
  const label = field === 'mergePatch' ? 'merge patch' : field;
  return { kind, text: asJsonText(change[field], label) };
}

function confirmsArg(value) {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidArgument('confirms must be an array of ids');
  const seen = new Set();
  for (const id of value) {
    changeId(id);
    if (seen.has(id)) throw invalidArgument(`confirms lists "${id}" twice`);
    seen.add(id);
  }
  return [...value];
}

function parseCommit(id, canonical, what = 'commit') {
  const change = parseChange(canonical, `${what} change`, { extra: ['version'], optional: true });
  const version = canonical === undefined ? null : versionArg(canonical.version);
  return { id: changeId(id), kind: change.kind, text: change.text, version };
}

function parseRebase(change, options) {
  const { kind, text } = parseChange(change, 'rebase change', { allowSnapshot: true });
  const o = checkOptions(options, ['version', 'confirms', 'output'], 'rebase');
  return { kind, text, version: versionArg(o.version), confirms: confirmsArg(o.confirms), output: o.output };
}

// Each batch op becomes the engine's form; every op is checked before anything runs.
function parseBatchOp(op, index) {
  const where = `batch[${index}]`;
  if (!isPlainObject(op)) throw invalidArgument(`${where} must be a plain object`);
  const { op: name, ...rest } = op;
  switch (name) {
    case 'apply': {
      const { id, ...change } = rest;
      return { op: 'apply', id: changeId(id), ...parseChange(change, where) };
    }
    case 'commit': {
      const { id, ...canonical } = rest;
      return { op: 'commit', ...parseCommit(id, canonical, where) };
    }
    case 'rollback':
      checkOptions(rest, ['id'], where);
      return { op: 'rollback', id: changeId(rest.id) };
    case 'rollbackAll':
      checkOptions(rest, [], where);
      return { op: 'rollbackAll' };
    case 'rebase': {
      const { version, confirms, ...change } = rest;
      const { kind, text } = parseChange(change, where, { allowSnapshot: true });
      return { op: 'rebase', kind, text, version: versionArg(version), confirms: confirmsArg(confirms) };
    }
    default:
      throw invalidArgument(`${where}: op must be one of 'apply', 'commit', 'rollback', 'rollbackAll', 'rebase'`);
  }
}

function withIndex(err, index) {
  if (err && typeof err === 'object' && err.details === undefined) err.details = { index };
  return err;
}

// The events of one operation (docs/optimistic-state.md, "Events"): its own event first with the
// delta, then a rollback per removal it caused, with delta null.
function eventsOf(op, result) {
  const events = [];
  const rolledBack = result.rolledBack;
  let first = 0;
  switch (op.op) {
    case 'apply':
      events.push(['change', { cause: 'apply', id: op.id, delta: result.delta }]);
      break;
    case 'commit':
      events.push(['commit', { id: op.id, version: result.version, delta: result.delta }]);
      break;
    case 'rebase':
      if (result.status === 'duplicate') return events;
      events.push(['change', { cause: 'rebase', version: result.version, delta: result.delta }]);
      for (const id of result.committed) events.push(['commit', { id, version: result.version, delta: null }]);
      break;
    case 'rollback':
    case 'rollbackAll':
    case 'expire':
      if (rolledBack.length > 0) {
        events.push(['rollback', { id: rolledBack[0].id, reason: rolledBack[0].reason, delta: result.delta }]);
        first = 1;
      }
      break;
    default:
      break;
  }
  for (let i = first; i < rolledBack.length; i++) {
    events.push(['rollback', { id: rolledBack[i].id, reason: rolledBack[i].reason, delta: null }]);
  }
  return events;
}

function createOptimisticStateClass(engine) {
  class OptimisticState extends EventEmitter {
    #state;
    #clock;
    #output;
    #autoExpire;
    #timer = null;
    #closed = false;

    constructor(initial, options) {
      super();
      const o = checkOptions(options, STATE_OPTIONS, 'OptimisticState');
      const settings = {
        timeoutMs: integerOption(o.timeoutMs, 'timeoutMs', { min: 1, max: 2 ** 31 - 1, fallback: 30000 }),
        maxPending: integerOption(o.maxPending, 'maxPending', { min: 1, max: 1e6, fallback: 100 }),
        overflow: oneOf(o.overflow, ['reject', 'rollback-oldest'], 'overflow', 'reject'),
        baseVersion: integerOption(o.baseVersion, 'baseVersion', { min: 0, max: MAX_VERSION, fallback: 0 }),
        limits: normalizeLimits(o.limits),
      };
      if (o.autoExpire !== undefined && typeof o.autoExpire !== 'boolean') {
        throw invalidArgument('autoExpire must be a boolean');
      }
      this.#autoExpire = o.autoExpire !== false;
      this.#output = outputOption(o.output);
      this.#clock = clockOption(o.clock);
      if (initial === undefined) throw invalidArgument('OptimisticState needs an initial document');
      this.#state = new engine.Optimistic(asJsonText(initial, 'initial document'), settings);
      this.options = Object.freeze({ ...settings, autoExpire: this.#autoExpire, output: this.#output });
    }

    get state() {
      return this.#state.state('value');
    }

    stateText() {
      return this.#state.state('text');
    }

    get base() {
      return this.#state.base('value');
    }

    baseText() {
      return this.#state.base('text');
    }

    get baseVersion() {
      return this.#state.baseVersion();
    }

    get pendingCount() {
      return this.#state.pendingCount();
    }

    hasPending() {
      return this.#state.pendingCount() > 0;
    }

    /** `[{ id, kind, change, createdAt, ageMs }]`, oldest first. */
    get pending() {
      const now = this.#clock();
      return this.#state.pending(this.#output).map((p) => ({ ...p, ageMs: now - p.createdAt }));
    }

    apply(id, change, options) {
      const op = { op: 'apply', id: changeId(id), ...parseChange(change, 'change') };
      const output = this.#outputOf(options, 'apply');
      return this.#run(op, () => this.#state.apply(op.id, op.kind, op.text, this.#clock(), output));
    }

    commit(id, canonical, options) {
      const op = { op: 'commit', ...parseCommit(id, canonical) };
      const output = this.#outputOf(options, 'commit');
      return this.#run(op, () => this.#state.commit(op.id, op.kind, op.text, op.version, output));
    }

    rollback(id, options) {
      const op = { op: 'rollback', id: changeId(id) };
      const output = this.#outputOf(options, 'rollback');
      return this.#run(op, () => this.#state.rollback(op.id, output));
    }

    rollbackAll(options) {
      const output = this.#outputOf(options, 'rollbackAll');
      return this.#run({ op: 'rollbackAll' }, () => this.#state.rollbackAll(output));
    }

    rebase(change, options) {
      const op = { op: 'rebase', ...parseRebase(change, options) };
      const output = op.output === undefined ? this.#output : outputOption(op.output);
      return this.#run(op, () => this.#state.rebase(op.kind, op.text, op.version, op.confirms, output));
    }

    /** Rolls back every change pending for `timeoutMs` or longer at `now` (default: the clock). */
    expire(now, options) {
      const at = now === undefined ? this.#clock() : integerOption(now, 'now', { min: 0, max: 2 ** 48, fallback: 0 });
      const output = this.#outputOf(options, 'expire');
      return this.#run({ op: 'expire' }, () => this.#state.expire(at, output));
    }

    /** Runs several operations atomically: all or none. */
    batch(ops, options) {
      if (!Array.isArray(ops)) throw invalidArgument('batch needs an array of operations');
      const parsed = ops.map((op, i) => {
        try {
          return parseBatchOp(op, i);
        } catch (err) {
          throw withIndex(err, i);
        }
      });
      const output = this.#outputOf(options, 'batch');
      const result = this.#state.batch(parsed, this.#clock(), output);
      this.#rearm();
      for (let i = 0; i < parsed.length; i++) this.#emitAll(eventsOf(parsed[i], result.results[i]));
      return result;
    }

    /** Stops the expiry timer; the state stays usable. */
    close() {
      this.#closed = true;
      this.#clearTimer();
    }

    #outputOf(options, what) {
      const o = checkOptions(options, ['output'], what);
      return o.output === undefined ? this.#output : outputOption(o.output);
    }

    #run(op, call) {
      const result = call();
      this.#rearm();
      this.#emitAll(eventsOf(op, result));
      return result;
    }

    #emitAll(events) {
      for (const [name, payload] of events) this.emit(name, payload);
    }

    #clearTimer() {
      if (this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
      }
    }

    // One unref'd timer, set for the moment the oldest pending change times out.
    #rearm() {
      this.#clearTimer();
      if (!this.#autoExpire || this.#closed) return;
      const deadline = this.#state.nextDeadline();
      if (deadline === null) return;
      const wait = Math.min(Math.max(deadline - this.#clock(), 0), 2 ** 31 - 1);
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.expire();
      }, wait);
      if (typeof this.#timer.unref === 'function') this.#timer.unref();
    }
  }
  return OptimisticState;
}

module.exports = { createOptimisticStateClass };
