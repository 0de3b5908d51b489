'use strict';

// The wire format between nodes: socket.io-adapter's ClusterAdapter messages ({ uid, nsp, type,
// data }, the MessageType enum of socket.io-adapter), msgpack-encoded (notepack.io, as the
// official Redis adapters), in a frame that carries the recovery offset Redis assigned:
//
//   frame = offset (ASCII, may be empty) + NUL + msgpack(message)
//
// The offset is put in front by the Lua script that records the packet (it only knows the offset
// once it has taken the next sequence number), so a recorded broadcast is ONE Redis message
// whatever its number of recipients. See docs/redis.md.

function loadMessageType() {
  try {
    // eslint-disable-next-line global-require
    const { MessageType } = require('socket.io-adapter');
    if (MessageType && MessageType.BROADCAST === 3) return MessageType;
  } catch {
    // socket.io-adapter comes with socket.io; without it, the same numbers
  }
  return Object.freeze({
    INITIAL_HEARTBEAT: 1,
    HEARTBEAT: 2,
    BROADCAST: 3,
    SOCKETS_JOIN: 4,
    SOCKETS_LEAVE: 5,
    DISCONNECT_SOCKETS: 6,
    FETCH_SOCKETS: 7,
    FETCH_SOCKETS_RESPONSE: 8,
    SERVER_SIDE_EMIT: 9,
    SERVER_SIDE_EMIT_RESPONSE: 10,
    BROADCAST_CLIENT_COUNT: 11,
    BROADCAST_ACK: 12,
    ADAPTER_CLOSE: 13,
  });
}

const MessageType = loadMessageType();
// ours, beyond the ClusterAdapter protocol: "a restore on this node has read the log" (published
// by the restore script to the restoring node's own channel; see recovery.js)
const RESTORE_SYNC = 100;

function loadMsgpack() {
  try {
    // eslint-disable-next-line global-require
    return require('notepack.io');
  } catch (cause) {
    const e = new Error('realtime-core/socket.io: the Redis cluster adapter needs "notepack.io" (npm install notepack.io)');
    e.code = 'ERR_RT_MISSING_PEER';
    e.cause = cause;
    throw e;
  }
}

const NUL = 0;

function encodeOptions(opts) {
  return {
    rooms: opts && opts.rooms ? [...opts.rooms] : [],
    except: opts && opts.except ? [...opts.except] : [],
    flags: (opts && opts.flags) || {},
  };
}

function decodeOptions(o) {
  return {
    rooms: new Set(o && o.rooms ? o.rooms : []),
    except: new Set(o && o.except ? o.except : []),
    flags: (o && o.flags) || {},
  };
}

function createCodec() {
  const msgpack = loadMsgpack();
  return {
    msgpack,
    // -> Buffer: the body (msgpack of the message)
    encode: (message) => msgpack.encode(message),
    // -> a frame without an offset
    frame(body) {
      const out = Buffer.allocUnsafe(body.length + 1);
      out[0] = NUL;
      body.copy(out, 1);
      return out;
    },
    // frame -> { offset: string | null, message } (null: not one of ours)
    decode(buf) {
      const i = buf.indexOf(NUL);
      if (i < 0) return null;
      let message;
      try {
        message = msgpack.decode(buf.subarray(i + 1));
      } catch {
        return null;
      }
      if (!message || typeof message !== 'object') return null;
      return { offset: i === 0 ? null : buf.toString('latin1', 0, i), message };
    },
  };
}

// Redis names for a namespace: one hash tag, so that every key and channel of a deployment maps
// to one cluster slot (the scripts touch keys they compute)
function names(prefix, nspName) {
  const base = `${prefix}:${nspName.length}:${nspName}:`;
  return {
    base,
    channel: `${base}ch`,
    responseChannel: (uid) => `${base}ch:${uid}`,
    seq: `${base}seq`,
    epoch: `${base}epoch`,
    gap: `${base}gap`,
    session: (pid) => `${base}s:${pid}`,
  };
}

module.exports = { MessageType, RESTORE_SYNC, createCodec, encodeOptions, decodeOptions, names };
