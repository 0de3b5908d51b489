'use strict';

// Fan-out benchmarks: our Socket.io adapter (realtime-core/socket.io, FanoutHub inside, native
// and JS twin) against Socket.io's own in-memory adapters (socket.io-adapter 2.5: Adapter and
// SessionAwareAdapter), driven through the adapter API on the same fake namespace
// (benchmarks/fanout_fake.js), plus child-process measurements (benchmarks/fanout_child.js):
//
//   in this process (tinybench, via run.js's interleaved rounds):
//     fanout/broadcast/<n>          adapter.broadcast(packet, { rooms: {room of n}, except: {}, flags: {} })
//                                   n = 100, 1,000, 10,000, 100,000 members (100,000 sockets in all)
//     fanout/broadcast/2rooms+except  two overlapping rooms of 10,000, minus a room of 1,000
//     fanout/restore/100000/<where> restoreSession(pid, offset) with 100,000 stored packets,
//                                   offset in the middle or near the end
//   child processes:
//     memory per membership (100,000 sockets x 10 rooms) and per stored recovery packet
//     end to end: a real Socket.io server per variant, 1,000 websocket clients each in 2 client
//     processes; server CPU per delivered message and delivery time
//
// The implementations are named 'native' (ours, native engine), 'js' (ours, JS twin) and
// 'socket.io' (socket.io-adapter's Adapter / SessionAwareAdapter).

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { fakeNamespace, addSockets, resetStats, drainAll } = require('./fanout_fake');

const ROOT = path.resolve(__dirname, '..');
const PEER = 'socket.io';
const OURS = ['native', 'js'];
const RECOVERY_WINDOW_MS = 3600 * 1000; // long enough that nothing expires during a run

// ---------------------------------------------------------------------------------------------
// the adapters under test

// -> [{ name, make(nsp) -> adapter, makeClass({ recovery }) -> class for Server({ adapter }) , error }]
function loadAdapters({ recovery = false } = {}) {
  const out = [];
  for (const name of OURS) {
    try {
      const sio = require(path.join(ROOT, 'lib', 'socket.io'));
      const Cls = sio.createAdapter(ourAdapterOptions(name, { recovery }));
      out.push({ name, Cls, make: (nsp) => new Cls(nsp) });
    } catch (err) {
      out.push({ name, error: `${err.code || err.name}: ${String(err.message).split('\n')[0]}` });
    }
  }
  const { Adapter, SessionAwareAdapter } = require('socket.io-adapter');
  const Cls = recovery ? SessionAwareAdapter : Adapter;
  out.push({ name: PEER, Cls, make: (nsp) => new Cls(nsp) });
  return out;
}

// Options for createAdapter: the implementation, and with recovery a log big enough for
// 100,000 packets of ~200 bytes over the whole run (Socket.io's SessionAwareAdapter keeps every
// packet for maxDisconnectionDuration, unbounded).
function ourAdapterOptions(implementation, { recovery }) {
  const o = { implementation };
  if (recovery) o.recovery = { windowMs: RECOVERY_WINDOW_MS, maxPackets: 1000000, maxBytes: 1024 * 1024 * 1024 };
  return o;
}

function adapterAvailable() {
  try {
    require.resolve(path.join(ROOT, 'lib', 'socket.io'));
  } catch {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// data

const NOTE = 'n'.repeat(114);
// A device-status event argument: a JS object whose JSON is ~200 bytes (what io.to(room).emit gets)
function statusPayload(i) {
  return { device: `dev-${String(i % 5000).padStart(4, '0')}`, online: i % 7 !== 0, battery: i % 101, seq: i, ts: 1763780000000 + i, note: NOTE };
}
const PAYLOAD = statusPayload(1);
const EVENT = 'device:status';
const packetOf = (payload) => ({ type: 2, data: [EVENT, payload], nsp: '/' });

// rooms of the broadcast cases, over BROADCAST_SOCKETS sockets s0..s99999 (each also in its
// own id room): n<k> = the first k sockets; b10000 = s5000..s14999
const BROADCAST_SOCKETS = 100000;
const ROOM_SIZES = [100, 1000, 10000, 100000];
function broadcastRooms(i) {
  const r = [];
  for (const k of ROOM_SIZES) if (i < k) r.push(`n${k}`);
  if (i >= 5000 && i < 15000) r.push('b10000');
  return r;
}

// ---------------------------------------------------------------------------------------------
// in-process cases (timed by run.js: measureRounds). A case: { id, fn, size, what, run: { impl:
// fn }, afterEach?: { impl: fn }, check: async () => problems[], perCall: recipients or null }

function recipientsCheck(states, problems) {
  // every implementation's one broadcast: the same recipients in the same order, the same bytes
  const ref = states[PEER];
  for (const [name, st] of Object.entries(states)) {
    if (name === PEER || !ref) continue;
    const a = st.trace;
    const b = ref.trace;
    if (a.length !== b.length) {
      problems.push(`${name}: ${a.length} writes, ${PEER}: ${b.length}`);
      continue;
    }
    let order = 0;
    let text = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i][0] !== b[i][0]) order++;
      if (a[i][1] !== b[i][1]) text++;
    }
    if (order) problems.push(`${name}: ${order} of ${a.length} recipients in another order or different`);
    if (text) problems.push(`${name}: packet text differs from ${PEER}'s (${JSON.stringify(a[0] && a[0][1]).slice(0, 120)} vs ${JSON.stringify(b[0] && b[0][1]).slice(0, 120)})`);
  }
}

function broadcastCases(adapters, { sockets = BROADCAST_SOCKETS } = {}) {
  const nsps = {};
  const setupMs = {};
  for (const a of adapters) {
    const t0 = Date.now();
    const nsp = fakeNamespace(a.make);
    addSockets(nsp, sockets, broadcastRooms);
    nsps[a.name] = nsp;
    setupMs[a.name] = Date.now() - t0;
  }
  let memberships = 0;
  for (let i = 0; i < sockets; i++) memberships += 1 + broadcastRooms(i).length;
  const specs = [
    ...ROOM_SIZES.filter((k) => k <= sockets).map((k) => ({ id: `fanout/broadcast/${k}`, label: String(k), rooms: [`n${k}`], except: [], recipients: k })),
    { id: 'fanout/broadcast/2rooms+except', label: '2rooms+except', rooms: ['n10000', 'b10000'], except: ['n1000'], recipients: Math.min(sockets, 15000) - Math.min(sockets, 1000) },
  ];
  return specs.map((spec) => {
    const run = {};
    for (const a of adapters) {
      const nsp = nsps[a.name];
      const adapter = nsp.adapter;
      const rooms = spec.rooms;
      const except = spec.except;
      // a new packet and new option Sets per call, as a BroadcastOperator makes them; then the
      // recipients' transports report their writes flushed ('drain', see fanout_fake.js)
      run[a.name] = () => {
        adapter.broadcast(packetOf(PAYLOAD), { rooms: new Set(rooms), except: new Set(except), flags: {} });
        drainAll(nsp);
        return nsp.stats.writes;
      };
    }
    return {
      id: spec.id,
      fn: 'adapter.broadcast',
      size: { label: spec.label, recipients: spec.recipients, sockets, memberships },
      what: `adapter.broadcast({ type: 2, data: ['${EVENT}', ~${JSON.stringify(PAYLOAD).length}-byte object] }, { rooms: {${spec.rooms.join(', ')}}, except: {${spec.except.join(', ')}}, flags: {} }) on a fake namespace of ${sockets} sockets: ${spec.recipients} recipients, each write counted by a fake client.writeToEngine, then a 'drain' event on each recipient's conn (what the transport reports after the write; ours keeps its backlog count with it)`,
      run,
      perCall: spec.recipients,
      setupMs,
      // after timing: no adapter may have given up on a (never slow) fake socket
      postCheck: () => Object.entries(nsps).filter(([, nsp]) => nsp.stats.closed || nsp.stats.disconnected)
        .map(([name, nsp]) => `${name}: ${nsp.stats.closed} transports closed, ${nsp.stats.disconnected} sockets disconnected during the run (slow consumers?)`),
      check: async () => {
        const problems = [];
        const states = {};
        for (const a of adapters) {
          const nsp = nsps[a.name];
          resetStats(nsp);
          nsp.trace = [];
          try {
            run[a.name]();
            await new Promise((r) => setImmediate(r)); // anything an adapter defers
            drainAll(nsp);
          } catch (err) {
            problems.push(`${a.name} threw ${err.code || err.name}: ${err.message}`);
          }
          states[a.name] = { trace: nsp.trace, stats: { ...nsp.stats } };
          nsp.trace = null;
          if (nsp.stats.writes !== spec.recipients) problems.push(`${a.name}: ${nsp.stats.writes} writes, ${spec.recipients} expected`);
        }
        recipientsCheck(states, problems);
        return problems;
      },
      release: () => { for (const k of Object.keys(nsps)) delete nsps[k]; },
    };
  });
}

// restoreSession with STORED packets in the log. Packets go round robin to 1,000 rooms
// room:0..room:999; the restoring sessions are in their own id room plus room:1..room:3.
// A witness socket in every room receives each packet, from which the offsets are read.
const STORED = 100000;
const RESTORE_ROOMS = 1000;
function lastArg(text) {
  const i = text.indexOf('[');
  const arr = JSON.parse(text.slice(i));
  return arr[arr.length - 1];
}

async function restoreCases(adapters, { stored = STORED } = {}) {
  const states = {};
  const where = [
    { label: 'middle', index: Math.floor(stored / 2) - 1 },
    { label: 'near-end', index: stored - Math.ceil(stored / 100) - 1 },
  ];
  const wanted = new Set(where.map((w) => w.index));
  for (const a of adapters) {
    const t0 = Date.now();
    const nsp = fakeNamespace(a.make, { recovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS } });
    addSockets(nsp, 1, () => Array.from({ length: RESTORE_ROOMS }, (_, k) => `room:${k}`), 'w');
    const offsets = {};
    for (let i = 0; i < stored; i++) {
      if (wanted.has(i)) nsp.trace = [];
      const packet = packetOf(statusPayload(i));
      nsp.adapter.broadcast(packet, { rooms: new Set([`room:${i % RESTORE_ROOMS}`]), except: new Set(), flags: {} });
      if (wanted.has(i)) {
        offsets[i] = nsp.trace.length ? lastArg(nsp.trace[0][1]) : packet.data[packet.data.length - 1];
        nsp.trace = null;
      }
      drainAll(nsp); // the witness's transport flushes (see fanout_fake.js)
    }
    await new Promise((r) => setImmediate(r));
    states[a.name] = { nsp, offsets, setupMs: Date.now() - t0 };
  }
  const sessionOf = (pid) => ({ sid: `gone-${pid}`, pid, rooms: [`gone-${pid}`, 'room:1', 'room:2', 'room:3'], data: { user: `u-${pid}` } });
  return where.map((w) => {
    const expected = Array.from({ length: stored - w.index - 1 }, (_, k) => w.index + 1 + k).filter((i) => [1, 2, 3].includes(i % RESTORE_ROOMS)).length;
    const run = {};
    const afterEach = {};
    const pid = `pid-${w.label}`;
    for (const a of adapters) {
      const { nsp, offsets } = states[a.name];
      const adapter = nsp.adapter;
      const offset = offsets[w.index];
      adapter.persistSession(sessionOf(pid));
      run[a.name] = () => adapter.restoreSession(pid, offset);
      // our restore consumes the session (docs/fanout.md); store it again, untimed, for everyone
      afterEach[a.name] = () => adapter.persistSession(sessionOf(pid));
    }
    return {
      id: `fanout/restore/${stored}/${w.label}`,
      fn: 'adapter.restoreSession',
      size: { label: `${stored}/${w.label}`, stored, offsetIndex: w.index, after: stored - w.index - 1, missed: expected },
      what: `restoreSession(pid, offset) with ${stored} stored packets (~${JSON.stringify(statusPayload(0)).length}-byte payloads) broadcast round robin to ${RESTORE_ROOMS} rooms; offset = packet #${w.index + 1} (${stored - w.index - 1} packets after it); the session is in its own room and 3 of the ${RESTORE_ROOMS}: ${expected} missed packets returned (the session is saved again between calls, untimed)`,
      run,
      afterEach,
      perCall: null,
      setupMs: Object.fromEntries(Object.entries(states).map(([k, v]) => [k, v.setupMs])),
      check: async () => {
        const problems = [];
        for (const a of adapters) {
          try {
            const res = await run[a.name]();
            afterEach[a.name]();
            const missed = res && res.missedPackets;
            if (!missed) problems.push(`${a.name}: restoreSession gave ${JSON.stringify(res)}`);
            else if (missed.length !== expected) problems.push(`${a.name}: ${missed.length} missed packets, ${expected} expected`);
            else {
              // the first missed packet is #index+1's room-1..3 successor: compare its payload seq
              const first = missed[0];
              const arr = typeof first === 'string' ? JSON.parse(first.slice(first.indexOf('['))) : first;
              const seq = arr && arr[1] && arr[1].seq;
              const want = Array.from({ length: 4 }, (_, k) => w.index + 1 + k).find((i) => [1, 2, 3].includes(i % RESTORE_ROOMS));
              if (want != null && seq !== want) problems.push(`${a.name}: first missed packet has seq ${seq}, ${want} expected`);
            }
          } catch (err) {
            problems.push(`${a.name} threw ${err.code || err.name}: ${err.message}`);
          }
        }
        return problems;
      },
      release: () => { for (const k of Object.keys(states)) delete states[k]; },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// child processes

function childArgs(args) {
  return `node ${args.map((a) => a.replace(ROOT + '/', '')).join(' ')}`;
}

function runChild(args, timeout) {
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) {
    return { error: `${res.status === null ? `killed (${res.signal})` : `exit ${res.status}`}: ${(res.stderr || (res.error && res.error.message) || '').toString().trim().split('\n').slice(-4).join(' ')}`, command: childArgs(args) };
  }
  return { ...JSON.parse(res.stdout.trim().split('\n').pop()), command: childArgs(args) };
}

// memory per membership and per stored recovery packet, one child per adapter and measurement
function memoryRuns(names, { quick, log }) {
  const sockets = quick ? 20000 : 100000;
  const packets = quick ? 20000 : 100000;
  const out = { memberships: {}, packets: {} };
  for (const name of names) {
    const args = ['--expose-gc', path.join(__dirname, 'fanout_child.js'), `--impl=${name}`, '--what=memberships', `--sockets=${sockets}`, '--rooms=10'];
    out.memberships[name] = runChild(args, 300000);
    log(`  fanout memberships ${name}: ${JSON.stringify(out.memberships[name]).slice(0, 220)}`);
  }
  for (const name of names) {
    const args = ['--expose-gc', path.join(__dirname, 'fanout_child.js'), `--impl=${name}`, '--what=packets', `--packets=${packets}`, '--bytes=200'];
    out.packets[name] = runChild(args, 300000);
    log(`  fanout packets ${name}: ${JSON.stringify(out.packets[name]).slice(0, 220)}`);
  }
  return out;
}

// end to end: one server process (all variants, interleaved), two client processes
function e2eRun(names, { quick, log }) {
  const args = [path.join(__dirname, 'fanout_child.js'), '--what=e2e', `--variants=${names.join(',')}`,
    `--clients=${quick ? 200 : 1000}`, `--rounds=${quick ? 2 : 6}`, `--batch=${quick ? 10 : 40}`, `--warmup=${quick ? 5 : 20}`];
  const res = runChild(args, 600000);
  log(`  fanout e2e: ${res.error ? `ERROR ${res.error}` : Object.entries(res.variants || {}).map(([k, v]) => `${k} ${v.cpuUsPerDelivery} us CPU/delivery, delivery p50 ${v.deliveryMs.p50} ms`).join('; ')}`);
  return res;
}

module.exports = {
  loadAdapters, adapterAvailable, broadcastCases, restoreCases, memoryRuns, e2eRun, ourAdapterOptions,
  statusPayload, packetOf, EVENT, PEER, OURS, RECOVERY_WINDOW_MS, BROADCAST_SOCKETS, STORED,
};
