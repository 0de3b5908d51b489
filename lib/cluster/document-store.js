'use strict';

// ClusterDocumentStore: DocumentStore's results, ordered across Node processes through Redis.
// See docs/cluster-documents.md for the design, the failure modes and what is guaranteed.
//
// Redis holds each entity's authoritative version, document and a bounded history, and each
// client's dedup memory. Every node keeps a *mirror*: an engine DocumentStore whose copy of an
// entity is brought up to Redis's version before a mutation is merged in it (deltas replayed, or
// rebuilt from the document and the history). The result is committed by one Lua
// compare-and-set on the version; a node that lost the race catches up and merges again.

const crypto = require('crypto');
const { wrapRedis } = require('../redis/client');
const { RealtimeCoreError, invalidArgument, outOfRange } = require('../common/errors');
const { asJsonText } = require('../common/json-text');
const { isPlainObject, checkOptions, oneOf, integerOption, stringArg, outputOption } = require('../api/options');
const scripts = require('./scripts');

const CLUSTER_OPTIONS = ['redis', 'implementation', 'keyPrefix', 'maxRetries', 'timeoutMs', 'cacheLimit'];
const STORE_OPTIONS = [
  'strategy', 'resolver', 'arrayKey', 'historyLimit', 'staleBase', 'deltaFormat', 'limits', 'nodeId', 'maxDriftMs', 'clock', 'dedupWindow',
];
const PROBE_ID = 'probe';
const PROBE_CLIENT = 'probe';

function unavailable(message, cause) {
  const err = new RealtimeCoreError('ERR_RT_UNAVAILABLE', message);
  if (cause !== undefined) err.cause = cause;
  return err;
}

function notFound() {
  return new RealtimeCoreError('ERR_RT_NOT_FOUND', 'document not found');
}

function loadApi(implementation) {
  // eslint-disable-next-line global-require
  return implementation === 'js' ? require('../js') : require('..');
}

function docId(id) {
  return stringArg(id, 'document id', { maxBytes: 1024 });
}

function outputOf(options, what) {
  return outputOption(checkOptions(options, ['output'], what).output);
}

function parseJson(text) {
  return JSON.parse(text);
}

function newGen() {
  return crypto.randomBytes(12).toString('hex');
}

// A replacement of the whole document that the engine always counts as a change (even when the
// new document deep-equals the old one in another key order): first to a value unequal to the
// old one, then to the new one.
function rootReplace(prevText, nextText) {
  const sentinel = prevText === 'null' ? '0' : 'null';
  if (nextText === sentinel) return `[{"op":"replace","path":"","value":${nextText}}]`;
  return `[{"op":"replace","path":"","value":${sentinel}},{"op":"replace","path":"","value":${nextText}}]`;
}

class ClusterDocumentStore {
  #api;
  #mirror; // the engine store holding this node's copies
  #probe; // validates a mutation exactly as DocumentStore.apply does before its dedup step
  #redis;
  #prefix;
  #maxRetries;
  #timeoutMs;
  #cacheLimit;
  #entities = new Map(); // id -> { gen, offset } : cluster version = local version + offset
  #locks = new Map(); // id -> tail of this node's queue of operations on it
  #replayLimits;
  #closed = false;
  #connection = 'unknown'; // the client's last reported state: 'ready' | 'down' | 'unknown'
  #unwatch;
  #stats = { commits: 0, casFailures: 0, replayed: 0, rebuilds: 0, snapshots: 0 };

  constructor(options) {
    if (!isPlainObject(options)) throw invalidArgument('ClusterDocumentStore options must be a plain object');
    const o = checkOptions(options, [...CLUSTER_OPTIONS, ...STORE_OPTIONS], 'ClusterDocumentStore');
    if (o.redis === undefined) throw invalidArgument('ClusterDocumentStore: redis (an ioredis or node-redis client) is required');
    const implementation = oneOf(o.implementation, ['native', 'js'], 'implementation', 'native');
    let prefix = 'rt:doc:';
    if (o.keyPrefix !== undefined) {
      if (typeof o.keyPrefix !== 'string') throw invalidArgument('keyPrefix must be a string');
      prefix = o.keyPrefix;
    }
    this.#maxRetries = integerOption(o.maxRetries, 'maxRetries', { min: 1, max: 1000, fallback: 32 });
    this.#timeoutMs = integerOption(o.timeoutMs, 'timeoutMs', { min: 1, max: 2 ** 31 - 1, fallback: 5000 });
    this.#cacheLimit = integerOption(o.cacheLimit, 'cacheLimit', { min: 1, max: 2 ** 31 - 1, fallback: 10000 });
    this.#redis = typeof o.redis.evalScript === 'function' && typeof o.redis.isReady === 'function' && typeof o.redis.onState === 'function'
      ? o.redis
      : wrapRedis(o.redis);
    this.#prefix = prefix;
    // a connection known to be down fails at once; one not ready yet (starting) is waited for
    this.#connection = this.#redis.isReady() ? 'ready' : 'unknown';
    this.#unwatch = this.#redis.onState((state) => {
      this.#connection = state;
    });
    this.#api = loadApi(implementation);
    const storeOptions = {};
    for (const key of STORE_OPTIONS) if (o[key] !== undefined) storeOptions[key] = o[key];
    this.#mirror = new this.#api.DocumentStore(storeOptions);
    const settings = this.#mirror.options;
    // the probe only parses: same limits, no history, one remembered client
    this.#probe = new this.#api.DocumentStore({ limits: settings.limits, historyLimit: 0, dedupWindow: 0, maxDriftMs: settings.maxDriftMs });
    this.#probe.put(PROBE_ID, 'null');
    this.#probe.apply(PROBE_ID, { patch: '[]', clientId: PROBE_CLIENT, mutationId: 0 });
    this.#replayLimits = {
      maxDepth: settings.limits.maxDepth,
      maxDocumentBytes: settings.limits.maxDocumentBytes,
      maxPatchOps: 2 ** 31 - 1,
      maxPatchGrowthBytes: 2 ** 31 - 1,
    };
    this.implementation = implementation;
    this.keyPrefix = prefix;
    this.options = settings;
    Object.freeze(this);
  }

  // ---- public API (async) ----

  /** Creates or replaces a document: `{ version, delta }`. */
  async put(id, doc, options) {
    const output = outputOf(options, 'put');
    const key = docId(id);
    const text = asJsonText(doc, 'document');
    // parsed with the store's limits: refused before anything is sent, and canonical text
    const canonical = this.#api.applyPatch(text, '[]', { limits: this.options.limits, output: 'text' });
    return this.#exclusive(key, () => this.#put(key, canonical, output));
  }

  async get(id, options) {
    const output = outputOf(options, 'get');
    const key = docId(id);
    const text = await this.#call(['HGET', this.#docKey(key), 'doc']);
    if (text === null || text === undefined) return undefined;
    return output === 'text' ? text : parseJson(text);
  }

  async has(id) {
    const key = docId(id);
    return (await this.#call(['EXISTS', this.#docKey(key)])) === 1;
  }

  async version(id) {
    const key = docId(id);
    const v = await this.#call(['HGET', this.#docKey(key), 'v']);
    return v === null || v === undefined ? undefined : Number(v);
  }

  /** Deletes the document and its history (clients' dedup memory stays): true if it existed. */
  async delete(id) {
    const key = docId(id);
    return this.#exclusive(key, async () => {
      // this node's copy goes first: whatever Redis answers, it is rebuilt at the next use
      this.#forget(key);
      const n = await this.#eval(scripts.DELETE, [this.#docKey(key), this.#histKey(key)], []);
      return n === 1;
    });
  }

  /** What changed after `version`: `{ version, changes }`, or `{ version, snapshot }`. */
  async changesSince(id, version, options) {
    const output = outputOf(options, 'changesSince');
    const key = docId(id);
    if (typeof version !== 'number' || !Number.isInteger(version)) throw invalidArgument('version must be an integer');
    if (version < 0 || version > Number.MAX_SAFE_INTEGER) throw outOfRange('version must be a non-negative integer');
    const r = await this.#eval(scripts.CHANGES, [this.#docKey(key), this.#histKey(key)], [String(version)]);
    if (r[0] === 0) throw notFound();
    const current = Number(r[1]);
    if (r[2] === 'snapshot') return { version: current, snapshot: output === 'text' ? r[3] : parseJson(r[3]) };
    const changes = r[3].map((raw) => {
      const e = JSON.parse(raw);
      return { version: e.v, delta: output === 'text' ? e.d : parseJson(e.d), timestamp: e.ts };
    });
    return { version: current, changes };
  }

  /**
   * Applies a client mutation `{ patch | mergePatch, baseVersion?, clientId?, mutationId?,
   * timestamp? }` -> `{ status, version, delta, conflicts, error?, gap? }`, as DocumentStore.apply.
   */
  async apply(id, mutation, options) {
    const output = outputOf(options, 'apply');
    const key = docId(id);
    const m = this.#checkMutation(mutation);
    return this.#exclusive(key, () => this.#apply(key, m, output));
  }

  /**
   * This node's copy of a document (diagnostics): `{ version, doc }` as of the last operation on
   * it here, or `undefined` when the node holds none. Not a read of the cluster's state: use
   * `get`/`version`/`changesSince` for that.
   */
  localCopy(id, options) {
    const output = outputOf(options, 'localCopy');
    const key = docId(id);
    const state = this.#known(key);
    if (state === null) return undefined;
    return { version: state.version, doc: this.#mirror.get(key, { output }) };
  }

  /**
   * Counters of this node: `commits` (compare-and-sets won), `casFailures` (lost to another
   * node, or the client's id moved: merged again), `replayed` (history entries applied to catch
   * up), `rebuilds` (copies rebuilt from the document and the history), `snapshots` (rebuilds that
   * had to start at the current document without history).
   */
  stats() {
    return { ...this.#stats };
  }

  /** Refuses further calls (ERR_RT_CLOSED). The Redis client is the caller's: it stays open. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
  }

  // ---- validation ----

  // The checks of DocumentStore.apply before its dedup step, in its order: the mutation's shape
  // and ids here, then the patch and the timestamp's format by the probe (a store whose only
  // client has already sent id 0: it parses everything, then answers 'duplicate').
  #checkMutation(mutation) {
    if (!isPlainObject(mutation)) throw invalidArgument('mutation must be a plain object');
    const hasClient = mutation.clientId !== undefined;
    const hasMutationId = mutation.mutationId !== undefined;
    if (hasClient !== hasMutationId) throw invalidArgument('clientId and mutationId go together');
    const baseVersion = integerOption(mutation.baseVersion, 'baseVersion', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: null });
    const clientId = hasClient ? stringArg(mutation.clientId, 'clientId', { maxBytes: 256 }) : null;
    const mutationId = integerOption(mutation.mutationId, 'mutationId', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: null });
    const probe = { ...mutation, clientId: PROBE_CLIENT, mutationId: 0 };
    delete probe.baseVersion;
    const r = this.#probe.apply(PROBE_ID, probe, { output: 'text' });
    if (r.status !== 'duplicate') throw new RealtimeCoreError('ERR_RT_INTERNAL', 'cluster store: the validation probe applied a mutation');
    const change = mutation.patch !== undefined ? { patch: mutation.patch } : { mergePatch: mutation.mergePatch };
    // JSON text once, so a value is serialized once whatever the retries
    if (change.patch !== undefined) change.patch = asJsonText(change.patch, 'patch');
    else change.mergePatch = asJsonText(change.mergePatch, 'merge patch');
    if (mutation.timestamp !== undefined) change.timestamp = mutation.timestamp;
    return { change, baseVersion, clientId, mutationId };
  }

  // ---- the flows ----

  async #apply(key, m, output) {
    for (let attempt = 0; attempt < this.#maxRetries; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const local = this.#known(key);
      const mid = m.clientId === null ? '' : String(m.mutationId);
      const keys = [this.#docKey(key), this.#histKey(key), ...this.#clientKeys(m.clientId)];
      const read = await this.#eval(scripts.READ, keys, [local ? local.gen : '', local ? String(local.version) : '0', mid]);
      if (read[0] === 0) {
        this.#forget(key);
        throw notFound();
      }
      const [, gen, vs, last, remembered, mode, docText, entries] = read;
      const current = Number(vs);
      if (mode === 'dup') return duplicate(remembered, current, output);
      const state = this.#catchUp(key, gen, current, mode, docText, entries);

      const base = m.baseVersion;
      const localCurrent = current - state.offset;
      const change = { ...m.change };
      // a base older than this copy's first version is older than its history (it is then also
      // older than Redis's, unless the copy had to start without history: see #rebuild)
      if (base !== null) change.baseVersion = Math.max(0, base - state.offset);
      const prevText = this.#mirror.get(key, { output: 'text' });
      let r;
      try {
        // throws (a resolver error, a bad timestamp, clock drift, a base above the current
        // version): nothing changed anywhere
        r = this.#mirror.apply(key, change, { output: 'text' });
      } catch (err) {
        if (err && err.code === 'ERR_RT_OUT_OF_RANGE' && base !== null && base > current) {
          throw outOfRange(`baseVersion must be an integer between 0 and the current version (${current})`);
        }
        throw err;
      }
      const changed = r.version !== localCurrent;
      const result = {
        status: r.status,
        version: r.version + state.offset,
        delta: r.delta,
        conflicts: r.conflicts,
      };
      if (r.error) {
        result.error = r.error.code === 'ERR_RT_STALE_BASE'
          ? { code: r.error.code, message: `baseVersion ${base} is older than the history (current ${current})` }
          : { code: r.error.code, message: r.error.message };
      }
      let gap = null;
      if (m.clientId !== null && last !== '' && m.mutationId > Number(last) + 1) gap = { expected: Number(last) + 1, received: m.mutationId };
      if (gap !== null) result.gap = gap;

      let entry = '';
      let nextText = '';
      if (changed) {
        try {
          nextText = this.#mirror.get(key, { output: 'text' });
          const ts = this.#mirror.changesSince(key, localCurrent, { output: 'text' }).changes[0].timestamp;
          entry = this.#entry(result.version, ts, r.delta, prevText, nextText);
        } catch (err) {
          this.#forget(key);
          throw err;
        }
      }
      if (!changed && m.clientId === null) return format(result, output); // nothing to record

      const record = m.clientId === null ? '' : JSON.stringify({
        status: result.status, version: result.version, delta: result.delta, conflicts: result.conflicts, error: result.error || null, gap,
      });
      let verdict;
      try {
        verdict = await this.#eval(scripts.COMMIT, keys, [
          gen, vs, changed ? '1' : '0', String(current + 1), nextText, entry, String(this.options.historyLimit),
          mid, last, record, String(this.options.dedupWindow),
        ]);
      } catch (err) {
        // committed or not, this node cannot tell: its copy is rebuilt from Redis at the next use
        if (changed) this.#forget(key);
        throw err;
      }
      if (verdict[0] === 'ok') {
        this.#stats.commits += 1;
        return format(result, output);
      }
      this.#stats.casFailures += 1;
      // another node won the version (or the client's last id moved): merge again on its result
      if (changed) this.#forget(key);
      if (verdict[0] === 'gone') this.#forget(key);
    }
    throw unavailable(`apply: gave up after ${this.#maxRetries} compare-and-set attempts (too much contention on one document)`);
  }

  async #put(key, text, output) {
    for (let attempt = 0; attempt < this.#maxRetries; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const local = this.#known(key);
      const keys = [this.#docKey(key), this.#histKey(key)];
      const read = await this.#eval(scripts.READ, keys, [local ? local.gen : '', local ? String(local.version) : '0', '']);
      if (read[0] === 0) {
        this.#forget(key);
        const gen = newGen();
        const created = await this.#eval(scripts.CREATE, keys, [gen, text]);
        if (created[0] !== 'ok') continue; // created meanwhile by another node: a replace
        this.#mirror.put(key, text);
        this.#entities.set(key, { gen, offset: 0 });
        return { version: 1, delta: null };
      }
      const [, gen, vs, , , mode, docText, entries] = read;
      const current = Number(vs);
      const state = this.#catchUp(key, gen, current, mode, docText, entries);
      const localCurrent = current - state.offset;
      const prevText = this.#mirror.get(key, { output: 'text' });
      const r = this.#mirror.put(key, text, { output: 'text' });
      if (r.version === localCurrent) return { version: current, delta: null };
      let entry;
      try {
        const ts = this.#mirror.changesSince(key, localCurrent, { output: 'text' }).changes[0].timestamp;
        entry = this.#entry(current + 1, ts, r.delta, prevText, text);
      } catch (err) {
        this.#forget(key);
        throw err;
      }
      let verdict;
      try {
        verdict = await this.#eval(scripts.COMMIT, [...keys, '', ''], [
          gen, vs, '1', String(current + 1), text, entry, String(this.options.historyLimit), '', '', '', '0',
        ]);
      } catch (err) {
        this.#forget(key);
        throw err;
      }
      if (verdict[0] === 'ok') {
        this.#stats.commits += 1;
        return { version: current + 1, delta: output === 'text' ? r.delta : parseJson(r.delta) };
      }
      this.#stats.casFailures += 1;
      this.#forget(key);
    }
    throw unavailable(`put: gave up after ${this.#maxRetries} compare-and-set attempts (too much contention on one document)`);
  }

  // ---- this node's copy ----

  // Brings the mirror's copy of `key` to Redis's version `current` -> its { gen, offset }.
  #catchUp(key, gen, current, mode, docText, entries) {
    const state = this.#catchUpCopy(key, gen, current, mode, docText, entries);
    // most recently used last; past cacheLimit the least recently used copies are dropped (a
    // dropped copy is rebuilt from Redis at its next use)
    this.#entities.delete(key);
    this.#entities.set(key, state);
    for (const old of this.#entities.keys()) {
      if (this.#entities.size <= this.#cacheLimit) break;
      if (old !== key && !this.#locks.has(old)) this.#forget(old);
    }
    return state;
  }

  #catchUpCopy(key, gen, current, mode, docText, entries) {
    let state = this.#entities.get(key);
    if (mode === 'same' && state) return state;
    if (mode === 'delta' && state && state.gen === gen) {
      try {
        let localV = this.#mirror.version(key);
        for (const raw of entries) {
          const e = JSON.parse(raw);
          const r = this.#mirror.apply(key, { patch: e.f, baseVersion: localV, timestamp: e.ts }, { output: 'text' });
          if (r.status !== 'applied' || r.version !== localV + 1) throw new Error('replay did not apply');
          localV += 1;
          this.#stats.replayed += 1;
        }
        if (localV + state.offset === current) return state;
      } catch {
        // fall through: rebuilt below from what Redis holds
      }
      this.#forget(key);
      // the entries alone cannot rebuild it; the next attempt reads everything
      throw new Retry();
    }
    // 'full' (or no usable copy): rebuild from the document and every history entry
    this.#forget(key);
    if (mode !== 'full') throw new Retry();
    state = this.#rebuild(key, gen, current, docText, entries);
    this.#entities.set(key, state);
    return state;
  }

  // The document at the oldest version the history reaches (the inverses undone from the current
  // one), then every entry replayed with its own timestamp: the copy has the same versions,
  // documents and history timestamps as Redis. If a replay is refused (a node's clock too far
  // behind a timestamp, an entry over the limits), the copy starts at the current document with
  // no history: stale bases older than that are then treated as older than the history.
  #rebuild(key, gen, current, docText, raws) {
    const entries = raws.map((raw) => JSON.parse(raw));
    this.#stats.rebuilds += 1;
    try {
      let text = docText;
      for (let i = entries.length - 1; i >= 0; i--) {
        text = this.#api.applyPatch(text, entries[i].i, { limits: this.#replayLimits, output: 'text' });
      }
      this.#mirror.delete(key);
      this.#mirror.put(key, text);
      let localV = 1;
      for (const e of entries) {
        const r = this.#mirror.apply(key, { patch: e.f, baseVersion: localV, timestamp: e.ts }, { output: 'text' });
        if (r.status !== 'applied' || r.version !== localV + 1) throw new Error('replay did not apply');
        localV += 1;
      }
      if (this.#mirror.get(key, { output: 'text' }) !== docText) throw new Error('replay diverged');
      return { gen, offset: current - localV };
    } catch {
      this.#stats.snapshots += 1;
      this.#mirror.delete(key);
      this.#mirror.put(key, docText);
      return { gen, offset: current - 1 };
    }
  }

  // A history entry: the delta clients get (deltaFormat), and an exact forward and inverse JSON
  // Patch between the two document texts, for other nodes' copies.
  #entry(version, ts, deltaText, prevText, nextText) {
    const f = this.#exactPatch(prevText, nextText);
    const i = this.#exactPatch(nextText, prevText);
    return JSON.stringify({ v: version, ts, d: deltaText, f, i });
  }

  #exactPatch(fromText, toText) {
    const opts = { format: 'json-patch', arrayKey: this.options.arrayKey, limits: this.#replayLimits, output: 'text' };
    const d = this.#api.diff(fromText, toText, opts);
    if (d !== '[]') {
      const got = this.#api.applyPatch(fromText, d, { limits: this.#replayLimits, output: 'text' });
      if (got === toText) return d;
    }
    return rootReplace(fromText, toText);
  }

  // this node's copy of `key`: { gen, offset, version } or null
  #known(key) {
    const state = this.#entities.get(key);
    const v = state === undefined ? undefined : this.#mirror.version(key);
    if (v === undefined) return null;
    return { gen: state.gen, version: v + state.offset };
  }

  #forget(key) {
    this.#entities.delete(key);
    this.#mirror.delete(key);
  }

  // ---- Redis ----

  #docKey(key) {
    return `${this.#prefix}d:${key}`;
  }

  #histKey(key) {
    return `${this.#prefix}h:${key}`;
  }

  #clientKeys(clientId) {
    if (clientId === null) return ['', ''];
    return [`${this.#prefix}c:${clientId}`, `${this.#prefix}co:${clientId}`];
  }

  // one operation at a time per document on this node (the mirror's copy is shared)
  #exclusive(key, fn) {
    if (this.#closed) return Promise.reject(new RealtimeCoreError('ERR_RT_CLOSED', 'ClusterDocumentStore is closed'));
    const prev = this.#locks.get(key) || Promise.resolve();
    const run = prev.then(() => retrying(fn));
    const tail = run.then(noop, noop);
    this.#locks.set(key, tail);
    tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return run;
  }

  #eval(script, keys, args) {
    return this.#guard(() => this.#redis.evalScript(script, keys.map((k) => (k === '' ? `${this.#prefix}-` : k)), args));
  }

  #call(args) {
    return this.#guard(() => this.#redis.command(args));
  }

  // Every Redis round trip: fails at once when the connection is known to be down, waits for one
  // that is not ready yet (at most timeoutMs), is bounded by timeoutMs, and any failure becomes
  // ERR_RT_UNAVAILABLE.
  async #guard(fn) {
    const redis = this.#redis;
    const limit = this.#timeoutMs;
    if (this.#closed) throw new RealtimeCoreError('ERR_RT_CLOSED', 'ClusterDocumentStore is closed');
    if (!redis.isReady() && this.#connection === 'down') throw unavailable('Redis is not connected');
    let timer;
    let unsubscribe = null;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`Redis did not answer within ${limit} ms`)), limit);
    });
    try {
      if (!redis.isReady()) {
        const ready = new Promise((resolve) => {
          unsubscribe = redis.onState((s) => {
            if (s === 'ready') resolve();
          });
          if (redis.isReady()) resolve();
        });
        await Promise.race([ready, timeout]);
      }
      const call = fn();
      return await Promise.race([call.catch((err) => {
        throw unavailable(`Redis command failed: ${err && err.message}`, err);
      }), timeout]);
    } finally {
      clearTimeout(timer);
      if (unsubscribe) unsubscribe();
    }
  }
}

class Retry extends Error {}

// the copy was stale in a way only a full read mends: once more, at once
async function retrying(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof Retry) || i > 3) {
        if (err instanceof Retry) throw new RealtimeCoreError('ERR_RT_INTERNAL', 'cluster store: could not rebuild a document copy');
        throw err;
      }
    }
  }
}

function noop() {}

// random, growing: two nodes that collided rarely collide again
function backoff(attempt) {
  const cap = Math.min(50, 2 ** Math.min(attempt, 6));
  const ms = Math.random() * cap;
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

function format(result, output) {
  const out = {
    status: result.status,
    version: result.version,
    delta: result.delta === null || output === 'text' ? result.delta : parseJson(result.delta),
    conflicts: output === 'text' ? result.conflicts : parseJson(result.conflicts),
  };
  if (result.error) out.error = { code: result.error.code, message: result.error.message };
  if (result.gap) out.gap = { expected: result.gap.expected, received: result.gap.received };
  return out;
}

function duplicate(remembered, current, output) {
  if (remembered === '') return { status: 'duplicate', version: current, delta: null, conflicts: output === 'text' ? '[]' : [] };
  const rec = JSON.parse(remembered);
  return format({ ...rec, status: 'duplicate' }, output);
}

module.exports = { ClusterDocumentStore };
