'use strict';

// The adapter's delivery methods (mixed into the adapter class, see adapter.js): a Socket.io
// packet -> a hub message (or the fallback encoder), the hub's deliveries -> writes to sockets
// (one websocket frame per delivery), packets held for sockets being restored, drains and slow
// consumers.

const crypto = require('crypto');
const { RealtimeCoreError } = require('../common/errors');
const {
  EVENT, MAX_ACK_ID, hasBinary, toRecordable, NotRecordable, hubEventName, wsFrame, packetData, packetAckId,
  trailingString,
} = require('./encoding');

const EMPTY = Object.freeze([]);

function encodedBytes(packets) {
  let n = 0;
  for (const p of packets) n += typeof p === 'string' ? Buffer.byteLength(p) : (p.byteLength || p.length || 0);
  return n;
}

function isWebsocket(socket) {
  const conn = socket.conn;
  return !!(conn && conn.transport && conn.transport.name === 'websocket');
}

function transportBusy(socket) {
  const conn = socket.conn;
  return !!(conn && conn.transport && conn.transport.writable === false);
}

// The direct-write fast path (docs/socket-io-adapter.md "Direct writes"): the ws Sender of a
// socket whose engine.io connection is in its plain steady state, so that a pre-encoded frame
// written with sender.sendFrame goes out exactly where engine.io would have written it: the
// connection is open and not upgrading, engine.io buffers nothing (writeBuffer empty, the
// websocket transport writable, i.e. none of its own sends in flight), no permessage-deflate,
// the ws socket is OPEN and its Sender queues nothing (it queues while compressing or reading a
// Blob; sendFrame would overtake that queue). Else null: engine.io's path.
function directSender(socket) {
  const conn = socket.conn;
  if (!conn) return null;
  const t = conn.transport;
  if (!t) return null;
  const ws = t.socket;
  if (!ws || ws.readyState !== 1) return null;
  if (t.writable !== true || t.perMessageDeflate || t.name !== 'websocket') return null;
  if (conn.readyState !== 'open' || conn.upgrading === true) return null;
  const wb = conn.writeBuffer;
  if (!wb || wb.length !== 0) return null;
  const sender = ws._sender;
  if (!sender || typeof sender.sendFrame !== 'function') return null;
  if ((sender._state | 0) !== 0 || sender._bufferedBytes !== 0) return null;
  return sender;
}

class DeliveryMethods {
  // ------------------------------------------------------------------------------------------
  // messages

  // The hub message of a packet; null when the hub cannot take it (fallback encoding).
  _message(packet, opts, flags) {
    if (packet.type !== EVENT) return null;
    const data = packet.data;
    if (!Array.isArray(data) || data.length === 0 || !hubEventName(data[0])) return null;
    let ackId;
    if (packet.id !== undefined && packet.id !== null) {
      if (!Number.isInteger(packet.id) || packet.id < 0 || packet.id > MAX_ACK_ID) return null;
      ackId = packet.id;
    }
    if (hasBinary(data)) return null;
    const rooms = opts.rooms && opts.rooms.size !== 0 ? this._roomKeys([...opts.rooms]) : EMPTY;
    const except = opts.except && opts.except.size ? this._roomKeys([...opts.except]) : EMPTY;
    const m = {
      rooms,
      except,
      event: data[0],
      args: data.length === 1 ? EMPTY : data.slice(1),
      volatile: !!flags.volatile,
    };
    if (ackId !== undefined) m.ackId = ackId;
    return m;
  }

  // throttle key or batch, from the options
  _shape(m, data, opts) {
    const s = this._settings;
    if (s.throttle !== null) {
      const key = s.throttle(m.event, m.args, opts);
      if (key !== null && key !== undefined) {
        let k = `${m.event}\u0001${m.rooms.join('\u0002')}\u0001${m.except.join('\u0002')}\u0001${String(key)}`;
        if (k.length > 85 && Buffer.byteLength(k) > 256) k = `#${crypto.createHash('sha256').update(k).digest('base64url')}`;
        m.key = k;
        return;
      }
    }
    if (s.batch.select !== null && m.rooms.length === 1 && m.except.length === 0 && s.batch.select(m.event, m.args, opts)) {
      m.batch = true;
    }
  }

  // -> the hub's result, or null when the hub refused a value only the custom encoder can take
  _publish(m, packet) {
    this._syncDrained();
    try {
      return this._hub.publish(m);
    } catch (err) {
      if (err && err.code === 'ERR_RT_TOO_LARGE') {
        this._counters.oversizeOutbound++;
        throw err;
      }
      if (this._transcode && err && err.code === 'ERR_RT_INVALID_ARGUMENT' && packet) return null;
      throw err;
    }
  }

  // With recovery on, a binary EVENT packet without acknowledgement (what SessionAwareAdapter
  // records) is routed and recorded by the hub with its binary values as base64 marks, and
  // written with Socket.io's encoder (attachments). -> false when it is not such a packet
  _recordBinary(packet, opts, flags) {
    if (!this._recoveryOn || packet.type !== EVENT || flags.volatile) return false;
    if (packet.id !== undefined && packet.id !== null) return false;
    const data = packet.data;
    if (!Array.isArray(data) || !hubEventName(data[0]) || !hasBinary(data)) return false;
    let args;
    try {
      args = toRecordable(data.slice(1));
    } catch (err) {
      if (err instanceof NotRecordable) return false;
      throw err;
    }
    const m = {
      rooms: opts.rooms && opts.rooms.size !== 0 ? this._roomKeys([...opts.rooms]) : EMPTY,
      except: opts.except && opts.except.size !== 0 ? this._roomKeys([...opts.except]) : EMPTY,
      event: data[0],
      args,
      volatile: false,
    };
    const res = this._publish(m, null);
    if (res.offset !== null) data.push(res.offset);
    this._counters.fallbackPackets++;
    const ds = res.deliveries;
    for (let i = 0; i < ds.length; i++) this._writeDelivery(ds[i], flags, packet, null, true);
    if (res.slow && res.slow.length) this._onSlow(res.slow);
    return true;
  }

  // Packets the hub does not encode: binary attachments, non-EVENT packets, event names the
  // hub refuses, and (for values JSON cannot carry) a custom parser's packets. Encoded once by
  // Socket.io's encoder, delivered to the hub's target set, never recorded for recovery.
  // -> number of sockets written
  _fallback(packet, opts, flags, ack) {
    const c = this._counters;
    const packets = this.encoder.encode(packet);
    const bytes = encodedBytes(packets);
    if (bytes > this._settings.maxPayloadBytes) {
      c.oversizeOutbound++;
      throw new RealtimeCoreError('ERR_RT_TOO_LARGE', `packet of ${bytes} bytes is over maxPayloadBytes (${this._settings.maxPayloadBytes})`);
    }
    c.packets++;
    c.fallbackPackets++;
    const packetOpts = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
    let frameDone = packets.length !== 1 || typeof packets[0] !== 'string';
    let frame;
    const direct = this._settings.directWrite;
    const handles = this._targets(opts);
    const data = packet.data;
    const stray = this._recoveryOn && packet.type === EVENT && packet.id === undefined && Array.isArray(data)
      && typeof data[data.length - 1] === 'string' ? data[data.length - 1] : undefined;
    let written = 0;
    let directs = 0;
    for (let i = 0; i < handles.length; i++) {
      const h = handles[i];
      const s = this._socketOf(h);
      if (s === undefined) continue;
      if (flags.volatile && (transportBusy(s) || (direct && this._inFlight[h] > 0))) {
        c.droppedVolatile++;
        continue;
      }
      if (!frameDone && isWebsocket(s)) {
        frameDone = true;
        frame = wsFrame(packets[0]).frame;
        if (frame !== undefined) packetOpts.wsPreEncodedFrame = frame;
      }
      if (ack) s.acks.set(packet.id, ack);
      if (s._anyOutgoingListeners && s._anyOutgoingListeners.length) s.notifyOutgoingListeners(packet);
      let sender;
      if (frame !== undefined && direct && (sender = directSender(s)) !== null) {
        this._sendDirect(h, s, sender, frame);
        directs++;
      } else {
        s.client.writeToEngine(packets, packetOpts);
      }
      if (stray !== undefined) this._noteStray(h, stray);
      written++;
    }
    c.deliveries += written;
    c.directWrites += directs;
    c.bytes += written * bytes;
    return written;
  }

  _deliverResult(res, flags, own) {
    const ds = res.deliveries;
    if (ds) {
      for (let i = 0; i < ds.length; i++) this._writeDelivery(ds[i], flags, ds.length === 1 ? own : null, null);
    }
    if (res.slow && res.slow.length) this._onSlow(res.slow);
  }

  // The Socket.io packet object of a hub packet (for outgoing listeners and custom encoders).
  _packetOf(d) {
    const p = { type: EVENT, nsp: this.nsp.name, data: packetData(d.packet, this._prefixLength) };
    const ackId = packetAckId(d.packet, this._prefixLength);
    if (ackId !== undefined) p.id = ackId;
    return p;
  }

  // Writes one hub delivery to its sockets; `encodeOwn`: with Socket.io's encoder, from `own`
  // (binary packets). -> number of sockets written
  _writeDelivery(d, flags, own, ack, encodeOwn = false) {
    const c = this._counters;
    c.packets++;
    if (d.offset !== null && d.offset !== undefined) this._lastOffset = d.offset;
    const handles = d.handles;
    const n = handles.length;
    if (n === 0) return 0;
    let pkt = own;
    let packets;
    if (this._transcode || encodeOwn) {
      if (pkt === null) pkt = this._packetOf(d);
      packets = this.encoder.encode(pkt);
    } else {
      packets = [d.packet];
    }
    const packetOpts = {
      preEncoded: true,
      volatile: d.volatile,
      compress: flags ? flags.compress : undefined,
    };
    const recorded = d.offset !== null && d.offset !== undefined;
    let stray;
    if (this._recoveryOn && !recorded && ack === null && packetAckId(d.packet, this._prefixLength) === undefined) {
      stray = trailingString(d.packet);
    }
    let frameDone = packets.length !== 1 || typeof packets[0] !== 'string';
    let frame;
    const direct = this._settings.directWrite;
    let bytes = -1;
    let written = 0;
    let directs = 0;
    for (let i = 0; i < n; i++) {
      const h = handles[i];
      let s = this._socketByHandle[h];
      if (s === undefined) {
        s = this._socketOf(h);
        if (s === undefined) {
          if (ack === null) this._hold(h, packets, packetOpts, recorded ? d.offset : null, stray, d.volatile);
          continue;
        }
      }
      if (d.volatile && (transportBusy(s) || (direct && this._inFlight[h] > 0))) {
        c.droppedVolatile++;
        continue;
      }
      if (!frameDone && isWebsocket(s)) {
        frameDone = true;
        const f = wsFrame(packets[0]);
        bytes = f.bytes;
        frame = f.frame;
        if (frame !== undefined) packetOpts.wsPreEncodedFrame = frame;
      }
      if (ack !== null) s.acks.set(pkt ? pkt.id : packetAckId(d.packet, this._prefixLength), ack);
      if (s._anyOutgoingListeners && s._anyOutgoingListeners.length) {
        if (pkt === null) pkt = this._packetOf(d);
        s.notifyOutgoingListeners(pkt);
      }
      let sender;
      if (frame !== undefined && direct && (sender = directSender(s)) !== null) {
        this._sendDirect(h, s, sender, frame);
        directs++;
      } else {
        s.client.writeToEngine(packets, packetOpts);
      }
      if (recorded) this._lastOffByHandle[h] = d.offset;
      else if (stray !== undefined) this._noteStray(h, stray);
      written++;
    }
    if (written > 0) {
      if (bytes < 0) bytes = encodedBytes(packets);
      c.deliveries += written;
      c.directWrites += directs;
      c.bytes += written * bytes;
    }
    return written;
  }

  // A socket being restored (its session answered by restoreSession, the socket not yet in
  // nsp.sockets): keep what is delivered to it until it arrives.
  _hold(h, packets, opts, offset, stray, volatile) {
    if (volatile || !this._restoring.has(this._idByHandle[h])) return;
    let q = this._held.get(h);
    if (q === undefined) this._held.set(h, (q = []));
    if (q.length >= this._settings.pendingLimit) {
      this._counters.droppedPending++;
      return;
    }
    q.push({ packets, opts, offset, stray });
  }

  _writeHeld(h, socket, w) {
    socket.client.writeToEngine(w.packets, w.opts);
    if (w.offset !== null) this._lastOffByHandle[h] = w.offset;
    else if (w.stray !== undefined) this._noteStray(h, w.stray);
    this._counters.deliveries++;
    this._counters.bytes += encodedBytes(w.packets);
  }

  // ------------------------------------------------------------------------------------------
  // slow consumers and drains

  // Writes a pre-encoded frame directly (the fast path): sendFrame, then one more write in
  // flight for handle h until its callback.
  _sendDirect(h, s, sender, frame) {
    let inFlight = this._inFlight;
    if (h >= inFlight.length) {
      const a = new Uint32Array(Math.max(h + 1, inFlight.length * 2));
      a.set(inFlight);
      this._inFlight = inFlight = a;
    }
    inFlight[h]++;
    let cb = this._writeCbByHandle[h];
    if (cb === undefined) cb = this._writtenCallback(h, s);
    sender.sendFrame(frame, cb);
  }

  // The callback of handle h's direct writes (one per socket, made on its first direct write;
  // the stream merges the callbacks of one tick into one call): when the last write in flight
  // was handed to the kernel, the socket drained. While writes are in flight the socket is busy
  // for volatile packets, as engine.io's transport is unwritable until its write's callback.
  _writtenCallback(h, s) {
    const cb = (err) => {
      if (this._socketByHandle[h] !== s) return;
      const n = this._inFlight[h];
      if (n > 0) this._inFlight[h] = n - 1;
      if (n === 1 && !err) this._markDrained(h);
    };
    this._writeCbByHandle[h] = cb;
    return cb;
  }

  // Handles drained since the last hub.drained call: their first _drainCount entries of
  // _drainList (a growable Uint32Array), each once (_drainMark, a growable Uint8Array by handle).
  _markDrained(h) {
    let mark = this._drainMark;
    if (h >= mark.length) {
      const m = new Uint8Array(Math.max(h + 1, mark.length * 2));
      m.set(mark);
      this._drainMark = mark = m;
    } else if (mark[h] !== 0) {
      return;
    }
    mark[h] = 1;
    let list = this._drainList;
    const n = this._drainCount;
    if (n === list.length) {
      const l = new Uint32Array(n * 2);
      l.set(list);
      this._drainList = list = l;
    }
    list[n] = h;
    this._drainCount = n + 1;
    if (!this._drainScheduled) {
      this._drainScheduled = true;
      setImmediate(this._drainTick);
    }
  }

  _syncDrained() {
    const n = this._drainCount;
    if (n === 0 || this._closed) return;
    const list = this._drainList;
    const mark = this._drainMark;
    for (let i = 0; i < n; i++) mark[list[i]] = 0;
    this._drainCount = 0;
    this._hub.drained(list.subarray(0, n));
  }

  _onSlow(handles) {
    for (let i = 0; i < handles.length; i++) {
      const h = handles[i];
      const s = this._socketOf(h);
      this._counters.slowDisconnects++;
      if (this.listenerCount('slow-consumer')) this.emit('slow-consumer', this._idByHandle[h]);
      if (s === undefined) continue;
      const conn = s.conn;
      if (this._settings.slowConsumer === 'close' && conn && typeof conn.close === 'function') {
        // close the transport without waiting for its (stuck) buffer: Socket.io sees
        // "forced close", a recoverable reason, so the client can come back and recover
        conn.close(true);
      } else {
        s.disconnect(this._settings.slowConsumer === 'close');
      }
    }
  }
}

module.exports = { DeliveryMethods, EMPTY, encodedBytes, directSender };
