'use strict';

// Adapter from the engine interface (docs/internals.md) to the addon's positional functions.
// One addon call per engine call; documents cross as JSON text and come back as text, parsed
// here with JSON.parse only when the caller asked for values.

const binding = require('./load').loadAddon();
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

// OptimisticState (docs/optimistic-state.md). Every operation returns one JSON text holding its
// whole result; with output 'text' the deltas inside it are JSON strings (JSON text), so one
// JSON.parse gives the result in either form.
function wireOp(op) {
  return op.text === undefined || op.text === null ? op : { ...op, text: wire(op.text) };
}

function nativeCall(fn) {
  try {
    return fn();
  } catch (err) {
    throw fromNativeError(err);
  }
}

class Optimistic {
  constructor(initialText, opts) {
    this._o = nativeCall(() => new binding.Optimistic(wire(initialText), opts));
  }

  apply(id, kind, text, nowMs, output) {
    return JSON.parse(nativeCall(() => this._o.apply(id, kind, wire(text), nowMs, output === 'text')));
  }

  commit(id, kind, text, version, output) {
    const t = kind === null ? null : wire(text);
    return JSON.parse(nativeCall(() => this._o.commit(id, kind, t, version, output === 'text')));
  }

  rollback(id, output) {
    return JSON.parse(nativeCall(() => this._o.rollback(id, output === 'text')));
  }

  rollbackAll(output) {
    return JSON.parse(nativeCall(() => this._o.rollbackAll(output === 'text')));
  }

  rebase(kind, text, version, confirms, output) {
    return JSON.parse(nativeCall(() => this._o.rebase(kind, wire(text), version, confirms, output === 'text')));
  }

  expire(nowMs, output) {
    return JSON.parse(nativeCall(() => this._o.expire(nowMs, output === 'text')));
  }

  batch(ops, nowMs, output) {
    return JSON.parse(nativeCall(() => this._o.batch(ops.map(wireOp), nowMs, output === 'text')));
  }

  state(output) {
    return parseIfValue(this._o.state(), output);
  }

  base(output) {
    return parseIfValue(this._o.base(), output);
  }

  baseVersion() {
    return this._o.baseVersion();
  }

  pendingCount() {
    return this._o.pendingCount();
  }

  nextDeadline() {
    return this._o.nextDeadline();
  }

  pending(output) {
    return JSON.parse(this._o.pending(output === 'text'));
  }
}

// OfflineQueue (docs/offline-queue.md) over the addon's Queue. The addon writes [seq, events of
// the call, drops of the call] into a shared Float64Array; events and drops are fetched only when
// there are some. Handed-out items come as columns and become objects here.
const DROP_REASONS = ['', 'overflow', 'coalesced', 'expired'];

function droppedList(flat) {
  const out = new Array(flat.length / 2);
  for (let i = 0, j = 0; j < flat.length; i++, j += 2) {
    out[i] = { offset: flat[j] === 0 ? null : flat[j], reason: DROP_REASONS[flat[j + 1]] };
  }
  return out;
}

const BREAKER_STATES = ['closed', 'open', 'half-open'];

// r = [nums (4 per event), clientIds, texts] (see TakeEvents in native/addon/offline_queue_wrap.cpp)
function eventList(r) {
  const nums = r[0];
  const clients = r[1];
  const texts = r[2];
  const n = nums.length / 4;
  const out = new Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    const j = 4 * i;
    const kind = nums[j];
    if (kind === 0) {
      out[i] = ['dropped', { clientId: clients[nums[j + 1]], offset: nums[j + 2] === 0 ? null : nums[j + 2], reason: DROP_REASONS[nums[j + 3]] }];
    } else if (kind === 1) {
      const event = texts[t++];
      const reason = texts[t++];
      out[i] = ['dead-letter', { clientId: clients[nums[j + 1]], offset: nums[j + 2], event, attempts: nums[j + 3], reason }];
    } else {
      out[i] = ['breaker', { from: BREAKER_STATES[nums[j + 1]], to: BREAKER_STATES[nums[j + 2]], at: nums[j + 3] }];
    }
  }
  return out;
}

// cols = [nums (offset, attempts, pushedAt[, deadAt] per item), clientIds | null, events, payloads,
//         keys | null, reasons | null]
function itemList(cols, clientId) {
  const nums = cols[0];
  const clients = cols[1];
  const events = cols[2];
  const payloads = cols[3];
  const keys = cols[4];
  const reasons = cols[5];
  // ASCII text payloads come as one string and a span per item (see items() in
  // native/addon/offline_queue_wrap.cpp); a slice shares the joined string's memory.
  const joined = cols[6];
  const spans = cols[7];
  const n = payloads.length;
  const stride = reasons === null ? 3 : 4;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const j = i * stride;
    const c = clients === null ? clientId : clients[i];
    const key = keys === null ? undefined : keys[i];
    const payload = joined !== null && spans[2 * i] >= 0 ? joined.slice(spans[2 * i], spans[2 * i + 1]) : payloads[i];
    const it = key === undefined
      ? { clientId: c, offset: nums[j], event: events[i], payload, attempts: nums[j + 1], pushedAt: nums[j + 2] }
      : { clientId: c, offset: nums[j], event: events[i], payload, key, attempts: nums[j + 1], pushedAt: nums[j + 2] };
    if (reasons !== null) {
      it.reason = reasons[i];
      it.deadAt = nums[j + 3];
    }
    out[i] = it;
  }
  return out;
}

class Queue {
  constructor(opts) {
    this._st = new Float64Array(3);
    try {
      this._q = new binding.Queue(opts, this._st);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  _events() {
    return this._st[1] > 0 ? eventList(this._q.takeEvents()) : null;
  }

  _dropped() {
    return this._st[2] > 0 ? droppedList(this._q.takeDropped()) : [];
  }

  push(clientId, event, payload, key, nowMs) {
    let offset;
    try {
      offset = this._q.push(clientId, event, payload, key, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { offset, dropped: this._dropped(), seq: this._st[0], events: this._events() };
  }

  pushMany(clientId, events, payloads, keys, nowMs) {
    const n = payloads.length;
    // One event name for the whole batch and no keys are the common case: they cross once.
    let ev = events;
    if (n > 0) {
      const first = events[0];
      let same = true;
      for (let i = 1; i < n; i++) {
        if (events[i] !== first) {
          same = false;
          break;
        }
      }
      if (same) ev = first;
    }
    let ks = null;
    if (keys) {
      for (let i = 0; i < n; i++) {
        if (keys[i] !== null && keys[i] !== undefined) {
          ks = keys;
          break;
        }
      }
    }
    let r;
    try {
      r = this._q.pushMany(clientId, ev, payloads, ks, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    // The queued items got consecutive offsets; items dropped as newest got none.
    const offsets = new Array(n);
    let next = r[0];
    const skipped = r[1];
    if (skipped === null) {
      for (let i = 0; i < n; i++) offsets[i] = next++;
    } else {
      let s = 0;
      for (let i = 0; i < n; i++) {
        if (s < skipped.length && skipped[s] === i) {
          offsets[i] = null;
          s++;
        } else {
          offsets[i] = next++;
        }
      }
    }
    return { offsets, dropped: this._dropped(), seq: this._st[0], events: this._events() };
  }

  peek(clientId, after, limit, nowMs) {
    let cols;
    try {
      cols = this._q.peek(clientId, after, limit, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { items: itemList(cols, clientId), events: this._events() };
  }

  ack(clientId, upTo, nowMs) {
    let removed;
    try {
      removed = this._q.ack(clientId, upTo, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { removed, seq: this._st[0], events: this._events() };
  }

  ackOne(clientId, offset, nowMs) {
    let removed;
    try {
      removed = this._q.ackOne(clientId, offset, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { removed, seq: this._st[0], events: this._events() };
  }

  nack(clientId, offset, reason, nowMs) {
    let r;
    try {
      r = this._q.nack(clientId, offset, reason, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    if (r[0]) return { status: 'dead', attempts: r[1], seq: this._st[0], events: this._events() };
    return { status: 'retry', attempts: r[1], retryAt: r[2], seq: this._st[0], events: this._events() };
  }

  due(limit, nowMs) {
    let cols;
    try {
      cols = this._q.due(limit, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { items: itemList(cols, null), seq: this._st[0], events: this._events() };
  }

  release(clientId, offset, nowMs) {
    try {
      this._q.release(clientId, offset, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { seq: this._st[0], events: this._events() };
  }

  sweep(nowMs) {
    let removed;
    try {
      removed = this._q.sweep(nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { removed, seq: this._st[0], events: this._events() };
  }

  size(clientId) {
    try {
      return this._q.size(clientId);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  clients() {
    try {
      return this._q.clients();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  deadLetters(limit) {
    try {
      return itemList(this._q.deadLetters(limit), null);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  clearDeadLetters() {
    let removed;
    try {
      removed = this._q.clearDeadLetters();
    } catch (err) {
      throw fromNativeError(err);
    }
    return { removed, seq: this._st[0] };
  }

  stats() {
    try {
      return this._q.stats();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  breakerState(nowMs) {
    let state;
    try {
      state = this._q.breakerState(nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    return { state, events: this._events() };
  }

  flush() {
    try {
      return this._q.flush();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  compact() {
    try {
      return this._q.compact();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  close() {
    try {
      return this._q.close();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  recovery() {
    return this._q.recovery();
  }
}

// FanoutHub (docs/fanout.md) over the addon's Fanout. Strings with lone surrogates cross as the
// Uint16Array of their code units (kept as WTF-8 by the addon, so they come back unchanged); lists
// of one room cross as that string. publish/flush come back as a flat array
// [packet, handles, seq, flags, ...(, slow)] or null, and the addon writes publish's status code
// and own offset seq into a shared Float64Array; offsets are built here from their seq.
const PUBLISH_STATUS = ['delivered', 'pending', 'coalesced', 'batched'];
const RESTORE_STATUS = ['recovered', 'unknown-session', 'expired', 'invalid-offset', 'too-old'];

function utf16Units(str) {
  const out = new Uint16Array(str.length);
  for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i);
  return out;
}

function fanoutStr(s) {
  return typeof s === 'string' && !s.isWellFormed() ? utf16Units(s) : s;
}

function fanoutList(list) {
  if (list === null || list === undefined) return null;
  if (!Array.isArray(list)) return fanoutStr(list);
  const n = list.length;
  if (n === 0) return null;
  if (n === 1) return fanoutStr(list[0]);
  for (let i = 0; i < n; i++) {
    const s = list[i];
    if (typeof s === 'string' && !s.isWellFormed()) return list.map(fanoutStr);
  }
  return list;
}

// r: null, a packet (one delivery, its numbers in st and its handles in small), or the flat array.
function fanoutDeliveries(r, prefix, st, small) {
  if (r === null) return { deliveries: [], slow: [] };
  if (typeof r === 'string') {
    const seq = st[2];
    const f = st[3];
    return {
      deliveries: [{
        packet: r,
        handles: small.slice(0, st[4]),
        offset: seq === 0 ? null : prefix + seq.toString(36),
        volatile: (f & 1) !== 0,
        bulk: (f & 2) !== 0,
      }],
      slow: [],
    };
  }
  const n = r.length >> 2;
  const deliveries = new Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const seq = r[j + 2];
    const f = r[j + 3];
    deliveries[i] = {
      packet: r[j],
      handles: r[j + 1],
      offset: seq === 0 ? null : prefix + seq.toString(36),
      volatile: (f & 1) !== 0,
      bulk: (f & 2) !== 0,
    };
  }
  return { deliveries, slow: (r.length & 3) !== 0 ? r[r.length - 1] : [] };
}

class Fanout {
  constructor(opts) {
    // Both over ArrayBuffers of their own (off the V8 heap), so the addon's pointers stay valid.
    this._st = new Float64Array(new ArrayBuffer(5 * 8));
    this._small = new Uint32Array(new ArrayBuffer(64 * 4));
    this._prefix = typeof opts.offsetPrefix === 'string' ? opts.offsetPrefix : '';
    const o = { ...opts, nspPrefix: fanoutStr(opts.nspPrefix), offsetPrefix: fanoutStr(opts.offsetPrefix) };
    this._f = nativeCall(() => new binding.Fanout(o, this._st, this._small));
  }

  connect() {
    return nativeCall(() => this._f.connect());
  }

  disconnect(h) {
    return nativeCall(() => this._f.disconnect(h));
  }

  join(h, rooms) {
    return nativeCall(() => this._f.join(h, fanoutList(rooms)));
  }

  leave(h, room) {
    return nativeCall(() => this._f.leave(h, fanoutStr(room)));
  }

  rooms(h) {
    return nativeCall(() => this._f.rooms(h));
  }

  members(room) {
    return nativeCall(() => this._f.members(fanoutStr(room)));
  }

  roomSize(room) {
    return nativeCall(() => this._f.roomSize(fanoutStr(room)));
  }

  roomNames() {
    return this._f.roomNames();
  }

  connections() {
    return this._f.connections();
  }

  connectionCount() {
    return this._f.connectionCount();
  }

  roomCount() {
    return this._f.roomCount();
  }

  targets(rooms, except) {
    return nativeCall(() => this._f.targets(fanoutList(rooms), fanoutList(except)));
  }

  backlog(h) {
    return nativeCall(() => this._f.backlog(h));
  }

  drained(handles) {
    nativeCall(() => this._f.drained(handles));
  }

  publish(m, nowMs) {
    const flags = (m.volatile ? 1 : 0) | (m.batch ? 2 : 0) | (m.recoverable ? 4 : 0);
    const key = m.key === null || m.key === undefined ? null : fanoutStr(m.key);
    const ackId = m.ackId === undefined ? null : m.ackId;
    let r;
    try {
      r = this._f.publish(fanoutList(m.rooms), fanoutList(m.except), fanoutStr(m.eventJson), fanoutStr(m.args), key,
        flags, ackId, nowMs);
    } catch (err) {
      throw fromNativeError(err);
    }
    const st = this._st;
    const { deliveries, slow } = fanoutDeliveries(r, this._prefix, st, this._small);
    return {
      status: PUBLISH_STATUS[st[0]],
      offset: st[1] === 0 ? null : this._prefix + st[1].toString(36),
      deliveries,
      slow,
    };
  }

  flush(nowMs, all) {
    const r = nativeCall(() => this._f.flush(nowMs, all === true));
    return fanoutDeliveries(r, this._prefix, this._st, this._small);
  }

  nextDue() {
    return this._f.nextDue();
  }

  saveSession(id, sid, rooms, data, nowMs) {
    nativeCall(() => this._f.saveSession(fanoutStr(id), fanoutStr(sid), fanoutList(rooms), fanoutStr(data), nowMs));
  }

  restore(id, offset, nowMs) {
    const r = nativeCall(() => this._f.restore(fanoutStr(id), fanoutStr(offset), nowMs));
    if (r[0] !== 0) return { status: RESTORE_STATUS[r[0]] };
    return { status: 'recovered', sid: r[1], rooms: r[2], data: r[3], packets: r[4] };
  }

  sweep(nowMs) {
    const r = nativeCall(() => this._f.sweep(nowMs));
    return { evicted: r[0], expired: r[1] };
  }

  stats() {
    return nativeCall(() => this._f.stats());
  }

  lastSeq() {
    return this._f.lastSeq();
  }

  recordsSince(seq) {
    const r = nativeCall(() => this._f.recordsSince(seq));
    const n = r.length / 5;
    const out = new Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 5) {
      out[i] = { seq: r[j], rooms: r[j + 1], except: r[j + 2], packet: r[j + 3], at: r[j + 4] };
    }
    return out;
  }

  importRecord(seq, rooms, except, packet, at) {
    nativeCall(() => this._f.importRecord(seq, fanoutList(rooms), fanoutList(except), fanoutStr(packet), at));
  }

  importSession(id, sid, rooms, data, savedAt) {
    nativeCall(() => this._f.importSession(fanoutStr(id), fanoutStr(sid), fanoutList(rooms), fanoutStr(data), savedAt));
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
  Optimistic,
  Queue,
  Fanout,
};
