'use strict';

// The public FanoutHub (docs/fanout.md) over either engine: argument checks and defaults, the
// packet's eventJson and args text, the clock, the autoFlush timer that emits `deliver`, and
// durable recovery on top of the public OfflineQueue of the same implementation ("Durable
// recovery: storage" in docs/fanout.md). Routing state lives in the engine.

const { EventEmitter } = require('events');
const { isUtf8 } = require('buffer');
const { RealtimeCoreError, invalidArgument, outOfRange } = require('../common/errors');
const { utf8Length } = require('../common/json-text');
const { isPlainObject, checkOptions, integerOption, stringArg, clockOption } = require('./options');
const { createOfflineQueueClass } = require('./offline_queue');

const HUB_OPTIONS = [
  'namespace', 'throttleMs', 'batch', 'maxBacklog', 'maxPayloadBytes', 'maxConnections', 'maxRooms',
  'maxSessions', 'recovery', 'offsetPrefix', 'startSeq', 'clock', 'autoFlush', 'durable',
];
const MESSAGE_FIELDS = ['rooms', 'except', 'event', 'payload', 'args', 'key', 'volatile', 'batch', 'ackId', 'recoverable'];
const SESSION_FIELDS = ['id', 'sid', 'rooms', 'data'];
const INT32 = 2 ** 31 - 1;
const UINT32 = 2 ** 32 - 1;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const EMPTY = Object.freeze([]);
const OFFSET_PREFIX = /^[0-9A-Za-z_.:~-]{0,64}$/;

// ---- argument helpers

function roomArg(value, name) {
  // the common case, a short well-formed name, without the general string checks
  if (typeof value === 'string' && value.length > 0 && value.length <= 85 && value.isWellFormed()) return value;
  return stringArg(value, name, { maxBytes: 256 });
}

function roomList(value, name) {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidArgument(`${name} must be an array of room names`);
  const out = new Array(value.length);
  for (let i = 0; i < value.length; i++) out[i] = roomArg(value[i], `${name}[${i}]`);
  return out;
}

function handleArg(value) {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidArgument('handle must be an integer');
  if (value < 0 || value > UINT32) throw outOfRange('handle must be between 0 and 2^32-1');
  return value;
}

function boolArg(value, name) {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgument(`${name} must be a boolean`);
  return value;
}

function tooLarge(what, max) {
  return new RealtimeCoreError('ERR_RT_TOO_LARGE', `${what} is larger than maxPayloadBytes (${max})`);
}

// `extra`: bytes the engine's args text adds around it (the "[" "]" around a payload)
function textSize(text, max, what, extra = 0) {
  if (!text.isWellFormed()) throw invalidArgument(`${what} must be well-formed Unicode`);
  if (text.length * 3 + extra > max && utf8Length(text) + extra > max) throw tooLarge(what, max);
}

function bytesOk(bytes, max, what, extra = 0) {
  if (!isUtf8(bytes)) throw invalidArgument(`${what} must be UTF-8`);
  if (bytes.length + extra > max) throw tooLarge(what, max);
}

function stringify(value, what) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw invalidArgument(`${what} cannot be represented as JSON: ${err.message}`);
  }
  if (text === undefined) throw invalidArgument(`${what} cannot be represented as JSON (${typeof value})`);
  return text;
}

// payload / args -> the args text (string or UTF-8 bytes) of the engine; that text (a payload
// with its "[" "]") is what must fit in maxPayloadBytes
function argsOf(message, max) {
  const { payload, args } = message;
  if (payload !== undefined) {
    if (args !== undefined) throw invalidArgument('a message has either payload or args, not both');
    if (typeof payload === 'string') {
      textSize(payload, max, 'payload', 2);
      return `[${payload}]`;
    }
    if (payload instanceof Uint8Array) {
      bytesOk(payload, max, 'payload', 2);
      const out = new Uint8Array(payload.length + 2);
      out[0] = 0x5b;
      out.set(payload, 1);
      out[payload.length + 1] = 0x5d;
      return out;
    }
    const text = stringify(payload, 'payload');
    if (text.length * 3 + 2 > max && utf8Length(text) + 2 > max) throw tooLarge('payload', max);
    return `[${text}]`;
  }
  if (args === undefined) throw invalidArgument('a message needs payload or args');
  if (typeof args === 'string') {
    if (args.length < 2 || args.charCodeAt(0) !== 0x5b || args.charCodeAt(args.length - 1) !== 0x5d) {
      throw invalidArgument('args text must start with "[" and end with "]"');
    }
    textSize(args, max, 'args');
    return args;
  }
  if (args instanceof Uint8Array) {
    if (args.length < 2 || args[0] !== 0x5b || args[args.length - 1] !== 0x5d) {
      throw invalidArgument('args text must start with "[" and end with "]"');
    }
    bytesOk(args, max, 'args');
    return args;
  }
  if (!Array.isArray(args)) throw invalidArgument('args must be an array, or the JSON text of an array');
  const text = stringify(args, 'args');
  if (text.length * 3 > max && utf8Length(text) > max) throw tooLarge('args', max);
  return text;
}

// ---- options

function parseRecovery(value) {
  if (value === undefined || value === false || value === null) return null;
  const o = value === true ? {} : checkOptions(value, ['windowMs', 'maxPackets', 'maxBytes'], 'recovery');
  return {
    windowMs: integerOption(o.windowMs, 'recovery.windowMs', { min: 1, max: INT32, fallback: 120000 }),
    maxPackets: integerOption(o.maxPackets, 'recovery.maxPackets', { min: 1, max: 1e7, fallback: 100000 }),
    maxBytes: integerOption(o.maxBytes, 'recovery.maxBytes', { min: 1, max: MAX_SEQ, fallback: 64 * 1024 * 1024 }),
  };
}

function randomPrefix() {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return `${Array.from(bytes, (b) => (b % 36).toString(36)).join('')}-`;
}

function parseOptions(options) {
  const o = checkOptions(options, HUB_OPTIONS, 'FanoutHub');
  let namespace = '/';
  if (o.namespace !== undefined) {
    namespace = stringArg(o.namespace, 'namespace', { maxBytes: 256 });
    if (namespace[0] !== '/' || namespace.includes(',')) throw invalidArgument('namespace must start with "/" and contain no ","');
  }
  const b = checkOptions(o.batch, ['maxItems', 'maxDelayMs'], 'batch');
  const recovery = parseRecovery(o.recovery);
  let offsetPrefix;
  if (o.offsetPrefix !== undefined) {
    if (typeof o.offsetPrefix !== 'string' || !OFFSET_PREFIX.test(o.offsetPrefix)) {
      throw invalidArgument('offsetPrefix must be at most 64 characters among 0-9 A-Z a-z _ . : ~ -');
    }
    offsetPrefix = o.offsetPrefix;
  }
  if (o.autoFlush !== undefined && typeof o.autoFlush !== 'boolean') throw invalidArgument('autoFlush must be a boolean');
  const settings = {
    nspPrefix: namespace === '/' ? '' : `${namespace},`,
    throttleMs: integerOption(o.throttleMs, 'throttleMs', { min: 0, max: INT32, fallback: 1000 }),
    batchMaxItems: integerOption(b.maxItems, 'batch.maxItems', { min: 1, max: 1e6, fallback: 50 }),
    batchMaxDelayMs: integerOption(b.maxDelayMs, 'batch.maxDelayMs', { min: 0, max: INT32, fallback: 200 }),
    maxBacklog: integerOption(o.maxBacklog, 'maxBacklog', { min: 1, max: INT32, fallback: 1000 }),
    maxPayloadBytes: integerOption(o.maxPayloadBytes, 'maxPayloadBytes', { min: 1, max: INT32, fallback: 1 << 20 }),
    maxConnections: integerOption(o.maxConnections, 'maxConnections', { min: 1, max: UINT32, fallback: 1e6 }),
    maxRooms: integerOption(o.maxRooms, 'maxRooms', { min: 1, max: UINT32, fallback: INT32 }),
    maxSessions: integerOption(o.maxSessions, 'maxSessions', { min: 1, max: 1e6, fallback: 100000 }),
    recovery,
    offsetPrefix,
    startSeq: integerOption(o.startSeq, 'startSeq', { min: 0, max: MAX_SEQ, fallback: 0 }),
  };
  let durable = null;
  if (o.durable !== undefined) {
    const d = checkOptions(o.durable, ['path', 'fsync', 'fsyncIntervalMs', 'segmentBytes'], 'durable');
    if (recovery === null) throw invalidArgument('durable needs recovery');
    if (typeof d.path !== 'string' || d.path.length === 0) throw invalidArgument('durable.path must be a non-empty string');
    durable = { ...d };
  }
  return { settings, namespace, durable, clock: clockOption(o.clock), autoFlush: o.autoFlush !== false };
}

// ---- durable storage (docs/fanout.md, "Durable recovery: storage")

const META = 'm';
const RECORDS = 'r';
const SESSIONS = 's';
const TRIM_EVERY = 256;

function encodeRecord(r) {
  return `${r.seq} ${r.at} ${JSON.stringify([r.rooms, r.except])}\n${r.packet}`;
}

function decodeRecord(text) {
  const nl = text.indexOf('\n');
  const head = text.slice(0, nl);
  const a = head.indexOf(' ');
  const b = head.indexOf(' ', a + 1);
  const [rooms, except] = JSON.parse(head.slice(b + 1));
  return { seq: Number(head.slice(0, a)), at: Number(head.slice(a + 1, b)), rooms, except, packet: text.slice(nl + 1) };
}

function createFanoutHubClass(engine, OfflineQueue = createOfflineQueueClass(engine)) {
  class FanoutHub extends EventEmitter {
    #hub;
    #clock;
    #now = 0;
    #settings;
    #maxPayload;
    #recovery;
    #autoFlush;
    #timer = null;
    #timerAt = 0;
    #closed = false;
    #closing = null;
    #eventCache = null;
    #eventJsonCache = '""';
    // durable mode
    #queue = null;
    #persistedSeq = 0;
    #recs = []; // [seq, queue offset] of the stored records, in seq order, from #recsHead
    #recsHead = 0;
    #sinceTrim = 0;
    #sessions = null; // id -> { savedAt, offset | null } in save order (mirror of the engine's)
    #live = null; // id -> queue offset of a tracked (connected) session, in tracking order
    #floor = 0; // seqs up to this one were used before the log was reopened and are not stored

    constructor(options) {
      super();
      const { settings, namespace, durable, clock, autoFlush } = parseOptions(options);
      this.#clock = clock;
      this.#autoFlush = autoFlush;
      this.#recovery = settings.recovery;
      this.#maxPayload = settings.maxPayloadBytes;
      this.#time();
      const restored = durable === null ? null : this.#openLog(durable, settings);
      if (settings.offsetPrefix === undefined) settings.offsetPrefix = randomPrefix();
      this.#settings = settings;
      try {
        this.#hub = new engine.Fanout(settings);
        if (restored !== null) this.#importLog(restored);
      } catch (err) {
        if (this.#queue !== null) this.#queue.close();
        throw err;
      }
      this.options = Object.freeze({
        namespace,
        throttleMs: settings.throttleMs,
        batch: Object.freeze({ maxItems: settings.batchMaxItems, maxDelayMs: settings.batchMaxDelayMs }),
        maxBacklog: settings.maxBacklog,
        maxPayloadBytes: settings.maxPayloadBytes,
        maxConnections: settings.maxConnections,
        maxRooms: settings.maxRooms,
        maxSessions: settings.maxSessions,
        recovery: settings.recovery && Object.freeze({ ...settings.recovery }),
        offsetPrefix: settings.offsetPrefix,
        startSeq: settings.startSeq,
        autoFlush,
        durable: durable && Object.freeze({ ...durable }),
      });
    }

    // ---- connections and rooms

    connect() {
      this.#open();
      return this.#hub.connect();
    }

    /** The rooms the connection was in (join order), or null for an unknown handle. */
    disconnect(handle) {
      this.#open();
      return this.#hub.disconnect(handleArg(handle));
    }

    /** Joins one room or several; returns how many were newly joined. */
    join(handle, rooms) {
      this.#open();
      const h = handleArg(handle);
      if (rooms === undefined) throw invalidArgument('join needs a room name or an array of room names');
      const list = typeof rooms === 'string' ? [roomArg(rooms, 'room')] : roomList(rooms, 'rooms');
      return this.#hub.join(h, list);
    }

    leave(handle, room) {
      this.#open();
      const h = handleArg(handle);
      return this.#hub.leave(h, roomArg(room, 'room'));
    }

    rooms(handle) {
      this.#open();
      return this.#hub.rooms(handleArg(handle));
    }

    members(room) {
      this.#open();
      return this.#hub.members(roomArg(room, 'room'));
    }

    roomSize(room) {
      this.#open();
      return this.#hub.roomSize(roomArg(room, 'room'));
    }

    roomNames() {
      this.#open();
      return this.#hub.roomNames();
    }

    connections() {
      this.#open();
      return this.#hub.connections();
    }

    get connectionCount() {
      this.#open();
      return this.#hub.stats().connections;
    }

    get roomCount() {
      this.#open();
      return this.#hub.stats().rooms;
    }

    /** The target set of `{ rooms, except }`; nothing is delivered. */
    targets(selector) {
      this.#open();
      const o = checkOptions(selector, ['rooms', 'except'], 'targets');
      return this.#hub.targets(roomList(o.rooms, 'rooms'), roomList(o.except, 'except'));
    }

    backlog(handle) {
      this.#open();
      return this.#hub.backlog(handleArg(handle));
    }

    /** The transports of these handles drained: their backlogs go back to 0. */
    drained(handles) {
      this.#open();
      let list;
      if (handles instanceof Uint32Array) list = handles;
      else if (typeof handles === 'number') list = Uint32Array.of(handleArg(handles));
      else if (Array.isArray(handles)) {
        list = new Uint32Array(handles.length);
        for (let i = 0; i < handles.length; i++) list[i] = handleArg(handles[i]);
      } else throw invalidArgument('handles must be an array of handles or a Uint32Array');
      this.#hub.drained(list);
    }

    // ---- publishing

    publish(message) {
      this.#open();
      const m = this.#message(message);
      const r = this.#hub.publish(m, this.#time());
      this.#afterDeliver();
      if (r.status === 'pending' || r.status === 'coalesced' || r.status === 'batched') this.#arm();
      return r;
    }

    /** Delivers what is due now (`{ all: true }`: everything pending, e.g. on shutdown). */
    flush(options) {
      this.#open();
      const o = checkOptions(options, ['all'], 'flush');
      const r = this.#hub.flush(this.#time(), boolArg(o.all, 'all'));
      this.#afterDeliver();
      this.#arm();
      return r;
    }

    nextDue() {
      this.#open();
      return this.#hub.nextDue();
    }

    /** Resolves once everything logged so far is on disk (durable mode; at once otherwise). */
    sync() {
      this.#open();
      return this.#queue === null ? Promise.resolve() : this.#queue.flush();
    }

    // ---- recovery

    saveSession(session) {
      this.#open();
      this.#needRecovery('saveSession');
      const { id, sid, rooms, data } = this.#sessionArg(session);
      const now = this.#time();
      this.#hub.saveSession(id, sid, rooms, data, now);
      if (this.#queue !== null) this.#storeSession(id, sid, rooms, data, now);
    }

    /**
     * Durable mode: stores the session of a connected socket as "live" (replacing the id's
     * stored item), without giving it to the engine, so that it survives a crash.
     */
    trackSession(session) {
      this.#open();
      if (this.#queue === null) throw invalidArgument('trackSession needs the durable option');
      const { id, sid, rooms, data } = this.#sessionArg(session);
      const now = this.#time();
      const { offset } = this.#queue.push(SESSIONS, {
        event: 's',
        key: id,
        payload: JSON.stringify([id, sid, rooms, data, now, 'live']),
      });
      // The queue's coalescing removed the id's previous item (a saved or a live one). A saved
      // session the engine still holds stays in the mirror (same count and order as the engine's)
      // without a log item.
      const saved = this.#sessions.get(id);
      if (saved !== undefined) saved.offset = null;
      const live = this.#live;
      live.delete(id);
      live.set(id, offset);
      while (live.size > this.#settings.maxSessions) this.#untrack(live.keys().next().value);
    }

    /** Durable mode: removes the live session `id` from the log; true if it was there. */
    untrackSession(id) {
      this.#open();
      if (this.#queue === null) throw invalidArgument('untrackSession needs the durable option');
      return this.#untrack(stringArg(id, 'id', { maxBytes: 256 }));
    }

    restore(id, offset) {
      this.#open();
      this.#needRecovery('restore');
      const sid = stringArg(id, 'id', { maxBytes: 256 });
      const at = stringArg(offset, 'offset', { maxBytes: 1024, allowEmpty: true });
      const now = this.#time();
      let r;
      if (this.#floor > 0 && this.#seqOf(at) >= 0 && this.#seqOf(at) < this.#floor) {
        // Records before the stored ones were evicted before the restart and the engine does not
        // know them: such an offset is too old. The engine still answers unknown-session and
        // expired first; an offset it can never accept asks it without touching the session.
        r = this.#hub.restore(sid, '"', now);
        if (r.status === 'invalid-offset') r = { status: 'too-old' };
      } else r = this.#hub.restore(sid, at, now);
      if (this.#queue !== null && (r.status === 'recovered' || r.status === 'expired')) this.#dropSession(sid);
      return r;
    }

    /** Evicts records and expires sessions now; `{ evicted, expired }`. */
    sweep() {
      this.#open();
      const now = this.#time();
      const r = this.#hub.sweep(now);
      if (this.#queue !== null) {
        this.#expireSessions(now);
        this.#trim();
      }
      return r;
    }

    stats() {
      this.#open();
      return this.#hub.stats();
    }

    /** Stops the timer; in durable mode flushes and closes the log. */
    close() {
      if (this.#closing !== null) return this.#closing;
      this.#closed = true;
      this.#clearTimer();
      if (this.#queue === null) {
        this.#closing = Promise.resolve();
      } else {
        const q = this.#queue;
        try {
          this.#trim();
          q.push(META, { event: 'last', key: 'last', payload: String(this.#hub.lastSeq()) });
        } finally {
          this.#closing = q.close();
        }
      }
      return this.#closing;
    }

    // ---- internals

    #open() {
      if (this.#closed) throw new RealtimeCoreError('ERR_RT_CLOSED', 'the hub is closed');
    }

    #sessionArg(session) {
      if (!isPlainObject(session)) throw invalidArgument('session must be a plain object');
      for (const k of Object.keys(session)) {
        if (!SESSION_FIELDS.includes(k)) throw invalidArgument(`session: unknown field "${k}"`);
      }
      const id = stringArg(session.id, 'session.id', { maxBytes: 256 });
      const sid = stringArg(session.sid, 'session.sid', { maxBytes: 256 });
      const rooms = roomList(session.rooms, 'session.rooms');
      let data = 'null';
      if (session.data !== undefined) {
        if (typeof session.data !== 'string') throw invalidArgument('session.data must be a string (JSON text)');
        textSize(session.data, this.#maxPayload, 'session.data');
        data = session.data;
      }
      return { id, sid, rooms, data };
    }

    #needRecovery(what) {
      if (this.#recovery === null) throw invalidArgument(`${what} needs the recovery option`);
    }

    // The clock, never going backwards: both engines see the same non-decreasing times.
    #time() {
      const t = this.#clock();
      if (t > this.#now) this.#now = t;
      return this.#now;
    }

    // The seq of an offset of this hub (prefix + base-36 digits), or -1.
    #seqOf(offset) {
      const prefix = this.#settings.offsetPrefix;
      if (offset.length <= prefix.length || !offset.startsWith(prefix)) return -1;
      const digits = offset.slice(prefix.length);
      if (!/^[0-9a-z]+$/.test(digits) || digits.length > 11) return -1;
      return parseInt(digits, 36);
    }

    #message(message) {
      if (!isPlainObject(message)) throw invalidArgument('message must be a plain object');
      for (const k in message) {
        if (!MESSAGE_FIELDS.includes(k)) throw invalidArgument(`message: unknown field "${k}"`);
      }
      const rooms = message.rooms === undefined ? EMPTY : roomList(message.rooms, 'rooms');
      const except = message.except === undefined ? EMPTY : roomList(message.except, 'except');
      const event = message.event;
      let eventJson;
      if (event === this.#eventCache) eventJson = this.#eventJsonCache;
      else {
        if (typeof event !== 'string' || event.length === 0) throw invalidArgument('event must be a non-empty string');
        if (!event.isWellFormed()) throw invalidArgument('event must be well-formed Unicode');
        if (event.length * 3 > 256 && utf8Length(event) > 256) {
          throw new RealtimeCoreError('ERR_RT_TOO_LARGE', 'event must be at most 256 bytes');
        }
        eventJson = JSON.stringify(event);
      }
      const args = argsOf(message, this.#maxPayload);
      let key = null;
      if (message.key !== undefined) key = stringArg(message.key, 'key', { maxBytes: 256 });
      const volatile = boolArg(message.volatile, 'volatile');
      const batch = boolArg(message.batch, 'batch');
      const ackId = integerOption(message.ackId, 'ackId', { min: 0, max: INT32, fallback: null });
      let recoverable = this.#recovery !== null;
      if (message.recoverable !== undefined) {
        if (typeof message.recoverable !== 'boolean') throw invalidArgument('recoverable must be a boolean');
        recoverable = recoverable && message.recoverable;
      }
      if (ackId !== null && key !== null) throw invalidArgument('a message with an ackId cannot have a key');
      if (batch) {
        if (rooms.length !== 1) throw invalidArgument('a batched message needs exactly one room');
        if (except.length !== 0) throw invalidArgument('a batched message cannot have except');
        if (key !== null) throw invalidArgument('a batched message cannot have a key');
        if (ackId !== null) throw invalidArgument('a batched message cannot have an ackId');
      }
      this.#eventCache = event;
      this.#eventJsonCache = eventJson;
      return {
        rooms,
        except,
        eventJson,
        args,
        key,
        volatile,
        batch,
        ackId,
        recoverable: recoverable && !volatile && ackId === null,
      };
    }

    // ---- the autoFlush timer: one unref'd timeout, armed for the earliest due time (a later
    // one is left as it is: firing early costs one empty flush)

    #arm() {
      if (!this.#autoFlush || this.#closed) return;
      const due = this.#hub.nextDue();
      if (due === null) return;
      if (this.#timer !== null && this.#timerAt <= due) return;
      this.#clearTimer();
      const wait = Math.min(Math.max(due - this.#time(), 0), INT32);
      this.#timerAt = due;
      this.#timer = setTimeout(() => this.#fire(), wait);
      if (typeof this.#timer.unref === 'function') this.#timer.unref();
    }

    #clearTimer() {
      if (this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
      }
    }

    #fire() {
      this.#timer = null;
      if (this.#closed) return;
      const r = this.#hub.flush(this.#time(), false);
      this.#afterDeliver();
      this.#arm();
      if (r.deliveries.length > 0 || r.slow.length > 0) this.emit('deliver', r);
    }

    #afterDeliver() {
      if (this.#queue !== null) this.#persist();
    }

    // ---- durable storage

    #openLog(durable, settings) {
      const q = new OfflineQueue({
        path: durable.path,
        fsync: durable.fsync,
        fsyncIntervalMs: durable.fsyncIntervalMs,
        segmentBytes: durable.segmentBytes,
        capacity: 1e6,
        overflow: 'drop-oldest',
        ttlMs: 0,
        maxItemBytes: INT32,
        breaker: false,
        jitter: 'none',
        seed: 1,
        maxDeadLetters: 0,
        clock: () => this.#now,
      });
      try {
        let prefix = null;
        let last = 0;
        for (const it of q.peek(META, { limit: 1e6 })) {
          if (it.key === 'prefix') prefix = String(it.payload);
          else if (it.key === 'last') last = Math.max(last, Number(it.payload));
        }
        const records = [];
        for (const it of q.peek(RECORDS, { limit: 1e6 })) {
          const r = decodeRecord(String(it.payload));
          r.offset = it.offset;
          records.push(r);
        }
        const sessions = q.peek(SESSIONS, { limit: 1e6 }).map((it) => {
          const [id, sid, rooms, data, savedAt, state] = JSON.parse(String(it.payload));
          return { id, sid, rooms, data, savedAt, offset: it.offset, live: state === 'live' };
        });
        if (prefix === null) {
          // a new log: this hub's prefix and start are the options'
          if (settings.offsetPrefix === undefined) settings.offsetPrefix = randomPrefix();
          q.push(META, { event: 'prefix', key: 'prefix', payload: settings.offsetPrefix });
          q.push(META, { event: 'last', key: 'last', payload: String(settings.startSeq) });
        } else {
          settings.offsetPrefix = prefix;
          let seq = last;
          for (const r of records) if (r.seq > seq) seq = r.seq;
          settings.startSeq = seq;
        }
        this.#queue = q;
        q.on('durability', (e) => this.emit('durability', e));
        return { records, sessions };
      } catch (err) {
        q.close();
        throw err;
      }
    }

    #importLog({ records, sessions }) {
      const hub = this.#hub;
      const last = this.#settings.startSeq;
      // Records before the first stored one were evicted before the restart (restore answers
      // too-old for an offset before it).
      this.#floor = (records.length > 0 ? records[0].seq : last + 1) - 1;
      for (const r of records) {
        hub.importRecord(r.seq, r.rooms, r.except, r.packet, r.at);
        this.#recs.push([r.seq, r.offset]);
      }
      this.#sessions = new Map();
      this.#live = new Map();
      const live = [];
      for (const s of sessions) {
        if (s.live) {
          live.push(s);
          continue;
        }
        hub.importSession(s.id, s.sid, s.rooms, s.data, s.savedAt);
        this.#sessions.delete(s.id);
        this.#sessions.set(s.id, { savedAt: s.savedAt, offset: s.offset });
      }
      // Sessions still live when the log was left (a crash): their sockets disconnected at an
      // unknown time, so they are saved now (the reopen time), after the others, and stored again
      // as saved sessions (so that another restart does not move their time again).
      const now = this.#now;
      for (const s of live) {
        hub.importSession(s.id, s.sid, s.rooms, s.data, now);
        this.#storeSession(s.id, s.sid, s.rooms, s.data, now);
      }
      // the engine kept only the newest maxSessions of them (reopened with a smaller limit)
      while (this.#sessions.size > this.#settings.maxSessions) this.#dropSession(this.#sessions.keys().next().value);
      this.#persistedSeq = last;
    }

    // New records go to the log after every call that delivers.
    #persist() {
      const hub = this.#hub;
      const last = hub.lastSeq();
      if (last === this.#persistedSeq) return;
      const recs = hub.recordsSince(this.#persistedSeq);
      const q = this.#queue;
      if (recs.length === 0 || recs[0].seq !== this.#persistedSeq + 1) {
        // records were evicted before they were stored; eviction is oldest first, so every
        // stored one is gone too
        q.push(META, { event: 'last', key: 'last', payload: String(last) });
        this.#ackRecords(Infinity);
      }
      if (recs.length > 0) {
        const items = recs.map((r) => ({ event: 'r', payload: encodeRecord(r) }));
        const { offsets } = q.pushMany(RECORDS, items);
        for (let i = 0; i < recs.length; i++) this.#recs.push([recs[i].seq, offsets[i]]);
        this.#sinceTrim += recs.length;
      }
      this.#persistedSeq = last;
      if (this.#sinceTrim >= TRIM_EVERY) this.#trim();
    }

    // Stored records the engine has evicted leave the log (checked every TRIM_EVERY records, on
    // sweep and on close; until then the log holds a few more than the engine).
    #trim() {
      this.#sinceTrim = 0;
      if (this.#recs.length === this.#recsHead) return;
      const live = this.#hub.stats().recoveryPackets;
      const oldest = this.#hub.lastSeq() - live + 1;
      if (live === 0) this.#queue.push(META, { event: 'last', key: 'last', payload: String(this.#hub.lastSeq()) });
      this.#ackRecords(oldest);
    }

    #ackRecords(belowSeq) {
      const recs = this.#recs;
      let i = this.#recsHead;
      let upTo = -1;
      while (i < recs.length && recs[i][0] < belowSeq) upTo = recs[i++][1];
      if (upTo < 0) return;
      this.#queue.ack(RECORDS, upTo);
      if (i === recs.length) {
        this.#recs = [];
        this.#recsHead = 0;
      } else if (i > 1024 && i * 2 > recs.length) {
        this.#recs = recs.slice(i);
        this.#recsHead = 0;
      } else this.#recsHead = i;
    }

    #storeSession(id, sid, rooms, data, now) {
      const { offset } = this.#queue.push(SESSIONS, {
        event: 's',
        key: id,
        payload: JSON.stringify([id, sid, rooms, data, now]),
      });
      const m = this.#sessions;
      this.#live.delete(id); // its live item was coalesced away
      m.delete(id);
      m.set(id, { savedAt: now, offset });
      while (m.size > this.#settings.maxSessions) this.#dropSession(m.keys().next().value);
    }

    #untrack(id) {
      const offset = this.#live.get(id);
      if (offset === undefined) return false;
      this.#live.delete(id);
      this.#queue.ackOne(SESSIONS, offset);
      return true;
    }

    #dropSession(id) {
      const s = this.#sessions.get(id);
      if (s === undefined) return;
      this.#sessions.delete(id);
      if (s.offset !== null) this.#queue.ackOne(SESSIONS, s.offset);
    }

    #expireSessions(now) {
      const windowMs = this.#recovery.windowMs;
      for (const [id, s] of this.#sessions) {
        if (now - s.savedAt <= windowMs) break;
        this.#dropSession(id);
      }
    }
  }
  return FanoutHub;
}

module.exports = { createFanoutHubClass };
