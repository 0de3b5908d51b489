'use strict';

// OfflineQueue measurements that need a process of their own (run by benchmarks/run.js, one
// child per implementation and measurement; prints one JSON line):
//   node --expose-gc benchmarks/queue_child.js --impl=lib/index.js --what=memory --items=1000000
//   node --expose-gc benchmarks/queue_child.js --impl=lib/index.js --what=event-loop --items=1000000 --seconds=3
//   node benchmarks/queue_child.js --impl=lib/index.js --what=durable --fsync=interval --items=300000
// memory: heap and RSS growth per queued item (200-byte payloads, 10,000 clients x 100 items).
// event-loop: with that many items queued, traffic flows (every 1 ms: a pushMany of 200 items
// to the next client and a peek + ack of another) while perf_hooks measures event-loop delay.
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

function fill(queue, batch) {
  const ids = Array.from({ length: CLIENTS }, (_, i) => `user-${i}`);
  for (let k = 0; k < perClient; k += batch.length) {
    for (const id of ids) queue.pushMany(id, batch.slice(0, Math.min(batch.length, perClient - k)));
  }
  return ids;
}

function out(obj) {
  process.stdout.write(JSON.stringify({ implementation: impl.implementation, ...obj }) + '\n');
}

async function main() {
  const batch = items(payloads(100, 8));
  if (args.what === 'memory') {
    const before = settle();
    const q = new impl.OfflineQueue({ capacity: perClient, breaker: false });
    fill(q, batch);
    const after = settle();
    const n = q.size();
    out({ what: 'memory', items: n, payloadBytes: 200, heapPerItem: Math.round((after.heapUsed - before.heapUsed) / n), rssPerItem: Math.round((after.rss - before.rss) / n) });
    return;
  }
  if (args.what === 'event-loop') {
    const q = new impl.OfflineQueue({ capacity: perClient, breaker: false });
    const ids = fill(q, batch);
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
    const traffic = items(payloads(200, 9));
    let i = 0;
    let pushed = 0;
    const timer = setInterval(() => {
      const a = ids[i % CLIENTS];
      const b = ids[(i + CLIENTS / 2) % CLIENTS];
      i++;
      pushed += q.pushMany(a, traffic).offsets.length;
      const got = q.peek(b, { limit: 100 });
      if (got.length) q.ack(b, got[got.length - 1].offset);
    }, 1);
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
