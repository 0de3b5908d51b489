'use strict';

// The Socket.io adapter class (socket.io-adapter 2.5's Adapter API) over a FanoutHub: one hub per
// namespace, socket ids mapped to hub handles, sockets kept by handle in an array. The hub owns
// membership, target sets, encoding, throttling, batching, backlogs and the recovery log; this
// class turns Socket.io's calls into hub calls and writes the hub's deliveries to sockets.
// See docs/socket-io-adapter.md.

const { EventEmitter } = require('events');
const crypto = require('crypto');
const { RealtimeCoreError, invalidArgument } = require('../common/errors');
const { EVENT, nspPrefix, isDefaultJsonEncoder } = require('./encoding');
const { RoomsView, SidsView } = require('./views');
const { authorizeRooms, InboundGuard } = require('./security');
const { newCounters } = require('./metrics');
const { DeliveryMethods, EMPTY } = require('./delivery');
const { RecoveryMethods } = require('./recovery');
const { namespaceHubOptions } = require('./hub-options');

const MAX_ROOM_BYTES = 256;
const ALIAS = /^\u0000[A-Za-z0-9_-]{43}$/;

function loadApi(implementation) {
  if (typeof implementation === 'object') return implementation;
  // eslint-disable-next-line global-require
  return implementation === 'js' ? require('../js') : require('..');
}

function closedError() {
  return new RealtimeCoreError('ERR_RT_CLOSED', 'the adapter is closed');
}

// Hubs given with options.hub that a live adapter is using: a hub's handles and log belong to one
// adapter at a time.
const claimedHubs = new WeakSet();

// Checks that the caller's hub fits this server, then marks it in use.
function claimHub(hub, api, recoveryOn, durable) {
  if (!(hub instanceof api.FanoutHub)) {
    throw invalidArgument(`hub must be a FanoutHub of the ${api.implementation || 'given'} implementation`);
  }
  const o = hub.options || {};
  if (o.namespace !== '/') throw invalidArgument("hub must be created with namespace '/'");
  if (!!o.recovery !== recoveryOn) {
    throw invalidArgument(recoveryOn
      ? 'hub must be created with recovery: the server has connectionStateRecovery on'
      : 'hub must be created without recovery: the server has connectionStateRecovery off (or recovery: false)');
  }
  if (recoveryOn && !!o.durable !== durable) throw invalidArgument(`hub must be created ${durable ? 'with' : 'without'} durable, as the adapter's durable option`);
  if (claimedHubs.has(hub)) throw invalidArgument('hub is already used by another live adapter');
  claimedHubs.add(hub);
  return hub;
}

function safeJson(value) {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  } catch {
    return 'null';
  }
}

function createAdapterClass(settings, liveAdapters) {
  const api = loadApi(settings.implementation);

  class RealtimeCoreAdapter extends EventEmitter {
    constructor(nsp) {
      super();
      if (typeof api.FanoutHub !== 'function') {
        const err = new Error(`realtime-core/socket.io: FanoutHub is not available in the ${typeof settings.implementation === 'string' ? settings.implementation : 'given'} implementation`);
        err.code = 'ERR_RT_UNAVAILABLE';
        throw err;
      }
      this.nsp = nsp;
      this.encoder = nsp.server.encoder;
      this.implementation = api.implementation || (typeof settings.implementation === 'string' ? settings.implementation : 'custom');
      this._settings = settings;
      this._clock = settings.clock;
      this._closed = false;
      this._counters = newCounters();
      this._prefixLength = 1 + nspPrefix(nsp.name).length;

      const opts = (nsp.server && (nsp.server.opts || nsp.server._opts)) || {};
      const { recoveryOn, windowMs, durable, hubOptions } = namespaceHubOptions(settings, nsp.name, opts.connectionStateRecovery);
      this._recoveryOn = recoveryOn;
      this._windowMs = windowMs;
      // JSON EVENT packets are encoded by the hub when Socket.io's encoder is the default one;
      // with another encoder the hub still routes and records them, and we encode its packets
      this._transcode = !isDefaultJsonEncoder(this.encoder, nsp.name);
      // the caller's hub (options.hub) serves '/': it was created beside the server (e.g. by
      // realtime-core/nestjs, to be injected) and is not ours to close
      this._ownsHub = !(settings.hub && nsp.name === '/');
      this._hub = this._ownsHub ? new api.FanoutHub(hubOptions) : claimHub(settings.hub, api, recoveryOn, durable);
      // durable recovery: connected sockets' sessions are tracked in the log (crash-safe)
      this._tracking = recoveryOn && durable;
      this._pidByHandle = []; // tracking: a socket's pid, null once persistSession saved it
      this._offsetPrefix = null;
      if (recoveryOn) {
        const given = this._hub.options && this._hub.options.offsetPrefix;
        this._offsetPrefix = typeof given === 'string' ? given : (hubOptions.offsetPrefix || null);
      }
      this._onDeliver = (res) => {
        if (!this._closed) this._deliverResult(res, null, null);
      };
      this._hub.on('deliver', this._onDeliver);

      // socket id <-> handle; sockets by handle
      this._handleById = new Map();
      this._idByHandle = [];
      this._socketByHandle = [];
      this._detachByHandle = [];
      this._generation = [];
      // handles the transports reported drained since the last hub.drained call (see
      // _markDrained): the first _drainCount of _drainList, marked in _drainMark
      this._drainList = new Uint32Array(1024);
      this._drainCount = 0;
      this._drainMark = new Uint8Array(1024);
      this._drainScheduled = false;
      this._drainTick = () => {
        this._drainScheduled = false;
        this._syncDrained();
      };
      // the callback of each socket's direct writes (made on its first one), by handle
      this._writeCbByHandle = [];
      // direct writes not yet handed to the kernel, by handle
      this._inFlight = new Uint32Array(1024);
      // engine.io 'drain' (a conn's write buffer handed to its transport): one listener for every
      // conn; the conn keeps its handle(s) in this adapter under a key of this adapter's own
      // (a number, or an array when one conn has several sockets in this namespace)
      const connKey = Symbol('realtime-core handle');
      this._connKey = connKey;
      const self = this;
      this._onConnDrain = function onConnDrain() {
        const v = this[connKey];
        if (typeof v === 'number') self._markDrained(v);
        else if (v) for (let i = 0; i < v.length; i++) self._markDrained(v[i]);
      };
      // recovery: sessions' JS-side extras, sockets being restored, writes held for them
      this._sessions = new Map(); // pid -> { data, handshake, epochs, savedAt }
      this._restoring = new Map(); // sid -> { handle, timer }
      this._held = new Map(); // handle -> [{ packets, opts, offset, stray }]
      this._lastOffset = null; // the newest recorded offset this adapter has seen
      this._lastOffByHandle = []; // the last recorded offset written to each handle
      this._straysByHandle = []; // unrecorded packets ending in a string, per epoch (see _noteStray)
      // rooms the hub cannot take as they are (not a string, empty, over 256 bytes, or starting
      // with NUL) go through an alias
      this._aliasOf = new Map();
      this._roomOfAlias = new Map();

      this._guard = new InboundGuard({
        rateLimit: settings.rateLimit,
        maxInboundBytes: settings.maxInboundBytes,
        nspName: nsp.name,
        clock: settings.clock,
        onReject: (socket, code, message) => this._reject(socket, code, message),
      });
      const core = this._viewCore();
      this._roomsView = new RoomsView(core);
      this._sidsView = new SidsView(core);
      liveAdapters.add(this);
    }

    // ------------------------------------------------------------------------------------------
    // the in-memory adapter's public surface

    get rooms() { return this._roomsView; }

    get sids() { return this._sidsView; }

    get hub() { return this._hub; }

    init() {}

    async close() {
      if (this._closed) return;
      try {
        this._syncDrained();
        this._deliverResult(this._hub.flush({ all: true }), null, null);
      } finally {
        this._closed = true;
        this._finalStats = this._safeStats();
        for (let h = 0; h < this._socketByHandle.length; h++) this._detach(h);
        for (const { timer } of this._restoring.values()) clearTimeout(timer);
        this._restoring.clear();
        this._held.clear();
        liveAdapters.delete(this);
        if (!this._ownsHub) {
          this._hub.off('deliver', this._onDeliver);
          claimedHubs.delete(this._hub);
        }
      }
      if (this._ownsHub) await this._hub.close();
    }

    serverCount() {
      return Promise.resolve(1);
    }

    addAll(id, rooms) {
      if (this._closed) return undefined;
      const list = Array.isArray(rooms) ? rooms : [...rooms];
      let h = this._handleById.get(id);
      if (h === undefined) {
        try {
          h = this._connect(id);
        } catch (err) {
          if (!err || err.code !== 'ERR_RT_OUT_OF_RANGE') throw err;
          // over maxConnections: refuse the socket rather than throw inside Socket.io's connect
          this._counters.refusedConnections++;
          const s = this.nsp.sockets.get(id) || this._preConnectSocket(id);
          if (s) process.nextTick(() => s.disconnect(true));
          return undefined;
        }
      }
      const socket = this._socketOf(h);
      let recheck;
      if (socket !== undefined && this._restoring.has(id)) recheck = this._finishRestore(id, h, socket);
      const hook = this._settings.authorizeJoin;
      let done;
      // the rooms restoreSession has just authorised for a socket that is not there yet
      const restoring = socket === undefined ? this._restoring.get(id) : undefined;
      const pre = restoring !== undefined ? restoring.rooms : undefined;
      let needsHook = false;
      if (hook !== null) {
        for (const r of list) {
          if (r !== id && (pre === undefined || !pre.has(r))) {
            needsHook = true;
            break;
          }
        }
      }
      if (!needsHook) {
        this._join(h, id, list);
        if (this._tracking) this._track(h, id);
      } else {
        const subject = socket || this._preConnectSocket(id) || { id, nsp: this.nsp, data: {}, handshake: undefined };
        const verdicts = authorizeRooms(hook, subject, list, id, pre);
        if (Array.isArray(verdicts)) {
          this._applyVerdicts(h, id, list, verdicts);
        } else {
          const gen = this._generation[h];
          done = verdicts.then((v) => {
            if (this._closed || this._handleById.get(id) !== h || this._generation[h] !== gen) return;
            this._applyVerdicts(h, id, list, v);
          });
        }
      }
      if (recheck && done) return Promise.all([recheck, done]).then(() => undefined);
      return done || recheck;
    }

    del(id, room) {
      if (this._closed) return;
      const h = this._handleById.get(id);
      if (h === undefined) return;
      const k = this._roomKey(room, false);
      if (!this._hub.leave(h, k)) return;
      if (this._tracking) this._track(h, id);
      if (this.listenerCount('leave-room')) this.emit('leave-room', room, id);
      if (this.listenerCount('delete-room') && this._hub.roomSize(k) === 0) this.emit('delete-room', room);
    }

    delAll(id) {
      if (this._closed) return;
      const h = this._handleById.get(id);
      if (h === undefined) return;
      if (this.listenerCount('leave-room') || this.listenerCount('delete-room')) {
        for (const k of this._hub.rooms(h)) {
          if (!this._hub.leave(h, k)) continue;
          const room = this._roomOf(k);
          this.emit('leave-room', room, id);
          if (this._hub.roomSize(k) === 0) this.emit('delete-room', room);
        }
      }
      this._release(id, h);
    }

    broadcast(packet, opts) {
      if (this._closed) return;
      const flags = opts.flags || {};
      packet.nsp = this.nsp.name;
      const m = this._message(packet, opts, flags);
      if (m === null) {
        if (!this._recordBinary(packet, opts, flags)) this._fallback(packet, opts, flags, null);
        return;
      }
      if (m.ackId === undefined) this._shape(m, packet.data, opts);
      const res = this._publish(m, packet);
      if (res === null) {
        this._fallback(packet, opts, flags, null);
        return;
      }
      const own = res.status === 'delivered' && !m.batch ? packet : null;
      if (own !== null && res.offset !== null) packet.data.push(res.offset); // as SessionAwareAdapter does
      this._deliverResult(res, flags, own);
    }

    broadcastWithAck(packet, opts, clientCountCallback, ack) {
      if (this._closed) {
        clientCountCallback(0);
        return;
      }
      const flags = opts.flags || {};
      packet.nsp = this.nsp.name;
      // the same id for every recipient, as the in-memory adapter does (_ids is shared)
      packet.id = this.nsp._ids++;
      const m = this._message(packet, opts, flags);
      let count = 0;
      if (m === null) {
        count = this._fallback(packet, opts, flags, ack);
      } else {
        const res = this._publish(m, packet);
        if (res === null) {
          count = this._fallback(packet, opts, flags, ack);
        } else {
          for (const d of res.deliveries) count += this._writeDelivery(d, flags, packet, ack);
          if (res.slow && res.slow.length) this._onSlow(res.slow);
        }
      }
      clientCountCallback(count);
    }

    sockets(rooms) {
      const ids = new Set();
      for (const s of this._targetSockets({ rooms, except: undefined })) ids.add(s.id);
      return Promise.resolve(ids);
    }

    socketRooms(id) {
      const h = this._handleById.get(id);
      if (h === undefined || this._closed) return undefined;
      const out = new Set();
      for (const k of this._hub.rooms(h)) out.add(this._roomOf(k));
      return out;
    }

    fetchSockets(opts) {
      return Promise.resolve(this._targetSockets(opts));
    }

    addSockets(opts, rooms) {
      for (const s of this._targetSockets(opts)) s.join(rooms);
    }

    delSockets(opts, rooms) {
      for (const s of this._targetSockets(opts)) rooms.forEach((room) => s.leave(room));
    }

    disconnectSockets(opts, close) {
      for (const s of this._targetSockets(opts)) s.disconnect(close);
    }

    // A single server: there is no other server to send to. With an acknowledgement, it is
    // called at once with no responses (what a cluster of one answers).
    serverSideEmit(packet) {
      const last = packet[packet.length - 1];
      if (typeof last === 'function') process.nextTick(last, null, []);
    }

    persistSession(session) {
      if (!this._recoveryOn || this._closed || !session) return;
      const { sid, pid } = session;
      const rooms = Array.isArray(session.rooms) ? session.rooms : [...(session.rooms || [])];
      const now = this._clock();
      const h = this._handleById.get(sid);
      const socket = (h !== undefined && this._socketByHandle[h]) || this.nsp.sockets.get(sid);
      const saved = { id: pid, sid, rooms: rooms.map((r) => this._roomKey(r, true)), data: safeJson(session.data) };
      this._storeSession('saveSession', saved);
      // the saved session replaced the tracked one in the log
      if (this._tracking && h !== undefined) this._pidByHandle[h] = null;
      this._sessions.delete(pid);
      this._sessions.set(pid, {
        data: session.data,
        handshake: socket ? socket.handshake : undefined,
        epochs: h !== undefined ? this._straysByHandle[h] : undefined,
        savedAt: now,
      });
      this._sweepSessions(now);
    }

    restoreSession(pid, offset) {
      if (!this._recoveryOn || this._closed || typeof pid !== 'string' || typeof offset !== 'string') return null;
      let out;
      try {
        out = this._restore(pid, offset);
      } catch {
        this._failRecovery('error');
        return null;
      }
      if (out === null) return null;
      return Promise.resolve(out).catch(() => {
        this._failRecovery('error');
        return null;
      });
    }

    // ------------------------------------------------------------------------------------------
    // beyond the in-memory adapter

    // Publishes a message straight to the hub (docs/fanout.md "Publishing"; rooms and except are
    // room names) and writes what it delivers. -> the hub's result
    publish(message) {
      if (this._closed) throw closedError();
      let m = message;
      if (message && typeof message === 'object') {
        m = { ...message };
        if (Array.isArray(message.rooms)) m.rooms = this._roomKeys(message.rooms);
        if (Array.isArray(message.except)) m.except = this._roomKeys(message.except);
      }
      this._syncDrained();
      let res;
      try {
        res = this._hub.publish(m);
      } catch (err) {
        if (err && err.code === 'ERR_RT_TOO_LARGE') this._counters.oversizeOutbound++;
        throw err;
      }
      this._deliverResult(res, null, null);
      return res;
    }

    // Delivers due throttled messages and batches now ({ all: true }: everything pending).
    flush(options) {
      if (this._closed) return { deliveries: [], slow: [] };
      this._syncDrained();
      const res = this._hub.flush(options);
      this._deliverResult(res, null, null);
      return res;
    }

    metrics() {
      const st = this._closed ? this._finalStats : this._safeStats();
      const c = this._counters;
      const hubDropped = st.droppedVolatile || 0;
      return {
        namespace: this.nsp.name,
        implementation: this.implementation,
        deliveries: c.deliveries,
        directWrites: c.directWrites,
        bytes: c.bytes,
        packets: c.packets,
        fallbackPackets: c.fallbackPackets,
        drops: c.droppedVolatile + hubDropped + c.droppedPending,
        droppedVolatile: c.droppedVolatile + hubDropped,
        droppedPending: c.droppedPending,
        coalesced: st.coalesced || 0,
        backlog: st.backlog || 0,
        maxBacklog: st.maxBacklog || 0,
        slowConsumers: st.slowConsumers || 0,
        slowDisconnects: c.slowDisconnects,
        recoveries: c.recoveries,
        recoveryFailures: c.recoveryFailures,
        recoveryFailuresByReason: { ...c.recoveryFailuresByReason },
        offsetRepairs: c.offsetRepairs,
        joinsDenied: c.joinsDenied,
        rateLimited: c.rateLimited,
        oversizeInbound: c.oversizeInbound,
        oversizeOutbound: c.oversizeOutbound,
        refusedConnections: c.refusedConnections,
        sockets: st.connections || 0,
        rooms: st.rooms || 0,
        hub: st,
      };
    }

    // ------------------------------------------------------------------------------------------
    // handles and sockets

    _connect(id) {
      const h = this._hub.connect();
      this._handleById.set(id, h);
      this._idByHandle[h] = id;
      this._generation[h] = (this._generation[h] || 0) + 1;
      this._lastOffByHandle[h] = this._lastOffset;
      this._straysByHandle[h] = undefined;
      if (this._tracking) this._pidByHandle[h] = undefined;
      return h;
    }

    _release(id, h) {
      if (this._tracking) this._untrack(h);
      this._detach(h);
      this._held.delete(h);
      const r = this._restoring.get(id);
      if (r !== undefined && r.handle === h) {
        clearTimeout(r.timer);
        this._restoring.delete(id);
      }
      this._hub.disconnect(h);
      this._handleById.delete(id);
      this._idByHandle[h] = undefined;
      this._lastOffByHandle[h] = undefined;
      this._straysByHandle[h] = undefined;
    }

    // The socket of a handle; a socket is attached the first time it is seen in nsp.sockets.
    _socketOf(h) {
      const s = this._socketByHandle[h];
      if (s !== undefined) return s;
      const id = this._idByHandle[h];
      if (id === undefined) return undefined;
      const found = this.nsp.sockets.get(id);
      if (found === undefined) return undefined;
      this._attach(h, found);
      return found;
    }

    _preConnectSocket(id) {
      const pre = this.nsp._preConnectSockets;
      return pre && typeof pre.get === 'function' ? pre.get(id) : undefined;
    }

    _attach(h, socket) {
      this._socketByHandle[h] = socket;
      if (h < this._inFlight.length) this._inFlight[h] = 0;
      const conn = socket.conn;
      if (conn && typeof conn.on === 'function') {
        const k = this._connKey;
        const cur = conn[k];
        if (cur === undefined || cur === null) {
          conn[k] = h;
          conn.on('drain', this._onConnDrain);
        } else {
          conn[k] = typeof cur === 'number' ? [cur, h] : [...cur, h];
        }
      }
      this._detachByHandle[h] = this._guard.attach(socket) || null;
      const held = this._held.get(h);
      if (held !== undefined) {
        this._held.delete(h);
        for (const w of held) this._writeHeld(h, socket, w);
      }
    }

    _detach(h) {
      const socket = this._socketByHandle[h];
      if (socket === undefined) return;
      const unguard = this._detachByHandle[h];
      this._detachByHandle[h] = undefined;
      this._socketByHandle[h] = undefined;
      this._writeCbByHandle[h] = undefined;
      const conn = socket.conn;
      const k = this._connKey;
      if (conn && conn[k] !== undefined && conn[k] !== null) {
        const cur = conn[k];
        const rest = typeof cur === 'number' ? (cur === h ? [] : [cur]) : cur.filter((x) => x !== h);
        if (rest.length === 0) {
          conn[k] = undefined;
          if (typeof conn.removeListener === 'function') conn.removeListener('drain', this._onConnDrain);
        } else {
          conn[k] = rest.length === 1 ? rest[0] : rest;
        }
      }
      if (typeof unguard === 'function') unguard();
    }

    _targetSockets(opts) {
      const out = [];
      if (this._closed) return out;
      const handles = this._targets(opts);
      for (let i = 0; i < handles.length; i++) {
        const s = this._socketOf(handles[i]);
        if (s !== undefined) out.push(s);
      }
      return out;
    }

    // -> Uint32Array of handles: socket.io-adapter's apply() order
    _targets(opts) {
      const rooms = opts && opts.rooms && opts.rooms.size !== 0 ? this._roomKeys([...opts.rooms]) : EMPTY;
      const except = opts && opts.except && opts.except.size !== 0 ? this._roomKeys([...opts.except]) : EMPTY;
      return this._hub.targets({ rooms, except });
    }

    // ------------------------------------------------------------------------------------------
    // rooms

    // The hub's name for a room. Plain rooms are themselves; others (not a string, empty, over
    // 256 UTF-8 bytes, not well-formed, or starting with NUL) get a deterministic alias, NUL +
    // base64url(sha256(type:value)). The alias -> room map (for socket.rooms and the views) is
    // filled when `remember` (joins, sessions); an alias is itself a key (a durable restart
    // restores sessions by alias).
    _roomKey(room, remember) {
      if (typeof room === 'string' && room.length > 0) {
        const c0 = room.charCodeAt(0);
        if (c0 !== 0 && (room.length <= 85 || Buffer.byteLength(room) <= MAX_ROOM_BYTES) && room.isWellFormed()) return room;
        if (c0 === 0 && room.length === 44 && ALIAS.test(room)) return room;
      }
      let k = this._aliasOf.get(room);
      if (k === undefined) {
        k = `\u0000${crypto.createHash('sha256').update(`${typeof room}:${String(room)}`).digest('base64url')}`;
        if (remember) {
          this._aliasOf.set(room, k);
          this._roomOfAlias.set(k, room);
        }
      }
      return k;
    }

    _roomKeys(rooms) {
      const out = new Array(rooms.length);
      for (let i = 0; i < rooms.length; i++) out[i] = this._roomKey(rooms[i], false);
      return out;
    }

    _roomOf(k) {
      if (k.charCodeAt(0) !== 0) return k;
      const r = this._roomOfAlias.get(k);
      return r === undefined ? k : r;
    }

    _join(h, id, list) {
      if (list.length === 0) return;
      const hub = this._hub;
      if (!this.listenerCount('create-room') && !this.listenerCount('join-room')) {
        const keys = new Array(list.length);
        for (let i = 0; i < list.length; i++) keys[i] = this._roomKey(list[i], true);
        hub.join(h, keys);
        return;
      }
      for (const room of list) {
        const k = this._roomKey(room, true);
        const existed = hub.roomSize(k) > 0;
        const joined = hub.join(h, [k]);
        if (!existed && joined) this.emit('create-room', room);
        if (joined) this.emit('join-room', room, id);
      }
    }

    _applyVerdicts(h, id, list, verdicts) {
      const allowed = [];
      for (let i = 0; i < list.length; i++) {
        if (verdicts[i]) allowed.push(list[i]);
        else this._denied(list[i], id);
      }
      this._join(h, id, allowed);
      if (this._tracking) this._track(h, id);
    }

    // hub.saveSession or hub.trackSession; a socket.data too large (or not UTF-8-clean) for the
    // hub is stored as null (the JS side keeps it in memory, unless the process restarts)
    _storeSession(method, session) {
      try {
        this._hub[method](session);
      } catch (err) {
        if (!err || (err.code !== 'ERR_RT_TOO_LARGE' && err.code !== 'ERR_RT_INVALID_ARGUMENT')) throw err;
        session.data = 'null';
        this._hub[method](session);
      }
    }

    // Durable recovery: the session of a connected socket (from the join of its own id room on,
    // which Socket.io makes once the socket is in nsp.sockets) is stored in the log as live on
    // every join and leave, so that it survives a crash (docs/socket-io-adapter.md).
    _track(h, id) {
      if (this._pidByHandle[h] === null) return; // persisted: disconnecting
      const socket = this._socketByHandle[h] || this.nsp.sockets.get(id);
      if (socket === undefined || typeof socket.pid !== 'string') return;
      const session = { id: socket.pid, sid: id, rooms: this._hub.rooms(h), data: safeJson(socket.data) };
      this._storeSession('trackSession', session);
      this._pidByHandle[h] = socket.pid;
    }

    // The socket is gone without persistSession (a non-recoverable disconnect): its live
    // session leaves the log.
    _untrack(h) {
      const pid = this._pidByHandle[h];
      this._pidByHandle[h] = undefined;
      if (typeof pid === 'string') this._hub.untrackSession(pid);
    }

    _denied(room, id) {
      this._counters.joinsDenied++;
      if (this.listenerCount('join-denied')) this.emit('join-denied', room, id);
    }

    // ------------------------------------------------------------------------------------------
    // inbound guard

    _reject(socket, code, message) {
      const c = this._counters;
      if (code === 'ERR_RT_RATE_LIMITED') c.rateLimited++;
      else if (code === 'ERR_RT_TOO_LARGE') c.oversizeInbound++;
      if (this.listenerCount('rejected')) this.emit('rejected', socket.id, code);
      // After the packets already admitted have been dispatched (Socket.io dispatches on the next
      // tick, and ignores packets of a disconnected socket): the error event, written directly
      // (never recorded, no offset), then a disconnect.
      process.nextTick(() => {
        if (!socket.connected) return;
        try {
          socket.packet({ type: EVENT, data: [this._settings.errorEvent, { code, message }] });
        } catch {
          // the connection may already be gone
        }
        socket.disconnect();
      });
    }

    // ------------------------------------------------------------------------------------------
    // misc

    _safeStats() {
      try {
        return this._hub.stats();
      } catch {
        return this._finalStats || {};
      }
    }

    _viewCore() {
      const self = this;
      return {
        roomSize(room) {
          if (self._closed) return 0;
          return self._hub.roomSize(self._roomKey(room, false));
        },
        isMember(id, room) {
          const h = self._handleById.get(id);
          const k = self._roomKey(room, false);
          return h !== undefined && !self._closed && self._hub.rooms(h).includes(k);
        },
        * memberIds(room) {
          if (self._closed) return;
          const k = self._roomKey(room, false);
          const hs = self._hub.members(k);
          for (let i = 0; i < hs.length; i++) yield self._idByHandle[hs[i]];
        },
        roomCount() { return self._closed ? 0 : self._hub.roomCount; },
        * roomNames() {
          if (self._closed) return;
          for (const k of self._hub.roomNames()) yield self._roomOf(k);
        },
        socketCount() { return self._closed ? 0 : self._hub.connectionCount; },
        hasSocket(id) { return self._handleById.has(id); },
        socketRooms(id) { return self.socketRooms(id); },
        * socketIds() {
          if (self._closed) return;
          const hs = self._hub.connections();
          for (let i = 0; i < hs.length; i++) yield self._idByHandle[hs[i]];
        },
      };
    }
  }

  // the delivery and recovery methods live in their own modules
  for (const Methods of [DeliveryMethods, RecoveryMethods]) {
    for (const name of Object.getOwnPropertyNames(Methods.prototype)) {
      if (name !== 'constructor') Object.defineProperty(RealtimeCoreAdapter.prototype, name, Object.getOwnPropertyDescriptor(Methods.prototype, name));
    }
  }
  return RealtimeCoreAdapter;
}

module.exports = { createAdapterClass, loadApi, safeJson };
