'use strict';

// OfflineQueue's engine, as specified in docs/offline-queue.md: per-client bounded queues with
// coalescing, TTL, backoff with jitter, dead letters, a circuit breaker and an optional durable
// log (./queue_log.js). Twin of the native engine; the public layer (lib/api/offline_queue.js)
// checks arguments and reads the clock, so every method here gets valid values and `now`.
//
// A client's items live in an array in offset order from `head` on. An item removed from the
// middle (coalescing, ackOne, dead letter, unsorted expiry) stays in place as a tombstone
// (st = REMOVED) so offsets can still be found by binary search; tombstones at either end are
// dropped at once, the rest when they outnumber the live items.
//
// Every method either throws before it changes anything or completes: the checks that can fail
// (queue full with 'reject', an unknown offset) look at the state as it will be after expiry.

const { RealtimeCoreError } = require('../common/errors');
const { mulberry32 } = require('./prng');
const { QueueLog, replayLog, T_PUSH, T_ACK, T_NACK, T_REMOVE, T_DEAD, T_CLIENT, T_DEAD_CLEAR, T_SNAPSHOT_BEGIN, T_SNAPSHOT_END } = require('./queue_log');

const QUEUED = 0;
const IN_FLIGHT = 1;
const REMOVED = 2;

const CLOSED = 'closed';
const OPEN = 'open';
const HALF_OPEN = 'half-open';

// remove records' reasons (docs/offline-queue.md, "File format")
const R_OVERFLOW = 1;
const R_COALESCED = 2;
const R_EXPIRED = 3;
const R_ACKED = 4;
const REASONS = [null, 'overflow', 'coalesced', 'expired'];

// Rough size of an item's push record, for the compaction rule (live bytes < half the log).
const RECORD_OVERHEAD = 56;

class Item {
  constructor(offset, event, payload, key, pushedAt, bytes, retry) {
    this.offset = offset;
    this.event = event;
    this.payload = payload; // a string, or a Buffer of our own
    this.key = key; // string | null
    this.pushedAt = pushedAt;
    this.bytes = bytes; // payload bytes
    this.st = QUEUED;
    this.retry = retry; // null until the item fails once (most never do)
  }
}

// An item's retry state: attempts so far, when it may go out again, its last backoff delay.
class Retry {
  constructor(attempts, retryAt, prevDelay) {
    this.attempts = attempts;
    this.retryAt = retryAt;
    this.prevDelay = prevDelay;
  }
}

const retryAtOf = (it) => (it.retry === null ? it.pushedAt : it.retry.retryAt);
const attemptsOf = (it) => (it.retry === null ? 0 : it.retry.attempts);

class DeadLetter {
  constructor(clientId, it, attempts, reason, deadAt, prevDelay) {
    this.clientId = clientId;
    this.offset = it.offset;
    this.event = it.event;
    this.payload = it.payload;
    this.key = it.key;
    this.attempts = attempts;
    this.pushedAt = it.pushedAt;
    this.retryAt = retryAtOf(it);
    this.prevDelay = prevDelay;
    this.bytes = it.bytes;
    this.reason = reason;
    this.deadAt = deadAt;
  }
}

class Client {
  constructor(id) {
    this.id = id;
    this.items = [];
    this.head = 0;
    this.count = 0; // live items
    this.tombs = 0; // removed items still in `items` (from head on)
    this.lastOffset = 0;
    this.order = 0; // creation order of the current queue (re-assigned when it fills again)
    this.keys = null; // Map key -> Item, created on the first keyed item
    this.sorted = true; // pushedAt never decreases along the queue: expiry takes a prefix
    this.maxPushedAt = -Infinity;
    this.minPushedAt = Infinity; // a lower bound of the live items' pushedAt
  }
}

function closedError() {
  return new RealtimeCoreError('ERR_RT_CLOSED', 'the queue is closed');
}

function copyPayload(p) {
  return typeof p === 'string' ? p : Buffer.from(p);
}

function handOut(clientId, it) {
  return it.key === null
    ? { clientId, offset: it.offset, event: it.event, payload: copyPayload(it.payload), attempts: attemptsOf(it), pushedAt: it.pushedAt }
    : { clientId, offset: it.offset, event: it.event, payload: copyPayload(it.payload), key: it.key, attempts: attemptsOf(it), pushedAt: it.pushedAt };
}

function handOutDead(d) {
  const out = { clientId: d.clientId, offset: d.offset, event: d.event, payload: copyPayload(d.payload) };
  if (d.key !== null) out.key = d.key;
  out.attempts = d.attempts;
  out.pushedAt = d.pushedAt;
  out.reason = d.reason;
  out.deadAt = d.deadAt;
  return out;
}

// due(): the index of the client's next candidate at or after `from` (not in flight, retryAt
// <= now), or -1; an item waiting for its retry ends the client's candidates.
function nextCandidate(c, from, now) {
  const items = c.items;
  for (let i = from; i < items.length; i++) {
    const it = items[i];
    if (it.st !== QUEUED) continue;
    return retryAtOf(it) > now ? -1 : i;
  }
  return -1;
}

// A client's next candidate in due()'s merge.
class Head {
  constructor(at, c, i) {
    this.at = at;
    this.c = c;
    this.i = i;
  }
}

const headBefore = (a, b) => (a.at !== b.at ? a.at < b.at : a.c.order < b.c.order);

function siftDown(heap, k) {
  const n = heap.length;
  for (;;) {
    const l = 2 * k + 1;
    if (l >= n) return;
    let m = l;
    if (l + 1 < n && headBefore(heap[l + 1], heap[l])) m = l + 1;
    if (!headBefore(heap[m], heap[k])) return;
    const t = heap[k];
    heap[k] = heap[m];
    heap[m] = t;
    k = m;
  }
}

class OfflineQueue {
  // options
  #capacity;
  #overflow;
  #ttl;
  #maxAttempts;
  #initialDelay;
  #multiplier;
  #maxDelay;
  #jitter;
  #random;
  #maxDead;
  #breaker; // { failureThreshold, successThreshold, openMs } | null

  // state
  #clients = new Map(); // id -> Client, every client ever seen (their last offsets)
  #active = new Set(); // clients with items, in creation order
  #nextOrder = 1;
  #items = 0;
  #payloadBytes = 0;
  #inFlight = 0;
  #dead = []; // DeadLetter, oldest first from #deadHead
  #deadHead = 0;
  #closed = false;
  #closeSeq = 0;

  #bState = CLOSED;
  #bFailures = 0;
  #bSuccesses = 0;
  #openedAt = null;

  #stats = {
    pushed: 0, acked: 0, retried: 0, deadLettered: 0,
    overflow: 0, coalesced: 0, expired: 0, deadLetterOverflow: 0,
  };

  // durable mode
  #log = null;
  #enc = null; // the log's encoder during a call
  #durable = null;
  #recovery = null;
  #liveBytes = 0;
  #replaying = false;
  #eventNames = new Map(); // during a replay

  constructor(opts) {
    this.#capacity = opts.capacity;
    this.#overflow = opts.overflow;
    this.#ttl = opts.ttlMs;
    this.#maxAttempts = opts.maxAttempts;
    this.#initialDelay = opts.initialDelayMs;
    this.#multiplier = opts.multiplier;
    this.#maxDelay = opts.maxDelayMs;
    this.#jitter = opts.jitter;
    this.#random = mulberry32(opts.seed);
    this.#maxDead = opts.maxDeadLetters;
    this.#breaker = opts.breaker ? { ...opts.breaker } : null;
    const durable = opts.durable || null;
    if (durable !== null) {
      this.#durable = { path: durable.path, fsync: durable.fsync };
      this.#replaying = true;
      const { recovery, segments, nextSegment } = replayLog(durable.path, (rec) => this.#replay(rec));
      this.#replaying = false;
      this.#eventNames = null;
      this.#recovery = { segments: recovery.segments, records: recovery.records, items: this.#items, truncated: recovery.truncated };
      const onDurable = typeof opts.onDurable === 'function' ? opts.onDurable : () => {};
      const onDurability = typeof opts.onDurability === 'function' ? opts.onDurability : () => {};
      this.#log = new QueueLog(durable.path, segments, nextSegment, durable, {
        onDurable,
        onDurability,
        snapshot: () => this.#snapshotWriter(),
        liveBytes: () => this.#liveBytes,
      });
    }
  }

  // --- operations ------------------------------------------------------------------------------

  push(clientId, event, payload, key, now) {
    this.#open();
    const c0 = this.#clients.get(clientId);
    if (this.#overflow === 'reject') this.#checkRoom(clientId, c0, key === null ? null : [key], 1, now);
    const ev = [];
    const dropped = [];
    const c = c0 || this.#newClient(clientId);
    this.#begin();
    try {
      this.#tick(now, ev);
      this.#expire(c, now, ev, dropped);
      const offset = this.#pushOne(c, event, payload, key, now, ev, dropped);
      this.#tidy(c);
      return { offset, dropped, seq: this.#commit(), events: ev.length === 0 ? null : ev };
    } catch (err) {
      this.#abort();
      throw err;
    }
  }

  pushMany(clientId, events, payloads, keys, now) {
    this.#open();
    const n = events.length;
    const c0 = this.#clients.get(clientId);
    if (this.#overflow === 'reject') this.#checkRoom(clientId, c0, keys, n, now);
    const ev = [];
    const dropped = [];
    const offsets = new Array(n);
    const c = c0 || this.#newClient(clientId);
    this.#begin();
    try {
      this.#tick(now, ev);
      this.#expire(c, now, ev, dropped);
      for (let i = 0; i < n; i++) {
        const key = keys ? keys[i] : null;
        offsets[i] = this.#pushOne(c, events[i], payloads[i], key === undefined ? null : key, now, ev, dropped);
      }
      this.#tidy(c);
      return { offsets, dropped, seq: this.#commit(), events: ev.length === 0 ? null : ev };
    } catch (err) {
      this.#abort();
      throw err;
    }
  }

  peek(clientId, after, limit, now) {
    this.#open();
    const c = this.#clients.get(clientId);
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    const out = [];
    if (c !== undefined) {
      this.#expire(c, now, ev, null);
      this.#tidy(c);
      const items = c.items;
      for (let i = this.#firstAfter(c, after); i < items.length && out.length < limit; i++) {
        const it = items[i];
        if (it.st !== REMOVED) out.push(handOut(c.id, it));
      }
    }
    this.#commit();
    return { items: out, events: ev.length === 0 ? null : ev };
  }

  ack(clientId, upTo, now) {
    this.#open();
    const c = this.#clients.get(clientId);
    const last = c === undefined ? 0 : c.lastOffset;
    if (upTo > last) {
      throw new RealtimeCoreError('ERR_RT_INVALID_OFFSET', `offset ${upTo} is beyond the last offset of client "${clientId}" (${last})`);
    }
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    let removed = 0;
    if (c !== undefined && c.count > 0) {
      this.#expire(c, now, ev, null);
      const items = c.items;
      for (let i = c.head; i < items.length; i++) {
        const it = items[i];
        if (it.offset > upTo) break;
        if (it.st === REMOVED) continue;
        this.#unlink(c, it);
        removed++;
      }
      this.#tidy(c);
      if (removed > 0) {
        this.#stats.acked += removed;
        if (this.#log !== null) this.#enc.ack(c.id, upTo);
        this.#success(now, ev);
      }
    }
    return { removed, seq: this.#commit(), events: ev.length === 0 ? null : ev };
  }

  ackOne(clientId, offset, now) {
    this.#open();
    const c = this.#clients.get(clientId);
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    let removed = 0;
    if (c !== undefined && c.count > 0) {
      this.#expire(c, now, ev, null);
      const it = this.#find(c, offset);
      if (it !== null) {
        this.#unlink(c, it);
        removed = 1;
        this.#stats.acked++;
        if (this.#log !== null) this.#enc.remove(c.id, offset, R_ACKED);
        this.#success(now, ev);
      }
      this.#tidy(c);
    }
    return { removed, seq: this.#commit(), events: ev.length === 0 ? null : ev };
  }

  nack(clientId, offset, reason, now) {
    this.#open();
    const c = this.#clients.get(clientId);
    const it = c === undefined ? null : this.#find(c, offset);
    if (it === null || this.#expiring(it, now)) {
      throw new RealtimeCoreError('ERR_RT_INVALID_OFFSET', `client "${clientId}" has no queued item at offset ${offset}`);
    }
    const why = typeof reason === 'string' ? reason : 'nack';
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    this.#expire(c, now, ev, null);
    const attempts = attemptsOf(it) + 1;
    const prev = it.retry === null ? 0 : it.retry.prevDelay;
    let result;
    if (attempts >= this.#maxAttempts) {
      this.#unlink(c, it);
      this.#tidy(c);
      if (this.#log !== null) {
        this.#enc.nack(c.id, offset, attempts, retryAtOf(it), prev);
        this.#enc.dead(c.id, offset, now, why);
      }
      this.#addDead(new DeadLetter(c.id, it, attempts, why, now, prev));
      this.#stats.deadLettered++;
      ev.push(['dead-letter', { clientId: c.id, offset, event: it.event, attempts, reason: why }]);
      result = { status: 'dead', attempts };
    } else {
      const d = this.#delay(attempts, prev);
      const retryAt = now + d;
      if (it.st === IN_FLIGHT) {
        it.st = QUEUED;
        this.#inFlight--;
      }
      this.#setRetry(it, attempts, retryAt, d);
      this.#stats.retried++;
      if (this.#log !== null) this.#enc.nack(c.id, offset, attempts, retryAt, d);
      this.#tidy(c);
      result = { status: 'retry', attempts, retryAt };
    }
    this.#failure(now, ev);
    result.seq = this.#commit();
    result.events = ev.length === 0 ? null : ev;
    return result;
  }

  due(limit, now) {
    this.#open();
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    this.#expireAll(now, ev);
    let room = 0;
    if (this.#bState === CLOSED) room = limit;
    else if (this.#bState === HALF_OPEN && this.#inFlight === 0) room = 1;
    const out = [];
    if (room > 0 && this.#items > 0) {
      // Each client's candidates, in offset order, are merged by (retryAt, client creation
      // order) of their heads: a min-heap of one head per client.
      const heap = [];
      for (const c of this.#active) {
        const i = nextCandidate(c, c.head, now);
        if (i >= 0) heap.push(new Head(retryAtOf(c.items[i]), c, i));
      }
      for (let k = (heap.length >> 1) - 1; k >= 0; k--) siftDown(heap, k);
      while (out.length < room && heap.length > 0) {
        const h = heap[0];
        const c = h.c;
        const it = c.items[h.i];
        it.st = IN_FLIGHT;
        this.#inFlight++;
        out.push(handOut(c.id, it));
        const next = nextCandidate(c, h.i + 1, now);
        if (next >= 0) {
          h.i = next;
          h.at = retryAtOf(c.items[next]);
        } else {
          const last = heap.pop();
          if (heap.length === 0) break;
          heap[0] = last;
        }
        siftDown(heap, 0);
      }
    }
    return { items: out, seq: this.#commit(), events: ev.length === 0 ? null : ev };
  }

  release(clientId, offset, now) {
    this.#open();
    const c = this.#clients.get(clientId);
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    if (c !== undefined && c.count > 0) {
      this.#expire(c, now, ev, null);
      this.#tidy(c);
      const it = this.#find(c, offset);
      if (it !== null && it.st === IN_FLIGHT) {
        it.st = QUEUED;
        this.#inFlight--;
      }
    }
    return { seq: this.#commit(), events: ev.length === 0 ? null : ev };
  }

  sweep(now) {
    this.#open();
    const ev = [];
    this.#begin();
    this.#tick(now, ev);
    const removed = this.#expireAll(now, ev);
    return { removed, seq: this.#commit(), events: ev.length === 0 ? null : ev };
  }

  size(clientId) {
    this.#open();
    if (clientId === null || clientId === undefined) return this.#items;
    const c = this.#clients.get(clientId);
    return c === undefined ? 0 : c.count;
  }

  clients() {
    this.#open();
    const out = [];
    for (const c of this.#active) out.push(c.id);
    return out;
  }

  deadLetters(limit) {
    this.#open();
    const out = [];
    const dead = this.#dead;
    for (let i = this.#deadHead; i < dead.length && out.length < limit; i++) out.push(handOutDead(dead[i]));
    return out;
  }

  clearDeadLetters() {
    this.#open();
    const removed = this.#dead.length - this.#deadHead;
    this.#begin();
    if (removed > 0) {
      this.#clearDead();
      if (this.#log !== null) this.#enc.marker(T_DEAD_CLEAR);
    }
    return { removed, seq: this.#commit() };
  }

  stats() {
    const s = this.#stats;
    const b = this.#breaker;
    let durable = null;
    if (this.#durable !== null) {
      const l = this.#log.stats();
      durable = {
        enabled: true, path: this.#durable.path, fsync: this.#durable.fsync,
        healthy: l.healthy, segments: l.segments, bytes: l.bytes, lastError: l.lastError,
      };
    }
    return {
      clients: this.#active.size,
      items: this.#items,
      payloadBytes: this.#payloadBytes,
      inFlight: this.#inFlight,
      deadLetters: this.#dead.length - this.#deadHead,
      pushed: s.pushed,
      acked: s.acked,
      retried: s.retried,
      deadLettered: s.deadLettered,
      dropped: { overflow: s.overflow, coalesced: s.coalesced, expired: s.expired, deadLetterOverflow: s.deadLetterOverflow },
      // null without a breaker
      breaker: b === null ? null : { state: this.#bState, failures: this.#bFailures, successes: this.#bSuccesses, openedAt: this.#openedAt },
      durable,
    };
  }

  breakerState(now) {
    this.#open();
    const ev = [];
    this.#tick(now, ev);
    return { state: this.#bState, events: ev.length === 0 ? null : ev };
  }

  flush() {
    this.#open();
    return this.#log === null ? 0 : this.#log.flush();
  }

  compact() {
    this.#open();
    return this.#log === null ? 0 : this.#log.compact();
  }

  close() {
    if (!this.#closed) {
      this.#closed = true;
      this.#closeSeq = this.#log === null ? 0 : this.#log.close();
    }
    return this.#closeSeq;
  }

  recovery() {
    return this.#recovery === null ? null : { ...this.#recovery, truncated: this.#recovery.truncated && { ...this.#recovery.truncated } };
  }

  // --- pushing -----------------------------------------------------------------------------

  #newClient(id) {
    const c = new Client(id);
    this.#clients.set(id, c);
    return c;
  }

  // With 'reject': throws ERR_RT_QUEUE_FULL, before anything changes, if one of the n items
  // would find the queue full (after expiry and each item's coalescing).
  #checkRoom(clientId, c, keys, n, now) {
    const count = c === undefined ? 0 : c.count;
    if (count + n <= this.#capacity) return;
    let live = count;
    if (this.#ttl > 0 && count > 0) {
      const items = c.items;
      for (let i = c.head; i < items.length; i++) {
        if (items[i].st !== REMOVED && this.#expiring(items[i], now)) live--;
      }
    }
    let seen = null;
    for (let i = 0; i < n; i++) {
      const key = keys === null ? null : keys[i];
      if (key !== null && key !== undefined) {
        if (seen !== null && seen.has(key)) continue;
        if (seen === null) seen = new Set();
        seen.add(key);
        const old = c === undefined || c.keys === null ? undefined : c.keys.get(key);
        if (old !== undefined && !this.#expiring(old, now)) continue;
      }
      if (live >= this.#capacity) {
        throw new RealtimeCoreError('ERR_RT_QUEUE_FULL', `the queue of client "${clientId}" is full (capacity ${this.#capacity})`);
      }
      live++;
    }
  }

  #pushOne(c, event, payload, key, now, ev, dropped) {
    if (key !== null && c.keys !== null) {
      const old = c.keys.get(key);
      if (old !== undefined) {
        this.#drop(c, old, R_COALESCED, ev, dropped);
        this.#tidy(c);
      }
    }
    if (c.count >= this.#capacity) {
      if (this.#overflow === 'drop-newest') {
        this.#stats.overflow++;
        dropped.push({ offset: null, reason: 'overflow' });
        ev.push(['dropped', { clientId: c.id, offset: null, reason: 'overflow' }]);
        return null;
      }
      // drop-oldest ('reject' was checked before anything changed)
      const items = c.items;
      let h = c.head;
      while (items[h].st === REMOVED) h++;
      this.#drop(c, items[h], R_OVERFLOW, ev, dropped);
      this.#tidy(c);
    }
    const offset = c.lastOffset + 1;
    c.lastOffset = offset;
    let stored = payload;
    let bytes;
    if (typeof payload !== 'string') stored = Buffer.from(payload);
    if (this.#log !== null) {
      bytes = this.#enc.push(c.id, offset, now, now, 0, 0, event, key, stored);
    } else {
      bytes = typeof stored === 'string' ? Buffer.byteLength(stored, 'utf8') : stored.length;
    }
    this.#link(c, new Item(offset, event, stored, key, now, bytes, null));
    this.#stats.pushed++;
    return offset;
  }

  // Appends (or, in a replay, inserts) an item and does the bookkeeping.
  #link(c, it) {
    if (c.count === 0) {
      c.order = this.#nextOrder++;
      this.#active.add(c);
    }
    const items = c.items;
    const n = items.length;
    if (n === c.head || items[n - 1].offset < it.offset) {
      items.push(it);
    } else {
      // replay only: a push record below the newest item
      let lo = c.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (items[mid].offset < it.offset) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, it);
      c.sorted = false;
    }
    if (it.pushedAt < c.maxPushedAt) c.sorted = false;
    else c.maxPushedAt = it.pushedAt;
    if (it.pushedAt < c.minPushedAt) c.minPushedAt = it.pushedAt;
    if (it.key !== null) {
      if (c.keys === null) c.keys = new Map();
      c.keys.set(it.key, it);
    }
    if (it.offset > c.lastOffset) c.lastOffset = it.offset;
    c.count++;
    this.#items++;
    this.#payloadBytes += it.bytes;
    if (this.#durable !== null) this.#liveBytes += it.bytes + RECORD_OVERHEAD + c.id.length + it.event.length + (it.key === null ? 0 : it.key.length);
  }

  // A new Retry each time (a snapshot being written may hold the old one).
  #setRetry(it, attempts, retryAt, prevDelay) {
    it.retry = new Retry(attempts, retryAt, prevDelay);
  }

  // Takes an item out of the queue (a tombstone until #tidy).
  #unlink(c, it) {
    if (it.st === IN_FLIGHT) this.#inFlight--;
    it.st = REMOVED;
    c.count--;
    c.tombs++;
    this.#items--;
    this.#payloadBytes -= it.bytes;
    if (it.key !== null && c.keys.get(it.key) === it) c.keys.delete(it.key);
    if (this.#durable !== null) this.#liveBytes -= it.bytes + RECORD_OVERHEAD + c.id.length + it.event.length + (it.key === null ? 0 : it.key.length);
  }

  // A removal reported as `dropped` (overflow, coalesced, expired).
  #drop(c, it, reason, ev, dropped) {
    this.#unlink(c, it);
    const name = REASONS[reason];
    this.#stats[name]++;
    if (dropped !== null) dropped.push({ offset: it.offset, reason: name });
    ev.push(['dropped', { clientId: c.id, offset: it.offset, reason: name }]);
    if (this.#log !== null) this.#enc.remove(c.id, it.offset, reason);
  }

  // Drops tombstones at both ends, compacts when they are many; an empty queue ends.
  #tidy(c) {
    if (c.count === 0) {
      if (c.items.length !== 0 || c.head !== 0) {
        c.items = [];
        c.head = 0;
      }
      c.tombs = 0;
      c.sorted = true;
      c.maxPushedAt = -Infinity;
      c.minPushedAt = Infinity;
      this.#active.delete(c);
      return;
    }
    let items = c.items;
    let h = c.head;
    while (items[h].st === REMOVED) {
      items[h] = undefined;
      h++;
      c.tombs--;
    }
    c.head = h;
    while (items[items.length - 1].st === REMOVED) {
      items.pop();
      c.tombs--;
    }
    if (c.tombs > 32 && c.tombs > c.count) {
      const live = new Array(c.count);
      let k = 0;
      for (let i = h; i < items.length; i++) if (items[i].st !== REMOVED) live[k++] = items[i];
      c.items = live;
      c.head = 0;
      c.tombs = 0;
    } else if (h >= 1024 && h * 2 >= items.length) {
      items = items.slice(h);
      c.items = items;
      c.head = 0;
    }
  }

  // The live item at `offset`, or null.
  #find(c, offset) {
    const items = c.items;
    let lo = c.head;
    let hi = items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const it = items[mid];
      if (it.offset < offset) lo = mid + 1;
      else if (it.offset > offset) hi = mid - 1;
      else return it.st === REMOVED ? null : it;
    }
    return null;
  }

  // Index of the first item with an offset above `after`.
  #firstAfter(c, after) {
    const items = c.items;
    let lo = c.head;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid].offset <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // --- expiry --------------------------------------------------------------------------------

  #expiring(it, now) {
    return this.#ttl > 0 && now - it.pushedAt >= this.#ttl;
  }

  // Removes the client's expired items (reason 'expired'), in offset order; returns how many.
  #expire(c, now, ev, dropped) {
    const ttl = this.#ttl;
    if (ttl === 0 || c.count === 0 || now - c.minPushedAt < ttl) return 0;
    const items = c.items;
    let removed = 0;
    if (c.sorted) {
      for (let i = c.head; i < items.length; i++) {
        const it = items[i];
        if (it.st === REMOVED) continue;
        if (now - it.pushedAt < ttl) {
          c.minPushedAt = it.pushedAt;
          break;
        }
        this.#drop(c, it, R_EXPIRED, ev, dropped);
        removed++;
      }
    } else {
      let min = Infinity;
      for (let i = c.head; i < items.length; i++) {
        const it = items[i];
        if (it.st === REMOVED) continue;
        if (now - it.pushedAt >= ttl) {
          this.#drop(c, it, R_EXPIRED, ev, dropped);
          removed++;
        } else if (it.pushedAt < min) {
          min = it.pushedAt;
        }
      }
      c.minPushedAt = min;
    }
    if (removed > 0) this.#tidy(c);
    return removed;
  }

  #expireAll(now, ev) {
    if (this.#ttl === 0) return 0;
    let removed = 0;
    for (const c of this.#active) removed += this.#expire(c, now, ev, null);
    return removed;
  }

  // --- backoff, dead letters, breaker ------------------------------------------------------

  // delay(n) of docs/offline-queue.md, "Backoff and jitter"; prev: the item's previous delay
  // (not used for n = 1: before its first failure an item's prev is initialDelayMs).
  #delay(n, prev) {
    const jitter = this.#jitter;
    if (jitter === 'decorrelated') {
      let span = (n <= 1 ? this.#initialDelay : prev) * 3 - this.#initialDelay;
      if (span < 0) span = 0;
      return Math.floor(Math.min(this.#maxDelay, this.#initialDelay + this.#random() * span));
    }
    let base = this.#initialDelay;
    const max = this.#maxDelay;
    for (let i = 1; i < n && base < max; i++) {
      const next = base * this.#multiplier;
      base = next < max ? next : max;
    }
    if (base > max) base = max;
    if (jitter === 'none') return Math.floor(base);
    if (jitter === 'full') return Math.floor(this.#random() * base);
    return Math.floor(base / 2 + this.#random() * base / 2);
  }

  #addDead(d) {
    this.#dead.push(d);
    if (this.#durable !== null) this.#liveBytes += d.bytes + 2 * RECORD_OVERHEAD + d.clientId.length + d.event.length + d.reason.length;
    while (this.#dead.length - this.#deadHead > this.#maxDead) {
      const old = this.#dead[this.#deadHead];
      this.#dead[this.#deadHead++] = undefined;
      if (this.#durable !== null) this.#liveBytes -= old.bytes + 2 * RECORD_OVERHEAD + old.clientId.length + old.event.length + old.reason.length;
      if (!this.#replaying) this.#stats.deadLetterOverflow++;
    }
    if (this.#deadHead >= 1024 && this.#deadHead * 2 >= this.#dead.length) {
      this.#dead = this.#dead.slice(this.#deadHead);
      this.#deadHead = 0;
    }
  }

  #clearDead() {
    if (this.#durable !== null) {
      for (let i = this.#deadHead; i < this.#dead.length; i++) {
        const d = this.#dead[i];
        this.#liveBytes -= d.bytes + 2 * RECORD_OVERHEAD + d.clientId.length + d.event.length + d.reason.length;
      }
    }
    this.#dead = [];
    this.#deadHead = 0;
  }

  #transition(to, now, ev) {
    const from = this.#bState;
    this.#bState = to;
    this.#bFailures = 0;
    this.#bSuccesses = 0;
    if (to === OPEN) this.#openedAt = now;
    else if (to === CLOSED) this.#openedAt = null;
    ev.push(['breaker', { from, to, at: now }]);
  }

  // The time-based transition: open -> half-open once openMs have passed.
  #tick(now, ev) {
    if (this.#bState === OPEN && now >= this.#openedAt + this.#breaker.openMs) this.#transition(HALF_OPEN, now, ev);
  }

  // closed: a success resets the consecutive failures; half-open: successThreshold successes
  // close it; open: successes and failures (of deliveries begun earlier) change nothing.
  #success(now, ev) {
    if (this.#breaker === null) return;
    if (this.#bState === CLOSED) this.#bFailures = 0;
    else if (this.#bState === HALF_OPEN && ++this.#bSuccesses >= this.#breaker.successThreshold) this.#transition(CLOSED, now, ev);
  }

  #failure(now, ev) {
    if (this.#breaker === null) return;
    if (this.#bState === CLOSED) {
      if (++this.#bFailures >= this.#breaker.failureThreshold) this.#transition(OPEN, now, ev);
    } else if (this.#bState === HALF_OPEN) {
      this.#transition(OPEN, now, ev);
    }
  }

  // --- the log -------------------------------------------------------------------------------

  #open() {
    if (this.#closed) throw closedError();
  }

  #begin() {
    if (this.#log !== null) {
      this.#log.begin();
      this.#enc = this.#log.encoder;
    }
  }

  #commit() {
    if (this.#log === null) return 0;
    this.#enc = null;
    return this.#log.commit();
  }

  #abort() {
    if (this.#log !== null) {
      this.#log.rollback();
      this.#enc = null;
    }
  }

  // The whole state as a snapshot: client records (last offsets), the dead letters (a push and
  // a dead record each, oldest first), then every queued item, clients in creation order.
  // What is taken now is a frozen view (arrays of references: items, retry states and dead
  // letters are never changed in place); the returned function encodes it a slice at a time,
  // `budget` records per call, and says when it is done.
  #snapshotWriter() {
    const lastOffsets = [];
    for (const c of this.#clients.values()) lastOffsets.push(c.id, c.lastOffset);
    const dead = this.#dead.slice(this.#deadHead);
    const lists = [];
    for (const c of this.#active) {
      const live = [];
      const items = c.items;
      for (let i = c.head; i < items.length; i++) if (items[i].st !== REMOVED) live.push(items[i]);
      lists.push(c.id, live);
    }
    let stage = 0;
    let i = 0;
    let j = 0;
    return (enc, budget) => {
      let n = 0;
      if (stage === 0) {
        enc.marker(T_SNAPSHOT_BEGIN);
        for (let k = 0; k < lastOffsets.length; k += 2) enc.client(lastOffsets[k], lastOffsets[k + 1]);
        n += lastOffsets.length / 2;
        stage = 1;
      }
      for (; stage === 1 && i < dead.length && n < budget; i++, n += 2) {
        const d = dead[i];
        enc.push(d.clientId, d.offset, d.pushedAt, d.retryAt, d.attempts, d.prevDelay, d.event, d.key, d.payload);
        enc.dead(d.clientId, d.offset, d.deadAt, d.reason);
      }
      if (stage === 1 && i === dead.length) {
        stage = 2;
        i = 0;
      }
      for (; stage === 2 && i < lists.length && n < budget;) {
        const id = lists[i];
        const live = lists[i + 1];
        for (; j < live.length && n < budget; j++, n++) {
          const it = live[j];
          const r = it.retry;
          if (r === null) enc.push(id, it.offset, it.pushedAt, it.pushedAt, 0, 0, it.event, it.key, it.payload);
          else enc.push(id, it.offset, it.pushedAt, r.retryAt, r.attempts, r.prevDelay, it.event, it.key, it.payload);
        }
        if (j === live.length) {
          i += 2;
          j = 0;
        }
      }
      if (stage === 2 && i === lists.length) {
        enc.marker(T_SNAPSHOT_END);
        stage = 3;
      }
      return stage === 3;
    };
  }

  // Applies one replayed record: the state changes only, no policies, no counters, no log.
  // The queued item a replayed record names, with its client; null when the record does not
  // match the state (docs/offline-queue.md: such a record changes nothing).
  #queued(rec) {
    const c = this.#clients.get(rec.client);
    const it = c === undefined || c.count === 0 ? null : this.#find(c, rec.offset);
    return it === null ? null : { c, it };
  }

  #replay(rec) {
    switch (rec.type) {
      case T_PUSH: {
        const c = this.#clients.get(rec.client) || this.#newClient(rec.client);
        // prevDelay means nothing before the first failure
        const plain = rec.attempts === 0 && rec.retryAt === rec.pushedAt;
        const retry = plain ? null : new Retry(rec.attempts, rec.retryAt, rec.prevDelay);
        // event names repeat: one string each (a live queue shares the caller's strings too)
        let event = this.#eventNames.get(rec.event);
        if (event === undefined) {
          event = rec.event;
          if (this.#eventNames.size < 4096) this.#eventNames.set(event, event);
        }
        const it = new Item(rec.offset, event, rec.payload, rec.key, rec.pushedAt, rec.bytes, retry);
        const items = c.items;
        const appends = c.count === 0 || items[items.length - 1].offset < rec.offset;
        const old = appends ? null : this.#find(c, rec.offset);
        if (old !== null) {
          // a push of an offset already queued replaces it
          this.#unlink(c, old);
          this.#tidy(c);
        }
        this.#link(c, it);
        this.#tidy(c);
        break;
      }
      case T_ACK: {
        const c = this.#clients.get(rec.client);
        if (c === undefined || c.count === 0) break;
        const items = c.items;
        for (let i = c.head; i < items.length && items[i].offset <= rec.offset; i++) {
          if (items[i].st !== REMOVED) this.#unlink(c, items[i]);
        }
        this.#tidy(c);
        break;
      }
      case T_NACK: {
        const found = this.#queued(rec);
        if (found === null) break;
        const { c, it } = found;
        this.#setRetry(it, rec.attempts, rec.retryAt, rec.prevDelay);
        break;
      }
      case T_REMOVE: {
        const found = this.#queued(rec);
        if (found === null) break;
        const { c, it } = found;
        this.#unlink(c, it);
        this.#tidy(c);
        break;
      }
      case T_DEAD: {
        const found = this.#queued(rec);
        if (found === null) break;
        const { c, it } = found;
        this.#unlink(c, it);
        this.#tidy(c);
        this.#addDead(new DeadLetter(c.id, it, attemptsOf(it), rec.reason, rec.deadAt, it.retry === null ? 0 : it.retry.prevDelay));
        break;
      }
      case T_CLIENT: {
        const c = this.#clients.get(rec.client) || this.#newClient(rec.client);
        if (rec.offset > c.lastOffset) c.lastOffset = rec.offset;
        break;
      }
      case T_DEAD_CLEAR:
        this.#clearDead();
        break;
      default:
        // snapshot-begin, snapshot-end: the replay starts from the snapshot's segment
        break;
    }
  }
}

module.exports = { OfflineQueue };
