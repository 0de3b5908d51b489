'use strict';

// A fake Socket.io namespace and fake sockets: what a socket.io-adapter 2.5 Adapter (and ours,
// realtime-core/socket.io) touches, and nothing more, so a broadcast can be timed through the
// adapter API alone, without engine.io or the network. The same fake is used for every adapter
// under test:
//   nsp: name, _ids, sockets (Map id -> socket), adapter, server.encoder (socket.io-parser's
//        Encoder, as Server has), server.opts (connectionStateRecovery when asked for)
//   socket: id, nsp, adapter, data, acks, rooms (getter), client.writeToEngine(packets, opts)
//        (adds the byte length to a counter), client.conn / conn (on/once/off/removeListener/emit
//        recording listeners, as engine.io's Socket (an EventEmitter) has; transport.name/writable,
//        readyState, write, close),
//        notifyOutgoingListeners(packet), disconnect(), join(rooms) / leave(room) calling the
//        adapter as Socket does (addAll / del)
// Counters live on the namespace (nsp.stats: writes, bytes, notified, closed, disconnected);
// nsp.trace, when it is an array, collects [socketId, packetText] per write (for the checks
// before timing).
//
// Drains: a real websocket transport reports every flushed write with a 'drain' event on the
// engine.io socket (conn), which ours listens to (backlog bookkeeping: docs/fanout.md "slow
// consumers"; without it every socket is a slow consumer after maxBacklog packets). Here each
// written conn is queued once per broadcast and drainAll(nsp) calls its 'drain' listeners, as
// the transports would: the benchmark calls it right after each broadcast, inside the timed
// call, for every adapter alike (Socket.io's adapter has no such listener, ours has one per
// socket). The emitter's own cost of the event is left out: it is the same for any adapter.

const { Encoder } = require('socket.io-parser');

// the adapters write the same array of encoded packets to every recipient of a broadcast: its
// byte length is computed once (identity of the array: no string comparison per write)
let lastPackets = null;
let lastBytes = 0;
function packetsBytes(packets) {
  if (packets === lastPackets) return lastBytes;
  let n = 0;
  for (const p of packets) n += byteLength(p);
  lastPackets = packets;
  lastBytes = n;
  return n;
}
function byteLength(p) {
  if (typeof p === 'string') return Buffer.byteLength(p);
  if (p && typeof p.byteLength === 'number') return p.byteLength;
  if (p && typeof p.length === 'number') return p.length;
  return 0;
}

// engine.io's Socket is an EventEmitter; the fake records listeners per event the same way, with
// 'drain' listeners in an array of their own so that drainAll calls them directly: the timed
// part of a broadcast then holds the adapter's own drain listener, not the emitter's lookup
class FakeConn {
  constructor(client) {
    this.client = client;
    this.handlers = Object.create(null); // event -> [fn], except 'drain'
    this.drainListeners = [];
    this.transport = { name: 'websocket', writable: true };
    this.readyState = 'open';
    this.id = client.id;
  }
  on(event, fn) {
    if (event === 'drain') this.drainListeners.push(fn);
    else (this.handlers[event] || (this.handlers[event] = [])).push(fn);
    return this;
  }
  addListener(event, fn) { return this.on(event, fn); }
  once(event, fn) {
    const wrapped = (...a) => {
      this.off(event, wrapped);
      fn.apply(this, a);
    };
    wrapped.listener = fn;
    return this.on(event, wrapped);
  }
  off(event, fn) {
    const l = event === 'drain' ? this.drainListeners : this.handlers[event];
    if (l) {
      const i = l.findIndex((x) => x === fn || x.listener === fn);
      if (i >= 0) l.splice(i, 1);
    }
    return this;
  }
  removeListener(event, fn) { return this.off(event, fn); }
  listenerCount(event) {
    const l = event === 'drain' ? this.drainListeners : this.handlers[event];
    return l ? l.length : 0;
  }
  emit(event, ...args) {
    const l = event === 'drain' ? this.drainListeners : this.handlers[event];
    if (!l || l.length === 0) return false;
    for (const fn of l.slice()) fn.apply(this, args);
    return true;
  }
  // engine.io Socket#write (what Client#writeToEngine calls per encoded packet)
  write(data, opts) {
    this.client.count([data], opts);
    return this;
  }
  close() {
    this.client.nsp.stats.closed++;
    return this;
  }
}

class FakeClient {
  constructor(nsp, id) {
    this.nsp = nsp;
    this.id = `c-${id}`;
    this.conn = new FakeConn(this);
    this.conn.drainDue = false;
  }
  count(packets, opts) {
    const s = this.nsp.stats;
    const conn = this.conn;
    if (!conn.drainDue) {
      conn.drainDue = true;
      this.nsp.toDrain[this.nsp.toDrainCount++] = conn;
    }
    s.writes += packets.length;
    s.bytes += packetsBytes(packets);
    if (opts && opts.wsPreEncodedFrame) s.preEncodedFrames++;
    if (this.nsp.trace) for (const p of packets) this.nsp.trace.push([this.socketId, typeof p === 'string' ? p : Buffer.from(p).toString()]);
  }
  writeToEngine(encodedPackets, opts) {
    this.count(Array.isArray(encodedPackets) ? encodedPackets : [encodedPackets], opts);
  }
}

class FakeSocket {
  constructor(nsp, id) {
    this.id = id;
    this.nsp = nsp;
    this.data = {};
    this.connected = true;
    this.acks = new Map();
    this.client = new FakeClient(nsp, id);
    this.client.socketId = id;
    this.conn = this.client.conn;
  }
  get adapter() { return this.nsp.adapter; }
  get rooms() { return this.nsp.adapter.socketRooms(this.id) || new Set(); }
  notifyOutgoingListeners() { this.nsp.stats.notified++; }
  disconnect() {
    this.nsp.stats.disconnected++;
    return this;
  }
  join(rooms) {
    return this.nsp.adapter.addAll(this.id, new Set(Array.isArray(rooms) ? rooms : [rooms]));
  }
  leave(room) {
    return this.nsp.adapter.del(this.id, room);
  }
}

// makeAdapter(nsp) -> adapter (new Adapter(nsp), or an adapter class made by createAdapter)
function fakeNamespace(makeAdapter, { name = '/', recovery = null } = {}) {
  const nsp = {
    name,
    _ids: 0,
    sockets: new Map(),
    adapter: null,
    stats: { writes: 0, bytes: 0, notified: 0, preEncodedFrames: 0, closed: 0, disconnected: 0 },
    trace: null,
    toDrain: [], // conns to drain: the first toDrainCount (the array is reused, never shrunk)
    toDrainCount: 0,
    server: {
      encoder: new Encoder(),
      opts: recovery ? { connectionStateRecovery: { maxDisconnectionDuration: recovery.maxDisconnectionDuration, skipMiddlewares: true } } : {},
      _opts: null,
    },
  };
  nsp.server._opts = nsp.server.opts;
  nsp.adapter = makeAdapter(nsp);
  if (typeof nsp.adapter.init === 'function') nsp.adapter.init();
  return nsp;
}

// Adds `count` fake sockets with ids `${prefix}${i}`; each joins its own id room first, as a
// Socket.io socket does when it connects, then rooms(i) (an array, possibly empty).
function addSockets(nsp, count, rooms = () => [], prefix = 's') {
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${i}`;
    const s = new FakeSocket(nsp, id);
    nsp.sockets.set(id, s);
    s.join(id);
    const r = rooms(i);
    if (r.length) s.join(r);
    out[i] = s;
  }
  return out;
}

function resetStats(nsp) {
  Object.assign(nsp.stats, { writes: 0, bytes: 0, notified: 0, preEncodedFrames: 0, closed: 0, disconnected: 0 });
}

// 'drain' on every conn written since the last call (once each)
function drainAll(nsp) {
  const list = nsp.toDrain;
  const n = nsp.toDrainCount;
  nsp.toDrainCount = 0;
  for (let i = 0; i < n; i++) {
    const conn = list[i];
    conn.drainDue = false;
    const l = conn.drainListeners;
    for (let k = 0; k < l.length; k++) l[k].call(conn);
  }
}

module.exports = { fakeNamespace, addSockets, resetStats, drainAll, FakeSocket, byteLength };
