'use strict';

// What the adapter needs to know about Socket.io's wire format: whether a packet can be encoded
// by the hub (JSON EVENT packets of the default parser), the packet prefix, the websocket frame
// computed once per delivery, and small parsers of packet text. No state.

const EVENT = 2;
const BINARY_EVENT = 5;
const ACK = 3;
const BINARY_ACK = 6;
const MAX_ACK_ID = 2 ** 31 - 1;
const MAX_EVENT_BYTES = 256;

// ---------------------------------------------------------------------------------------------
// binary detection: the same rules as socket.io-parser's is-binary.js (the encoder switches to
// BINARY_EVENT exactly when this is true)

const withNativeBlob = typeof Blob === 'function';
const withNativeFile = typeof File === 'function';

function isBinary(obj) {
  return obj instanceof ArrayBuffer || ArrayBuffer.isView(obj)
    || (withNativeBlob && obj instanceof Blob) || (withNativeFile && obj instanceof File);
}

function hasBinary(obj, toJSON) {
  if (!obj || typeof obj !== 'object') return false;
  if (Array.isArray(obj)) {
    for (let i = 0, l = obj.length; i < l; i++) if (hasBinary(obj[i])) return true;
    return false;
  }
  if (isBinary(obj)) return true;
  if (obj.toJSON && typeof obj.toJSON === 'function' && toJSON !== true) return hasBinary(obj.toJSON(), true);
  for (const key in obj) {
    if (Object.prototype.hasOwnProperty.call(obj, key) && hasBinary(obj[key])) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// binary values in the recovery log: the hub keeps text, so a recorded binary packet keeps each
// binary value as { "\u0000rt:b64": base64 } (a key no JSON payload of an application has), and
// the missed packets are revived to Buffers (Socket.io encodes them as attachments again)

const BINARY_MARK = '\u0000rt:b64';
const BINARY_MARK_JSON = JSON.stringify(BINARY_MARK).slice(1, -1);

class NotRecordable extends Error {}

// A copy of `value` with every binary value replaced by its mark (what JSON.stringify would see,
// toJSON included). Throws NotRecordable for a Blob or File (not readable synchronously).
function toRecordable(value) {
  if (!value || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return { [BINARY_MARK]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof ArrayBuffer) return { [BINARY_MARK]: Buffer.from(value).toString('base64') };
  if ((withNativeBlob && value instanceof Blob) || (withNativeFile && value instanceof File)) throw new NotRecordable();
  if (Array.isArray(value)) return value.map(toRecordable);
  if (typeof value.toJSON === 'function') return toRecordable(value.toJSON());
  const out = {};
  for (const key of Object.keys(value)) out[key] = toRecordable(value[key]);
  return out;
}

function reviveBinary(key, value) {
  if (value !== null && typeof value === 'object' && typeof value[BINARY_MARK] === 'string') {
    return Buffer.from(value[BINARY_MARK], 'base64');
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// the packet prefix: "2" + nspPrefix (docs/fanout.md "The packet")

function nspPrefix(nspName) {
  return nspName === '/' ? '' : `${nspName},`;
}

function utf8Bytes(s) {
  return s.length * 3 <= MAX_EVENT_BYTES ? s.length : Buffer.byteLength(s);
}

// An event name the hub accepts (non-empty string of at most 256 UTF-8 bytes).
function hubEventName(ev) {
  return typeof ev === 'string' && ev.length > 0 && (ev.length <= 85 || utf8Bytes(ev) <= MAX_EVENT_BYTES);
}

// Whether `encoder` (nsp.server.encoder) writes JSON packets exactly as socket.io-parser's
// default Encoder does, i.e. whether the hub's encoding can stand in for it. Checked once per
// adapter by encoding sample packets; a custom parser (msgpack, a replacer, ...) fails it.
function isDefaultJsonEncoder(encoder, nspName) {
  if (!encoder || typeof encoder.encode !== 'function') return false;
  if (encoder.replacer) return false;
  const prefix = `2${nspPrefix(nspName)}`;
  const samples = [
    [{ type: EVENT, nsp: nspName, data: ['a', 1, 'x', { b: [true, null] }, -1.5e-7, 'é\u2028"\\'] }, null],
    [{ type: EVENT, nsp: nspName, id: 7, data: ['ev'] }, 7],
  ];
  try {
    for (const [packet, id] of samples) {
      const out = encoder.encode(packet);
      const expected = prefix + (id === null ? '' : String(id)) + JSON.stringify(packet.data);
      if (!Array.isArray(out) || out.length !== 1 || out[0] !== expected) return false;
    }
  } catch {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// the websocket frame, computed once per delivery as socket.io-adapter's in-memory adapter does
// (`ws`'s Sender.frame, loaded lazily; when `ws` cannot be loaded, no frame: engine.io encodes)

let senderFrame; // undefined: not loaded yet; null: not available

function loadSenderFrame() {
  if (senderFrame !== undefined) return senderFrame;
  senderFrame = null;
  try {
    // eslint-disable-next-line global-require
    const WebSocket = require('ws');
    if (WebSocket && WebSocket.Sender && typeof WebSocket.Sender.frame === 'function') {
      senderFrame = WebSocket.Sender.frame.bind(WebSocket.Sender);
    }
  } catch {
    senderFrame = null;
  }
  return senderFrame;
}

const FRAME_OPTIONS = Object.freeze({ readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true });

// -> { frame, bytes }: frame undefined when no frame could be made. The frame is what
// Sender#sendFrame takes (a list of buffers), here always one buffer (header and payload
// together), so that each socket's write is one stream write (no cork, no writev).
function wsFrame(packetText) {
  const data = Buffer.from(`4${packetText}`); // "4": engine.io's "message" packet type
  const frameOf = loadSenderFrame();
  let frame;
  if (frameOf) {
    frame = frameOf(data, { ...FRAME_OPTIONS });
    if (Array.isArray(frame) && frame.length > 1) frame = [Buffer.concat(frame)];
  }
  return { frame, bytes: data.length - 1 };
}

// for tests: make the next wsFrame behave as if `ws` could not be required
function setSenderFrameForTests(value) {
  senderFrame = value;
}

// ---------------------------------------------------------------------------------------------
// packet text helpers

// The data array of a hub packet ("2" + nspPrefix + [ackId] + "[...]"), binary values revived.
function packetData(text, prefixLength) {
  let i = prefixLength;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  const json = i === prefixLength ? text.slice(prefixLength) : text.slice(i);
  return json.includes(BINARY_MARK_JSON) ? JSON.parse(json, reviveBinary) : JSON.parse(json);
}

function packetAckId(text, prefixLength) {
  let i = prefixLength;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  return i === prefixLength ? undefined : Number(text.slice(prefixLength, i));
}

// When the last element of a packet's data array is a string literal (what socket.io-client
// takes as its recovery offset), that string; else undefined. Only looks at the tail.
function trailingString(text) {
  const n = text.length;
  if (n < 3 || text.charCodeAt(n - 1) !== 93 /* ] */ || text.charCodeAt(n - 2) !== 34 /* " */) return undefined;
  let p = n - 3;
  for (; p >= 0; p--) {
    if (text.charCodeAt(p) !== 34) continue;
    let slashes = 0;
    for (let q = p - 1; q >= 0 && text.charCodeAt(q) === 92; q--) slashes++;
    if (slashes % 2 === 0) break;
  }
  if (p < 0) return undefined;
  try {
    return JSON.parse(text.slice(p, n - 1));
  } catch {
    return undefined;
  }
}

// Raw inbound engine.io message of the Socket.io protocol: -> { type, attachments, nsp } or null
function parseInboundHeader(data) {
  if (typeof data !== 'string' || data.length === 0) return null;
  const type = data.charCodeAt(0) - 48;
  if (type < 0 || type > 6) return null;
  let i = 1;
  let attachments = 0;
  if (type === BINARY_EVENT || type === BINARY_ACK) {
    const dash = data.indexOf('-', i);
    if (dash < 0) return null;
    attachments = Number(data.slice(i, dash));
    if (!Number.isInteger(attachments) || attachments < 0) return null;
    i = dash + 1;
  }
  let nsp = '/';
  if (data.charCodeAt(i) === 47 /* / */) {
    const comma = data.indexOf(',', i);
    nsp = comma < 0 ? data.slice(i) : data.slice(i, comma);
  }
  return { type, attachments, nsp };
}

module.exports = {
  EVENT,
  BINARY_EVENT,
  ACK,
  BINARY_ACK,
  MAX_ACK_ID,
  hasBinary,
  toRecordable,
  NotRecordable,
  nspPrefix,
  hubEventName,
  isDefaultJsonEncoder,
  wsFrame,
  loadSenderFrame,
  setSenderFrameForTests,
  packetData,
  packetAckId,
  trailingString,
  parseInboundHeader,
};
