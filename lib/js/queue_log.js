'use strict';

// The durable log of OfflineQueue (docs/offline-queue.md, "Durable mode" and "File format"):
// segment files NNNNNNNNNN.rtq, each `RTQLOG01` then records framed as u32 length, u32 CRC-32
// of the body, body. Twin of native/core/queue_log.{h,cpp}: both write and read the same bytes.
//
// - Encoder: records appended into 1 MiB chunks (the pending batch, or a snapshot).
// - replayLog(dir, visit): synchronous, at construction: snapshot rule, torn/corrupt tail cut.
// - QueueLog: the writer. Asynchronous (fs callbacks), one write in flight at a time; what the
//   queue logs meanwhile gathers in the pending batch and goes out with the next write (group
//   commit). A failed write or fsync drops what it carried, reports it, and makes the next
//   attempt a snapshot of the whole state into a new segment, so the log is whole again.

const fs = require('fs');
const path = require('path');
const { crc32 } = require('zlib');
const { RealtimeCoreError } = require('../common/errors');

const MAGIC = Buffer.from('RTQLOG01', 'latin1');
const HEADER_BYTES = 8;
const FRAME_BYTES = 8;
const SEGMENT_RE = /^(\d{10})\.rtq$/;
const TWO32 = 4294967296;
const MAX_SAFE_HI = 0x200000; // u64 high word of 2^53: offsets must stay below
const MAX_BODY = 2 ** 31 + 65536; // a longer frame is corrupt whatever the file holds

const T_PUSH = 1;
const T_ACK = 2;
const T_NACK = 3;
const T_REMOVE = 4;
const T_DEAD = 5;
const T_CLIENT = 6;
const T_SNAPSHOT_BEGIN = 7;
const T_SNAPSHOT_END = 8;
const T_DEAD_CLEAR = 9;

const FLAG_KEY = 1;
const FLAG_TEXT = 2;

function segmentName(num) {
  return `${String(num).padStart(10, '0')}.rtq`;
}

function diskError(what, err) {
  return new RealtimeCoreError('ERR_RT_DISK', `${what}: ${err && err.message ? err.message : String(err)}`);
}

// --- encoding --------------------------------------------------------------------------------

function release(chunk) {
  if (chunk.length === CHUNK_BYTES && chunkPool.length < POOL_CHUNKS) chunkPool.push(chunk);
}

function putU32(buf, o, v) {
  buf[o] = v;
  buf[o + 1] = v >>> 8;
  buf[o + 2] = v >>> 16;
  buf[o + 3] = v >>> 24;
}

// Integers of magnitude below 2^53, as two's complement 64-bit little-endian.
function putI64(buf, o, n) {
  const hi = Math.floor(n / TWO32);
  putU32(buf, o, (n - hi * TWO32) >>> 0);
  putU32(buf, o + 4, hi >>> 0);
}

// Records go into 1 MiB chunks (a record never straddles two; a larger one gets a chunk of its
// own), written out with one writev: nothing is copied as a batch grows. Written chunks come
// back to a small pool.
const CHUNK_BYTES = 1024 * 1024;
const SNAPSHOT_SLICE_RECORDS = 20000;
const POOL_CHUNKS = 32;
const chunkPool = [];
const NO_CHUNK = Buffer.alloc(0);

class Encoder {
  constructor() {
    this.buf = NO_CHUNK; // the chunk being filled
    this.len = 0; // bytes used in it
    this.full = []; // earlier chunks
    this.fullLens = [];
    this.fullBytes = 0;
  }

  get length() {
    return this.fullBytes + this.len;
  }

  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    if (this.len > 0) {
      this.full.push(this.buf);
      this.fullLens.push(this.len);
      this.fullBytes += this.len;
    } else {
      release(this.buf);
    }
    this.buf = n <= CHUNK_BYTES && chunkPool.length > 0 ? chunkPool.pop() : Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, n));
    this.len = 0;
  }

  // The bytes, as a list of buffers.
  chunks() {
    const out = [];
    for (let i = 0; i < this.full.length; i++) out.push(this.full[i].subarray(0, this.fullLens[i]));
    if (this.len > 0) out.push(this.buf.subarray(0, this.len));
    return out;
  }

  // Drops everything past `length` bytes (a call that threw).
  truncate(length) {
    while (this.fullBytes > length) {
      release(this.buf);
      this.buf = this.full.pop();
      this.len = this.fullLens.pop();
      this.fullBytes -= this.len;
    }
    this.len = length - this.fullBytes;
  }

  // Empties the encoder; its chunks go back to the pool.
  reset() {
    for (const b of this.full) release(b);
    release(this.buf);
    this.full = [];
    this.fullLens = [];
    this.fullBytes = 0;
    this.buf = NO_CHUNK;
    this.len = 0;
  }

  // A record: reserve the frame, write the type; end() fills in length and checksum.
  #begin(type, maxBody) {
    this.ensure(FRAME_BYTES + maxBody);
    const start = this.len;
    this.buf[start + FRAME_BYTES] = type;
    this.len = start + FRAME_BYTES + 1;
    return start;
  }

  #end(start) {
    const buf = this.buf;
    const body = start + FRAME_BYTES;
    putU32(buf, start, this.len - body);
    putU32(buf, start + 4, crc32(buf.subarray(body, this.len)));
  }

  // u16 byte length + UTF-8 (the caller reserved 2 + 3 * s.length bytes). Short ASCII strings
  // (ids, event names) are copied here; anything else goes through Buffer#write.
  #str(s) {
    const buf = this.buf;
    const o = this.len;
    const n = s.length;
    if (n <= 64) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[o + 2 + i] = c;
      }
      if (i === n) {
        buf[o] = n;
        buf[o + 1] = n >>> 8;
        this.len = o + 2 + n;
        return;
      }
    }
    const w = n === 0 ? 0 : buf.write(s, o + 2);
    buf[o] = w;
    buf[o + 1] = w >>> 8;
    this.len = o + 2 + w;
  }

  #u8(v) {
    this.buf[this.len++] = v;
  }

  #u32(v) {
    putU32(this.buf, this.len, v);
    this.len += 4;
  }

  #i64(v) {
    putI64(this.buf, this.len, v);
    this.len += 8;
  }

  // Returns the payload's byte length.
  push(client, offset, pushedAt, retryAt, attempts, prevDelay, event, key, payload) {
    const text = typeof payload === 'string';
    const maxBody = 1 + 2 + client.length * 3 + 8 + 8 + 8 + 4 + 4 + 1 + 2 + event.length * 3
      + (key === null ? 0 : 2 + key.length * 3) + 4 + (text ? payload.length * 3 : payload.length);
    const start = this.#begin(T_PUSH, maxBody);
    this.#str(client);
    this.#i64(offset);
    this.#i64(pushedAt);
    this.#i64(retryAt);
    this.#u32(attempts);
    this.#u32(prevDelay);
    this.#u8((key === null ? 0 : FLAG_KEY) | (text ? FLAG_TEXT : 0));
    this.#str(event);
    if (key !== null) this.#str(key);
    const at = this.len;
    let n;
    if (text) {
      n = payload.length === 0 ? 0 : this.buf.write(payload, at + 4);
    } else {
      n = payload.length;
      this.buf.set(payload, at + 4);
    }
    putU32(this.buf, at, n);
    this.len = at + 4 + n;
    this.#end(start);
    return n;
  }

  ack(client, upTo) {
    const start = this.#begin(T_ACK, 3 + client.length * 3 + 8);
    this.#str(client);
    this.#i64(upTo);
    this.#end(start);
  }

  nack(client, offset, attempts, retryAt, prevDelay) {
    const start = this.#begin(T_NACK, 3 + client.length * 3 + 8 + 4 + 8 + 4);
    this.#str(client);
    this.#i64(offset);
    this.#u32(attempts);
    this.#i64(retryAt);
    this.#u32(prevDelay);
    this.#end(start);
  }

  remove(client, offset, reason) {
    const start = this.#begin(T_REMOVE, 3 + client.length * 3 + 8 + 1);
    this.#str(client);
    this.#i64(offset);
    this.#u8(reason);
    this.#end(start);
  }

  dead(client, offset, deadAt, reason) {
    const start = this.#begin(T_DEAD, 3 + client.length * 3 + 8 + 8 + 2 + reason.length * 3);
    this.#str(client);
    this.#i64(offset);
    this.#i64(deadAt);
    this.#str(reason);
    this.#end(start);
  }

  client(client, lastOffset) {
    const start = this.#begin(T_CLIENT, 3 + client.length * 3 + 8);
    this.#str(client);
    this.#i64(lastOffset);
    this.#end(start);
  }

  marker(type) {
    this.#end(this.#begin(type, 1));
  }
}

// --- decoding --------------------------------------------------------------------------------

const CORRUPT = { corrupt: true };
const CACHED_STRING_BYTES = 256;

// Reads one body at a time (one Reader serves every record). Client ids and event names repeat
// from record to record: the last one of each is kept and reused when the bytes are the same.
class Reader {
  constructor() {
    this.buf = NO_CHUNK;
    this.pos = 0;
    this.end = 0;
    this.materialize = false;
    this.cacheBytes = [Buffer.alloc(CACHED_STRING_BYTES), Buffer.alloc(CACHED_STRING_BYTES)];
    this.cacheLen = [-1, -1];
    this.cacheStr = ['', ''];
    this.bytes = 0; // of the last payload
  }

  reset(buf, pos, end, materialize) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.materialize = materialize;
  }

  need(n) {
    if (this.pos + n > this.end) throw CORRUPT;
  }

  u8() {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16() {
    this.need(2);
    const v = this.buf[this.pos] | (this.buf[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  u32() {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  // u64 below 2^53 (offsets)
  u64() {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    if (hi >= MAX_SAFE_HI) throw CORRUPT;
    this.pos += 8;
    return hi * TWO32 + lo;
  }

  i64() {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * TWO32 + lo;
  }

  // slot: 0 client, 1 event (cached), -1 (not cached)
  str(slot) {
    const n = this.u16();
    this.need(n);
    const buf = this.buf;
    const at = this.pos;
    this.pos += n;
    if (!this.materialize) return null;
    if (slot < 0 || n > CACHED_STRING_BYTES) return buf.toString('utf8', at, at + n);
    const cached = this.cacheBytes[slot];
    if (this.cacheLen[slot] === n) {
      let i = 0;
      while (i < n && cached[i] === buf[at + i]) i++;
      if (i === n) return this.cacheStr[slot];
    }
    const str = buf.toString('utf8', at, at + n);
    buf.copy(cached, 0, at, at + n);
    this.cacheLen[slot] = n;
    this.cacheStr[slot] = str;
    return str;
  }

  payload(text) {
    const n = this.u32();
    this.need(n);
    let p = null;
    if (this.materialize) {
      p = text ? this.buf.toString('utf8', this.pos, this.pos + n) : Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    }
    this.pos += n;
    this.bytes = n;
    return p;
  }
}

const reader = new Reader();

// One record object serves every decoded record (the visitor copies what it keeps).
const REC = {
  type: 0, client: null, offset: 0, pushedAt: 0, retryAt: 0, attempts: 0, prevDelay: 0,
  event: null, key: null, payload: null, bytes: 0, deadAt: 0, reason: null, removeReason: 0,
};

// The record of body buf[start, end) (REC, overwritten by the next call), or null when the
// body is malformed (unknown type, a field past the end, bytes left over). Without
// `materialize`, strings and payloads are only checked.
function decodeBody(buf, start, end, materialize) {
  const r = reader;
  r.reset(buf, start, end, materialize);
  const rec = REC;
  try {
    const type = r.u8();
    rec.type = type;
    switch (type) {
      case T_PUSH: {
        rec.client = r.str(0);
        rec.offset = r.u64();
        rec.pushedAt = r.i64();
        rec.retryAt = r.i64();
        rec.attempts = r.u32();
        rec.prevDelay = r.u32();
        const flags = r.u8();
        if ((flags & ~(FLAG_KEY | FLAG_TEXT)) !== 0) return null;
        rec.event = r.str(1);
        rec.key = (flags & FLAG_KEY) !== 0 ? r.str(-1) : null;
        rec.payload = r.payload((flags & FLAG_TEXT) !== 0);
        rec.bytes = r.bytes;
        break;
      }
      case T_ACK:
      case T_CLIENT:
        rec.client = r.str(0);
        rec.offset = r.u64();
        break;
      case T_NACK:
        rec.client = r.str(0);
        rec.offset = r.u64();
        rec.attempts = r.u32();
        rec.retryAt = r.i64();
        rec.prevDelay = r.u32();
        break;
      case T_REMOVE: {
        rec.client = r.str(0);
        rec.offset = r.u64();
        const reason = r.u8();
        if (reason < 1 || reason > 4) return null; // 4: acked (ackOne)
        rec.removeReason = reason;
        break;
      }
      case T_DEAD:
        rec.client = r.str(0);
        rec.offset = r.u64();
        rec.deadAt = r.i64();
        rec.reason = r.str(-1);
        break;
      case T_SNAPSHOT_BEGIN:
      case T_SNAPSHOT_END:
      case T_DEAD_CLEAR:
        break;
      default:
        return null;
    }
  } catch (err) {
    if (err === CORRUPT) return null;
    throw err;
  }
  if (materialize) r.buf = NO_CHUNK; // do not keep the segment alive
  return r.pos === end ? rec : null;
}

// The next record frame at pos: the body's end, or -1 when the frame is torn or corrupt
// (short, zero length, past the end of the file, bad checksum, malformed body).
function nextRecord(buf, pos) {
  if (pos + FRAME_BYTES > buf.length) return -1;
  const len = buf.readUInt32LE(pos);
  if (len === 0 || len > MAX_BODY || len > buf.length - pos - FRAME_BYTES) return -1;
  const body = pos + FRAME_BYTES;
  const end = body + len;
  if (crc32(buf.subarray(body, end)) !== buf.readUInt32LE(pos + 4)) return -1;
  if (decodeBody(buf, body, end, false) === null) return -1;
  return end;
}

function hasHeader(buf) {
  return buf.length >= HEADER_BYTES && buf.compare(MAGIC, 0, HEADER_BYTES, 0, HEADER_BYTES) === 0;
}

// What one segment holds: its size, the end of its last good record (0: the header itself is
// bad, which makes even an empty file corrupt), whether its first record is snapshot-begin and whether a snapshot-end follows it.
// With `visit`, the segment was checked before: its records are decoded and visited.
function scanSegment(buf, visit) {
  const scan = { size: buf.length, goodEnd: 0, corrupt: true, snapshotBegin: false, snapshotEnd: false };
  if (!hasHeader(buf)) return scan;
  if (visit !== null) {
    for (let pos = HEADER_BYTES; pos + FRAME_BYTES < buf.length;) {
      const end = pos + FRAME_BYTES + buf.readUInt32LE(pos);
      const rec = end <= buf.length ? decodeBody(buf, pos + FRAME_BYTES, end, true) : null;
      if (rec === null) break;
      visit(rec);
      pos = end;
    }
    return scan;
  }
  let pos = HEADER_BYTES;
  let first = true;
  while (pos < buf.length) {
    const end = nextRecord(buf, pos);
    if (end < 0) break;
    const type = buf[pos + FRAME_BYTES];
    if (first) scan.snapshotBegin = type === T_SNAPSHOT_BEGIN;
    else if (scan.snapshotBegin && type === T_SNAPSHOT_END) scan.snapshotEnd = true;
    first = false;
    pos = end;
  }
  scan.goodEnd = pos;
  scan.corrupt = pos < buf.length;
  return scan;
}

function fsyncDir(dir) {
  let fd;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // not every platform can fsync a directory
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// Replays the log in dir (created if missing): calls visit(record) for every record in replay
// order and returns { recovery: { segments, records, truncated }, segments: [{ num, size }],
// nextSegment } (the segment files kept; the number for the writer's first new segment: one
// above the largest found, kept or not). Throws ERR_RT_DISK when dir is not a usable directory.
//
// Pass 1 checks every segment in order; the first torn or corrupt record ends the log there (the
// segment is cut, or deleted when its header is bad, and every later segment is deleted). Then
// the snapshot rule: the newest segment that starts with snapshot-begin and holds snapshot-end
// is where the replay starts; older segments and snapshots without their end are deleted.
// Pass 2 visits the records of the segments kept.
function replayLog(dir, visit) {
  try {
    let st = null;
    try {
      st = fs.statSync(dir);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    if (st === null) fs.mkdirSync(dir, { recursive: true });
    else if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);

    let nums = [];
    for (const name of fs.readdirSync(dir)) {
      const m = SEGMENT_RE.exec(name);
      if (m !== null) nums.push(Number(m[1]));
    }
    nums.sort((a, b) => a - b);
    const nextSegment = nums.length === 0 ? 1 : nums[nums.length - 1] + 1;
    const file = (num) => path.join(dir, segmentName(num));

    let scans = [];
    let cut = -1;
    for (let i = 0; i < nums.length; i++) {
      const scan = scanSegment(fs.readFileSync(file(nums[i])), null);
      scans.push(scan);
      if (scan.corrupt) {
        cut = i;
        break;
      }
    }
    let changed = false;
    let truncated = null;
    if (cut >= 0) {
      const scan = scans[cut];
      truncated = { segment: segmentName(nums[cut]), offset: scan.goodEnd, bytes: scan.size - scan.goodEnd };
      if (scan.goodEnd === 0) {
        fs.unlinkSync(file(nums[cut]));
      } else {
        fs.truncateSync(file(nums[cut]), scan.goodEnd);
        scan.size = scan.goodEnd;
      }
      for (let j = cut + 1; j < nums.length; j++) {
        truncated.bytes += fs.statSync(file(nums[j])).size;
        fs.unlinkSync(file(nums[j]));
      }
      changed = true;
      const kept = scan.goodEnd === 0 ? cut : cut + 1;
      nums = nums.slice(0, kept);
      scans = scans.slice(0, kept);
    }

    let start = 0;
    for (let i = nums.length - 1; i >= 0; i--) {
      if (scans[i].snapshotBegin && scans[i].snapshotEnd) {
        start = i;
        break;
      }
    }
    const kept = [];
    for (let i = 0; i < nums.length; i++) {
      const incomplete = scans[i].snapshotBegin && !scans[i].snapshotEnd;
      if (i >= start && !incomplete) {
        kept.push({ num: nums[i], size: scans[i].size });
      } else {
        fs.unlinkSync(file(nums[i]));
        changed = true;
      }
    }
    if (changed) fsyncDir(dir);

    let records = 0;
    const count = (rec) => {
      records++;
      visit(rec);
    };
    for (const seg of kept) {
      let buf = fs.readFileSync(file(seg.num));
      if (buf.length > seg.size) buf = buf.subarray(0, seg.size);
      scanSegment(buf, count);
    }
    return { recovery: { segments: kept.length, records, truncated }, segments: kept, nextSegment };
  } catch (err) {
    if (err instanceof RealtimeCoreError) throw err;
    throw diskError(`cannot open the queue log in ${dir}`, err);
  }
}

// --- the writer ------------------------------------------------------------------------------

function writeAll(fd, bufs, position, cb) {
  fs.writev(fd, bufs, position, (err, n) => {
    if (err) return cb(err);
    let total = 0;
    for (const b of bufs) total += b.length;
    if (n === total) return cb(null);
    if (n === 0) return cb(new Error('write made no progress'));
    // a short write: go on with what is left
    const rest = [];
    let skip = n;
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
      } else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    writeAll(fd, rest, position + n, cb);
  });
}

const pWriteAll = (fd, bufs, position) => new Promise((resolve, reject) => {
  writeAll(fd, bufs, position, (err) => (err ? reject(err) : resolve()));
});
const pFsync = (fd) => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
const pOpen = (file, flags) => new Promise((resolve, reject) => fs.open(file, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
const pLinked = (fd) => new Promise((resolve, reject) => {
  fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.nlink > 0)));
});
const pClose = (fd) => new Promise((resolve) => fs.close(fd, () => resolve()));
const pUnlink = (file) => new Promise((resolve) => fs.unlink(file, () => resolve()));
const pFsyncDir = (dir) => new Promise((resolve) => {
  fs.open(dir, 'r', (err, fd) => {
    if (err) return resolve();
    fs.fsync(fd, () => fs.close(fd, () => resolve()));
  });
});

function report(fn, ...args) {
  try {
    fn(...args);
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

class QueueLog {
  #dir;
  #fsync;
  #intervalMs;
  #segmentBytes;
  #onDurable;
  #onDurability;
  #snapshot; // () => (encoder, budget) => done: encodes the state as it is now, a slice per call
  #liveBytes; // () => number: an estimate of the snapshot's size
  #liveRatio = 1; // real snapshot size / estimate, as the last snapshot showed

  #enc = new Encoder();
  #mark = 0;
  #seq = 0; // the last seq handed out
  #pendingSeq = 0; // the highest seq whose records are in #enc
  #writtenSeq = 0;
  #syncedSeq = 0;

  #segments; // [{ num, size }] the files of the log, oldest first
  #fd = null; // the segment appended to (the last of #segments), or null: open a new one
  #size = 0; // its size
  #bytes = 0; // bytes in all segments
  #nextNum; // the number of the next new segment

  #healthy = true;
  #lastError = null;
  #resync = false; // the log missed changes: the next write is a snapshot
  #snapshotWanted = false;
  #syncTarget = 0; // fsync until #syncedSeq reaches this (flush, close, the interval timer)
  #closing = false;
  #closed = false;
  #closeSeq = 0;
  #running = false;
  #scheduled = false;
  #wanted = false; // work was asked for since the writer last looked
  #timer = null;

  constructor(dir, segments, nextSegment, options, hooks) {
    this.#dir = dir;
    this.#fsync = options.fsync;
    this.#intervalMs = options.fsyncIntervalMs;
    this.#segmentBytes = options.segmentBytes;
    // The callbacks run on the writer's turn: what they throw (a 'durability' listener, say) is
    // rethrown on its own tick, as a timer's callback would, and the writer goes on.
    this.#onDurable = (seq) => report(hooks.onDurable, seq);
    this.#onDurability = (healthy, code, message) => report(hooks.onDurability, healthy, code, message);
    this.#snapshot = hooks.snapshot;
    this.#liveBytes = hooks.liveBytes;
    // The segments replayed stay as they are: the first write opens a new one.
    this.#segments = segments.slice();
    for (const s of this.#segments) this.#bytes += s.size;
    this.#nextNum = nextSegment;
  }

  #file(num) {
    return path.join(this.#dir, segmentName(num));
  }

  // --- called by the queue, on the JS thread ---

  // The encoder a call appends its records to; begin() before, commit() after.
  get encoder() {
    return this.#enc;
  }

  begin() {
    this.#mark = this.#enc.length;
  }

  // Ends a call: its seq (0 when it logged nothing).
  commit() {
    if (this.#enc.length === this.#mark) return 0;
    if (this.#resync) {
      // the next write is a snapshot of the whole state anyway
      this.#enc.truncate(this.#mark);
    } else {
      this.#pendingSeq = this.#seq + 1;
    }
    const seq = ++this.#seq;
    this.#kick();
    return seq;
  }

  // Undoes what the current call appended (it threw).
  rollback() {
    this.#enc.truncate(this.#mark);
  }

  flush() {
    this.#syncTarget = this.#seq;
    this.#kick();
    return this.#seq;
  }

  compact() {
    this.#snapshotWanted = true;
    const seq = ++this.#seq;
    this.#kick();
    return seq;
  }

  close() {
    if (!this.#closing) {
      this.#closing = true;
      this.#closeSeq = this.#seq;
      this.#syncTarget = this.#seq;
      this.#kick();
    }
    return this.#closeSeq;
  }

  stats() {
    return {
      healthy: this.#healthy,
      segments: this.#segments.length,
      bytes: this.#bytes,
      lastError: this.#lastError,
    };
  }

  // --- the writer ---

  #kick() {
    this.#wanted = true;
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#run().catch((err) => {
        // a bug, not the disk: the log stops being trusted, the queue goes on in memory
        this.#running = false;
        this.#fail(err);
      });
    });
  }

  async #run() {
    if (this.#running) return;
    this.#running = true;
    try {
      for (;;) {
        this.#wanted = false;
        let ok = true;
        if (this.#resync || this.#snapshotWanted) {
          ok = await this.#writeSnapshot();
        } else if (this.#enc.length > 0) {
          ok = await this.#writeBatch();
        } else if (this.#syncedSeq < this.#writtenSeq && this.#syncedSeq < this.#syncTarget) {
          ok = await this.#sync();
        } else {
          break;
        }
        if (!ok) break;
      }
      if (this.#closing && !this.#closed) await this.#finishClose();
    } finally {
      this.#running = false;
    }
    // asked for while the last step finished (e.g. right after a failure): look again
    if (this.#wanted && !this.#closed) this.#kick();
  }

  async #writeBatch() {
    const enc = this.#enc;
    const seq = this.#pendingSeq;
    this.#enc = new Encoder();
    try {
      const data = enc.chunks();
      const n = enc.length;
      if (this.#fd === null) await this.#openSegment();
      // a new segment's header goes with its first write
      const fresh = this.#size === 0;
      if (fresh) data.unshift(MAGIC);
      await pWriteAll(this.#fd, data, this.#size);
      // a segment whose file was deleted (the directory removed) swallows writes silently
      if (!(await pLinked(this.#fd))) throw new Error(`${this.#file(this.#segments[this.#segments.length - 1].num)} was removed`);
      this.#grow((fresh ? HEADER_BYTES : 0) + n);
      this.#writtenSeq = seq;
      if (this.#fsync === 'always') {
        await pFsync(this.#fd);
        this.#synced(seq);
      } else if (this.#fsync === 'interval') {
        this.#armTimer();
      }
      if (this.#size >= this.#segmentBytes) await this.#closeSegment();
      if (this.#bytes >= this.#segmentBytes && this.#liveBytes() * this.#liveRatio * 2 < this.#bytes) this.#snapshotWanted = true;
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    } finally {
      enc.reset();
    }
  }

  async #openSegment() {
    const num = this.#nextNum++;
    const fd = await pOpen(this.#file(num), 'w');
    this.#fd = fd;
    this.#segments.push({ num, size: 0 });
    this.#size = 0;
    if (this.#fsync !== 'never') await pFsyncDir(this.#dir);
  }

  #grow(n) {
    this.#size += n;
    this.#bytes += n;
    this.#segments[this.#segments.length - 1].size = this.#size;
  }

  // A full segment is fsynced and closed; the next write opens a new one.
  async #closeSegment() {
    if (this.#syncedSeq < this.#writtenSeq) {
      await pFsync(this.#fd);
      this.#synced(this.#writtenSeq);
    }
    const fd = this.#fd;
    this.#fd = null;
    await pClose(fd);
  }

  async #sync() {
    const seq = this.#writtenSeq;
    try {
      if (this.#fd !== null) await pFsync(this.#fd);
      this.#synced(seq);
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  #synced(seq) {
    if (seq > this.#syncedSeq) this.#syncedSeq = seq;
    this.#onDurable(this.#syncedSeq);
  }

  #armTimer() {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#writtenSeq > this.#syncTarget) this.#syncTarget = this.#writtenSeq;
      this.#kick();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  // The live state as a snapshot into a new segment, fsynced; then the older segments go. It
  // covers every call so far, so the records waiting in #enc are dropped; calls made while it
  // is encoded and written log into #enc as usual and go after it.
  async #writeSnapshot() {
    const seq = this.#seq;
    this.#snapshotWanted = false;
    this.#resync = false;
    const estimate = this.#liveBytes();
    const encode = this.#snapshot();
    this.#enc.reset();
    this.#pendingSeq = 0;
    const snap = new Encoder();
    const num = this.#nextNum++;
    let fd = null;
    try {
      // a slice at a time, so a big state does not hold the event loop
      while (!encode(snap, SNAPSHOT_SLICE_RECORDS)) await new Promise((resolve) => setImmediate(resolve));
      if (estimate > 0) this.#liveRatio = Math.max(1, snap.length / estimate);
      fd = await pOpen(this.#file(num), 'w');
      const data = snap.chunks();
      const n = snap.length;
      data.unshift(MAGIC);
      await pWriteAll(fd, data, 0);
      await pFsync(fd);
      await pFsyncDir(this.#dir);
      if (this.#fd !== null) {
        const old = this.#fd;
        this.#fd = null;
        await pClose(old);
      }
      for (const s of this.#segments) await pUnlink(this.#file(s.num));
      await pFsyncDir(this.#dir);
      const size = HEADER_BYTES + n;
      this.#segments = [{ num, size }];
      this.#fd = fd;
      fd = null;
      this.#size = size;
      this.#bytes = size;
      this.#writtenSeq = seq;
      if (!this.#healthy) {
        this.#healthy = true;
        this.#lastError = null;
        this.#onDurability(true, null, null);
      }
      this.#synced(seq);
      if (this.#size >= this.#segmentBytes) await this.#closeSegment();
      return true;
    } catch (err) {
      if (fd !== null) {
        await pClose(fd);
        // an incomplete snapshot would be ignored by the replay; remove it anyway
        await pUnlink(this.#file(num));
      }
      this.#fail(err);
      return false;
    } finally {
      snap.reset();
    }
  }

  #fail(err) {
    const message = `queue log: ${err && err.message ? err.message : String(err)}`;
    this.#healthy = false;
    this.#lastError = message;
    this.#resync = true;
    this.#enc.reset();
    this.#pendingSeq = 0;
    if (this.#fd !== null) {
      // what follows goes to a new segment (the resync snapshot)
      fs.close(this.#fd, () => {});
      this.#fd = null;
    }
    this.#onDurability(false, 'ERR_RT_DISK', message);
  }

  async #finishClose() {
    this.#closed = true;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#fd !== null) {
      const fd = this.#fd;
      this.#fd = null;
      await pClose(fd);
    }
    if (this.#healthy && this.#syncedSeq >= this.#writtenSeq) this.#onDurable(this.#closeSeq);
  }
}

module.exports = {
  Encoder,
  QueueLog,
  replayLog,
  decodeBody,
  segmentName,
  T_PUSH, T_ACK, T_NACK, T_REMOVE, T_DEAD, T_CLIENT, T_SNAPSHOT_BEGIN, T_SNAPSHOT_END, T_DEAD_CLEAR,
};
