'use strict';

// Randomised op sequences on FanoutHub (docs/fanout.md): connect, disconnect, join, leave,
// publish (rooms, except, keys, batches, volatile, acks, recovery), flush at advancing times,
// drained, saveSession/restore, sweep. Every result and the final stats are compared between the
// two implementations, and each implementation is checked against a naive model of the contract
// below (linear scans, the rules read literally). A fixed seed always runs, plus a fresh one
// (RT_SEED repeats it).

const { IMPLS, native, js } = require('../helpers/impls');
const { mulberry32 } = require('../../lib/js/prng');

const FIXED_SEED = 20261123;
const FRESH_SEED = process.env.RT_SEED ? Number(process.env.RT_SEED) : Math.floor(Math.random() * 2 ** 31);
const RUNS = Math.max(8, Math.round(Number(process.env.RT_ROUNDS || 300) / 6));
const STEPS = 150;
const T0 = 1_700_000_000_000;

const ROOMS = ['a', 'b', 'c', 'd', 'e', 'room:é'];
const KEYS = ['k1', 'k2', 'k3'];
const EVENTS = ['ev', 'status', 'é"x'];
const SESSION_IDS = ['s1', 's2', 's3', 's4'];

// ---- the naive model (engine semantics, after the public layer's normalisation)

class Model {
  constructor(o) {
    Object.assign(this, o);
    this.conns = []; // connect order
    this.free = [];
    this.next = 0;
    this.joined = new Map(); // handle -> room names (join order)
    this.backlog = new Map();
    this.slow = new Set();
    this.rooms = []; // { name, members } in creation order
    this.keys = []; // { key, last, pending, due } in first-seen order
    this.batches = []; // { room, firstAt, opened, items }
    this.opened = 0;
    this.records = []; // every record ever, with an `evicted` flag and the rooms whose memory of it is `forgotten`
    this.lastSeq = 0;
    this.sessions = []; // save order
    this.s = { published: 0, deliveries: 0, packets: 0, bytes: 0, coalesced: 0, batchedItems: 0, bulks: 0, droppedVolatile: 0, slowConsumers: 0, recorded: 0, evicted: 0, recoveries: 0, recoveryFailures: 0 };
  }

  room(name) {
    return this.rooms.find((r) => r.name === name);
  }

  connect() {
    const h = this.free.length > 0 ? this.free.pop() : this.next++;
    this.conns.push(h);
    this.joined.set(h, []);
    this.backlog.set(h, 0);
    this.slow.delete(h);
    return h;
  }

  disconnect(h) {
    if (!this.joined.has(h)) return null;
    const names = this.joined.get(h);
    for (const n of names) this.removeMember(n, h);
    this.joined.delete(h);
    this.backlog.delete(h);
    this.slow.delete(h);
    this.conns = this.conns.filter((x) => x !== h);
    this.free.push(h);
    return names;
  }

  removeMember(name, h) {
    const room = this.room(name);
    room.members = room.members.filter((x) => x !== h);
    if (room.members.length === 0) this.rooms = this.rooms.filter((r) => r !== room);
  }

  join(h, names) {
    if (!this.joined.has(h)) throw Object.assign(new Error('unknown'), { code: 'ERR_RT_UNKNOWN_ID' });
    let n = 0;
    for (const name of names) {
      let room = this.room(name);
      if (!room) {
        room = { name, members: [] };
        this.rooms.push(room);
      }
      if (room.members.includes(h)) continue;
      room.members.push(h);
      this.joined.get(h).push(name);
      n++;
    }
    return n;
  }

  leave(h, name) {
    if (!this.joined.has(h)) throw Object.assign(new Error('unknown'), { code: 'ERR_RT_UNKNOWN_ID' });
    const room = this.room(name);
    if (!room || !room.members.includes(h)) return false;
    this.removeMember(name, h);
    this.joined.set(h, this.joined.get(h).filter((x) => x !== name));
    return true;
  }

  targets(rooms, except) {
    const ex = new Set(except.flatMap((n) => (this.room(n) ? this.room(n).members : [])));
    if (rooms.length === 0) return this.conns.filter((h) => !ex.has(h));
    const out = [];
    for (const n of rooms) {
      for (const h of this.room(n) ? this.room(n).members : []) if (!out.includes(h) && !ex.has(h)) out.push(h);
    }
    return out;
  }

  deliver(packet, rooms, except, volatile, offset, bulk, out) {
    const handles = [];
    for (const h of this.targets(rooms, except)) {
      if (this.slow.has(h)) continue;
      if (this.backlog.get(h) >= this.maxBacklog) {
        if (volatile) this.s.droppedVolatile++;
        else {
          this.slow.add(h);
          this.s.slowConsumers++;
          out.slow.push(h);
        }
        continue;
      }
      this.backlog.set(h, this.backlog.get(h) + 1);
      handles.push(h);
    }
    this.s.packets++;
    this.s.deliveries += handles.length;
    this.s.bytes += Buffer.byteLength(packet) * handles.length;
    out.deliveries.push({ packet, handles, offset, volatile, bulk });
  }

  record(rooms, except, packet, now) {
    this.records.push({ seq: ++this.lastSeq, rooms, except, packet, at: now, size: Buffer.byteLength(packet), evicted: false, forgotten: new Set() });
    this.s.recorded++;
  }

  offsetOf(seq) {
    return this.prefix + seq.toString(36);
  }

  send(m, now, out) {
    let offset = null;
    const args = m.inner === '' ? '' : `,${m.inner}`;
    let packet = `2${this.nsp}${m.ackId === null ? '' : m.ackId}[${m.eventJson}${args}]`;
    if (this.recovery && m.recoverable) {
      offset = this.offsetOf(this.lastSeq + 1);
      packet = `${packet.slice(0, -1)},"${offset}"]`;
      this.record(m.rooms, m.except, packet, now);
    }
    this.deliver(packet, m.rooms, m.except, m.volatile, offset, false, out);
    return offset;
  }

  sendBatch(b, now, out) {
    this.batches = this.batches.filter((x) => x !== b);
    let offset = null;
    for (const it of b.items) {
      if (!(this.recovery && it.recoverable)) continue;
      offset = this.offsetOf(this.lastSeq + 1);
      this.record([b.room], [], `2${this.nsp}${it.text.slice(0, -1)},"${offset}"]`, now);
    }
    const packet = `2${this.nsp}["rt:bulk",[${b.items.map((i) => i.text).join(',')}]${offset === null ? '' : `,"${offset}"`}]`;
    this.s.bulks++;
    this.deliver(packet, [b.room], [], b.items.every((i) => i.volatile), offset, true, out);
    return offset;
  }

  publish(m, now) {
    const out = { status: 'delivered', offset: null, deliveries: [], slow: [] };
    this.s.published++;
    if (m.batch) {
      let b = this.batches.find((x) => x.room === m.rooms[0]);
      if (!b) {
        b = { room: m.rooms[0], firstAt: now, opened: this.opened++, items: [] };
        this.batches.push(b);
      }
      b.items.push({ text: `[${m.eventJson}${m.inner === '' ? '' : `,${m.inner}`}]`, recoverable: m.recoverable, volatile: m.volatile });
      this.s.batchedItems++;
      if (b.items.length >= this.maxItems) {
        const offset = this.sendBatch(b, now, out);
        if (this.recovery && m.recoverable) out.offset = offset;
      } else out.status = 'batched';
    } else if (m.key !== null) {
      let k = this.keys.find((x) => x.key === m.key);
      if (!k) {
        k = { key: m.key, last: null, pending: null, due: 0 };
        this.keys.push(k);
      }
      if (k.pending === null && (k.last === null || now - k.last >= this.throttleMs)) {
        k.last = now;
        out.offset = this.send(m, now, out);
      } else if (k.pending !== null) {
        k.pending = m;
        this.s.coalesced++;
        out.status = 'coalesced';
      } else {
        k.pending = m;
        k.due = k.last + this.throttleMs;
        out.status = 'pending';
      }
    } else out.offset = this.send(m, now, out);
    this.evict(now);
    return out;
  }

  flush(now, all) {
    const out = { deliveries: [], slow: [] };
    const keys = this.keys.filter((k) => k.pending !== null && (all || k.due <= now));
    keys.sort((x, y) => x.due - y.due || this.keys.indexOf(x) - this.keys.indexOf(y));
    for (const k of keys) {
      const m = k.pending;
      k.pending = null;
      k.last = now;
      this.send(m, now, out);
    }
    const rank = (b) => {
      const i = this.rooms.findIndex((r) => r.name === b.room);
      return i < 0 ? Infinity : i;
    };
    const due = this.batches.filter((b) => all || now - b.firstAt >= this.maxDelayMs);
    due.sort((x, y) => x.firstAt - y.firstAt || (rank(x) === rank(y) ? x.opened - y.opened : rank(x) < rank(y) ? -1 : 1));
    for (const b of due) this.sendBatch(b, now, out);
    this.evict(now);
    return out;
  }

  nextDue() {
    const dues = [...this.keys.filter((k) => k.pending !== null).map((k) => k.due), ...this.batches.map((b) => b.firstAt + this.maxDelayMs)];
    return dues.length === 0 ? null : Math.min(...dues);
  }

  drained(handles) {
    for (const h of handles) if (this.backlog.has(h)) this.backlog.set(h, 0);
  }

  evict(now) {
    if (!this.recovery) return 0;
    let n = 0;
    for (const r of this.records) {
      if (r.evicted) continue;
      const live = this.records.filter((x) => !x.evicted);
      const bytes = live.reduce((sum, x) => sum + x.size, 0);
      if (now - r.at > this.recovery.windowMs || live.length > this.recovery.maxPackets || bytes > this.recovery.maxBytes) {
        r.evicted = true;
        n++;
      } else break;
    }
    this.s.evicted += n;
    return n;
  }

  saveSession(id, sid, rooms, data, now) {
    this.evict(now);
    this.sessions = this.sessions.filter((s) => s.id !== id);
    this.sessions.push({ id, sid, rooms: rooms.slice(), data, savedAt: now });
    while (this.sessions.length > this.maxSessions) this.sessions.shift();
  }

  restore(id, offset, now) {
    this.evict(now);
    const s = this.sessions.find((x) => x.id === id);
    const fail = (status) => {
      this.s.recoveryFailures++;
      return { status };
    };
    if (!s) return fail('unknown-session');
    if (now - s.savedAt > this.recovery.windowMs) {
      this.sessions = this.sessions.filter((x) => x !== s);
      return fail('expired');
    }
    const digits = offset.startsWith(this.prefix) ? offset.slice(this.prefix.length) : '';
    if (!/^[0-9a-z]+$/.test(digits) || digits.length > 10 || parseInt(digits, 36) > this.lastSeq) return fail('invalid-offset');
    const from = parseInt(digits, 36);
    const mine = (r) => r.rooms.length === 0 || r.rooms.some((x) => s.rooms.includes(x));
    // an evicted record is needed when addressed to everyone or remembered by one of the session's rooms
    const remembered = (r) => r.rooms.length === 0 || r.rooms.some((x) => s.rooms.includes(x) && !r.forgotten.has(x));
    if (this.records.some((r) => r.seq > from && r.evicted && remembered(r))) return fail('too-old');
    this.sessions = this.sessions.filter((x) => x !== s);
    this.s.recoveries++;
    const packets = this.records
      .filter((r) => r.seq > from && !r.evicted && mine(r) && !r.except.some((x) => s.rooms.includes(x)))
      .map((r) => r.packet);
    return { status: 'recovered', sid: s.sid, rooms: s.rooms.slice(), data: s.data, packets };
  }

  sweep(now) {
    // keys that behave as never seen are forgotten: seen again, they count as first seen then
    this.keys = this.keys.filter((k) => k.pending !== null || (k.last !== null && now - k.last < this.throttleMs));
    if (!this.recovery) return { evicted: 0, expired: 0 };
    const evicted = this.evict(now);
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => now - s.savedAt <= this.recovery.windowMs);
    return { evicted, expired: before - this.sessions.length };
  }

  // At the end of every call: a room referenced by no member, no live record (rooms or except)
  // and no saved session forgets the records evicted from it.
  forget() {
    const referenced = (x) => this.room(x) !== undefined ||
      this.records.some((r) => !r.evicted && (r.rooms.includes(x) || r.except.includes(x))) ||
      this.sessions.some((s) => s.rooms.includes(x));
    for (const r of this.records) {
      if (!r.evicted) continue;
      for (const x of r.rooms) if (!r.forgotten.has(x) && !referenced(x)) r.forgotten.add(x);
    }
  }

  stats() {
    const live = this.records.filter((r) => !r.evicted);
    const backlogs = [...this.backlog.values()];
    return {
      connections: this.conns.length,
      rooms: this.rooms.length,
      memberships: this.rooms.reduce((n, r) => n + r.members.length, 0),
      published: this.s.published,
      deliveries: this.s.deliveries,
      packets: this.s.packets,
      bytes: this.s.bytes,
      coalesced: this.s.coalesced,
      pendingKeys: this.keys.filter((k) => k.pending !== null).length,
      batchedItems: this.s.batchedItems,
      bulks: this.s.bulks,
      openBatches: this.batches.length,
      droppedVolatile: this.s.droppedVolatile,
      slowConsumers: this.s.slowConsumers,
      backlog: backlogs.reduce((a, b) => a + b, 0),
      maxBacklog: Math.max(0, ...backlogs),
      recorded: this.s.recorded,
      recoveryPackets: live.length,
      recoveryBytes: live.reduce((n, r) => n + r.size, 0),
      evicted: this.s.evicted,
      sessions: this.sessions.length,
      recoveries: this.s.recoveries,
      recoveryFailures: this.s.recoveryFailures,
    };
  }
}

// the model's side of each call, with the public layer's normalisation
function modelCall(model, op, now) {
  try {
    return modelOp(model, op, now);
  } finally {
    model.forget();
  }
}

function modelOp(model, op, now) {
  switch (op.op) {
    case 'connect': return model.connect();
    case 'disconnect': return model.disconnect(op.h);
    case 'join': return model.join(op.h, op.rooms);
    case 'leave': return model.leave(op.h, op.room);
    case 'rooms':
      if (!model.joined.has(op.h)) throw Object.assign(new Error('unknown'), { code: 'ERR_RT_UNKNOWN_ID' });
      return model.joined.get(op.h).slice();
    case 'backlog':
      if (!model.joined.has(op.h)) throw Object.assign(new Error('unknown'), { code: 'ERR_RT_UNKNOWN_ID' });
      return model.backlog.get(op.h);
    case 'members': return model.room(op.room) ? model.room(op.room).members.slice() : [];
    case 'targets': return model.targets(op.rooms, op.except);
    case 'publish': {
      const m = op.message;
      // a string payload is JSON text, not parsed
      const text = typeof m.payload === 'string' ? m.payload : JSON.stringify(m.payload);
      const args = m.args !== undefined ? JSON.stringify(m.args) : `[${text}]`;
      const ackId = m.ackId === undefined ? null : m.ackId;
      return model.publish({
        rooms: m.rooms || [],
        except: m.except || [],
        eventJson: JSON.stringify(m.event),
        inner: args.slice(1, -1),
        key: m.key === undefined ? null : m.key,
        volatile: m.volatile === true,
        batch: m.batch === true,
        ackId,
        recoverable: model.recovery !== null && m.recoverable !== false && m.volatile !== true && ackId === null,
      }, now);
    }
    case 'flush': return model.flush(now, op.all);
    case 'nextDue': return model.nextDue();
    case 'drained': return model.drained(op.handles);
    case 'saveSession': return model.saveSession(op.session.id, op.session.sid, op.session.rooms, op.session.data, now);
    case 'restore': return model.restore(op.id, op.offset, now);
    case 'sweep': return model.sweep(now);
    case 'stats': return model.stats();
    default: throw new Error(op.op);
  }
}

function hubCall(hub, op) {
  switch (op.op) {
    case 'connect': return hub.connect();
    case 'disconnect': return hub.disconnect(op.h);
    case 'join': return hub.join(op.h, op.rooms);
    case 'leave': return hub.leave(op.h, op.room);
    case 'rooms': return hub.rooms(op.h);
    case 'backlog': return hub.backlog(op.h);
    case 'members': return hub.members(op.room);
    case 'targets': return hub.targets({ rooms: op.rooms, except: op.except });
    case 'publish': return hub.publish(op.message);
    case 'flush': return hub.flush({ all: op.all });
    case 'nextDue': return hub.nextDue();
    case 'drained': return hub.drained(op.handles);
    case 'saveSession': return hub.saveSession({ ...op.session });
    case 'restore': return hub.restore(op.id, op.offset);
    case 'sweep': return hub.sweep();
    case 'stats': return hub.stats();
    default: throw new Error(op.op);
  }
}

// JSON with typed arrays as plain arrays (the conformance suite checks their type)
function canon(value) {
  // (the addon's typed arrays come from another realm than Jest's: no instanceof)
  return JSON.stringify(value, (_k, v) => (Object.prototype.toString.call(v) === '[object Uint32Array]' ? Array.from(v) : v));
}

function outcome(fn) {
  try {
    const r = fn();
    return { ok: canon(r === undefined ? null : r) };
  } catch (err) {
    return { error: err.code || `${err.name}: ${err.message}` };
  }
}

function makeGen(seed) {
  const rnd = mulberry32(seed);
  const int = (n) => Math.floor(rnd() * n);
  const pick = (arr) => arr[int(arr.length)];
  const chance = (p) => rnd() < p;
  const some = (arr, max) => Array.from({ length: int(max + 1) }, () => pick(arr));
  return { rnd, int, pick, chance, some };
}

function randomOptions(g) {
  const recovery = g.chance(0.8)
    ? { windowMs: g.pick([150, 600, 5000]), maxPackets: 1 + g.int(25), maxBytes: g.pick([60, 400, 3000, 1e6]) }
    : null;
  return {
    namespace: g.pick(['/', '/ns']),
    throttleMs: g.pick([0, 40, 120]),
    batch: { maxItems: 1 + g.int(4), maxDelayMs: g.pick([0, 30, 100]) },
    maxBacklog: 1 + g.int(5),
    maxSessions: 1 + g.int(4),
    recovery,
    offsetPrefix: g.pick(['p-', 'z', '']),
  };
}

function randomOp(g, view) {
  const known = view.handles;
  const someHandle = () => (known.length > 0 && g.chance(0.9) ? g.pick(known) : view.next + g.int(3));
  const roll = g.int(100);
  if (roll < 8 || (known.length < 2 && g.chance(0.5))) return { op: 'connect' };
  if (roll < 12) return { op: 'disconnect', h: someHandle() };
  if (roll < 24) return { op: 'join', h: someHandle(), rooms: g.some(ROOMS, 3) };
  if (roll < 30) return { op: 'leave', h: someHandle(), room: g.pick(ROOMS) };
  if (roll < 60) {
    const message = { event: g.pick(EVENTS) };
    const kind = g.int(10);
    if (kind < 3) message.rooms = [g.pick(ROOMS)];
    else if (kind < 6) message.rooms = g.some(ROOMS, 3);
    if (g.chance(0.25)) message.except = g.some(ROOMS, 2);
    if (g.chance(0.5)) message.payload = g.pick([1, 'é', { v: g.int(100) }, null, [1, 'x']]);
    else message.args = g.some([0, 'two', { t: 3 }, true], 3);
    const flavour = g.int(10);
    if (flavour < 3) message.key = g.pick(KEYS);
    else if (flavour < 5) {
      message.batch = true;
      message.rooms = [g.pick(ROOMS)];
      delete message.except;
    } else if (flavour < 6) message.ackId = g.int(50);
    if (g.chance(0.15) && message.ackId === undefined) message.volatile = true;
    if (g.chance(0.15)) message.recoverable = g.chance(0.5);
    return { op: 'publish', message };
  }
  if (roll < 68) return { op: 'flush', all: g.chance(0.15) };
  if (roll < 71) return { op: 'nextDue' };
  if (roll < 76) return { op: 'drained', handles: known.filter(() => g.chance(0.5)).concat(g.chance(0.2) ? [view.next + 5] : []) };
  if (roll < 79) return { op: 'targets', rooms: g.some(ROOMS, 3), except: g.some(ROOMS, 2) };
  if (roll < 81) return { op: 'members', room: g.pick(ROOMS) };
  if (roll < 83) return { op: 'rooms', h: someHandle() };
  if (roll < 85) return { op: 'backlog', h: someHandle() };
  if (roll < 87) return { op: 'stats' };
  if (!view.recovery) return { op: 'flush', all: false };
  if (roll < 92) {
    return { op: 'saveSession', session: { id: g.pick(SESSION_IDS), sid: `sid${g.int(9)}`, rooms: g.some(ROOMS, 3), data: g.pick(['null', '{"u":1}']) } };
  }
  if (roll < 98) {
    let offset;
    const r = g.int(10);
    if (r < 7) offset = view.prefix + Math.max(0, view.lastSeq - g.int(12) + 1).toString(36);
    else if (r < 8) offset = `${view.prefix}${(view.lastSeq + 1).toString(36)}`;
    else offset = g.pick(['', 'junk', `${view.prefix}-1`, `${view.prefix}A`, `x${view.prefix}1`]);
    const id = view.sessions.length > 0 && g.chance(0.8) ? g.pick(view.sessions) : g.pick(SESSION_IDS);
    return { op: 'restore', id, offset };
  }
  return { op: 'sweep' };
}

// Runs one session of random ops; `check(label, results)` gets the outcome of every subject
// (each implementation, and the model last).
function session(seed, impls, check) {
  const g = makeGen(seed);
  for (let run = 0; run < RUNS; run++) {
    const clock = { now: T0 };
    const options = randomOptions(g);
    const hubs = impls.map(([, rt]) => new rt.FanoutHub({ ...options, clock: () => clock.now, autoFlush: false }));
    const model = new Model({
      nsp: options.namespace === '/' ? '' : `${options.namespace},`,
      throttleMs: options.throttleMs,
      maxItems: options.batch.maxItems,
      maxDelayMs: options.batch.maxDelayMs,
      maxBacklog: options.maxBacklog,
      maxSessions: options.maxSessions,
      recovery: options.recovery,
      prefix: options.offsetPrefix,
    });
    for (let step = 0; step < STEPS; step++) {
      clock.now += g.pick([0, 0, 1, 10, 25, 60, 200]);
      const view = {
        handles: model.conns,
        next: model.next,
        recovery: model.recovery !== null,
        prefix: model.prefix,
        lastSeq: model.lastSeq,
        sessions: model.sessions.map((x) => x.id),
      };
      const op = randomOp(g, view);
      const results = hubs.map((hub) => outcome(() => hubCall(hub, op)));
      results.push(outcome(() => modelCall(model, op, clock.now)));
      check(`seed ${seed} run ${run} step ${step} options ${JSON.stringify(options)} op ${JSON.stringify(op)}`, results);
    }
    const finals = hubs.map((hub) => outcome(() => hub.stats()));
    finals.push(outcome(() => model.stats()));
    check(`seed ${seed} run ${run} final stats`, finals);
    for (const hub of hubs) hub.close();
  }
}

function same(label, results, names) {
  const first = JSON.stringify(results[0]);
  for (let i = 1; i < results.length; i++) {
    if (JSON.stringify(results[i]) !== first) {
      throw new Error(`${label}\n${names[0]}: ${first.slice(0, 3000)}\n${names[i]}: ${JSON.stringify(results[i]).slice(0, 3000)}`);
    }
  }
}

describe.each([
  ['fixed seed', FIXED_SEED],
  ['fresh seed', FRESH_SEED],
])('FanoutHub randomised (%s %i)', (_label, seed) => {
  beforeAll(() => {
    process.stdout.write(`fanout seed: ${seed}\n`);
  });

  test.each(IMPLS)('%s agrees with the naive model of the contract', (name, rt) => {
    session(seed, [[name, rt]], (label, results) => same(label, results, [name, 'model']));
  });

  (native && js ? test : test.skip)('native and js agree on every result and the final stats', () => {
    session(seed, [['native', native], ['js', js]], (label, results) => same(label, results, ['native', 'js', 'model']));
  });
});
