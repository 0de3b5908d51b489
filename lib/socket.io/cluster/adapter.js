'use strict';

// The adapter scaled out over Redis: a subclass of the single-process adapter (adapter.js) that
// speaks socket.io-adapter's ClusterAdapter protocol with the other nodes (heartbeats, broadcasts,
// requests and responses) over Redis pub/sub. Each node fans out to its own sockets through its
// hub; Redis carries one message per broadcast. Recovery across nodes is in cluster/recovery.js;
// the Redis connection, its state and the outbox in cluster/link.js. See docs/redis.md.

const crypto = require('crypto');
const { loadApi } = require('../adapter');
const { EVENT, hasBinary } = require('../encoding');
const { RealtimeCoreError } = require('../../common/errors');
const { RedisLink } = require('./link');
const { ClusterRecoveryMethods } = require('./recovery');
const { RECORD } = require('./scripts');
const {
  MessageType, RESTORE_SYNC, createCodec, encodeOptions, decodeOptions, names,
} = require('./protocol');

const EMITTER_UID = 'emitter'; // @socket.io/redis-emitter's uid: not a node

function randomId() {
  return crypto.randomBytes(8).toString('hex');
}

function unref(timer) {
  if (timer && typeof timer.unref === 'function') timer.unref();
  return timer;
}

// handshake without sessionStore (may be circular), as ClusterAdapter sends it
function remoteSocket(socket) {
  const { sessionStore, ...handshake } = socket.handshake || {};
  void sessionStore;
  return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data };
}

function createClusterAdapterClass(Base, settings) {
  const cluster = settings.cluster;
  const api = loadApi(settings.implementation);

  class RealtimeCoreClusterAdapter extends Base {
    constructor(nsp) {
      super(nsp);
      this.uid = randomId();
      this._codec = createCodec();
      this._names = names(cluster.keyPrefix, nsp.name);
      this._myChannel = this._names.responseChannel(this.uid);
      const opts = (nsp.server && (nsp.server.opts || nsp.server._opts)) || {};
      const csr = opts.connectionStateRecovery;
      // the hub records nothing here (hub-options.js): recovery is in Redis
      this._cRecovery = !!csr && settings.recovery !== false;
      this._cWindowMs = this._cRecovery ? (settings.recovery.windowMs || csr.maxDisconnectionDuration || 2 * 60 * 1000) : 0;
      this._cMaxPackets = (settings.recovery && settings.recovery.maxPackets) || 100000;
      // a fresh epoch for Redis to adopt if it has none (a new or emptied dataset)
      this._epochCandidate = crypto.randomBytes(6).readUIntBE(0, 6).toString(36);
      this._nodes = new Map(); // uid -> last seen (ms)
      this._requests = new Map(); // requestId -> { type, resolve, timer, missing, responses }
      this._ackRequests = new Map(); // requestId -> { clientCountCallback, ack }
      // local deliveries in emit order: a recorded broadcast waits for its offset (its own
      // message coming back from Redis), and what was emitted after it waits behind it
      this._pending = [];
      this._byLid = new Map();
      this._lid = 0;
      this._restores = new Map(); // token -> restore in progress (recovery.js)
      this._gapPending = false; // some recordable packet could not be recorded
      // after an outage, the outbox waits until the nodes seen before it listen again
      this._peersBefore = null;
      this._awaiting = null;
      this._awaitTimer = null;
      this._cc = {
        recorded: 0, unrecorded: 0, sessionsSaved: 0, sessionsLost: 0, remoteBroadcasts: 0, nodesLost: 0,
      };
      this._link = new RedisLink(cluster.redis, api, cluster, (buf) => this._onFrame(buf));
      this._link.on('state', (s) => this._onLinkState(s));
      this._link.on('breaker', (t) => {
        if (this.listenerCount('cluster-state')) this.emit('cluster-state', { state: this._link.state, breaker: t.to });
      });
      this._heartbeatTimer = unref(setInterval(() => this._publishVolatile({ type: MessageType.HEARTBEAT }), cluster.heartbeatInterval));
      this._cleanupTimer = unref(setInterval(() => this._sweepNodes(), Math.max(10, Math.min(1000, cluster.heartbeatTimeout >> 1))));
      this.ready = null;
    }

    // ------------------------------------------------------------------------------------------
    // lifecycle

    init() {
      // once subscribed the link is 'connected': we announce ourselves (_onLinkState). A second
      // call must not subscribe again (every remote message would be delivered twice).
      if (this.ready === null) this.ready = this._link.start([this._names.channel, this._myChannel]).catch(() => {});
      return undefined;
    }

    async close() {
      if (this._closed) return;
      this._publishVolatile({ type: MessageType.ADAPTER_CLOSE });
      clearInterval(this._heartbeatTimer);
      clearInterval(this._cleanupTimer);
      clearTimeout(this._awaitTimer);
      // what waits for Redis is delivered here now
      for (const e of this._pending) e.ready = true;
      this._drainLocal();
      for (const r of this._requests.values()) clearTimeout(r.timer);
      this._requests.clear();
      this._ackRequests.clear();
      for (const r of this._restores.values()) r.fail();
      try {
        await super.close();
      } finally {
        await this._link.close();
      }
    }

    serverCount() {
      return Promise.resolve(1 + this._nodes.size);
    }

    // ------------------------------------------------------------------------------------------
    // outgoing

    _frame(message) {
      message.uid = this.uid;
      message.nsp = this.nsp.name;
      return this._codec.frame(this._codec.encode(message));
    }

    // messages that must survive a short outage (broadcasts, joins, disconnects, server-side
    // emits without acknowledgement)
    _publishQueued(message) {
      this._link.publishQueued(this._names.channel, this._frame(message));
    }

    // heartbeats, requests: useful now or never
    _publishVolatile(message) {
      if (this._closed) return;
      this._link.publishVolatile(this._names.channel, this._frame(message));
    }

    _respond(toUid, response) {
      if (this._closed) return;
      this._link.publishVolatile(this._names.responseChannel(toUid), this._frame(response));
    }

    // Targets only sockets of this node (socket-id rooms of local sockets): nothing to send.
    _onlyLocalTargets(opts) {
      const rooms = opts.rooms;
      if (!rooms || rooms.size === 0) return false;
      for (const r of rooms) if (!this._handleById.has(r)) return false;
      return true;
    }

    broadcast(packet, opts) {
      if (this._closed) return;
      const flags = opts.flags || {};
      packet.nsp = this.nsp.name;
      if (flags.local) {
        this._enqueueLocal(packet, opts);
        return;
      }
      const recordable = this._cRecovery && packet.type === EVENT && (packet.id === undefined || packet.id === null) && !flags.volatile;
      const localOnly = this._onlyLocalTargets(opts);
      if (!recordable) {
        const message = localOnly ? null : { type: MessageType.BROADCAST, data: { packet, opts: encodeOptions(opts) } };
        const body = message === null ? null : this._frame(message);
        // locally first: an emit over maxPayloadBytes throws here and goes nowhere
        this._enqueueLocal(packet, opts);
        if (body !== null) this._link.publishQueued(this._names.channel, body);
        return;
      }
      this._record(packet, opts, localOnly);
    }

    // maxPayloadBytes (the JSON text of the arguments, as the hub counts it), checked before a
    // packet is recorded and sent: the emit throws as on one node. msgpack is never more than a
    // few times smaller than JSON, so small packets skip the JSON text.
    _checkSize(packet, bytes) {
      const max = this._settings.maxPayloadBytes;
      if (bytes * 6 <= max || hasBinary(packet.data)) return;
      const json = JSON.stringify(packet.data.slice(1));
      const n = json === undefined ? 0 : Buffer.byteLength(json);
      if (n <= max) return;
      this._counters.oversizeOutbound++;
      throw new RealtimeCoreError('ERR_RT_TOO_LARGE', `payload of ${n} bytes is over maxPayloadBytes (${max})`);
    }

    // A recordable packet: numbered, stored and published by the RECORD script; delivered here
    // when its own message comes back (so that every node delivers in the global order).
    _record(packet, opts, localOnly) {
      const { msgpack } = this._codec;
      const data = msgpack.encode(packet.data);
      this._checkSize(packet, data.length);
      const entry = { packet, opts, ready: false, offset: null, lid: 0, timer: null };
      this._pending.push(entry);
      const message = { uid: this.uid, nsp: this.nsp.name, type: MessageType.BROADCAST, data: { packet, opts: encodeOptions(opts) } };
      if (!this._link.connected) {
        this._unrecorded(entry, localOnly ? null : message);
        return;
      }
      const lid = ++this._lid;
      entry.lid = lid;
      this._byLid.set(lid, entry);
      message.data.lid = lid;
      const body = msgpack.encode(message);
      delete message.data.lid;
      const rooms = [];
      for (const r of opts.rooms || []) rooms.push(String(r));
      const except = [];
      for (const r of opts.except || []) except.push(String(r));
      const n = this._names;
      const args = [
        n.base, String(this._cWindowMs), String(this._cMaxPackets), localOnly ? this._myChannel : n.channel,
        body, data, except.length ? JSON.stringify(except) : '', this._epochCandidate, String(rooms.length), ...rooms,
      ];
      this._link.run(() => cluster.redis.evalScript(RECORD, [n.seq, n.epoch], args)).then((offset) => {
        this._cc.recorded++;
        if (entry.ready) return;
        entry.offset = offset;
        // normally its message is already here or on its way; if it never comes (our
        // subscriber connection lost it), it goes out without waiting any longer
        entry.timer = unref(setTimeout(() => this._ownRecorded(lid, offset), cluster.commandTimeout));
      }, () => {
        if (!entry.ready) this._unrecorded(entry, localOnly ? null : message);
      });
    }

    // Redis could not record it: delivered here without an offset, sent to the other nodes
    // through the outbox, and the sessions saved before can no longer be recovered (gap).
    _unrecorded(entry, message) {
      if (entry.lid) this._byLid.delete(entry.lid);
      entry.ready = true;
      this._cc.unrecorded++;
      this._gapPending = true;
      if (message !== null) this._publishQueued(message);
      this._drainLocal();
    }

    _ownRecorded(lid, offset) {
      const entry = this._byLid.get(lid);
      if (entry === undefined) return;
      this._byLid.delete(lid);
      if (entry.timer !== null) clearTimeout(entry.timer);
      entry.offset = offset;
      entry.ready = true;
      this._drainLocal();
    }

    _enqueueLocal(packet, opts) {
      if (this._pending.length === 0) {
        this._localDeliver(packet, opts, null);
        return;
      }
      this._pending.push({ packet, opts, ready: true, offset: null, lid: 0, timer: null });
    }

    _drainLocal() {
      const q = this._pending;
      while (q.length !== 0 && q[0].ready) {
        const e = q.shift();
        if (e.timer !== null) clearTimeout(e.timer);
        if (e.lid) this._byLid.delete(e.lid);
        try {
          this._localDeliver(e.packet, e.opts, e.offset);
        } catch {
          // (e.g. ERR_RT_TOO_LARGE, counted by the hub path) the emit call has returned long ago
        }
      }
    }

    // The single-process adapter's broadcast, with the offset Redis gave (appended as the last
    // argument, as SessionAwareAdapter does)
    _localDeliver(packet, opts, offset) {
      if (this._closed) return;
      if (offset !== null) packet.data.push(offset);
      super.broadcast(packet, opts);
    }

    broadcastWithAck(packet, opts, clientCountCallback, ack) {
      const flags = (opts && opts.flags) || {};
      if (!flags.local && !this._closed) {
        const requestId = randomId();
        this._ackRequests.set(requestId, { clientCountCallback, ack });
        this._publishVolatile({ type: MessageType.BROADCAST, data: { packet, requestId, opts: encodeOptions(opts) } });
        // no way to know when every client has answered: forget the request after the timeout
        unref(setTimeout(() => this._ackRequests.delete(requestId), flags.timeout || cluster.requestsTimeout));
      }
      super.broadcastWithAck(packet, opts, clientCountCallback, ack);
    }

    addSockets(opts, rooms) {
      if (!(opts.flags && opts.flags.local)) this._publishQueued({ type: MessageType.SOCKETS_JOIN, data: { opts: encodeOptions(opts), rooms } });
      super.addSockets(opts, rooms);
    }

    delSockets(opts, rooms) {
      if (!(opts.flags && opts.flags.local)) this._publishQueued({ type: MessageType.SOCKETS_LEAVE, data: { opts: encodeOptions(opts), rooms } });
      super.delSockets(opts, rooms);
    }

    disconnectSockets(opts, close) {
      if (!(opts.flags && opts.flags.local)) this._publishQueued({ type: MessageType.DISCONNECT_SOCKETS, data: { opts: encodeOptions(opts), close } });
      super.disconnectSockets(opts, close);
    }

    async fetchSockets(opts) {
      const local = await super.fetchSockets({ rooms: opts.rooms, except: opts.except, flags: { local: true } });
      if ((opts.flags && opts.flags.local) || this._nodes.size === 0 || this._closed) return local;
      const requestId = randomId();
      const timeoutMs = (opts.flags && opts.flags.timeout) || cluster.requestsTimeout;
      return new Promise((resolve, reject) => {
        const timer = unref(setTimeout(() => {
          const r = this._requests.get(requestId);
          if (r === undefined) return;
          this._requests.delete(requestId);
          reject(new Error(`timeout reached: missing ${r.missing.size} responses`));
        }, timeoutMs));
        this._requests.set(requestId, {
          type: MessageType.FETCH_SOCKETS, resolve, timer, missing: new Set(this._nodes.keys()), responses: local,
        });
        this._publishVolatile({ type: MessageType.FETCH_SOCKETS, data: { opts: encodeOptions(opts), requestId } });
      });
    }

    serverSideEmit(packet) {
      const withAck = typeof packet[packet.length - 1] === 'function';
      if (!withAck) {
        this._publishQueued({ type: MessageType.SERVER_SIDE_EMIT, data: { packet } });
        return;
      }
      const ack = packet.pop();
      if (this._nodes.size === 0 || this._closed) {
        process.nextTick(ack, null, []);
        return;
      }
      const requestId = randomId();
      const timer = unref(setTimeout(() => {
        const r = this._requests.get(requestId);
        if (r === undefined) return;
        this._requests.delete(requestId);
        ack(new Error(`timeout reached: missing ${r.missing.size} responses`), r.responses);
      }, cluster.requestsTimeout));
      this._requests.set(requestId, {
        type: MessageType.SERVER_SIDE_EMIT, resolve: ack, timer, missing: new Set(this._nodes.keys()), responses: [],
      });
      this._publishVolatile({ type: MessageType.SERVER_SIDE_EMIT, data: { requestId, packet } });
    }

    // ------------------------------------------------------------------------------------------
    // incoming

    _onFrame(buf) {
      if (this._closed) return;
      const f = this._codec.decode(buf);
      if (f === null) return;
      const m = f.message;
      if (m.type === RESTORE_SYNC) {
        this._onRestoreSync(m);
        return;
      }
      if (m.uid === this.uid) {
        // our own recorded broadcast, back with its offset: deliver it here now
        if (m.type === MessageType.BROADCAST && m.data && m.data.lid !== undefined && f.offset !== null) this._ownRecorded(m.data.lid, f.offset);
        return;
      }
      if (m.nsp !== this.nsp.name) return;
      if (m.uid && m.uid !== EMITTER_UID) {
        this._nodes.set(m.uid, Date.now());
        // a node only publishes while its subscriber is up: it listens again
        if (this._awaiting !== null && this._awaiting.delete(m.uid) && this._awaiting.size === 0) this._resumeOutbox();
      }
      try {
        this._onMessage(m, f.offset);
      } catch {
        // a message we cannot apply (e.g. too large for this node's limits) is skipped
      }
    }

    _onMessage(m, offset) {
      const d = m.data || {};
      switch (m.type) {
        case MessageType.INITIAL_HEARTBEAT:
          this._publishVolatile({ type: MessageType.HEARTBEAT });
          break;
        case MessageType.HEARTBEAT:
          break;
        case MessageType.ADAPTER_CLOSE:
          this._removeNode(m.uid);
          break;
        case MessageType.BROADCAST: {
          const opts = decodeOptions(d.opts);
          if (d.requestId !== undefined) {
            super.broadcastWithAck(d.packet, opts, (clientCount) => {
              this._respond(m.uid, { type: MessageType.BROADCAST_CLIENT_COUNT, data: { requestId: d.requestId, clientCount } });
            }, (arg) => {
              this._respond(m.uid, { type: MessageType.BROADCAST_ACK, data: { requestId: d.requestId, packet: arg } });
            });
          } else {
            this._cc.remoteBroadcasts++;
            // in arrival order (the global order of recorded packets), behind nothing of ours:
            // what we are waiting for was numbered after it
            this._localDeliver(d.packet, opts, offset);
          }
          break;
        }
        case MessageType.SOCKETS_JOIN:
          super.addSockets(decodeOptions(d.opts), d.rooms);
          break;
        case MessageType.SOCKETS_LEAVE:
          super.delSockets(decodeOptions(d.opts), d.rooms);
          break;
        case MessageType.DISCONNECT_SOCKETS:
          super.disconnectSockets(decodeOptions(d.opts), d.close);
          break;
        case MessageType.FETCH_SOCKETS:
          super.fetchSockets(decodeOptions(d.opts)).then((sockets) => {
            this._respond(m.uid, { type: MessageType.FETCH_SOCKETS_RESPONSE, data: { requestId: d.requestId, sockets: sockets.map(remoteSocket) } });
          });
          break;
        case MessageType.SERVER_SIDE_EMIT: {
          if (d.requestId === undefined) {
            this.nsp._onServerSideEmit(d.packet);
            break;
          }
          let called = false;
          const callback = (arg) => {
            if (called) return; // only one answer per node
            called = true;
            this._respond(m.uid, { type: MessageType.SERVER_SIDE_EMIT_RESPONSE, data: { requestId: d.requestId, packet: arg } });
          };
          this.nsp._onServerSideEmit([...d.packet, callback]);
          break;
        }
        case MessageType.BROADCAST_CLIENT_COUNT: {
          const r = this._ackRequests.get(d.requestId);
          if (r !== undefined) r.clientCountCallback(d.clientCount);
          break;
        }
        case MessageType.BROADCAST_ACK: {
          const r = this._ackRequests.get(d.requestId);
          if (r !== undefined) r.ack(d.packet);
          break;
        }
        case MessageType.FETCH_SOCKETS_RESPONSE:
        case MessageType.SERVER_SIDE_EMIT_RESPONSE: {
          const r = this._requests.get(d.requestId);
          if (r === undefined || r.type + 1 !== m.type) break;
          if (m.type === MessageType.FETCH_SOCKETS_RESPONSE) for (const s of d.sockets || []) r.responses.push(s);
          else r.responses.push(d.packet);
          r.missing.delete(m.uid);
          if (r.missing.size === 0) this._settleRequest(d.requestId, r);
          break;
        }
        default:
          break;
      }
    }

    _settleRequest(requestId, r) {
      clearTimeout(r.timer);
      this._requests.delete(requestId);
      if (r.type === MessageType.FETCH_SOCKETS) r.resolve(r.responses);
      else r.resolve(null, r.responses);
    }

    // ------------------------------------------------------------------------------------------
    // nodes

    _removeNode(uid) {
      if (!this._nodes.delete(uid)) return;
      this._cc.nodesLost++;
      for (const [id, r] of this._requests) {
        r.missing.delete(uid);
        if (r.missing.size === 0) this._settleRequest(id, r);
      }
    }

    _sweepNodes() {
      const now = Date.now();
      for (const [uid, seen] of this._nodes) {
        if (now - seen > cluster.heartbeatTimeout) this._removeNode(uid);
      }
    }

    _onLinkState(state) {
      if (state === 'disconnected') {
        // recorded packets whose own message may never come back: delivered now
        for (const e of this._pending) if (e.offset !== null) e.ready = true;
        this._drainLocal();
        if (this._peersBefore === null) this._peersBefore = new Set(this._nodes.keys());
        if (this._awaiting !== null) for (const uid of this._awaiting) this._peersBefore.add(uid);
        this._awaiting = null;
        clearTimeout(this._awaitTimer);
      } else {
        if (this._gapPending) this._markGap();
        this._publishVolatile({ type: MessageType.INITIAL_HEARTBEAT });
        // messages queued during the outage go out once the nodes that were there before it
        // have shown they listen again (or after heartbeatTimeout: they are gone)
        const before = this._peersBefore || new Set();
        this._peersBefore = null;
        if (before.size === 0) {
          this._resumeOutbox();
        } else {
          this._awaiting = before;
          this._awaitTimer = unref(setTimeout(() => this._resumeOutbox(), cluster.heartbeatTimeout));
        }
      }
      if (this.listenerCount('cluster-state')) this.emit('cluster-state', { state, breaker: this._link.outbox.breakerState() });
    }

    _resumeOutbox() {
      this._awaiting = null;
      clearTimeout(this._awaitTimer);
      this._link.resumeOutbox();
    }

    // ------------------------------------------------------------------------------------------
    // metrics

    metrics() {
      const m = super.metrics();
      m.cluster = {
        uid: this.uid,
        nodes: 1 + this._nodes.size,
        ...this._link.stats(),
        ...this._cc,
      };
      return m;
    }
  }

  for (const name of Object.getOwnPropertyNames(ClusterRecoveryMethods.prototype)) {
    if (name !== 'constructor') Object.defineProperty(RealtimeCoreClusterAdapter.prototype, name, Object.getOwnPropertyDescriptor(ClusterRecoveryMethods.prototype, name));
  }
  RealtimeCoreClusterAdapter.settings = settings;
  return RealtimeCoreClusterAdapter;
}

module.exports = { createClusterAdapterClass };
