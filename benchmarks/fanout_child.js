'use strict';

// Fan-out measurements that need a process of their own (run by benchmarks/run.js through
// benchmarks/fanout.js; each prints one JSON line):
//
//   node --expose-gc benchmarks/fanout_child.js --impl=native --what=memberships --sockets=100000 --rooms=10
//   node --expose-gc benchmarks/fanout_child.js --impl=socket.io --what=packets --packets=100000 --bytes=200
//   node benchmarks/fanout_child.js --what=e2e --variants=socket.io,native,js --clients=1000 --rounds=6 --batch=40
//   node --cpu-prof benchmarks/fanout_child.js --what=loop --impl=native --case=fanout/broadcast/100000 --seconds=5
//   node benchmarks/fanout_child.js --what=e2e --variants=native --profile=/tmp/e2e-native.cpuprofile
//     (a CPU profile of the server process over the measured rounds only)
//
// --impl: native | js (ours, realtime-core/socket.io) | socket.io (socket.io-adapter's Adapter,
// or SessionAwareAdapter for --what=packets).
//
// memberships: growth of V8 heap and RSS per membership when `sockets` fake sockets (created
//   before the baseline) each join their own id room (as Socket.io does on connect) and
//   rooms-1 shared rooms of various sizes (1 to 100,000 members), through the adapter API.
// packets: growth per stored recovery packet: `packets` broadcasts of distinct ~200-byte
//   payloads (JS objects, as io.to(room).emit gets them) to rooms room:0..room:999 with
//   connection-state recovery on; the payload objects are made inside the measured window
//   (an adapter that keeps them pays for them, one that keeps text lets them go).
// e2e: one real Socket.io server (http on 127.0.0.1, port 0, websocket transport) per variant in
//   this process; `clients` socket.io-client connections per variant, split over two client
//   processes (benchmarks/fanout_clients.js) so their CPU is not counted here; every client
//   joins room `all`. Then rounds x variants (rotating order) x batch broadcasts
//   io.to('all').emit('tick', ~200-byte object), one at a time: each waits until every client
//   received it. Server CPU = process.cpuUsage() (user + system, all threads) over the batches
//   / deliveries; delivery time = the broadcast call to the last client's receipt
//   (process.hrtime, CLOCK_MONOTONIC, shared by the processes); emit = the synchronous
//   io.to().emit() call.

const path = require('node:path');
const http = require('node:http');
const { fork } = require('node:child_process');
const { loadAdapters, statusPayload, packetOf } = require('./fanout');
const { fakeNamespace, FakeSocket } = require('./fanout_fake');

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function settle() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

function adapterFor(name, opts) {
  const a = loadAdapters(opts).find((x) => x.name === name);
  if (!a) throw new Error(`unknown --impl=${name}`);
  if (a.error) throw new Error(`${name}: ${a.error}`);
  return a;
}

// the 9 shared rooms of socket i (plus its own id room = 10 memberships)
const SHARED = [
  (i) => 'all',
  (i) => `org:${i % 10}`,
  (i) => `site:${i % 100}`,
  (i) => `team:${i % 1000}`,
  (i) => `group:${i % 10000}`,
  (i) => `pair:${i >> 1}`,
  (i) => `shift:${i % 3}`,
  (i) => `zone:${i % 30}`,
  (i) => `floor:${i % 300}`,
];

function memberships() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const count = Number(args.sockets || 100000);
  const perSocket = Math.min(Number(args.rooms || 10), SHARED.length + 1);
  const a = adapterFor(args.impl, {});
  const nsp = fakeNamespace(a.make);
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const s = new FakeSocket(nsp, `s${i}`);
    nsp.sockets.set(s.id, s);
    sockets.push(s);
  }
  const before = settle();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const s = sockets[i];
    s.join(s.id);
    const rooms = [];
    for (let k = 0; k < perSocket - 1; k++) rooms.push(SHARED[k](i));
    s.join(rooms);
  }
  const joinMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const after = settle();
  const n = count * perSocket;
  const roomCount = nsp.adapter.rooms && typeof nsp.adapter.rooms.size === 'number' ? nsp.adapter.rooms.size : null;
  out({
    what: 'memberships', impl: args.impl, sockets: count, roomsPerSocket: perSocket, memberships: n, rooms: roomCount,
    heapPerMembership: Math.round((after.heapUsed - before.heapUsed) / n),
    rssPerMembership: Math.round((after.rss - before.rss) / n),
    externalPerMembership: Math.round((after.external - before.external) / n),
    joinNsPerMembership: Math.round((joinMs * 1e6) / n),
    raw: { before, after },
  });
}

async function packets() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const count = Number(args.packets || 100000);
  const window = 3600 * 1000;
  const a = adapterFor(args.impl, { recovery: true });
  const nsp = fakeNamespace(a.make, { recovery: { maxDisconnectionDuration: window } });
  const rooms = Array.from({ length: 1000 }, (_, k) => `room:${k}`);
  const before = settle();
  let payloadBytes = 0;
  for (let i = 0; i < count; i++) {
    const payload = statusPayload(i);
    if (i < 1000) payloadBytes += JSON.stringify(payload).length;
    nsp.adapter.broadcast(packetOf(payload), { rooms: new Set([rooms[i % 1000]]), except: new Set(), flags: {} });
    if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  const after = settle();
  out({
    what: 'packets', impl: args.impl, packets: count, avgPayloadBytes: Math.round(payloadBytes / Math.min(count, 1000)),
    heapPerPacket: Math.round((after.heapUsed - before.heapUsed) / count),
    rssPerPacket: Math.round((after.rss - before.rss) / count),
    externalPerPacket: Math.round((after.external - before.external) / count),
    raw: { before, after },
  });
  process.exit(0); // Socket.io's SessionAwareAdapter keeps an unref'd timer; ours may hold one
}

// one in-process case (fanout/broadcast/* or fanout/restore/*), one adapter, in a loop: for
// --cpu-prof or perf
async function loop() {
  const id = String(args.case || 'fanout/broadcast/100000');
  const { broadcastCases, restoreCases } = require('./fanout');
  const restore = id.startsWith('fanout/restore/');
  const a = adapterFor(args.impl, { recovery: restore });
  const cases = restore ? await restoreCases([a]) : broadcastCases([a], args.sockets ? { sockets: Number(args.sockets) } : {});
  const c = cases.find((x) => x.id === id);
  if (!c) throw new Error(`unknown --case=${id} (${cases.map((x) => x.id).join(', ')})`);
  const problems = await c.check();
  const fn = c.run[a.name];
  const after = c.afterEach ? c.afterEach[a.name] : null;
  const until = Date.now() + Number(args.seconds || 5) * 1000;
  let calls = 0;
  const t0 = process.hrtime.bigint();
  while (Date.now() < until) {
    for (let k = 0; k < 10; k++) {
      fn();
      if (after) after();
    }
    calls += 10;
  }
  const nsPerCall = Number(process.hrtime.bigint() - t0) / calls;
  if (c.postCheck) problems.push(...c.postCheck());
  out({ what: 'loop', impl: a.name, case: id, calls, nsPerCall: Math.round(nsPerCall), problems });
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// end to end

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
const r3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);

async function e2e() {
  const { Server } = require('socket.io');
  const names = String(args.variants || 'socket.io,native,js').split(',');
  const clients = Number(args.clients || 1000);
  const rounds = Number(args.rounds || 6);
  const batch = Number(args.batch || 40);
  const warmup = Number(args.warmup || 20);
  const procs = Number(args.procs || 2);
  const available = loadAdapters({});
  const variants = [];
  for (const name of names) {
    const a = available.find((x) => x.name === name);
    if (!a || a.error) {
      variants.push({ name, error: a ? a.error : 'unknown variant' });
      continue;
    }
    const httpServer = http.createServer();
    const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, ...(name === 'socket.io' ? {} : { adapter: a.Cls }) });
    io.on('connection', (socket) => socket.join('all'));
    await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
    variants.push({ name, io, httpServer, port: httpServer.address().port, adapterClass: io.of('/').adapter.constructor.name });
  }
  const live = variants.filter((v) => !v.error);

  // clients
  const pending = new Map(); // `${v}:${seq}` -> { left, tMax, resolve }
  const children = [];
  let ready = 0;
  let readyResolve;
  const allReady = new Promise((r) => { readyResolve = r; });
  const shares = Array.from({ length: procs }, (_, p) => Math.floor(clients / procs) + (p < clients % procs ? 1 : 0));
  const clientStats = [];
  for (let p = 0; p < procs; p++) {
    const child = fork(path.join(__dirname, 'fanout_clients.js'), [`--ports=${live.map((v) => v.port).join(',')}`, `--count=${shares[p]}`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (m) => {
      if (m.type === 'ready') {
        if (++ready === procs) readyResolve();
      } else if (m.type === 'got') {
        const w = pending.get(`${m.v}:${m.seq}`);
        if (!w) return;
        const t = BigInt(m.t);
        if (w.tMax === null || t > w.tMax) w.tMax = t;
        if (--w.left === 0) {
          pending.delete(`${m.v}:${m.seq}`);
          w.resolve(w.tMax);
        }
      } else if (m.type === 'stats') {
        clientStats.push(m);
      } else if (m.type === 'error') {
        process.stderr.write(`client: ${m.message}\n`);
        process.exit(3);
      }
    });
    child.on('exit', (code) => { if (code && !done) { process.stderr.write(`client process exited with ${code}\n`); process.exit(3); } });
    children.push(child);
  }
  let done = false;
  const tConnect = Date.now();
  await allReady;
  const connectSec = (Date.now() - tConnect) / 1000;
  for (const v of live) {
    const n = v.io.of('/').sockets.size;
    if (n !== clients) throw new Error(`${v.name}: ${n} connected sockets, ${clients} expected`);
  }

  let seq = 0;
  async function one(vi) {
    const v = live[vi];
    const s = ++seq;
    const key = `${vi}:${s}`;
    let timer;
    const got = new Promise((resolve, reject) => {
      pending.set(key, { left: procs, tMax: null, resolve });
      timer = setTimeout(() => reject(new Error(`${v.name}: broadcast ${s} not received by every client within 20 s`)), 20000);
    });
    const t0 = process.hrtime.bigint();
    v.io.to('all').emit('tick', statusPayload(s));
    const t1 = process.hrtime.bigint();
    const tLast = await got;
    clearTimeout(timer);
    return { emitMs: Number(t1 - t0) / 1e6, deliveryMs: Number(tLast - t0) / 1e6 };
  }

  for (let vi = 0; vi < live.length; vi++) for (let k = 0; k < warmup; k++) await one(vi);
  // --profile=<file.cpuprofile>: a V8 CPU profile of the measured rounds only (not the connects)
  let session = null;
  if (args.profile) {
    const inspector = require('node:inspector');
    session = new inspector.Session();
    session.connect();
    const post = (m, p) => new Promise((res, rej) => session.post(m, p || {}, (e, r) => (e ? rej(e) : res(r))));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
    session.stopTo = async (file) => {
      const { profile } = await post('Profiler.stop');
      require('node:fs').writeFileSync(file, JSON.stringify(profile));
    };
  }
  const acc = live.map(() => ({ cpuUs: 0, userUs: 0, systemUs: 0, broadcasts: 0, delivery: [], emit: [], wallMs: 0 }));
  for (let round = 0; round < rounds; round++) {
    const order = live.map((_, i) => (i + round) % live.length);
    for (const vi of order) {
      global.gc && global.gc();
      const a = acc[vi];
      const w0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      for (let k = 0; k < batch; k++) {
        const r = await one(vi);
        a.delivery.push(r.deliveryMs);
        a.emit.push(r.emitMs);
      }
      const c = process.cpuUsage(c0);
      a.wallMs += Number(process.hrtime.bigint() - w0) / 1e6;
      a.userUs += c.user;
      a.systemUs += c.system;
      a.cpuUs += c.user + c.system;
      a.broadcasts += batch;
    }
  }
  done = true;
  if (session) await session.stopTo(path.resolve(args.profile));
  for (const c of children) c.send({ type: 'close' });
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));

  const result = { what: 'e2e', clients, clientProcesses: procs, rounds, batch, warmup, connectSec: r3(connectSec), payloadBytes: JSON.stringify(statusPayload(1)).length, variants: {}, clientCpu: clientStats };
  for (const v of variants) {
    if (v.error) {
      result.variants[v.name] = { error: v.error };
      continue;
    }
    const a = acc[live.indexOf(v)];
    const deliveries = a.broadcasts * clients;
    const d = Float64Array.from(a.delivery).sort();
    const e = Float64Array.from(a.emit).sort();
    result.variants[v.name] = {
      adapter: v.adapterClass,
      broadcasts: a.broadcasts,
      deliveries,
      cpuMs: r3(a.cpuUs / 1000),
      cpuUsPerDelivery: r3(a.cpuUs / deliveries),
      userUsPerDelivery: r3(a.userUs / deliveries),
      systemUsPerDelivery: r3(a.systemUs / deliveries),
      cpuMsPerBroadcast: r3(a.cpuUs / a.broadcasts / 1000),
      deliveryMs: { p50: r3(quantile(d, 0.5)), p90: r3(quantile(d, 0.9)), p99: r3(quantile(d, 0.99)), min: r3(d[0]) },
      emitMs: { p50: r3(quantile(e, 0.5)), p99: r3(quantile(e, 0.99)) },
      wallMs: r3(a.wallMs),
    };
    v.io.close();
  }
  out(result);
  process.exit(0);
}

const main = { memberships, packets, e2e, loop }[args.what];
if (!main) {
  process.stderr.write(`unknown --what=${args.what}\n`);
  process.exit(2);
}
Promise.resolve().then(main).catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
