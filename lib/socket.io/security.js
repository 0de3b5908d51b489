'use strict';

// Security of the adapter: the join hook (authorizeJoin) and the inbound guard (a token bucket
// per socket and a maximum inbound packet size). Both act before any application code sees the
// join or the packet.

const { EVENT, BINARY_EVENT, parseInboundHeader } = require('./encoding');

// ---------------------------------------------------------------------------------------------
// authorizeJoin

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

// Asks `hook(socket, room)` about every room of `rooms` except `selfId` (always allowed) and
// those in `preAuthorized` (a Set, optional). Anything but `true` (a false, a throw, a
// rejection, another value) denies. Returns an array of booleans, or a Promise of it when the
// hook answered with a promise for any room.
function authorizeRooms(hook, socket, rooms, selfId, preAuthorized) {
  const verdicts = new Array(rooms.length);
  let async = false;
  for (let i = 0; i < rooms.length; i++) {
    if (rooms[i] === selfId || (preAuthorized !== undefined && preAuthorized.has(rooms[i]))) {
      verdicts[i] = true;
      continue;
    }
    try {
      const v = hook(socket, rooms[i]);
      if (isThenable(v)) {
        async = true;
        verdicts[i] = Promise.resolve(v).then((r) => r === true, () => false);
      } else {
        verdicts[i] = v === true;
      }
    } catch {
      verdicts[i] = false;
    }
  }
  return async ? Promise.all(verdicts) : verdicts;
}

// ---------------------------------------------------------------------------------------------
// inbound guard

// options: { rateLimit: { points, intervalMs } | null, maxInboundBytes: number | null,
//            nspName, clock, onReject(socket, code, message) }
class InboundGuard {
  constructor(options) {
    this.rate = options.rateLimit;
    this.maxBytes = options.maxInboundBytes;
    this.nspName = options.nspName;
    this.clock = options.clock;
    this.onReject = options.onReject;
  }

  get enabled() {
    return this.rate !== null || this.maxBytes !== null;
  }

  // Wraps socket._onpacket (what socket.io's Client calls, on the next tick, for every decoded
  // packet of this namespace) and, with a size limit, listens to the raw engine.io messages of
  // the connection. Returns the function that undoes both.
  attach(socket) {
    if (!this.enabled) return null;
    const guard = this;
    const state = {
      tokens: this.rate ? this.rate.points : 0,
      last: this.rate ? this.clock() : 0,
      seen: 0, // our namespace's packets measured on the raw stream
      handled: 0, // our namespace's packets that reached _onpacket
      firstBad: 0, // the index (1-based) of the first oversize packet
      pendingAttachments: 0,
      pendingOurs: false,
      pendingBytes: 0,
      rejected: false,
    };
    const original = socket._onpacket;
    const wrapper = function guardedOnPacket(packet) {
      if (guard.admit(socket, state, packet)) return original.call(this, packet);
      return undefined;
    };
    socket._onpacket = wrapper;
    let onData = null;
    const conn = socket.conn;
    if (this.maxBytes !== null && conn && typeof conn.on === 'function') {
      onData = (data) => guard.measure(state, data);
      conn.on('data', onData);
    }
    // The wrapper stays on the socket after detach: packets Socket.io has already queued (on
    // the next tick) for a rejected socket must still be dropped.
    return () => {
      if (onData) conn.removeListener('data', onData);
    };
  }

  // raw engine.io message (string, or Buffer for a binary attachment) -> updates `state`
  measure(state, data) {
    if (typeof data !== 'string') {
      if (state.pendingAttachments > 0) {
        state.pendingAttachments--;
        if (state.pendingOurs) {
          state.pendingBytes += data.byteLength !== undefined ? data.byteLength : data.length || 0;
          if (state.pendingAttachments === 0) this.complete(state, state.pendingBytes);
        }
      }
      return;
    }
    const head = parseInboundHeader(data);
    if (head === null) return;
    // CONNECT (0) and CONNECT_ERROR (4) never reach an existing socket's _onpacket
    const ours = head.nsp === this.nspName && head.type !== 0 && head.type !== 4;
    let bytes = 0;
    if (ours) {
      const max = this.maxBytes;
      bytes = data.length > max || data.length * 3 <= max ? data.length : Buffer.byteLength(data);
    }
    if (head.attachments > 0) {
      state.pendingAttachments = head.attachments;
      state.pendingOurs = ours;
      state.pendingBytes = bytes;
      return;
    }
    if (ours) this.complete(state, bytes);
  }

  complete(state, bytes) {
    state.seen++;
    if (bytes > this.maxBytes && state.firstBad === 0) state.firstBad = state.seen;
  }

  // -> whether the packet may go on to Socket.io (and the application)
  admit(socket, state, packet) {
    if (state.rejected) return false;
    if (this.maxBytes !== null) {
      state.handled++;
      if (state.firstBad !== 0 && state.handled >= state.firstBad) {
        this.reject(socket, state, 'ERR_RT_TOO_LARGE', `inbound packet over ${this.maxBytes} bytes`);
        return false;
      }
    }
    if (this.rate !== null && packet && (packet.type === EVENT || packet.type === BINARY_EVENT)) {
      const now = this.clock();
      const { points, intervalMs } = this.rate;
      if (now > state.last) {
        state.tokens = Math.min(points, state.tokens + ((now - state.last) * points) / intervalMs);
        state.last = now;
      }
      if (state.tokens < 1) {
        this.reject(socket, state, 'ERR_RT_RATE_LIMITED', `more than ${points} events per ${intervalMs} ms`);
        return false;
      }
      state.tokens -= 1;
    }
    return true;
  }

  reject(socket, state, code, message) {
    state.rejected = true;
    this.onReject(socket, code, message);
  }
}

module.exports = { authorizeRooms, isThenable, InboundGuard };
