'use strict';

// One Socket.io node of the scale-out benchmark (forked by benchmarks/cluster.js, IPC channel).
// A real Socket.io server (websocket only, http on 127.0.0.1, port 0) whose adapter talks to the
// redis-server of its variant:
//   ours           realtime-core/socket.io createAdapter({ redis: ioredisClient, ... })
//   redis-streams  @socket.io/redis-streams-adapter createAdapter(ioredisClient, { maxLen })
//   redis-pubsub   @socket.io/redis-adapter createAdapter(pubClient, subClient) (no recovery)
// Commands (parent -> node, each answered with { type: 'ok'|'error', id, ... }):
//   cpu                 process.cpuUsage() and memory
//   sockets             connected sockets of '/'
//   emit {seq}          io.to('all').emit('tick', payload) (one broadcast)
//   rate {rate, seconds, groups, seqBase}   open loop: io.to(`g:<k>`).emit at `rate` per second
//   populate {count, from, rooms}           adapter.broadcast of `count` packets to room:<i % rooms>
//                                           (no member anywhere), awaited in windows; -> last offset
//   persist {pids, rooms}                   adapter.persistSession for each pid (the sessions a
//                                           disconnect would store), awaited
//   restore {pids, offset, expected, firstSeq}  adapter.restoreSession one after another, timed
//   profile {start|stop, file}              V8 CPU profile of this node (node:inspector)
// Payloads: { seq, t (ms, CLOCK_MONOTONIC via process.hrtime), k, note } ~200 bytes of JSON.

const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const variant = args.variant;
const redisPort = Number(args.redisPort);
const nodeIndex = Number(args.node || 0);
const RECOVERY_MS = 3600 * 1000;
const STREAM_MAXLEN = 1000000; // nothing may be trimmed during a run (the log sizes are 10^4-10^5)

const NOTE = 'n'.repeat(120);
const nowMs = () => { const [s, ns] = process.hrtime(); return s * 1e3 + ns / 1e6; };
const payload = (seq, k) => ({ seq, k, t: nowMs(), note: NOTE });

function redisClient(extra = {}) {
  const Redis = require('ioredis');
  const c = new Redis({ host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null, ...extra });
  c.on('error', (err) => process.stderr.write(`node ${nodeIndex} ${variant}: redis error ${err.message}\n`));
  return c;
}

// -> { adapter (for Server), recovery (bool), clients: [ioredis], info }
function makeAdapter() {
  if (variant === 'redis-streams') {
    const client = redisClient();
    const { createAdapter } = require('@socket.io/redis-streams-adapter');
    return { adapter: createAdapter(client, { streamName: 'bench', maxLen: STREAM_MAXLEN }), recovery: true, clients: [client], info: `@socket.io/redis-streams-adapter ${require('@socket.io/redis-streams-adapter/package.json').version}, maxLen ${STREAM_MAXLEN}` };
  }
  if (variant === 'redis-pubsub') {
    const pub = redisClient();
    const sub = pub.duplicate();
    const { createAdapter } = require('@socket.io/redis-adapter');
    return { adapter: createAdapter(pub, sub), recovery: false, clients: [pub, sub], info: `@socket.io/redis-adapter ${require('@socket.io/redis-adapter/package.json').version} (pub/sub)` };
  }
  if (variant === 'ours') {
    const client = redisClient();
    const sio = require(path.join(ROOT, 'lib', 'socket.io'));
    // the log as big as the streams adapter's (nothing trimmed during a run), the window as long
    const opts = { redis: client, implementation: args.impl || 'native', recovery: { windowMs: RECOVERY_MS, maxPackets: STREAM_MAXLEN }, ...(args.oursOptions ? JSON.parse(args.oursOptions) : {}) };
    return { adapter: sio.createAdapter(opts), recovery: true, clients: [client], info: `realtime-core/socket.io createAdapter(${JSON.stringify({ ...opts, redis: '<ioredis>' })})` };
  }
  throw new Error(`unknown --variant=${variant}`);
}

let io;
let nsp;
let made;
const reply = (id, obj) => process.send({ type: 'ok', id, ...obj });

async function start() {
  const { Server } = require('socket.io');
  made = makeAdapter();
  const httpServer = http.createServer();
  io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    adapter: made.adapter,
    ...(made.recovery ? { connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_MS, skipMiddlewares: true } } : {}),
  });
  nsp = io.of('/');
  io.on('connection', (socket) => {
    const g = socket.handshake.auth && socket.handshake.auth.g;
    socket.join(['all', `g:${g}`]);
  });
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  // the adapter may connect lazily: one round trip on every client before saying ready
  await Promise.all(made.clients.filter((c) => c.status !== 'end').map((c) => c.ping().catch(() => null)));
  // Socket.io called adapter.init() itself (a second call would be the harness's bug); ours
  // keeps the promise of its start in adapter.ready
  if (nsp.adapter.ready && typeof nsp.adapter.ready.then === 'function') await nsp.adapter.ready;
  await new Promise((r) => setTimeout(r, 300)); // subscriptions / XREAD loops in place
  return { port: httpServer.address().port, adapterClass: nsp.adapter.constructor.name, info: made.info, pid: process.pid };
}

// the offset an adapter appended to a broadcast packet (ClusterAdapter: packet.data.push(offset))
function offsetOf(packet) {
  const last = packet.data[packet.data.length - 1];
  return typeof last === 'string' ? last : null;
}

async function populate({ count, from, rooms }) {
  const adapter = nsp.adapter;
  let lastOffset = null;
  const WINDOW = 256;
  for (let i = 0; i < count; i += WINDOW) {
    const n = Math.min(WINDOW, count - i);
    const packets = [];
    const calls = [];
    for (let k = 0; k < n; k++) {
      const seq = from + i + k;
      const packet = { type: 2, data: ['tick', payload(seq, 'p')], nsp: '/' };
      packets.push(packet);
      calls.push(adapter.broadcast(packet, { rooms: new Set([`room:${seq % rooms}`]), except: new Set(), flags: {} }));
    }
    await Promise.all(calls);
    // ClusterAdapter appends the offset once its XADD answered; ours once its own message came
    // back from Redis (the local delivery waits for it): wait for the window's last packet
    const last = packets[packets.length - 1];
    const until = Date.now() + 30000;
    while (offsetOf(last) == null && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
    lastOffset = offsetOf(last);
    if (lastOffset == null) break;
  }
  if (lastOffset == null) throw new Error('the adapter appended no offset to the broadcast packet (connection-state recovery off?)');
  return { lastOffset };
}

async function persist({ pids, rooms }) {
  const adapter = nsp.adapter;
  const out = [];
  for (const pid of pids) out.push(adapter.persistSession({ sid: `sid-${pid}`, pid, rooms: [`sid-${pid}`, ...rooms], data: { user: pid } }));
  await Promise.all(out);
  // the streams adapter's SET is not awaited: a round trip on the same connection orders after it
  await Promise.all(made.clients.map((c) => c.ping().catch(() => null)));
  await new Promise((r) => setTimeout(r, 100));
}

async function restore({ pids, offset, expected, firstSeq }) {
  const adapter = nsp.adapter;
  const times = [];
  const problems = [];
  for (const pid of pids) {
    const t0 = process.hrtime.bigint();
    let res;
    try {
      res = await adapter.restoreSession(pid, offset);
    } catch (err) {
      problems.push(`${pid}: restoreSession rejected: ${err && err.message ? err.message : String(err)}`);
      continue;
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const missed = res && res.missedPackets;
    if (!missed) { problems.push(`${pid}: restoreSession gave ${JSON.stringify(res).slice(0, 100)}`); continue; }
    if (missed.length !== expected) problems.push(`${pid}: ${missed.length} missed packets, ${expected} expected`);
    else if (missed.length) {
      const first = missed[0];
      const arr = typeof first === 'string' ? JSON.parse(first.slice(first.indexOf('['))) : first;
      const seq = Array.isArray(arr) ? (arr[1] && arr[1].seq) : null;
      if (seq !== firstSeq) problems.push(`${pid}: first missed packet has seq ${seq}, ${firstSeq} expected`);
    }
  }
  return { times, problems };
}

function rate({ rate: perSec, seconds, groups, seqBase }) {
  return new Promise((resolve) => {
    // this node's event-loop delay over the step (is it keeping up?)
    const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const t0 = nowMs();
    const end = t0 + seconds * 1000;
    let sent = 0;
    let k = nodeIndex;
    const timer = setInterval(() => {
      const now = nowMs();
      const due = Math.floor((Math.min(now, end) - t0) * perSec / 1000);
      while (sent < due) {
        const g = k % groups;
        io.to(`g:${g}`).emit('tick', { ...payload(seqBase + sent, 'r'), g, n: nodeIndex });
        k += 7;
        sent++;
      }
      if (now >= end) {
        clearInterval(timer);
        h.disable();
        resolve({ sent, seconds: (nowMs() - t0) / 1000, eldMs: { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 } });
      }
    }, 5);
  });
}

let session = null;
async function profile({ action, file }) {
  const inspector = require('node:inspector');
  const post = (m, p) => new Promise((res, rej) => session.post(m, p || {}, (e, r) => (e ? rej(e) : res(r))));
  if (action === 'start') {
    session = new inspector.Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
    return {};
  }
  const { profile: p } = await post('Profiler.stop');
  fs.writeFileSync(file, JSON.stringify(p));
  session.disconnect();
  session = null;
  return { file };
}

const handlers = {
  start,
  cpu: async () => ({ cpu: process.cpuUsage(), mem: process.memoryUsage().rss }),
  sockets: async () => ({ sockets: nsp.sockets.size }),
  emit: async ({ seq }) => { io.to('all').emit('tick', payload(seq, 'b')); return {}; },
  rate,
  populate,
  persist,
  restore,
  profile,
  close: async () => { setTimeout(() => process.exit(0), 20); return {}; },
};

process.on('message', (m) => {
  const h = handlers[m.cmd];
  if (!h) return process.send({ type: 'error', id: m.id, error: `unknown command ${m.cmd}` });
  Promise.resolve().then(() => h(m)).then((r) => reply(m.id, r || {}), (err) => process.send({ type: 'error', id: m.id, error: `${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : String(err)}` }));
});
process.on('disconnect', () => process.exit(0));
