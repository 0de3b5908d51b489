'use strict';

// The public OfflineQueue (docs/offline-queue.md) over either engine: argument checks, the clock,
// events and the promises of durable mode live here; the queues live in the engine.

const { EventEmitter } = require('events');
const { RealtimeCoreError, invalidArgument, outOfRange } = require('../common/errors');
const { utf8Length } = require('../common/json-text');
const { isPlainObject, checkOptions, oneOf, integerOption, stringArg, clockOption } = require('./options');

const QUEUE_OPTIONS = [
  'capacity', 'overflow', 'ttlMs', 'maxItemBytes', 'maxAttempts', 'initialDelayMs', 'multiplier', 'maxDelayMs',
  'jitter', 'seed', 'maxDeadLetters', 'breaker', 'clock', 'path', 'fsync', 'fsyncIntervalMs', 'segmentBytes',
];
const BREAKER_OPTIONS = ['failureThreshold', 'successThreshold', 'openMs'];
const ITEM_FIELDS = ['event', 'payload', 'key'];
const INT32 = 2 ** 31 - 1;
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

const idArg = (value, name) => stringArg(value, name, { maxBytes: 256 });

function numberOption(value, name, { min, max, fallback }) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgument(`${name} must be a number`);
  if (value < min || value > max) throw outOfRange(`${name} must be between ${min} and ${max}`);
  return value;
}

function breakerOption(value) {
  if (value === false) return null;
  const o = checkOptions(value, BREAKER_OPTIONS, 'breaker');
  return {
    failureThreshold: integerOption(o.failureThreshold, 'breaker.failureThreshold', { min: 1, max: 1e6, fallback: 5 }),
    successThreshold: integerOption(o.successThreshold, 'breaker.successThreshold', { min: 1, max: 1e6, fallback: 2 }),
    openMs: integerOption(o.openMs, 'breaker.openMs', { min: 0, max: INT32, fallback: 60000 }),
  };
}

function randomSeed() {
  const word = new Uint32Array(1);
  globalThis.crypto.getRandomValues(word);
  return word[0];
}

function parseOptions(options) {
  const o = checkOptions(options, QUEUE_OPTIONS, 'OfflineQueue');
  const settings = {
    capacity: integerOption(o.capacity, 'capacity', { min: 1, max: 1e6, fallback: 50 }),
    overflow: oneOf(o.overflow, ['drop-oldest', 'drop-newest', 'reject'], 'overflow', 'drop-oldest'),
    ttlMs: integerOption(o.ttlMs, 'ttlMs', { min: 0, max: INT32, fallback: 0 }),
    maxItemBytes: integerOption(o.maxItemBytes, 'maxItemBytes', { min: 1, max: INT32, fallback: 1024 * 1024 }),
    maxAttempts: integerOption(o.maxAttempts, 'maxAttempts', { min: 1, max: 1000, fallback: 3 }),
    initialDelayMs: integerOption(o.initialDelayMs, 'initialDelayMs', { min: 0, max: INT32, fallback: 1000 }),
    multiplier: numberOption(o.multiplier, 'multiplier', { min: 1, max: 100, fallback: 2 }),
    maxDelayMs: integerOption(o.maxDelayMs, 'maxDelayMs', { min: 0, max: INT32, fallback: 30000 }),
    jitter: oneOf(o.jitter, ['full', 'equal', 'decorrelated', 'none'], 'jitter', 'full'),
    seed: integerOption(o.seed, 'seed', { min: 0, max: 2 ** 32 - 1, fallback: undefined }),
    maxDeadLetters: integerOption(o.maxDeadLetters, 'maxDeadLetters', { min: 0, max: 1e6, fallback: 1000 }),
    breaker: o.breaker === undefined ? breakerOption({}) : breakerOption(o.breaker),
  };
  if (settings.seed === undefined) settings.seed = randomSeed();
  if (settings.maxDelayMs < settings.initialDelayMs) throw outOfRange('maxDelayMs must be at least initialDelayMs');
  let durable = null;
  if (o.path !== undefined) {
    if (typeof o.path !== 'string' || o.path.length === 0) throw invalidArgument('path must be a non-empty string');
    durable = {
      path: o.path,
      fsync: oneOf(o.fsync, ['always', 'interval', 'never'], 'fsync', 'interval'),
      fsyncIntervalMs: integerOption(o.fsyncIntervalMs, 'fsyncIntervalMs', { min: 1, max: 60000, fallback: 100 }),
      segmentBytes: integerOption(o.segmentBytes, 'segmentBytes', { min: 4096, max: INT32, fallback: 64 * 1024 * 1024 }),
    };
  } else {
    for (const name of ['fsync', 'fsyncIntervalMs', 'segmentBytes']) {
      if (o[name] !== undefined) throw invalidArgument(`${name} needs a path (durable mode)`);
    }
  }
  return { settings, durable, clock: clockOption(o.clock) };
}

function payloadArg(value, maxItemBytes) {
  let bytes;
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw invalidArgument('payload must be well-formed Unicode');
    bytes = value.length * 3 <= maxItemBytes ? 0 : utf8Length(value);
  } else if (value instanceof Uint8Array) {
    bytes = value.length;
  } else {
    throw invalidArgument('payload must be a string, a Buffer or a Uint8Array');
  }
  if (bytes > maxItemBytes) throw new RealtimeCoreError('ERR_RT_TOO_LARGE', `payload is larger than maxItemBytes (${maxItemBytes})`);
  return value;
}

// `at`: the item's index in pushMany (for messages only; built when an error is thrown).
function itemArg(item, maxItemBytes, at) {
  const where = () => (at === undefined ? 'item' : `items[${at}]`);
  if (!isPlainObject(item)) throw invalidArgument(`${where()} must be a plain object`);
  for (const k in item) {
    if (k !== 'event' && k !== 'payload' && k !== 'key') throw invalidArgument(`${where()}: unknown field "${k}"`);
  }
  const { event, key } = item;
  // the common case, a short well-formed event name, without the general string checks
  if (typeof event !== 'string' || event.length === 0 || event.length > 85 || !event.isWellFormed()) {
    idArg(event, `${where()}.event`);
  }
  const payload = payloadArg(item.payload, maxItemBytes);
  if (key === undefined) return { event, payload, key: null };
  return { event, payload, key: idArg(key, `${where()}.key`) };
}

function offsetArg(value, name) {
  return integerOption(value, name, { min: 0, max: MAX_OFFSET, fallback: undefined });
}

function limitArg(value, fallback) {
  return integerOption(value, 'limit', { min: 1, max: 1e6, fallback });
}

function createOfflineQueueClass(engine) {
  class OfflineQueue extends EventEmitter {
    #queue;
    #clock;
    #settings;
    #durable;
    #closed = false;
    // durable mode: promises waiting for a log sequence number, in seq order
    #waiters = [];
    #durableSeq = 0;

    constructor(options) {
      super();
      const { settings, durable, clock } = parseOptions(options);
      this.#settings = settings;
      this.#durable = durable;
      this.#clock = clock;
      this.#queue = new engine.Queue({
        ...settings,
        nowMs: clock(),
        durable,
        onDurable: (seq) => this.#onDurable(seq),
        onDurability: (healthy, code, message) => this.#onDurability(healthy, code, message),
      });
      this.options = Object.freeze({ ...settings, breaker: settings.breaker && Object.freeze({ ...settings.breaker }), ...(durable || {}) });
    }

    /** What the replay of a durable log found: `{ segments, records, items, truncated }`, or null. */
    get recovery() {
      return this.#queue.recovery();
    }

    push(clientId, item) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      const { event, payload, key } = itemArg(item, this.#settings.maxItemBytes);
      const r = this.#queue.push(id, event, payload, key, this.#clock());
      this.#emitAll(r.events);
      return this.#withDurable({ offset: r.offset, dropped: r.dropped }, r.seq);
    }

    pushMany(clientId, items) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      if (!Array.isArray(items)) throw invalidArgument('items must be an array');
      const n = items.length;
      const events = new Array(n);
      const payloads = new Array(n);
      const keys = new Array(n);
      const max = this.#settings.maxItemBytes;
      for (let i = 0; i < n; i++) {
        const it = itemArg(items[i], max, i);
        events[i] = it.event;
        payloads[i] = it.payload;
        keys[i] = it.key;
      }
      const r = this.#queue.pushMany(id, events, payloads, keys, this.#clock());
      this.#emitAll(r.events);
      return this.#withDurable({ offsets: r.offsets, dropped: r.dropped }, r.seq);
    }

    /** Items after `after` (default 0), oldest first, at most `limit` (default: capacity). */
    peek(clientId, options) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      const o = checkOptions(options, ['after', 'limit'], 'peek');
      const after = offsetArg(o.after, 'after') ?? 0;
      const r = this.#queue.peek(id, after, limitArg(o.limit, this.#settings.capacity), this.#clock());
      this.#emitAll(r.events);
      return r.items;
    }

    /** Removes every item of the client up to and including `upToOffset`; returns how many. */
    ack(clientId, upToOffset) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      const upTo = offsetArg(upToOffset, 'upToOffset');
      if (upTo === undefined) throw invalidArgument('upToOffset must be an integer');
      const r = this.#queue.ack(id, upTo, this.#clock());
      this.#emitAll(r.events);
      return r.removed;
    }

    /** Removes one delivered item; true if it was queued. */
    ackOne(clientId, offset) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      const at = offsetArg(offset, 'offset');
      if (at === undefined) throw invalidArgument('offset must be an integer');
      const r = this.#queue.ackOne(id, at, this.#clock());
      this.#emitAll(r.events);
      return r.removed === 1;
    }

    /** A failed delivery: retry later with backoff, or dead letters after maxAttempts. */
    nack(clientId, offset, reason) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      const at = offsetArg(offset, 'offset');
      if (at === undefined) throw invalidArgument('offset must be an integer');
      const why = reason === undefined ? 'nack' : stringArg(reason, 'reason', { maxBytes: 1024, allowEmpty: true });
      const r = this.#queue.nack(id, at, why, this.#clock());
      this.#emitAll(r.events);
      return r.status === 'retry' ? { status: r.status, attempts: r.attempts, retryAt: r.retryAt } : { status: r.status, attempts: r.attempts };
    }

    /** Items that may be delivered now, marked in flight. */
    due(options) {
      this.#open();
      const o = checkOptions(options, ['limit'], 'due');
      const r = this.#queue.due(limitArg(o.limit, 1000), this.#clock());
      this.#emitAll(r.events);
      return r.items;
    }

    /** An in-flight item becomes deliverable again without counting an attempt. */
    release(clientId, offset) {
      this.#open();
      const id = idArg(clientId, 'clientId');
      const at = offsetArg(offset, 'offset');
      if (at === undefined) throw invalidArgument('offset must be an integer');
      const r = this.#queue.release(id, at, this.#clock());
      this.#emitAll(r.events);
    }

    sweep() {
      this.#open();
      const r = this.#queue.sweep(this.#clock());
      this.#emitAll(r.events);
      return r.removed;
    }

    size(clientId) {
      this.#open();
      return this.#queue.size(clientId === undefined ? null : idArg(clientId, 'clientId'));
    }

    clients() {
      this.#open();
      return this.#queue.clients();
    }

    deadLetters(options) {
      this.#open();
      const o = checkOptions(options, ['limit'], 'deadLetters');
      return this.#queue.deadLetters(limitArg(o.limit, 1000));
    }

    clearDeadLetters() {
      this.#open();
      return this.#queue.clearDeadLetters().removed;
    }

    stats() {
      return this.#queue.stats();
    }

    breakerState() {
      this.#open();
      const r = this.#queue.breakerState(this.#clock());
      this.#emitAll(r.events);
      return r.state;
    }

    /** Resolves once everything queued so far is written and fsynced (at once in memory mode). */
    flush() {
      this.#open();
      return this.#durable ? this.#waitFor(this.#queue.flush()) : Promise.resolve();
    }

    /** Rewrites the durable log as a snapshot of the live state; resolves once it is on disk. */
    compact() {
      this.#open();
      return this.#durable ? this.#waitFor(this.#queue.compact()) : Promise.resolve();
    }

    /** Flushes, stops the writer; afterwards every call throws ERR_RT_CLOSED. */
    close() {
      if (this.#closed) return Promise.resolve();
      this.#closed = true;
      const seq = this.#queue.close();
      return this.#durable ? this.#waitFor(seq) : Promise.resolve();
    }

    #open() {
      if (this.#closed) throw new RealtimeCoreError('ERR_RT_CLOSED', 'the queue is closed');
    }

    #emitAll(events) {
      if (events === null || events === undefined) return;
      for (const [name, payload] of events) this.emit(name, payload);
    }

    #withDurable(result, seq) {
      if (this.#durable && this.#durable.fsync === 'always') result.durable = this.#waitFor(seq);
      return result;
    }

    // A promise for "everything up to seq is on disk". It never counts as unhandled: a caller
    // that ignores `durable` must not crash the process when the disk fails.
    #waitFor(seq) {
      if (seq <= this.#durableSeq) return Promise.resolve();
      let settle;
      const promise = new Promise((resolve, reject) => {
        settle = { seq, resolve, reject };
      });
      promise.catch(() => {});
      this.#waiters.push(settle);
      return promise;
    }

    #onDurable(seq) {
      if (seq > this.#durableSeq) this.#durableSeq = seq;
      let i = 0;
      while (i < this.#waiters.length && this.#waiters[i].seq <= this.#durableSeq) this.#waiters[i++].resolve();
      if (i > 0) this.#waiters.splice(0, i);
    }

    #onDurability(healthy, code, message) {
      if (!healthy) {
        const waiters = this.#waiters.splice(0);
        for (const w of waiters) w.reject(new RealtimeCoreError(code || 'ERR_RT_DISK', message || 'the durable log failed'));
      }
      this.emit('durability', healthy ? { healthy } : { healthy, error: { code: code || 'ERR_RT_DISK', message } });
    }
  }
  return OfflineQueue;
}

module.exports = { createOfflineQueueClass };
