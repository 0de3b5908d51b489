'use strict';

// OfflineQueue measurements that need a process of their own (run by benchmarks/run.js, one
// child per implementation and measurement; prints one JSON line):
//   node --expose-gc benchmarks/queue_child.js --impl=lib/index.js --what=memory --items=1000000
//   node --expose-gc benchmarks/queue_child.js --impl=lib/index.js --what=event-loop --items=1000000 --seconds=3
//   node benchmarks/queue_child.js --impl=lib/index.js --what=durable --fsync=interval --items=300000
// memory: heap and RSS growth per queued item (distinct 200-byte payloads, as they arrive from
// sockets: 10,000 clients x 100 items).
// event-loop: with that many items queued, traffic flows (every 5 ms: a pushMany of 200 new
// items to the next client and a peek + ack of 100 items of another, about 40,000 items/s in
// and out) while perf_hooks measures the event-loop delay and the GC pauses.
// durable: items/s from the first pushMany until flush() (interval/never) or the last
// `durable` promise (always) resolved, in batches of 1000, into a fresh directory.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');
const { payloads, items } = require('./queue');


const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const impl = require(path.resolve(args.impl));
const count = Number(args.items || 1000000);
const CLIENTS = 10000;
const perClient = Math.ceil(count / CLIENTS);

function settle() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
}

// A distinct, flat 200-byte JSON text per item (JSON.stringify output, as a server builds it).
let serial = 0;
const NOTE = 'x'.repeat(120);
function freshItems(n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    serial++;
    const payload = JSON.stringify({ device: `dev-${serial % 5000}`, online: serial % 7 !== 0, battery: serial % 101, seq: serial, note: NOTE });
    out[i] = { event: 'device:status-update', payload: payload.padEnd(200, ' ') };
  }
  return out;
}

function fill(queue) {
  const ids = Array.from({ length: CLIENTS }, (_, i) => `user-${i}`);
  for (const id of ids) queue.pushMany(id, freshItems(perClient));
  return ids;
}

function out(obj) {
  process.stdout.write(JSON.stringify({ implementation: impl.implementation, ...obj }) + '\n');
}

async function main() {
  if (args.what === 'memory') {
    const before = settle();
    const q = new impl.OfflineQueue({ capacity: perClient, breaker: false });
    fill(q);
    const after = settle();
    const n = q.size();
    out({ what: 'memory', items: n, payloadBytes: 200, heapPerItem: Math.round((after.heapUsed - before.heapUsed) / n), rssPerItem: Math.round((after.rss - before.rss) / n) });
    return;
  }
  if (args.what === 'event-loop') {
    const q = new impl.OfflineQueue({ capacity: perClient, breaker: false });
    const ids = fill(q);
    settle();
    let gcPauseMs = 0;
    let gcs = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcPauseMs += e.duration;
        gcs++;
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    const h = monitorEventLoopDelay({ resolution: 1 });
    let i = 0;
    let pushed = 0;
    const timer = setInterval(() => {
      const a = ids[i % CLIENTS];
      const b = ids[(i + CLIENTS / 2) % CLIENTS];
      i++;
      pushed += q.pushMany(a, freshItems(200)).offsets.length;
      const got = q.peek(b, { limit: 100 });
      if (got.length) q.ack(b, got[got.length - 1].offset);
    }, 5);
    h.enable();
    await new Promise((r) => setTimeout(r, Number(args.seconds || 3) * 1000));
    h.disable();
    clearInterval(timer);
    obs.disconnect();
    out({
      what: 'event-loop', items: q.size(), pushedDuringRun: pushed,
      p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6, gcs, gcPauseMs: Math.round(gcPauseMs),
    });
    return;
  }
  if (args.what === 'durable') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtq-bench-'));
    const fsync = args.fsync || 'interval';
    const big = items(payloads(1000, 10));
    const q = new impl.OfflineQueue({ path: dir, fsync, capacity: count, breaker: false });
    const t0 = process.hrtime.bigint();
    const promises = [];
    for (let k = 0; k < count; k += big.length) {
      const r = q.pushMany('c', big);
      if (r.durable) promises.push(r.durable);
      // give the writer (and, for the twin, fs callbacks) the event loop now and then
      if ((k / big.length) % 50 === 49) await new Promise((res) => setImmediate(res));
    }
    await Promise.all(promises);
    await q.flush();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const bytes = fs.readdirSync(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    await q.close();
    fs.rmSync(dir, { recursive: true, force: true });
    out({ what: 'durable', fsync, items: count, seconds: Math.round(seconds * 1000) / 1000, itemsPerSec: Math.round(count / seconds), logBytes: bytes });
    return;
  }
  throw new Error(`unknown --what=${args.what}`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
