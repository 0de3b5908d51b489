'use strict';

// Scale-out benchmarks: our Socket.io adapter with Redis as transport (realtime-core/socket.io,
// createAdapter({ redis })) against @socket.io/redis-streams-adapter (and @socket.io/redis-adapter,
// pub/sub, as a second reference), in one run, reported as ratios ours / theirs.
//
// Per variant: one redis-server (started here, no persistence, loopback) shared by NODES Socket.io
// server processes (benchmarks/cluster_server.js); 2 client processes (benchmarks/cluster_clients.js)
// hold CLIENTS websocket connections per variant, spread round robin over the variant's nodes.
// Every variant is up at once and the measurements rotate over them (a change of load on this
// shared machine hits every variant alike); each variant has its own redis-server, so its Redis
// counters (INFO stats / cpu / commandstats / memory) are its own.
//
//   broadcast   io.to('all').emit('tick', ~200-byte object) from node 0, one at a time (the next
//               when every client got the previous one): server CPU (user + system, every node)
//               per delivered message, redis-server CPU, Redis commands and bytes per broadcast
//   throughput  every node emits to group rooms of 5 clients, open loop, at a rising total rate;
//               a step is sustained if every message arrives within GRACE of the step's end and
//               the p99 lag (emit -> receipt) stays under LAG_LIMIT_MS
//   recovery    the log holds M packets (broadcast from node 0 round robin to 1,000 rooms, none of
//               them with members); N sessions (own room + room:1..3) were persisted on node 0
//               when the log held M/2; node 1 restores them (restoreSession, cross-node): time per
//               restore, Redis bytes sent to the node per restore, missed packets checked
//
//   node benchmarks/cluster.js [--quick] [--variants=ours,redis-streams,redis-pubsub]
//        [--profile=<dir> [--profile-phase=broadcast|throughput]] [--clients=<n>]
//        [--rates=3000,4000] [--skip=recovery] [--ours-options=<JSON merged into createAdapter's>]   (standalone: prints the JSON result; the profiles
//        are V8 CPU profiles of nodes 0 and 1 of every variant over that phase)
//   node benchmarks/run.js --only=cluster      (the suite of the benchmark report)

const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const { fork } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const OURS = 'ours';
const PEER = 'redis-streams';
const PEER2 = 'redis-pubsub';
const VARIANTS = [OURS, PEER, PEER2];
const NODES = 3;
const CLIENT_PROCS = 2;
const GROUP_SIZE = 5;
const SESSION_ROOMS = ['room:1', 'room:2', 'room:3'];
const LOG_ROOMS = 1000;
const LAG_LIMIT_MS = 250;
const GRACE_MS = 2000;

const LABELS = {
  [OURS]: 'realtime-core (ours)',
  [PEER]: '@socket.io/redis-streams-adapter',
  [PEER2]: '@socket.io/redis-adapter (pub/sub)',
};

function config(quick, over = {}) {
  const c = quick
    ? { clients: 150, rounds: 2, batch: 10, warmup: 5, rates: [300, 1200], stepSeconds: 1.5, recovery: [{ M: 10000, N: 6 }], recoveryRounds: 2 }
    : { clients: 1500, rounds: 5, batch: 30, warmup: 15, rates: [500, 1000, 1500, 2000, 3000, 4000, 6000], stepSeconds: 4, recovery: [{ M: 10000, N: 60 }, { M: 100000, N: 15 }], recoveryRounds: 3 };
  if (over.clients) c.clients = over.clients;
  c.clients = Math.max(CLIENT_PROCS * GROUP_SIZE, Math.round(c.clients / (GROUP_SIZE * CLIENT_PROCS)) * GROUP_SIZE * CLIENT_PROCS);
  c.groups = c.clients / GROUP_SIZE;
  return c;
}

// ---------------------------------------------------------------------------------------------
// child processes

class Child {
  constructor(proc, label) {
    this.proc = proc;
    this.label = label;
    this.seq = 0;
    this.waiting = new Map();
    this.exited = false;
    proc.on('message', (m) => {
      if (m.type === 'ok' || m.type === 'error') {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (m.type === 'ok') w.resolve(m);
        else w.reject(new Error(`${label}: ${m.error}`));
      } else if (this.onMessage) this.onMessage(m);
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`${label} exited (${code ?? signal})${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      this.waiting.clear();
    });
    this.stderr = '';
    if (proc.stderr) proc.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); });
  }

  call(cmd, args = {}, timeoutMs = 120000) {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`${this.label}: ${cmd} timed out after ${timeoutMs} ms`)); }, timeoutMs);
      this.waiting.set(id, { resolve: (m) => { clearTimeout(timer); resolve(m); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      this.proc.send({ ...args, cmd, id });
    });
  }

  kill() {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// Redis counters (INFO stats cpu memory commandstats of one redis-server)

function parseInfo(text) {
  const kv = {};
  const cmds = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0 || line[0] === '#') continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    if (k.startsWith('cmdstat_')) {
      const m = /calls=(\d+)/.exec(v);
      cmds[k.slice(8)] = Number(m[1]);
    } else kv[k] = v;
  }
  return {
    netIn: Number(kv.total_net_input_bytes),
    netOut: Number(kv.total_net_output_bytes),
    cpuS: Number(kv.used_cpu_user) + Number(kv.used_cpu_sys),
    usedMemory: Number(kv.used_memory),
    cmds,
  };
}

class RedisStats {
  constructor(port) {
    const Redis = require('ioredis');
    this.client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
    this.client.on('error', () => {});
    this.cost = { in: 0, out: 0 };
  }

  async snap() {
    return parseInfo(await this.client.info('stats', 'cpu', 'memory', 'commandstats'));
  }

  // the INFO reply of the "before" snapshot is counted in the "after" one: measure its size
  async calibrate() {
    const s = [];
    for (let i = 0; i < 4; i++) s.push(await this.snap());
    const outs = [];
    const ins = [];
    for (let i = 1; i < s.length; i++) {
      outs.push(s[i].netOut - s[i - 1].netOut);
      ins.push(s[i].netIn - s[i - 1].netIn);
    }
    this.cost = { out: median(outs), in: median(ins) };
  }

  diff(a, b) {
    const cmds = {};
    for (const [k, v] of Object.entries(b.cmds)) {
      if (k === 'info') continue;
      const d = v - (a.cmds[k] || 0);
      if (d) cmds[k] = d;
    }
    return { netIn: b.netIn - a.netIn - this.cost.in, netOut: b.netOut - a.netOut - this.cost.out, cpuUs: (b.cpuS - a.cpuS) * 1e6, cmds, calls: Object.values(cmds).reduce((x, y) => x + y, 0) };
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

function median(xs) {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}
function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
const r3 = (x) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000);
function spread(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return { median: r3(quantile(s, 0.5)), min: r3(s[0]), max: r3(s[s.length - 1]), n: s.length };
}
const cpuUs = (c) => c.user + c.system;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rotate = (arr, k) => arr.slice(k % arr.length).concat(arr.slice(0, k % arr.length));

// ---------------------------------------------------------------------------------------------
// the run

async function runCluster({ quick = false, log = (m) => process.stdout.write(`${m}\n`), variants = VARIANTS, profileDir = null, profilePhase = 'broadcast', clients = null, rates = null, skip = [], oursOptions = null } = {}) {
  const cfg = config(quick, { clients });
  if (rates) cfg.rates = rates;
  const started = Date.now();
  const { startRedis } = require(path.join(ROOT, 'test', 'helpers', 'redis.js'));
  const out = {
    date: new Date().toISOString(),
    quick,
    config: { ...cfg, nodes: NODES, clientProcesses: CLIENT_PROCS, groupSize: GROUP_SIZE, lagLimitMs: LAG_LIMIT_MS, graceMs: GRACE_MS, logRooms: LOG_ROOMS, sessionRooms: SESSION_ROOMS },
    redisVersion: null,
    variants: {},
    broadcast: {},
    throughput: {},
    recovery: {},
    clientCpu: [],
  };
  try {
    out.redisVersion = require('node:child_process').execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {}
  const procs = [];
  const redises = [];
  const live = [];
  const V = {};
  try {
    // --- servers
    for (const v of variants) {
      const redis = await startRedis();
      redises.push(redis);
      const stats = new RedisStats(redis.port);
      const nodes = [];
      for (let n = 0; n < NODES; n++) {
        const a = [`--variant=${v}`, `--redisPort=${redis.port}`, `--node=${n}`];
        if (v === OURS && oursOptions) a.push(`--oursOptions=${JSON.stringify(oursOptions)}`);
        const proc = fork(path.join(__dirname, 'cluster_server.js'), a, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
        const c = new Child(proc, `${v} node ${n}`);
        procs.push(c);
        nodes.push(c);
      }
      try {
        const info = await Promise.all(nodes.map((c) => c.call('start', {}, 30000)));
        V[v] = { name: v, redis, stats, nodes, ports: info.map((i) => i.port) };
        out.variants[v] = { label: LABELS[v], adapterClass: info[0].adapterClass, info: info[0].info, redisPort: redis.port, nodePids: info.map((i) => i.pid) };
        live.push(v);
        log(`cluster: ${v}: ${NODES} nodes up (${info[0].adapterClass}; ${info[0].info})`);
      } catch (err) {
        out.variants[v] = { label: LABELS[v], error: String(err.message).split('\n')[0].split(' | ')[0].replace(/\|/g, '/').slice(0, 400) };
        log(`cluster: ${v}: UNAVAILABLE: ${out.variants[v].error}`);
        for (const c of nodes) c.kill();
        stats.client.disconnect();
      }
    }
    if (!live.length) throw new Error('no variant started');
    for (const v of live) await V[v].stats.calibrate();

    // --- clients
    const pending = new Map();
    const peeks = new Map();
    const clientProcs = [];
    let ready = 0;
    let readyResolve;
    let readyReject;
    let clientError = null;
    const allReady = new Promise((r, j) => { readyResolve = r; readyReject = j; });
    const share = cfg.clients / CLIENT_PROCS;
    for (let p = 0; p < CLIENT_PROCS; p++) {
      const proc = fork(path.join(__dirname, 'cluster_clients.js'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      const c = new Child(proc, `client process ${p}`);
      procs.push(c);
      clientProcs.push(c);
      c.onMessage = (m) => {
        if (m.type === 'ready') { if (++ready === CLIENT_PROCS) readyResolve(); } else if (m.type === 'got') {
          const w = pending.get(`${m.v}:${m.seq}`);
          if (w && --w.left === 0) { pending.delete(`${m.v}:${m.seq}`); w.resolve(process.hrtime.bigint()); }
        } else if (m.type === 'peek' || m.type === 'rateStats' || m.type === 'cpu' || m.type === 'stats') {
          const w = peeks.get(`${p}:${m.type}`);
          if (w) { peeks.delete(`${p}:${m.type}`); w(m); }
        } else if (m.type === 'error') {
          clientError = m.message;
          log(`cluster: client process ${p}: ${m.message}`);
          readyReject(new Error(`client process ${p}: ${m.message}`));
          for (const w of pending.values()) w.reject(new Error(`client: ${m.message}`));
        }
      };
      proc.send({ type: 'connect', variants: live.map((v) => ({ v, ports: V[v].ports })), first: p * share, count: share, groupSize: GROUP_SIZE });
    }
    const ask = (p, type, extra = {}) => new Promise((resolve) => { peeks.set(`${p}:${type === 'close' ? 'stats' : type}`, resolve); clientProcs[p].proc.send({ type, ...extra }); });
    const t0 = Date.now();
    let connectTimer;
    await Promise.race([allReady, new Promise((_, reject) => { connectTimer = setTimeout(() => reject(new Error('clients did not connect within 600 s')), 600000); })]);
    clearTimeout(connectTimer);
    if (clientError) throw new Error(clientError);
    out.connectSec = r3((Date.now() - t0) / 1000);
    for (const v of live) {
      const counts = await Promise.all(V[v].nodes.map((c) => c.call('sockets')));
      const n = counts.reduce((a, m) => a + m.sockets, 0);
      out.variants[v].socketsPerNode = counts.map((m) => m.sockets);
      if (n !== cfg.clients) throw new Error(`${v}: ${n} sockets connected, ${cfg.clients} expected`);
    }
    log(`cluster: ${cfg.clients} websocket clients per variant connected in ${out.connectSec} s (${live.length} variants, ${CLIENT_PROCS} client processes)`);

    // --- 1. broadcast cost
    let seq = 0;
    const oneBroadcast = async (v) => {
      const s = ++seq;
      let timer;
      const got = new Promise((resolve, reject) => {
        pending.set(`${v}:${s}`, { left: CLIENT_PROCS, resolve, reject });
        timer = setTimeout(() => { pending.delete(`${v}:${s}`); reject(new Error(`${v}: broadcast ${s} not received by every client within 20 s`)); }, 20000);
      });
      const tA = process.hrtime.bigint();
      await V[v].nodes[0].call('emit', { seq: s });
      const tB = await got;
      clearTimeout(timer);
      return Number(tB - tA) / 1e6;
    };
    const nodeCpu = (v) => Promise.all(V[v].nodes.map((c) => c.call('cpu').then((m) => m.cpu)));
    log(`cluster: broadcast to room 'all' (${cfg.clients} clients over ${NODES} nodes) from node 0: ${cfg.rounds} rounds x ${cfg.batch} per variant, after ${cfg.warmup} warm-up ...`);
    const acc = {};
    for (const v of live) {
      acc[v] = { broken: null, batches: [], delivery: [], nodeCpuUs: new Array(NODES).fill(0), redis: { netIn: 0, netOut: 0, cpuUs: 0, cmds: {} }, broadcasts: 0 };
      try {
        for (let k = 0; k < cfg.warmup; k++) await oneBroadcast(v);
      } catch (err) {
        acc[v].broken = err.message;
      }
    }
    const profileStart = async (phase) => {
      if (!profileDir || profilePhase !== phase) return;
      fs.mkdirSync(profileDir, { recursive: true });
      for (const v of live) for (let n = 0; n < 2; n++) await V[v].nodes[n].call('profile', { action: 'start' });
    };
    const profileStop = async (phase) => {
      if (!profileDir || profilePhase !== phase) return;
      for (const v of live) for (let n = 0; n < 2; n++) await V[v].nodes[n].call('profile', { action: 'stop', file: path.join(profileDir, `cluster-${phase}-${v}-node${n}.cpuprofile`) });
      out.profiles = fs.readdirSync(profileDir).filter((f) => f.startsWith(`cluster-${phase}-`)).map((f) => path.relative(ROOT, path.join(profileDir, f)));
    };
    await profileStart('broadcast');
    for (let round = 0; round < cfg.rounds; round++) {
      for (const v of rotate(live, round)) {
        const a = acc[v];
        if (a.broken) continue;
        try {
          const c0 = await nodeCpu(v);
          const s0 = await V[v].stats.snap();
          for (let k = 0; k < cfg.batch; k++) a.delivery.push(await oneBroadcast(v));
          const s1 = await V[v].stats.snap();
          const c1 = await nodeCpu(v);
          const d = V[v].stats.diff(s0, s1);
          const per = c1.map((c, i) => cpuUs(c) - cpuUs(c0[i]));
          per.forEach((x, i) => { a.nodeCpuUs[i] += x; });
          a.redis.netIn += d.netIn;
          a.redis.netOut += d.netOut;
          a.redis.cpuUs += d.cpuUs;
          for (const [k, x] of Object.entries(d.cmds)) a.redis.cmds[k] = (a.redis.cmds[k] || 0) + x;
          a.broadcasts += cfg.batch;
          a.batches.push({ cpuUsPerDelivery: per.reduce((x, y) => x + y, 0) / (cfg.batch * cfg.clients), redisBytesPerBroadcast: (d.netIn + d.netOut) / cfg.batch, redisCpuUsPerBroadcast: d.cpuUs / cfg.batch });
        } catch (err) {
          a.broken = err.message;
        }
      }
    }
    await profileStop('broadcast');
    await sleep(300); // a late extra copy would still arrive
    for (const v of live) {
      const ps = await Promise.all(clientProcs.map((_, p) => ask(p, 'peek', { v })));
      const dup = ps.reduce((x, m) => x + m.duplicates, 0);
      if (dup && !acc[v].broken) acc[v].broken = `${dup} duplicate deliveries (a client got the same broadcast twice)`;
    }
    for (const v of live) {
      const a = acc[v];
      if (a.broken) { out.broadcast[v] = { error: a.broken }; log(`  broadcast ${v}: ERROR ${a.broken}`); continue; }
      const deliveries = a.broadcasts * cfg.clients;
      const total = a.nodeCpuUs.reduce((x, y) => x + y, 0);
      const d = Float64Array.from(a.delivery).sort();
      out.broadcast[v] = {
        broadcasts: a.broadcasts,
        deliveries,
        cpuUsPerDelivery: r3(total / deliveries),
        cpuUsPerDeliveryByNode: a.nodeCpuUs.map((x) => r3(x / deliveries)),
        cpuMsPerBroadcastByNode: a.nodeCpuUs.map((x) => r3(x / a.broadcasts / 1000)),
        spread: {
          cpuUsPerDelivery: spread(a.batches.map((b) => b.cpuUsPerDelivery)),
          redisBytesPerBroadcast: spread(a.batches.map((b) => b.redisBytesPerBroadcast)),
          redisCpuUsPerBroadcast: spread(a.batches.map((b) => b.redisCpuUsPerBroadcast)),
        },
        redis: {
          commandsPerBroadcast: r3(Object.values(a.redis.cmds).reduce((x, y) => x + y, 0) / a.broadcasts),
          commands: Object.fromEntries(Object.entries(a.redis.cmds).map(([k, x]) => [k, r3(x / a.broadcasts)])),
          bytesInPerBroadcast: r3(a.redis.netIn / a.broadcasts),
          bytesOutPerBroadcast: r3(a.redis.netOut / a.broadcasts),
          cpuUsPerBroadcast: r3(a.redis.cpuUs / a.broadcasts),
        },
        deliveryMs: { p50: r3(quantile(d, 0.5)), p90: r3(quantile(d, 0.9)), p99: r3(quantile(d, 0.99)), min: r3(d[0]) },
      };
      const b = out.broadcast[v];
      log(`  broadcast ${v}: ${b.cpuUsPerDelivery} us server CPU/delivery (median batch ${b.spread.cpuUsPerDelivery.median}, ${b.spread.cpuUsPerDelivery.min}-${b.spread.cpuUsPerDelivery.max}; by node ${b.cpuUsPerDeliveryByNode.join(' / ')}), Redis ${b.redis.commandsPerBroadcast} cmds ${Math.round(b.redis.bytesInPerBroadcast)} B in ${Math.round(b.redis.bytesOutPerBroadcast)} B out ${b.redis.cpuUsPerBroadcast} us CPU per broadcast, delivery p50 ${b.deliveryMs.p50} ms`);
    }

    // --- 3. throughput (before recovery: the recovery logs would slow every later XREAD down)
    log(`cluster: throughput, emits to group rooms of ${GROUP_SIZE} from all ${NODES} nodes, open loop, ${cfg.stepSeconds} s per step: ${cfg.rates.join(', ')} emits/s ...`);
    let rseq = 1e9;
    const failedAt = {};
    for (const v of live) out.throughput[v] = { steps: [], maxSustained: null };
    // one step of `seconds` at R emits/s on variant v -> the step (null: the nodes failed)
    const rateStep = async (v, R, seconds) => {
        const perNode = R / NODES;
        const q0 = await Promise.all(clientProcs.map((_, p) => ask(p, 'peek', { v })));
        const c0 = await nodeCpu(v);
        const s0 = await V[v].stats.snap();
        const tStart = Date.now();
        const base = rseq;
        rseq += 1e6;
        let sent;
        let eld = null;
        try {
          const res = await Promise.all(V[v].nodes.map((c, i) => c.call('rate', { rate: perNode, seconds: cfg.stepSeconds, groups: cfg.groups, seqBase: base + i * 1e5 }, seconds * 1000 + 60000)));
          sent = res.reduce((x, m) => x + m.sent, 0);
          eld = res.map((m) => m.eldMs);
        } catch (err) {
          out.throughput[v].error = err.message;
          return null;
        }
        const tSent = Date.now();
        const expected = sent * GROUP_SIZE;
        let delivered = 0;
        const deadline = tSent + GRACE_MS;
        for (;;) {
          const ps = await Promise.all(clientProcs.map((_, p) => ask(p, 'peek', { v })));
          delivered = ps.reduce((x, m) => x + m.count, 0);
          if (delivered >= expected || Date.now() > deadline) break;
          await sleep(50);
        }
        const tDone = Date.now();
        if (delivered < expected) await sleep(3000); // let the tail drain before the next step
        const stats = await Promise.all(clientProcs.map((_, p) => ask(p, 'rateStats', { v })));
        const s1 = await V[v].stats.snap();
        const c1 = await nodeCpu(v);
        const d = V[v].stats.diff(s0, s1);
        const total = stats.reduce((x, m) => x + m.count, 0);
        const p99 = Math.max(...stats.map((m) => m.p99 || 0));
        const duplicates = stats.reduce((x, m) => x + m.duplicates, 0) - q0.reduce((x, m) => x + m.duplicates, 0);
        const wrongRoom = stats.reduce((x, m) => x + m.wrongRoom, 0) - q0.reduce((x, m) => x + m.wrongRoom, 0);
        const step = {
          rate: R,
          sent,
          achievedRate: r3(sent / ((tSent - tStart) / 1000)),
          expectedDeliveries: expected,
          deliveredInTime: delivered,
          deliveredTotal: total,
          unexpected: stats.reduce((x, m) => x + m.unexpected, 0),
          duplicates,
          wrongRoom,
          lagMs: { p50: r3(median(stats.map((m) => m.p50 || 0))), p99: r3(p99), max: r3(Math.max(...stats.map((m) => m.max || 0))) },
          // receivers on the emitting node (local delivery) vs on the other nodes (via Redis);
          // p50 = mean of the client processes' p50s, p99 = the larger of their p99s
          localLagMs: { p50: r3(median(stats.map((m) => m.local.p50 || 0))), p99: r3(Math.max(...stats.map((m) => m.local.p99 || 0))) },
          remoteLagMs: { p50: r3(median(stats.map((m) => m.remote.p50 || 0))), p99: r3(Math.max(...stats.map((m) => m.remote.p99 || 0))) },
          drainMs: tDone - tSent,
          // event-loop delay of each node over the step (monitorEventLoopDelay, 10 ms resolution)
          nodeEventLoopDelayMs: eld ? eld.map((e) => ({ p50: r3(e.p50), p99: r3(e.p99), max: r3(e.max) })) : null,
          serverCpuUsPerEmit: r3(c1.reduce((x, c, i) => x + cpuUs(c) - cpuUs(c0[i]), 0) / Math.max(1, sent)),
          redisBytesPerEmit: r3((d.netIn + d.netOut) / Math.max(1, sent)),
          redisCpuUsPerEmit: r3(d.cpuUs / Math.max(1, sent)),
        };
        step.correct = total === expected && duplicates === 0 && wrongRoom === 0;
        step.sustained = step.correct && delivered >= expected && p99 <= LAG_LIMIT_MS && sent >= 0.97 * R * seconds;
        return step;
    };
    const logStep = (v, R, step) => log(`  throughput ${v} ${R}/s: sent ${step.sent} (${step.achievedRate}/s), delivered ${step.deliveredInTime}/${step.expectedDeliveries} in time (${step.deliveredTotal} in all), ${step.duplicates} duplicates, ${step.wrongRoom} to the wrong room, lag p50 ${step.lagMs.p50} p99 ${step.lagMs.p99} max ${step.lagMs.max} ms (local p50/p99 ${step.localLagMs.p50}/${step.localLagMs.p99}, remote ${step.remoteLagMs.p50}/${step.remoteLagMs.p99}), node event-loop delay p99 ${step.nodeEventLoopDelayMs ? step.nodeEventLoopDelayMs.map((e) => e.p99).join('/') : '-'} ms, ${step.serverCpuUsPerEmit} us server CPU/emit, ${step.redisBytesPerEmit} Redis B/emit, ${step.redisCpuUsPerEmit} us Redis CPU/emit -> ${step.sustained ? 'sustained' : step.correct ? 'LAGS' : 'WRONG'}${step.attempt > 1 ? ` (attempt ${step.attempt})` : ''}`);
    // warm-up: 1 s at the lowest rate per variant, not recorded
    for (const v of live) if (!out.broadcast[v].error) await rateStep(v, cfg.rates[0], 1);
    await profileStart('throughput');
    // a step that lags is run again once (one hiccup of this shared machine is not the adapter's
    // ceiling); a variant stops after a step lagged twice, or at once if a message was wrong
    for (let si = 0; si < cfg.rates.length; si++) {
      const R = cfg.rates[si];
      for (const v of rotate(live, si)) {
        if (failedAt[v] || out.broadcast[v].error) continue;
        for (let attempt = 1; attempt <= 2; attempt++) {
          const step = await rateStep(v, R, cfg.stepSeconds);
          if (!step) { failedAt[v] = R; break; }
          step.attempt = attempt;
          out.throughput[v].steps.push(step);
          logStep(v, R, step);
          if (step.sustained) { out.throughput[v].maxSustained = R; break; }
          if (!step.correct || attempt === 2) failedAt[v] = R;
          if (!step.correct) break;
        }
      }
    }


    await profileStop('throughput');

    // --- 2. cross-node recovery
    const recVariants = live.filter((v) => v !== PEER2 && !out.broadcast[v].error);
    if (live.includes(PEER2)) out.recovery.unsupported = { [PEER2]: '@socket.io/redis-adapter has no connection-state recovery (restoreSession is the base Adapter\'s no-op)' };
    out.recovery.stages = [];
    const logCount = Object.fromEntries(recVariants.map((v) => [v, 0]));
    for (const stage of skip.includes('recovery') ? [] : cfg.recovery) {
      const { M, N } = stage;
      const st = { M, N, after: null, missed: null, firstSeq: null, variants: {} };
      const offsetSeq = M / 2 - 1; // the last packet the sessions saw
      const firstSeq = Array.from({ length: LOG_ROOMS }, (_, k) => offsetSeq + 1 + k).find((i) => SESSION_ROOMS.includes(`room:${i % LOG_ROOMS}`));
      let missed = 0;
      for (let i = offsetSeq + 1; i < M; i++) if (SESSION_ROOMS.includes(`room:${i % LOG_ROOMS}`)) missed++;
      Object.assign(st, { after: M - offsetSeq - 1, missed, firstSeq });
      log(`cluster: recovery, log of ${M} packets, ${N} sessions persisted on node 0 at packet ${offsetSeq + 1} (${st.after} after it, ${missed} for their rooms), restored on node 1 ...`);
      const offsets = {};
      for (const v of recVariants) {
        const sv = { populateSec: null };
        st.variants[v] = sv;
        try {
          const m0 = await V[v].stats.snap();
          const prev = logCount[v];
          const tp = Date.now();
          const first = await V[v].nodes[0].call('populate', { count: offsetSeq + 1 - logCount[v], from: logCount[v], rooms: LOG_ROOMS }, 600000);
          offsets[v] = first.lastOffset;
          await V[v].nodes[0].call('persist', { pids: Array.from({ length: N }, (_, i) => `${M}-${i}`), rooms: SESSION_ROOMS });
          await V[v].nodes[0].call('populate', { count: M - offsetSeq - 1, from: offsetSeq + 1, rooms: LOG_ROOMS }, 600000);
          logCount[v] = M;
          sv.populateSec = r3((Date.now() - tp) / 1000);
          await sleep(500); // the other nodes finish reading the log
          const m1 = await V[v].stats.snap();
          sv.redisUsedMemoryBytes = m1.usedMemory;
          sv.redisMemoryGrowthPerPacket = r3((m1.usedMemory - m0.usedMemory) / (M - prev));
          sv.offset = offsets[v];
        } catch (err) {
          sv.error = err.message;
        }
      }
      // restores, interleaved in rounds
      const per = Math.ceil(N / cfg.recoveryRounds);
      const acc2 = Object.fromEntries(recVariants.map((v) => [v, { times: [], problems: [], bytesOut: [], bytesIn: [], calls: [], cmds: {}, redisCpuUs: 0, n: 0 }]));
      for (let round = 0; round < cfg.recoveryRounds; round++) {
        for (const v of rotate(recVariants, round)) {
          const sv = st.variants[v];
          if (sv.error) continue;
          const pids = Array.from({ length: N }, (_, i) => `${M}-${i}`).slice(round * per, (round + 1) * per);
          if (!pids.length) continue;
          try {
            const s0 = await V[v].stats.snap();
            const res = await V[v].nodes[1].call('restore', { pids, offset: offsets[v], expected: missed, firstSeq }, 600000);
            const s1 = await V[v].stats.snap();
            const d = V[v].stats.diff(s0, s1);
            const a = acc2[v];
            a.times.push(...res.times);
            a.problems.push(...res.problems);
            a.bytesOut.push(d.netOut / pids.length);
            a.bytesIn.push(d.netIn / pids.length);
            a.calls.push(d.calls / pids.length);
            for (const [k, x] of Object.entries(d.cmds)) a.cmds[k] = (a.cmds[k] || 0) + x;
            a.redisCpuUs += d.cpuUs;
            a.n += pids.length;
          } catch (err) {
            sv.error = err.message;
          }
        }
      }
      for (const v of recVariants) {
        const sv = st.variants[v];
        const a = acc2[v];
        if (!sv.error && a.n) {
          const t = Float64Array.from(a.times).sort();
          Object.assign(sv, {
            restores: a.n,
            timeMs: { median: r3(quantile(t, 0.5)), p90: r3(quantile(t, 0.9)), min: r3(t[0]), max: r3(t[t.length - 1]) },
            redisBytesOutPerRestore: spread(a.bytesOut),
            redisBytesInPerRestore: spread(a.bytesIn),
            redisCommandsPerRestore: r3(a.calls.reduce((x, y) => x + y, 0) / a.calls.length),
            redisCommands: Object.fromEntries(Object.entries(a.cmds).map(([k, x]) => [k, r3(x / a.n)])),
            redisCpuUsPerRestore: r3(a.redisCpuUs / a.n),
            problems: a.problems.slice(0, 5),
            problemCount: a.problems.length,
          });
        }
        log(`  recovery M=${M} ${v}: ${sv.error ? `ERROR ${sv.error}` : `restore median ${sv.timeMs.median} ms (${sv.timeMs.min}-${sv.timeMs.max}), ${Math.round(sv.redisBytesOutPerRestore.median)} B from Redis per restore (${Math.round(sv.redisBytesOutPerRestore.min)}-${Math.round(sv.redisBytesOutPerRestore.max)}), ${sv.redisCommandsPerRestore} commands; Redis memory growth ${sv.redisMemoryGrowthPerPacket} B/packet; populate ${sv.populateSec} s${sv.problemCount ? `; CHECK: ${sv.problems.join('; ')}` : ''}`}`);
      }
      out.recovery.stages.push(st);
    }

    // --- close
    for (let p = 0; p < CLIENT_PROCS; p++) out.clientCpu.push(await ask(p, 'close'));
  } finally {
    for (const c of procs) c.kill();
    for (const v of Object.keys(V)) V[v].stats.client.disconnect();
    for (const r of redises) await r.stop();
  }
  out.ratios = clusterRatios(out);
  out.durationSec = Math.round((Date.now() - started) / 1000);
  out.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  return out;
}

// ours / theirs (below 1: ours costs less / takes less time); throughput: ours / theirs (above 1
// is better)
function clusterRatios(out) {
  const r = {};
  const x = (a, b) => (a == null || b == null || !b ? null : Number((a / b).toPrecision(4)));
  for (const peer of [PEER, PEER2]) {
    const o = out.broadcast[OURS];
    const p = out.broadcast[peer];
    if (o && p && !o.error && !p.error) {
      r[`broadcastCpuVs_${peer}`] = x(o.cpuUsPerDelivery, p.cpuUsPerDelivery);
      r[`broadcastRedisBytesVs_${peer}`] = x(o.redis.bytesInPerBroadcast + o.redis.bytesOutPerBroadcast, p.redis.bytesInPerBroadcast + p.redis.bytesOutPerBroadcast);
      r[`broadcastRedisCommandsVs_${peer}`] = x(o.redis.commandsPerBroadcast, p.redis.commandsPerBroadcast);
      r[`broadcastRedisCpuVs_${peer}`] = x(o.redis.cpuUsPerBroadcast, p.redis.cpuUsPerBroadcast);
    }
    const to = out.throughput[OURS];
    const tp = out.throughput[peer];
    if (to && tp && to.maxSustained != null && tp.maxSustained != null) r[`throughputVs_${peer}`] = x(to.maxSustained, tp.maxSustained);
  }
  for (const st of (out.recovery && out.recovery.stages) || []) {
    const o = st.variants[OURS];
    const p = st.variants[PEER];
    if (o && p && o.timeMs && p.timeMs) {
      r[`restoreTimeVs_${PEER}_M${st.M}`] = x(o.timeMs.median, p.timeMs.median);
      r[`restoreBytesVs_${PEER}_M${st.M}`] = x(o.redisBytesOutPerRestore.median, p.redisBytesOutPerRestore.median);
    }
  }
  return r;
}

module.exports = { runCluster, clusterRatios, OURS, PEER, PEER2, VARIANTS, LABELS, NODES, GROUP_SIZE, LAG_LIMIT_MS, GRACE_MS };

if (require.main === module) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v === undefined ? true : v]; }));
  runCluster({
    quick: !!args.quick,
    variants: args.variants ? String(args.variants).split(',') : VARIANTS,
    profileDir: args.profile ? path.resolve(String(args.profile)) : null,
    profilePhase: args['profile-phase'] || 'broadcast',
    rates: args.rates ? String(args.rates).split(',').map(Number) : null,
    skip: args.skip ? String(args.skip).split(',') : [],
    oursOptions: args['ours-options'] ? JSON.parse(String(args['ours-options'])) : null,
    clients: args.clients ? Number(args.clients) : null,
    log: (m) => process.stderr.write(`${m}\n`),
  }).then((r) => { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); process.exit(0); }, (err) => { process.stderr.write(`${err.stack}\n`); process.exit(1); });
}
