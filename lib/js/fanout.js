'use strict';

// The room fan-out engine of docs/fanout.md, twin of native/core/fanout.{h,cpp}. The public layer
// (lib/api/fanout.js) has checked and normalised every argument and reads the clock, so every
// method gets valid values and `now`.
//
// Layout:
// - connections: small integer handles; per-handle state in flat typed arrays grown by doubling:
//   `load` (the backlog, with the slow mark as its top bit, so delivering is one compare against
//   maxBacklog), `live` (connected), `stamp` (the generation stamp of target computation); and
//   `roomsOf[h]`, the Set of Room objects the handle joined (join order). `conns` is the Set of
//   live handles in connect order; `free` the stack of freed handles (LIFO reuse).
// - rooms: Map name -> Room { name, members: Set<handle> (join order), created, snap }. `snap`
//   is a Uint32Array copy of the members for delivering (typed arrays iterate several times
//   faster than Sets), made when the room is delivered to and dropped when its members change.
//   A room exists while it has members; deleting and re-creating it puts it at the end of the
//   Map (creation order) with a new `created` stamp.
// - keys: Map key -> KeyState; keys with a pending message sit in a min-heap by (due, first-seen
//   order). sweep forgets the keys that behave as never seen (nothing pending, last delivery
//   throttleMs ago or more): seen again, they count as first seen then (as the native engine).
// - batches: Map room name -> Batch (the open batch of that room, also for a room without
//   members); a min-heap by first-item time with lazy deletion (a batch filled by a publish).
// - recovery: records in seq order from `head` (eviction is oldest first, so the live records
//   are always a contiguous range of seqs), and per-room indexes (and one for "everyone") of the
//   records addressed to that room plus the highest seq evicted from it. A room's index (with
//   its highest evicted seq) lives while something references the room: a member, a live record
//   (the room in its rooms or except) or a saved session (the room in its rooms); an open batch
//   does not count. It is dropped as soon as the last reference goes (as the native engine's
//   maybeRelease; every call adds its references before it drops any, so this is also what is
//   seen at the end of each call). "everyone"'s is never dropped.

const { RealtimeCoreError, outOfRange } = require('../common/errors');

const SLOW = 0x80000000; // in load[h]; maxBacklog <= 2^31 - 1, so a slow load never passes
const BACKLOG = 0x7fffffff;
const NO_HANDLES = new Uint32Array(0);
const decoder = new TextDecoder();

function byteLength(str) {
  return Buffer.byteLength(str, 'utf8');
}

function unknownHandle(h) {
  return new RealtimeCoreError('ERR_RT_UNKNOWN_ID', `handle ${h} is not connected`);
}

class Room {
  constructor(name, created) {
    this.name = name;
    this.members = new Set();
    this.created = created;
    this.snap = null;
  }
}

class KeyState {
  constructor(order) {
    this.order = order;
    this.last = -1; // time of the last delivery; -1: never
    this.pending = null; // the pending message
    this.due = 0;
  }
}

class Batch {
  constructor(room, firstAt, opened) {
    this.room = room;
    this.firstAt = firstAt;
    this.opened = opened;
    this.items = []; // item texts: "[" + eventJson + ("," + argsInner) + "]"
    this.recoverable = []; // booleans, per item
    this.allVolatile = true;
    this.closed = false;
  }
}

class Record {
  constructor(seq, rooms, except, packet, at, size) {
    this.seq = seq;
    this.rooms = rooms;
    this.except = except;
    this.packet = packet;
    this.at = at;
    this.size = size;
  }
}

// The records addressed to one room (or to everyone), in seq order from `head`, the highest seq
// evicted from it, and what references the room besides its members: live records (in their
// rooms or except, once per occurrence) and saved sessions (once per occurrence in their rooms).
class RoomIndex {
  constructor() {
    this.recs = [];
    this.head = 0;
    this.evictedMax = 0;
    this.recordRefs = 0;
    this.sessionRefs = 0;
  }
}

class Session {
  constructor(sid, rooms, data, savedAt) {
    this.sid = sid;
    this.rooms = rooms;
    this.data = data;
    this.savedAt = savedAt;
  }
}

// Binary heap with a `less(a, b)` order.
class Heap {
  constructor(less) {
    this.a = [];
    this.less = less;
  }

  get size() {
    return this.a.length;
  }

  peek() {
    return this.a[0];
  }

  push(x) {
    const a = this.a;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, a[p])) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }

  pop() {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.less(a[r], a[l]) ? r : l;
        if (!this.less(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

const keyLess = (a, b) => a.due < b.due || (a.due === b.due && a.order < b.order);
const batchLess = (a, b) => a.firstAt < b.firstAt || (a.firstAt === b.firstAt && a.opened < b.opened);

function argsInner(args) {
  const text = typeof args === 'string' ? args : decoder.decode(args);
  return text.length <= 2 ? '' : text.slice(1, -1);
}

function isBase36Digit(c) {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122);
}

class Fanout {
  constructor(opts) {
    this._nsp = opts.nspPrefix;
    this._throttleMs = opts.throttleMs;
    this._batchMaxItems = opts.batchMaxItems;
    this._batchMaxDelayMs = opts.batchMaxDelayMs;
    this._maxBacklog = opts.maxBacklog;
    this._maxConnections = opts.maxConnections;
    this._maxRooms = opts.maxRooms;
    this._maxSessions = opts.maxSessions;
    this._recovery = opts.recovery ? { ...opts.recovery } : null;
    this._prefix = opts.offsetPrefix;
    this._lastSeq = opts.startSeq;

    // connections
    this._cap = 0;
    this._load = new Uint32Array(0);
    this._live = new Uint8Array(0);
    this._stamp = new Uint32Array(0);
    this._scratch = new Uint32Array(0);
    this._gen = 0;
    this._roomsOf = [];
    this._conns = new Set();
    this._free = [];
    this._next = 0;
    this._grow(64);
    // backlog gauges: the sum, and the largest (exact unless `_maxDirty`: a reset may have
    // lowered it; stats() then scans)
    this._bsum = 0;
    this._maxB = 0;
    this._maxDirty = false;

    // rooms
    this._rooms = new Map();
    this._roomStamp = 0;
    this._memberships = 0;

    // keyed messages
    this._keys = new Map();
    this._keyOrder = 0;
    this._keyHeap = new Heap(keyLess);

    // batches
    this._batches = new Map();
    this._batchHeap = new Heap(batchLess);
    this._batchOpened = 0;

    // recovery
    this._records = [];
    this._head = 0;
    this._recBytes = 0;
    this._index = new Map();
    this._everyone = new RoomIndex();
    this._sessions = new Map();

    this._s = {
      published: 0,
      deliveries: 0,
      packets: 0,
      bytes: 0,
      coalesced: 0,
      pendingKeys: 0,
      batchedItems: 0,
      bulks: 0,
      droppedVolatile: 0,
      slowConsumers: 0,
      recorded: 0,
      evicted: 0,
      recoveries: 0,
      recoveryFailures: 0,
    };
  }

  _grow(min) {
    let cap = Math.max(this._cap * 2, min, 64);
    if (cap > this._maxConnections) cap = Math.max(this._maxConnections, min);
    const grow = (Type, old) => {
      const a = new Type(cap);
      a.set(old);
      return a;
    };
    this._load = grow(Uint32Array, this._load);
    this._live = grow(Uint8Array, this._live);
    this._stamp = grow(Uint32Array, this._stamp);
    this._scratch = new Uint32Array(cap);
    this._cap = cap;
  }

  // ---- connections and rooms

  connect() {
    if (this._conns.size >= this._maxConnections) {
      throw outOfRange(`too many connections (maxConnections ${this._maxConnections})`);
    }
    let h;
    if (this._free.length > 0) h = this._free.pop();
    else {
      h = this._next++;
      if (h >= this._cap) this._grow(h + 1);
      this._roomsOf.push(null);
    }
    this._live[h] = 1;
    this._load[h] = 0;
    this._roomsOf[h] = new Set();
    this._conns.add(h);
    return h;
  }

  _connected(h) {
    return h < this._next && this._live[h] === 1;
  }

  disconnect(h) {
    if (!this._connected(h)) return null;
    const mine = this._roomsOf[h];
    const names = new Array(mine.size);
    let i = 0;
    for (const room of mine) {
      names[i++] = room.name;
      room.members.delete(h);
      room.snap = null;
      if (room.members.size === 0) {
        this._rooms.delete(room.name);
        this._release(room.name);
      }
    }
    this._memberships -= mine.size;
    this._roomsOf[h] = null;
    this._live[h] = 0;
    this._resetBacklog(h);
    this._load[h] = 0;
    this._conns.delete(h);
    this._free.push(h);
    return names;
  }

  join(h, rooms) {
    if (!this._connected(h)) throw unknownHandle(h);
    // rooms this call would create, counted once each
    let created = 0;
    for (let i = 0; i < rooms.length; i++) {
      const name = rooms[i];
      if (this._rooms.has(name)) continue;
      let dup = false;
      for (let j = 0; j < i; j++) {
        if (rooms[j] === name) {
          dup = true;
          break;
        }
      }
      if (!dup) created++;
    }
    if (created > 0 && this._rooms.size + created > this._maxRooms) {
      throw outOfRange(`too many rooms (maxRooms ${this._maxRooms})`);
    }
    const mine = this._roomsOf[h];
    let joined = 0;
    for (const name of rooms) {
      let room = this._rooms.get(name);
      if (room === undefined) {
        room = new Room(name, this._roomStamp++);
        this._rooms.set(name, room);
      } else if (room.members.has(h)) continue;
      room.members.add(h);
      room.snap = null;
      mine.add(room);
      joined++;
    }
    this._memberships += joined;
    return joined;
  }

  leave(h, name) {
    if (!this._connected(h)) throw unknownHandle(h);
    const room = this._rooms.get(name);
    if (room === undefined || !room.members.delete(h)) return false;
    room.snap = null;
    this._roomsOf[h].delete(room);
    this._memberships--;
    if (room.members.size === 0) {
      this._rooms.delete(name);
      this._release(name);
    }
    return true;
  }

  rooms(h) {
    if (!this._connected(h)) throw unknownHandle(h);
    const out = [];
    for (const room of this._roomsOf[h]) out.push(room.name);
    return out;
  }

  members(name) {
    const room = this._rooms.get(name);
    return room === undefined ? new Uint32Array(0) : Uint32Array.from(room.members);
  }

  roomSize(name) {
    const room = this._rooms.get(name);
    return room === undefined ? 0 : room.members.size;
  }

  roomNames() {
    return Array.from(this._rooms.keys());
  }

  connections() {
    return Uint32Array.from(this._conns);
  }

  backlog(h) {
    if (!this._connected(h)) throw unknownHandle(h);
    return this._load[h] & BACKLOG;
  }

  drained(handles) {
    for (let i = 0; i < handles.length; i++) {
      const h = handles[i];
      if (this._connected(h)) this._resetBacklog(h);
    }
  }

  // the backlog goes to 0; the slow mark stays
  _resetBacklog(h) {
    const v = this._load[h];
    const b = v & BACKLOG;
    if (b === 0) return;
    this._load[h] = v & SLOW;
    this._bsum -= b;
    if (b === this._maxB) this._maxDirty = true;
  }

  _snap(room) {
    let snap = room.snap;
    if (snap === null) {
      snap = new Uint32Array(room.members.size);
      let i = 0;
      for (const h of room.members) snap[i++] = h;
      room.snap = snap;
    }
    return snap;
  }

  // The target set into this._scratch; returns its length.
  _collect(rooms, except) {
    let gen = this._gen + 2;
    if (gen >= 0xfffffff0) {
      this._stamp.fill(0);
      gen = 2;
    }
    this._gen = gen;
    const stamp = this._stamp;
    const out = this._scratch;
    const excluded = gen - 1;
    for (let i = 0; i < except.length; i++) {
      const room = this._rooms.get(except[i]);
      if (room === undefined) continue;
      const m = this._snap(room);
      for (let j = 0; j < m.length; j++) stamp[m[j]] = excluded;
    }
    let n = 0;
    if (rooms.length === 0) {
      for (const h of this._conns) {
        if (stamp[h] !== excluded) out[n++] = h;
      }
    } else if (rooms.length === 1 && except.length === 0) {
      const room = this._rooms.get(rooms[0]);
      if (room !== undefined) {
        const m = this._snap(room);
        out.set(m);
        n = m.length;
      }
    } else {
      for (let i = 0; i < rooms.length; i++) {
        const room = this._rooms.get(rooms[i]);
        if (room === undefined) continue;
        const m = this._snap(room);
        for (let j = 0; j < m.length; j++) {
          const h = m[j];
          const s = stamp[h];
          if (s !== gen && s !== excluded) {
            stamp[h] = gen;
            out[n++] = h;
          }
        }
      }
    }
    return n;
  }

  targets(rooms, except) {
    return this._scratch.slice(0, this._collect(rooms, except));
  }

  // ---- delivering

  _deliver(packet, rooms, except, volatile, offset, bulk, out) {
    // the target set: one room is read straight from its snapshot, the rest is collected
    let src;
    let n;
    if (rooms.length === 1 && except.length === 0) {
      const room = this._rooms.get(rooms[0]);
      src = room === undefined ? NO_HANDLES : this._snap(room);
      n = src.length;
    } else {
      n = this._collect(rooms, except);
      src = this._scratch;
    }
    const k = this._pass(src, n, volatile, out.slow);
    const handles = this._scratch.slice(0, k);
    const st = this._s;
    st.packets++;
    if (k > 0) {
      this._bsum += k;
      st.deliveries += k;
      st.bytes += byteLength(packet) * k;
    }
    out.deliveries.push({ packet, handles, offset, volatile, bulk });
  }

  // The per-recipient pass (its own function, so the loop is optimised with the function, not
  // on stack replacement): delivers to the targets src[0..n) into this._scratch (written at
  // k <= i: safe when src is the scratch), marks slow ones; returns how many got the packet.
  _pass(src, n, volatile, slow) {
    const list = this._scratch;
    const load = this._load;
    const max = this._maxBacklog;
    let maxB = this._maxB;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const h = src[i];
      const b = load[h];
      if (b < max) {
        load[h] = b + 1;
        if (b >= maxB) maxB = b + 1;
        list[k++] = h;
      } else if (b < SLOW) {
        if (volatile) this._s.droppedVolatile++;
        else {
          load[h] = b | SLOW;
          this._s.slowConsumers++;
          slow.push(h);
        }
      }
    }
    this._maxB = maxB;
    return k;
  }

  _nextOffset() {
    return this._prefix + (this._lastSeq + 1).toString(36);
  }

  _record(rooms, except, packet, now) {
    const seq = ++this._lastSeq;
    this._append(new Record(seq, rooms, except, packet, now, byteLength(packet)));
    this._s.recorded++;
  }

  // The index of a room, made when missing.
  _indexOf(name) {
    let idx = this._index.get(name);
    if (idx === undefined) {
      idx = new RoomIndex();
      this._index.set(name, idx);
    }
    return idx;
  }

  // Forgets a room's index (and its highest evicted seq) when nothing references the room.
  _release(name) {
    const idx = this._index.get(name);
    if (idx !== undefined && idx.recordRefs === 0 && idx.sessionRefs === 0 && !this._rooms.has(name)) {
      this._index.delete(name);
    }
  }

  _append(rec) {
    this._records.push(rec);
    this._recBytes += rec.size;
    const rooms = rec.rooms;
    const except = rec.except;
    if (rooms.length === 0) this._everyone.recs.push(rec);
    for (let i = 0; i < rooms.length; i++) {
      const idx = this._indexOf(rooms[i]);
      idx.recordRefs++;
      // a room listed twice: indexed once
      if (idx.recs.length === idx.head || idx.recs[idx.recs.length - 1] !== rec) idx.recs.push(rec);
    }
    for (let i = 0; i < except.length; i++) this._indexOf(except[i]).recordRefs++;
  }

  // One message delivered now (plain, keyed); returns its offset when recorded.
  _send(m, now, out) {
    let offset = null;
    let tail = ']';
    if (m.recoverable && this._recovery !== null) {
      offset = this._nextOffset();
      tail = `,"${offset}"]`;
    }
    const inner = m.inner;
    const ack = m.ackId === null ? '' : m.ackId;
    const packet = inner.length === 0
      ? `2${this._nsp}${ack}[${m.eventJson}${tail}`
      : `2${this._nsp}${ack}[${m.eventJson},${inner}${tail}`;
    if (offset !== null) this._record(m.rooms, m.except, packet, now);
    this._deliver(packet, m.rooms, m.except, m.volatile, offset, false, out);
    return offset;
  }

  _sendBatch(b, now, out) {
    b.closed = true;
    this._batches.delete(b.room);
    const rooms = [b.room];
    const items = b.items;
    let offset = null;
    if (this._recovery !== null) {
      for (let i = 0; i < items.length; i++) {
        if (!b.recoverable[i]) continue;
        offset = this._nextOffset();
        const item = items[i];
        this._record(rooms, [], `2${this._nsp}${item.slice(0, -1)},"${offset}"]`, now);
      }
    }
    const tail = offset === null ? ']' : `,"${offset}"]`;
    const packet = `2${this._nsp}["rt:bulk",[${items.join(',')}]${tail}`;
    this._s.bulks++;
    this._deliver(packet, rooms, [], b.allVolatile, offset, true, out);
    return offset;
  }

  publish(msg, now) {
    const m = {
      rooms: msg.rooms,
      except: msg.except,
      eventJson: msg.eventJson,
      inner: argsInner(msg.args),
      volatile: msg.volatile,
      ackId: msg.ackId,
      recoverable: msg.recoverable && !msg.volatile && msg.ackId === null,
    };
    const out = { status: 'delivered', offset: null, deliveries: [], slow: [] };
    this._s.published++;
    if (msg.batch) {
      const name = m.rooms[0];
      let b = this._batches.get(name);
      if (b === undefined) {
        b = new Batch(name, now, this._batchOpened++);
        this._batches.set(name, b);
        this._batchHeap.push(b);
      }
      b.items.push(m.inner.length === 0 ? `[${m.eventJson}]` : `[${m.eventJson},${m.inner}]`);
      b.recoverable.push(m.recoverable);
      if (!m.volatile) b.allVolatile = false;
      this._s.batchedItems++;
      if (b.items.length >= this._batchMaxItems) {
        const offset = this._sendBatch(b, now, out);
        if (m.recoverable && this._recovery !== null) out.offset = offset;
      } else out.status = 'batched';
    } else if (msg.key !== null) {
      let ks = this._keys.get(msg.key);
      if (ks === undefined) {
        ks = new KeyState(this._keyOrder++);
        this._keys.set(msg.key, ks);
      }
      if (ks.pending === null && (ks.last < 0 || now - ks.last >= this._throttleMs)) {
        ks.last = now;
        out.offset = this._send(m, now, out);
      } else if (ks.pending !== null) {
        ks.pending = m;
        this._s.coalesced++;
        out.status = 'coalesced';
      } else {
        ks.pending = m;
        ks.due = ks.last + this._throttleMs;
        this._keyHeap.push(ks);
        this._s.pendingKeys++;
        out.status = 'pending';
      }
    } else {
      out.offset = this._send(m, now, out);
    }
    this._evict(now);
    return out;
  }

  flush(now, all) {
    const out = { deliveries: [], slow: [] };
    const keys = this._keyHeap;
    while (keys.size > 0 && (all || keys.peek().due <= now)) {
      const ks = keys.pop();
      const m = ks.pending;
      ks.pending = null;
      ks.last = now;
      this._s.pendingKeys--;
      this._send(m, now, out);
    }
    const heap = this._batchHeap;
    const maxDelay = this._batchMaxDelayMs;
    const due = [];
    while (heap.size > 0) {
      const b = heap.peek();
      if (b.closed) {
        heap.pop();
        continue;
      }
      if (!all && now - b.firstAt < maxDelay) break;
      due.push(heap.pop());
    }
    if (due.length > 1) {
      // by first-item time, then room creation order (a room without members last, in the
      // order its batch was opened)
      const rank = (b) => {
        const room = this._rooms.get(b.room);
        return room === undefined ? Infinity : room.created;
      };
      for (const b of due) b.rank = rank(b);
      due.sort((a, b) => a.firstAt - b.firstAt || (a.rank === b.rank ? a.opened - b.opened : a.rank < b.rank ? -1 : 1));
    }
    for (const b of due) this._sendBatch(b, now, out);
    this._evict(now);
    return out;
  }

  nextDue() {
    let due = null;
    if (this._keyHeap.size > 0) due = this._keyHeap.peek().due;
    const heap = this._batchHeap;
    while (heap.size > 0 && heap.peek().closed) heap.pop();
    if (heap.size > 0) {
      const at = heap.peek().firstAt + this._batchMaxDelayMs;
      if (due === null || at < due) due = at;
    }
    return due;
  }

  // ---- recovery

  _evict(now) {
    const rec = this._recovery;
    if (rec === null) return 0;
    const records = this._records;
    let head = this._head;
    let n = 0;
    while (head < records.length) {
      const r = records[head];
      const count = records.length - head;
      if (now - r.at <= rec.windowMs && count <= rec.maxPackets && this._recBytes <= rec.maxBytes) break;
      records[head++] = undefined;
      this._recBytes -= r.size;
      n++;
      this._unindex(r);
    }
    if (n > 0) {
      this._s.evicted += n;
      if (head === records.length) {
        this._records = [];
        head = 0;
      } else if (head > 1024 && head * 2 > records.length) {
        this._records = records.slice(head);
        head = 0;
      }
      this._head = head;
    }
    return n;
  }

  _unindex(r) {
    const rooms = r.rooms;
    const except = r.except;
    if (rooms.length === 0) this._popIndex(this._everyone, r);
    for (let i = 0; i < rooms.length; i++) {
      const idx = this._index.get(rooms[i]);
      if (idx.head < idx.recs.length && idx.recs[idx.head] === r) this._popIndex(idx, r); // else a duplicate
    }
    // then the record's references go (its rooms' highest evicted seqs are set first)
    for (let i = 0; i < rooms.length; i++) this._unrefRecord(rooms[i]);
    for (let i = 0; i < except.length; i++) this._unrefRecord(except[i]);
  }

  _unrefRecord(name) {
    const idx = this._index.get(name);
    if (--idx.recordRefs === 0) this._release(name);
  }

  _popIndex(idx, r) {
    idx.recs[idx.head++] = undefined;
    idx.evictedMax = r.seq;
    if (idx.head === idx.recs.length) {
      idx.recs = [];
      idx.head = 0;
    } else if (idx.head > 256 && idx.head * 2 > idx.recs.length) {
      idx.recs = idx.recs.slice(idx.head);
      idx.head = 0;
    }
  }

  // Every session saved more than windowMs ago (save times need not be in save order: imports).
  _expireSessions(now) {
    const windowMs = this._recovery.windowMs;
    const expired = [];
    for (const [id, s] of this._sessions) {
      if (now - s.savedAt > windowMs) expired.push(id);
    }
    for (const id of expired) this._removeSession(id);
    return expired.length;
  }

  // A new session's rooms are referenced before anything else of the call (so a room's highest
  // evicted seq survives the replacement of a session and the evictions of saveSession itself).
  _newSession(sid, rooms, data, savedAt) {
    for (let i = 0; i < rooms.length; i++) this._indexOf(rooms[i]).sessionRefs++;
    return new Session(sid, rooms.slice(), data, savedAt);
  }

  _removeSession(id) {
    const s = this._sessions.get(id);
    if (s === undefined) return;
    this._sessions.delete(id);
    const rooms = s.rooms;
    for (let i = 0; i < rooms.length; i++) {
      const idx = this._index.get(rooms[i]);
      if (--idx.sessionRefs === 0) this._release(rooms[i]);
    }
  }

  // Replaces a session of the same id (the new one is then the newest), then evicts the oldest
  // saved over maxSessions.
  _storeSession(id, s) {
    this._removeSession(id);
    this._sessions.set(id, s);
    while (this._sessions.size > this._maxSessions) this._removeSession(this._sessions.keys().next().value);
  }

  saveSession(id, sid, rooms, data, now) {
    if (this._recovery === null) return; // (the public layer refuses it without recovery)
    const s = this._newSession(sid, rooms, data, now);
    this._evict(now);
    this._storeSession(id, s);
  }

  // seq of an offset of this hub, or -1
  _parseOffset(offset) {
    const prefix = this._prefix;
    if (offset.length <= prefix.length || !offset.startsWith(prefix)) return -1;
    let seq = 0;
    for (let i = prefix.length; i < offset.length; i++) {
      const c = offset.charCodeAt(i);
      if (!isBase36Digit(c)) return -1;
      seq = seq * 36 + (c <= 57 ? c - 48 : c - 87);
      if (seq > this._lastSeq) return -1;
    }
    return seq;
  }

  restore(id, offset, now) {
    if (this._recovery === null) {
      this._s.recoveryFailures++;
      return { status: 'unknown-session' };
    }
    this._evict(now);
    const s = this._sessions.get(id);
    if (s === undefined) {
      this._s.recoveryFailures++;
      return { status: 'unknown-session' };
    }
    if (now - s.savedAt > this._recovery.windowMs) {
      this._removeSession(id);
      this._s.recoveryFailures++;
      return { status: 'expired' };
    }
    const from = this._parseOffset(offset);
    if (from < 0) {
      this._s.recoveryFailures++;
      return { status: 'invalid-offset' };
    }
    // the indexes the session needs: everyone, and each of its rooms
    const lists = [this._everyone];
    let evicted = this._everyone.evictedMax;
    for (let i = 0; i < s.rooms.length; i++) {
      const idx = this._index.get(s.rooms[i]);
      if (idx === undefined || lists.includes(idx)) continue;
      if (idx.evictedMax > evicted) evicted = idx.evictedMax;
      lists.push(idx);
    }
    if (evicted > from) {
      this._s.recoveryFailures++;
      return { status: 'too-old' };
    }
    let found = [];
    for (const idx of lists) {
      const recs = idx.recs;
      let lo = idx.head;
      let hi = recs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (recs[mid].seq <= from) lo = mid + 1;
        else hi = mid;
      }
      if (lo < recs.length) found = found.length === 0 ? recs.slice(lo) : found.concat(recs.slice(lo));
    }
    if (lists.length > 1) found.sort((a, b) => a.seq - b.seq);
    let mine = null;
    const packets = [];
    let last = -1;
    for (const r of found) {
      if (r.seq === last) continue;
      last = r.seq;
      if (r.except.length > 0) {
        if (mine === null) mine = new Set(s.rooms);
        let hit = false;
        for (const e of r.except) {
          if (mine.has(e)) {
            hit = true;
            break;
          }
        }
        if (hit) continue;
      }
      packets.push(r.packet);
    }
    const out = { status: 'recovered', sid: s.sid, rooms: s.rooms.slice(), data: s.data, packets };
    this._removeSession(id);
    this._s.recoveries++;
    return out;
  }

  sweep(now) {
    // Keys that behave as never seen are forgotten (seen again, they count as first seen then).
    for (const [key, ks] of this._keys) {
      if (ks.pending === null && (ks.last < 0 || now - ks.last >= this._throttleMs)) this._keys.delete(key);
    }
    if (this._recovery === null) return { evicted: 0, expired: 0 };
    const evicted = this._evict(now);
    return { evicted, expired: this._expireSessions(now) };
  }

  stats() {
    const s = this._s;
    return {
      connections: this._conns.size,
      rooms: this._rooms.size,
      memberships: this._memberships,
      published: s.published,
      deliveries: s.deliveries,
      packets: s.packets,
      bytes: s.bytes,
      coalesced: s.coalesced,
      pendingKeys: s.pendingKeys,
      batchedItems: s.batchedItems,
      bulks: s.bulks,
      openBatches: this._batches.size,
      droppedVolatile: s.droppedVolatile,
      slowConsumers: s.slowConsumers,
      backlog: this._bsum,
      maxBacklog: this._maxBacklogNow(),
      recorded: s.recorded,
      recoveryPackets: this._records.length - this._head,
      recoveryBytes: this._recBytes,
      evicted: s.evicted,
      sessions: this._sessions.size,
      recoveries: s.recoveries,
      recoveryFailures: s.recoveryFailures,
    };
  }

  _maxBacklogNow() {
    if (this._maxDirty) {
      let m = 0;
      const load = this._load;
      for (const h of this._conns) {
        const b = load[h] & BACKLOG;
        if (b > m) m = b;
      }
      this._maxB = m;
      this._maxDirty = false;
    }
    return this._maxB;
  }

  lastSeq() {
    return this._lastSeq;
  }

  recordsSince(seq) {
    const records = this._records;
    let lo = this._head;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    const out = new Array(records.length - lo);
    for (let i = lo; i < records.length; i++) {
      const r = records[i];
      out[i - lo] = { seq: r.seq, rooms: r.rooms.slice(), except: r.except.slice(), packet: r.packet, at: r.at };
    }
    return out;
  }

  importRecord(seq, rooms, except, packet, at) {
    if (this._recovery === null) return;
    this._append(new Record(seq, rooms.slice(), except.slice(), packet, at, byteLength(packet)));
    if (seq > this._lastSeq) this._lastSeq = seq;
  }

  importSession(id, sid, rooms, data, savedAt) {
    if (this._recovery === null) return;
    this._storeSession(id, this._newSession(sid, rooms, data, savedAt));
  }
}

module.exports = { Fanout };
