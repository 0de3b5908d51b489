#!/usr/bin/env node
'use strict';

// realtime-core benchmarks: the native addon vs the pure-JS twin vs a peer (fast-json-patch),
// in one run, on the same data, reported as ratios. See benchmarks/README.md.
//
//   node benchmarks/run.js              full run (about 12-14 minutes on 2 cores, ~5 of them fan-out,
//                                       ~4-5 the scale-out suite 'cluster', which needs redis-server)
//   node benchmarks/run.js --quick      smoke run (tiny time budget; results/quick/)
//   options: --filter=<regex> (case ids), --time=<ms> (per implementation and case),
//            --no-memory, --native=<module path>, --js=<module path>, --out=<dir>,
//            --report-only (re-render REPORT.md and the charts from <out>/latest.json),
//            --only=<suites> (comma list of store, optimistic, queue, stateless, memory, fanout,
//            cluster; the other suites' results are kept from <out>/latest.json), --no-fanout,
//            --no-cluster, --cluster-profile=<dir> (V8 CPU profiles of 2 nodes per variant)
//
// Writes <out>/latest.json (raw numbers), <out>/REPORT.md and <out>/*.svg
// (<out> is benchmarks/results, or benchmarks/results/quick with --quick).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');
const { spawnSync } = require('node:child_process');

const data = require('./data');
const { statelessCases, STORE_SPECS, STALE_BY, buildStore, storeTask, storeCheck, TEXT } = require('./cases');
const { optimisticCases } = require('./optimistic');
const { queueCases } = require('./queue');
const fanout = require('./fanout');
const cluster = require('./cluster');
const { renderReport } = require('./report');
const { ratioChart } = require('./svg');

const ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------------------------
// command line

function parseArgs(argv) {
  const opts = {
    quick: false,
    filter: null,
    time: null,
    memory: true,
    native: path.join(ROOT, 'lib', 'index.js'),
    js: path.join(ROOT, 'lib', 'js', 'index.js'),
    out: null,
  };
  for (const arg of argv) {
    const [k, v] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, null];
    switch (k) {
      case '--quick': opts.quick = true; break;
      case '--filter': opts.filter = new RegExp(v); break;
      case '--time': opts.time = Number(v); break;
      case '--no-memory': opts.memory = false; break;
      case '--native': opts.native = path.resolve(v); break;
      case '--js': opts.js = path.resolve(v); break;
      case '--out': opts.out = path.resolve(v); break;
      case '--report-only': opts.reportOnly = true; break;
      case '--only': opts.only = new Set(v.split(',').map((x) => x.trim()).filter(Boolean)); break;
      case '--no-fanout': opts.noFanout = true; break;
      case '--no-cluster': opts.noCluster = true; break;
      case '--cluster-profile': opts.clusterProfile = path.resolve(v); break;
      case '--help':
      case '-h':
        process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(3, 18).join('\n') + '\n');
        process.exit(0);
        break;
      default:
        process.stderr.write(`unknown argument ${arg} (try --help)\n`);
        process.exit(2);
    }
  }
  if (!opts.out) opts.out = path.join(__dirname, 'results', opts.quick ? 'quick' : '');
  if (opts.only) {
    const unknown = [...opts.only].filter((x) => !SUITES.includes(x));
    if (unknown.length) {
      process.stderr.write(`unknown suite(s) in --only: ${unknown.join(', ')} (known: ${SUITES.join(', ')})\n`);
      process.exit(2);
    }
  }
  return opts;
}

// Suites, for --only. A case belongs to a suite by its function; the child-process measurements
// to the suite they describe (DocumentStore and OptimisticState memory: 'memory').
const SUITES = ['store', 'optimistic', 'queue', 'stateless', 'memory', 'fanout', 'cluster'];
function suiteOf(fn) {
  if (fn === 'DocumentStore.apply') return 'store';
  if (fn.startsWith('OptimisticState.')) return 'optimistic';
  if (fn.startsWith('OfflineQueue.')) return 'queue';
  return 'stateless';
}

const opts = parseArgs(process.argv.slice(2));
const suiteOn = (s) => (opts.only ? opts.only.has(s) : !(s === 'fanout' && opts.noFanout) && !(s === 'cluster' && opts.noCluster));

// Budgets per (case, implementation). The full run has ~70 of them: ~2.1 s each + set-up +
// memory children stays under ~5 minutes on a 2-core machine.
const BUDGET = opts.quick
  ? { time: 25, warmupTime: 10, iterations: 5, warmupIterations: 3 }
  : { time: 1800, warmupTime: 300, iterations: 32, warmupIterations: 16 };
if (opts.time) BUDGET.time = opts.time;
const ROUNDS = opts.quick ? 1 : 3;

// ---------------------------------------------------------------------------------------------
// helpers

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const fullGc = () => { gc(); gc(); };

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

function loadImpl(name, file) {
  try {
    const mod = require(file);
    return { name, file: path.relative(ROOT, file), mod, implementation: mod.implementation };
  } catch (err) {
    return { name, file: path.relative(ROOT, file), error: `${err.code || err.name}: ${err.message.split('\n')[0]}` };
  }
}

function machineInfo() {
  const cpus = os.cpus();
  let tinybenchVersion = null;
  try {
    tinybenchVersion = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'tinybench', 'package.json'), 'utf8')).version;
  } catch {}
  return {
    cpu: cpus[0] ? cpus[0].model : 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism ? os.availableParallelism() : cpus.length,
    totalMemMiB: Math.round(os.totalmem() / 1048576),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    tinybench: tinybenchVersion,
    fastJsonPatch: require('fast-json-patch/package.json').version,
  };
}

let sink; // results go here so no call can be optimised away

// ---------------------------------------------------------------------------------------------
// running

let Bench;

// Implementations of one case are measured in interleaved rounds (A B C, B C A, C A B, ...),
// each round a tinybench run with a share of the budget, and their samples pooled: on a
// shared machine a change of load then hits every implementation alike, not just one.
function measureRounds(label, tasks) {
  const pooled = {};
  for (const t of tasks) pooled[t.name] = { samples: [], totalMs: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const order = tasks.slice(round % tasks.length).concat(tasks.slice(0, round % tasks.length));
    for (const t of order) {
      fullGc();
      const bench = new Bench({
        name: `${label} ${t.name}`,
        time: BUDGET.time / ROUNDS,
        warmupTime: BUDGET.warmupTime / ROUNDS,
        iterations: Math.ceil(BUDGET.iterations / ROUNDS),
        warmupIterations: BUDGET.warmupIterations,
        timestampProvider: 'hrtimeNow',
        retainSamples: true,
        throws: true,
      });
      const fn = t.fn;
      // afterEach (untimed) restores what a stateful case's iteration consumed
      bench.add(t.name, () => { sink = fn(); }, { async: false, afterEach: t.afterEach });
      bench.runSync();
      const r = bench.tasks[0].result;
      if (r.state !== 'completed') throw new Error(`${label} ${t.name}: ${r.state} ${r.error ? r.error.stack : ''}`);
      const p = pooled[t.name];
      for (const x of r.latency.samples) p.samples.push(x);
      p.totalMs += r.totalTime;
    }
  }
  const out = {};
  for (const [name, p] of Object.entries(pooled)) out[name] = stats(p.samples, p.totalMs);
  return out;
}

// quantile with linear interpolation on sorted samples
function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function stats(samplesMs, totalMs) {
  const s = Float64Array.from(samplesMs).sort();
  const ns = (ms) => Math.round(ms * 1e6);
  return {
    medianNs: ns(quantile(s, 0.5)),
    p99Ns: ns(quantile(s, 0.99)),
    meanNs: ns(totalMs / s.length),
    minNs: ns(s[0]),
    opsPerSec: Math.round((s.length * 1000) / totalMs),
    samples: s.length,
  };
}

function fmtNs(ns) {
  if (ns == null) return '-';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(ns >= 1e5 ? 0 : 1)} us`;
  return `${ns} ns`;
}

function ratios(results) {
  const n = results.native;
  const j = results.js;
  const p = results['fast-json-patch'];
  const r = {};
  // speed-up of native: how many times faster than the other (median time of other / native)
  if (n && j) r.nativeVsJs = Math.round((j.medianNs / n.medianNs) * 100) / 100;
  if (n && p) r.nativeVsPeer = Math.round((p.medianNs / n.medianNs) * 100) / 100;
  if (j && p) r.jsVsPeer = Math.round((p.medianNs / j.medianNs) * 100) / 100;
  return r;
}

function runCase(c, record) {
  const results = {};
  const notes = {};
  // correctness first: every implementation's output for this case
  const outs = {};
  const problems = [];
  for (const [name, fn] of Object.entries(c.run)) {
    try {
      outs[name] = fn();
    } catch (err) {
      problems.push(`${name} threw ${err.code || err.name}: ${err.message}`);
    }
  }
  try {
    problems.push(...c.check(outs, notes));
  } catch (err) {
    problems.push(`check failed: ${err.message}`);
  }
  const tasks = Object.entries(c.run).filter(([name]) => name in outs)
    .map(([name, fn]) => ({ name, fn, afterEach: c.afterEach && c.afterEach[name] }));
  if (c.afterEach) for (const t of tasks) t.afterEach();
  Object.assign(results, measureRounds(c.id, tasks));
  const entry = { id: c.id, fn: c.fn, size: c.size, form: c.form, what: c.what, results, ratios: ratios(results), check: { ok: problems.length === 0, problems, notes } };
  record(entry);
  return entry;
}

function printLine(entry) {
  const r = entry.results;
  const cols = [
    entry.id.padEnd(30),
    `native ${fmtNs(r.native && r.native.medianNs)}`.padEnd(20),
    `js ${fmtNs(r.js && r.js.medianNs)}`.padEnd(16),
    r['fast-json-patch'] ? `fjp ${fmtNs(r['fast-json-patch'].medianNs)}`.padEnd(16) : ''.padEnd(16),
    entry.ratios.nativeVsJs != null ? `x${entry.ratios.nativeVsJs} vs js` : '',
    entry.ratios.nativeVsPeer != null ? `  x${entry.ratios.nativeVsPeer} vs fjp` : '',
    entry.check.ok ? '' : `  CHECK: ${entry.check.problems.join('; ')}`,
  ];
  log(cols.join(' '));
}

function memoryRuns(impls) {
  const out = {};
  const docs = opts.quick ? 2000 : 10000;
  for (const impl of impls) {
    const args = ['--expose-gc', path.join(__dirname, 'memory.js'), `--impl=${path.join(ROOT, impl.file)}`, `--docs=${docs}`, '--bytes=1024', '--applies=10'];
    const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120000 });
    if (res.status !== 0) {
      out[impl.name] = { error: (res.stderr || res.error || 'failed').toString().split('\n').slice(0, 5).join(' ') };
      continue;
    }
    out[impl.name] = JSON.parse(res.stdout.trim().split('\n').pop());
    out[impl.name].command = `node ${args.map((a) => (a.startsWith('/') ? path.relative(ROOT, a) : a.replace(ROOT + '/', ''))).join(' ')}`;
  }
  return out;
}

// OfflineQueue measurements in child processes (benchmarks/queue_child.js).
function queueChildRuns(impls) {
  const items = opts.quick ? 100000 : 1000000;
  const runs = [
    { key: 'memory', args: ['--expose-gc', '--what=memory', `--items=${items}`] },
    { key: 'eventLoop', args: ['--expose-gc', '--what=event-loop', `--items=${items}`, `--seconds=${opts.quick ? 1 : 3}`] },
    { key: 'durableInterval', args: ['--what=durable', '--fsync=interval', `--items=${opts.quick ? 50000 : 300000}`] },
    { key: 'durableAlways', args: ['--what=durable', '--fsync=always', `--items=${opts.quick ? 20000 : 100000}`] },
  ];
  const out = {};
  for (const run of runs) {
    out[run.key] = {};
    for (const impl of impls) {
      const [flag, ...rest] = run.args[0] === '--expose-gc' ? run.args : [null, ...run.args];
      const args = [...(flag ? [flag] : []), path.join(__dirname, 'queue_child.js'), `--impl=${path.join(ROOT, impl.file)}`, ...rest];
      const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300000 });
      out[run.key][impl.name] = res.status === 0
        ? { ...JSON.parse(res.stdout.trim().split('\n').pop()), command: `node ${args.map((a) => a.replace(ROOT + '/', '')).join(' ')}` }
        : { error: (res.stderr || res.error || 'failed').toString().split('\n').slice(0, 5).join(' ') };
      const m = out[run.key][impl.name];
      log(`  queue ${run.key} ${impl.name}: ${m.error ? `ERROR ${m.error}` : JSON.stringify(m).slice(0, 240)}`);
    }
  }
  return out;
}

function pendingMemoryRuns(impls) {
  const out = {};
  const pending = opts.quick ? 2000 : 20000;
  for (const impl of impls) {
    const args = ['--expose-gc', path.join(__dirname, 'memory.js'), `--impl=${path.join(ROOT, impl.file)}`, '--what=pending', `--pending=${pending}`];
    const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120000 });
    out[impl.name] = res.status === 0
      ? { ...JSON.parse(res.stdout.trim().split('\n').pop()), command: `node ${args.map((a) => a.replace(ROOT + '/', '')).join(' ')}` }
      : { error: (res.stderr || res.error || 'failed').toString().split('\n').slice(0, 5).join(' ') };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// fan-out (benchmarks/fanout.js): our Socket.io adapter, native and JS, vs socket.io-adapter's

function fanoutRatios(results) {
  const p = results[fanout.PEER];
  const r = {};
  const x = (a, b) => Math.round((a / b) * 1000) / 1000;
  for (const name of fanout.OURS) {
    const o = results[name];
    if (!o || !p) continue;
    r[`${name}VsPeer`] = x(p.medianNs, o.medianNs); // speed-up over Socket.io's adapter
    r[`${name}TimeVsPeer`] = x(o.medianNs, p.medianNs); // time as a fraction of Socket.io's
  }
  if (results.native && results.js) r.nativeVsJs = x(results.js.medianNs, results.native.medianNs);
  return r;
}

function printFanoutLine(e) {
  const r = e.results;
  const per = (x) => (x && e.size.recipients ? ` (${fmtNs(Math.round(x.medianNs / e.size.recipients))}/rcpt)` : '');
  const cols = [e.id.padEnd(34)];
  for (const name of [...fanout.OURS, fanout.PEER]) cols.push(`${name} ${fmtNs(r[name] && r[name].medianNs)}${per(r[name])}`.padEnd(34));
  if (e.ratios.nativeTimeVsPeer != null) cols.push(`native/socket.io ${e.ratios.nativeTimeVsPeer}x time`);
  if (!e.check.ok) cols.push(`  CHECK: ${e.check.problems.join('; ')}`);
  log(cols.join(' '));
}

async function runFanoutCase(c, names) {
  let problems;
  try {
    problems = await c.check();
  } catch (err) {
    problems = [`check failed: ${err.message}`];
  }
  const tasks = names.filter((n) => c.run[n]).map((name) => ({ name, fn: c.run[name], afterEach: c.afterEach && c.afterEach[name] }));
  const results = measureRounds(c.id, tasks);
  if (c.postCheck) problems.push(...c.postCheck());
  for (const [name, res] of Object.entries(results)) {
    if (c.perCall) res.perRecipientNs = Math.round((res.medianNs / c.perCall) * 10) / 10;
    if (c.setupMs && c.setupMs[name] != null) res.setupMs = c.setupMs[name];
  }
  const entry = { id: c.id, fn: c.fn, size: c.size, what: c.what, results, ratios: fanoutRatios(results), check: { ok: problems.length === 0, problems } };
  printFanoutLine(entry);
  return entry;
}

async function runFanout(want, command) {
  const started = Date.now();
  const out = { command, date: new Date().toISOString(), implementations: [], cases: [], memory: null, e2e: null };
  const plain = fanout.loadAdapters({});
  out.implementations = plain.map(({ name, Cls, error }) => ({ name, adapter: Cls ? Cls.name : null, error }));
  for (const a of plain) log(a.error ? `fan-out: NOT LOADED ${a.name}: ${a.error}` : `fan-out: ${a.name} adapter ${a.Cls.name || '(anonymous class)'}`);
  const ok = plain.filter((a) => !a.error);
  const names = ok.map((a) => a.name);
  const order = [fanout.PEER, ...fanout.OURS].filter((n) => names.includes(n));

  const bIds = ['100', '1000', '10000', '100000', '2rooms+except'].map((l) => `fanout/broadcast/${l}`);
  if (bIds.some(want)) {
    // --quick: 10,000 sockets (no room of 100,000), so that the smoke run stays short
    const sockets = opts.quick ? 10000 : fanout.BROADCAST_SOCKETS;
    log(`fan-out: broadcast through adapter.broadcast, fake namespace of ${sockets} sockets per adapter ...`);
    const cases = fanout.broadcastCases(ok, { sockets });
    for (const c of cases) if (want(c.id)) out.cases.push(await runFanoutCase(c, order));
    cases[0].release();
  }
  fullGc();
  const rIds = ['middle', 'near-end'].map((l) => `fanout/restore/${fanout.STORED}/${l}`);
  if (rIds.some(want)) {
    log(`fan-out: restoreSession with ${fanout.STORED} stored packets ...`);
    const rok = fanout.loadAdapters({ recovery: true }).filter((a) => !a.error);
    const cases = await fanout.restoreCases(rok);
    for (const c of cases) if (want(c.id)) out.cases.push(await runFanoutCase(c, order));
    cases[0].release();
  }
  fullGc();
  if (opts.memory && want('fanout/memory')) {
    log('fan-out: memory per membership and per stored packet, one child process each (--expose-gc) ...');
    out.memory = fanout.memoryRuns(order, { quick: opts.quick, log });
  }
  if (want('fanout/e2e')) {
    log('fan-out: end to end, one Socket.io server per variant, websocket clients in 2 child processes ...');
    out.e2e = fanout.e2eRun(order, { quick: opts.quick, log });
  }
  out.durationSec = Math.round((Date.now() - started) / 1000);
  out.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  return out;
}

// --only: what was not run now is taken from the previous <out>/latest.json (each suite keeps
// the command and date of the run that measured it: result.suiteRuns)
function carryOver(result) {
  const now = { command: result.command, date: result.date };
  let prev = null;
  try {
    prev = JSON.parse(fs.readFileSync(path.join(opts.out, 'latest.json'), 'utf8'));
  } catch {}
  const prevRun = (s) => (prev && prev.suiteRuns && prev.suiteRuns[s]) || (prev ? { command: prev.command, date: prev.date } : null);
  result.suiteRuns = {};
  for (const s of SUITES) result.suiteRuns[s] = opts.only.has(s) ? now : prevRun(s);
  if (!prev) return;
  const rank = (c) => SUITES.indexOf(suiteOf(c.fn));
  result.cases = [...(prev.cases || []).filter((c) => !opts.only.has(suiteOf(c.fn))), ...result.cases]
    .map((c, i) => [c, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([c]) => c);
  if (!opts.only.has('memory')) {
    result.memory = prev.memory || null;
    result.pendingMemory = prev.pendingMemory || null;
  }
  if (!opts.only.has('queue')) result.queueMeasurements = prev.queueMeasurements || null;
  if (!opts.only.has('fanout')) result.fanout = prev.fanout || null;
  if (!opts.only.has('cluster')) result.cluster = prev.cluster || null;
}

function writeReport(result) {
  fs.mkdirSync(opts.out, { recursive: true });
  const entries = result.cases;
  fs.writeFileSync(path.join(opts.out, 'ratios.svg'), ratioChart(entries, 'nativeVsJs', 'native speed-up over the JS twin (median time JS / median time native), log scale'));
  fs.writeFileSync(path.join(opts.out, 'ratios-peer.svg'), ratioChart(entries.filter((e) => e.ratios.nativeVsPeer != null), 'nativeVsPeer', 'native speed-up over fast-json-patch (median time fjp / median time native), log scale'));
  const fo = result.fanout && result.fanout.cases ? result.fanout.cases : [];
  const perImpl = (pred) => fo.filter(pred).flatMap((e) => fanout.OURS.filter((n) => e.ratios[`${n}VsPeer`] != null).map((n) => ({ id: `${e.id.replace('fanout/', '')} ${n}`, ratios: { x: e.ratios[`${n}VsPeer`] } })));
  fs.writeFileSync(path.join(opts.out, 'fanout-broadcast.svg'), ratioChart(perImpl((e) => e.fn === 'adapter.broadcast'), 'x', 'speed-up over socket.io-adapter\'s Adapter on broadcast (median time Socket.io / ours), log scale', { goal: 2 }));
  fs.writeFileSync(path.join(opts.out, 'fanout-restore.svg'), ratioChart(perImpl((e) => e.fn === 'adapter.restoreSession'), 'x', 'speed-up over SessionAwareAdapter on restoreSession (median time Socket.io / ours), log scale', { goal: 10 }));
  // scale-out over Redis: ours' advantage over @socket.io/redis-streams-adapter (theirs / ours;
  // throughput: ours / theirs), above 1 ours is better
  const cr = result.cluster && result.cluster.ratios ? result.cluster.ratios : {};
  const adv = [
    ['broadcast: server CPU per delivery', cr['broadcastCpuVs_redis-streams'], true],
    ['broadcast: Redis bytes per broadcast', cr['broadcastRedisBytesVs_redis-streams'], true],
    ['broadcast: redis-server CPU', cr['broadcastRedisCpuVs_redis-streams'], true],
    ...Object.keys(cr).filter((k) => k.startsWith('restoreTimeVs_redis-streams_M')).map((k) => [`restore time, log of ${k.split('_M')[1]}`, cr[k], true]),
    ...Object.keys(cr).filter((k) => k.startsWith('restoreBytesVs_redis-streams_M')).map((k) => [`restore Redis bytes, log of ${k.split('_M')[1]}`, cr[k], true]),
    ['throughput: emits/s sustained', cr['throughputVs_redis-streams'], false],
  ].filter(([, x]) => x != null && x > 0).map(([id, x, inverse]) => ({ id, ratios: { x: Math.round((inverse ? 1 / x : x) * 100) / 100 } }));
  if (result.cluster && !result.cluster.quick) {
    fs.writeFileSync(path.join(opts.out, 'cluster.svg'), ratioChart(adv, 'x', 'ours vs @socket.io/redis-streams-adapter over Redis (theirs / ours; throughput ours / theirs), log scale', { goal: 1 }));
  }
  let findings = null;
  try {
    findings = fs.readFileSync(path.join(__dirname, 'profile', 'FINDINGS.md'), 'utf8');
  } catch {}
  fs.writeFileSync(path.join(opts.out, 'REPORT.md'), renderReport(result, { findings }));
}

async function main() {
  if (opts.reportOnly) {
    writeReport(JSON.parse(fs.readFileSync(path.join(opts.out, 'latest.json'), 'utf8')));
    log(`re-rendered ${path.relative(ROOT, opts.out) || '.'}/REPORT.md and the charts from latest.json`);
    return;
  }
  ({ Bench } = await import('tinybench'));
  const started = Date.now();
  const command = `node benchmarks/run.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  const impls = [loadImpl('native', opts.native), loadImpl('js', opts.js)];
  const loaded = impls.filter((i) => i.mod);
  for (const i of impls) log(i.mod ? `loaded ${i.name}: ${i.file} (implementation: ${i.implementation})` : `NOT LOADED ${i.name}: ${i.file}: ${i.error}`);
  const machine = machineInfo();
  log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadavg.join(' ')}; budget ${BUDGET.time} ms per implementation and case`);

  const entries = [];
  const record = (e) => { entries.push(e); printLine(e); };
  const want = (id) => !opts.filter || opts.filter.test(id);

  // DocumentStore.apply first (the headline), then the stateless functions.
  for (const spec of STORE_SPECS) {
    const ids = ['fresh', 'stale'].map((m) => `DocumentStore.apply/${spec.label}/${m}`);
    if (!suiteOn('store') || !ids.some(want) || loaded.length === 0) continue;
    const problems = storeCheck(loaded, spec);
    const results = { fresh: {}, stale: {} };
    const statuses = { fresh: {}, stale: {} };
    const states = {};
    for (const impl of loaded) {
      fullGc();
      const t0 = Date.now();
      states[impl.name] = buildStore(impl.mod, spec);
      states[impl.name].setupMs = Date.now() - t0;
    }
    for (const mode of ['fresh', 'stale']) {
      if (!want(`DocumentStore.apply/${spec.label}/${mode}`)) continue;
      for (const st of Object.values(states)) st.statuses = {};
      const tasks = loaded.map((impl) => ({ name: impl.name, fn: storeTask(states[impl.name], mode) }));
      results[mode] = measureRounds(`store ${spec.label} ${mode}`, tasks);
      for (const impl of loaded) {
        results[mode][impl.name].setupMs = states[impl.name].setupMs;
        statuses[mode][impl.name] = states[impl.name].statuses;
      }
    }
    for (const mode of ['fresh', 'stale']) {
      const id = `DocumentStore.apply/${spec.label}/${mode}`;
      if (!want(id)) continue;
      const modeProblems = [...problems];
      for (const [name, s] of Object.entries(statuses[mode])) {
        const expected = mode === 'fresh' ? 'applied' : 'merged';
        const other = Object.keys(s).filter((k) => k !== expected);
        if (other.length) modeProblems.push(`${name}: statuses during the run ${JSON.stringify(s)}`);
      }
      record({
        id,
        fn: 'DocumentStore.apply',
        size: { label: spec.label, docs: spec.docs, docBytes: JSON.stringify(data.makeEntity(0, spec.bytes)).length },
        form: 'text',
        what: mode === 'fresh'
          ? `store.apply(id, { patch: text, baseVersion: current }, { output: 'text' }) round-robin over ${spec.docs} stored documents of ~${spec.bytes} bytes; 4-op telemetry patch (one op inside the playlist array); merge-patch delta text out`
          : `the same with baseVersion ${STALE_BY} versions behind: history reconstruction + merge3 (server-wins) + delta; 2-op patch (a setting, a playlist item title)`,
        results: results[mode],
        ratios: ratios(results[mode]),
        check: { ok: modeProblems.length === 0, problems: modeProblems, notes: { statuses: statuses[mode] } },
      });
    }
  }

  for (const c of suiteOn('optimistic') ? optimisticCases(loaded.filter((impl) => impl.mod.OptimisticState)) : []) {
    if (!want(c.id)) continue;
    runCase(c, record);
  }

  if (suiteOn('queue') && ['push', 'pushMany', 'peek+ack'].some((op) => want(`OfflineQueue.${op}/1-client`) || want(`OfflineQueue.${op}/10000-clients`))) {
    for (const c of queueCases(loaded.filter((impl) => impl.mod.OfflineQueue))) {
      if (!want(c.id)) continue;
      runCase(c, record);
    }
  }

  for (const c of suiteOn('stateless') ? statelessCases(loaded) : []) {
    if (!want(c.id)) continue;
    runCase(c, record);
  }

  let memory = null;
  if (opts.memory && suiteOn('memory') && loaded.length) {
    log('memory: one child process per implementation (--expose-gc) ...');
    memory = memoryRuns(loaded);
    for (const [name, m] of Object.entries(memory)) {
      if (m.error) log(`  ${name}: ERROR ${m.error}`);
      else log(`  ${name}: ${m.docs} docs: after put ${m.put.heapPerDoc} B heap + ${m.put.rssPerDoc} B RSS per doc; with ${m.applies} writes of history each: ${m.history.heapPerDoc} B heap + ${m.history.rssPerDoc} B RSS per doc`);
    }
  }

  let pendingMemory = null;
  if (opts.memory && suiteOn('memory') && loaded.length) {
    pendingMemory = pendingMemoryRuns(loaded);
    for (const [name, m] of Object.entries(pendingMemory)) {
      log(m.error ? `  ${name}: ERROR ${m.error}` : `  ${name}: ${m.pending} pending changes: ${m.heapPerPending} B heap + ${m.rssPerPending} B RSS per pending change (${m.avgChangeTextBytes} B of text each)`);
    }
  }

  let queueMeasurements = null;
  if (opts.memory && suiteOn('queue') && want('OfflineQueue.pushMany/1-client')) {
    const withQueue = loaded.filter((impl) => impl.mod.OfflineQueue);
    if (withQueue.length) {
      log('OfflineQueue: memory, event-loop delay and durable throughput, one child process each ...');
      queueMeasurements = queueChildRuns(withQueue);
    }
  }

  let fanoutResult = null;
  if (suiteOn('fanout')) fanoutResult = await runFanout(want, command);

  // scale-out over Redis (benchmarks/cluster.js): child processes, one redis-server per variant
  let clusterResult = null;
  if (suiteOn('cluster') && want('cluster')) {
    log('cluster: scale-out over Redis, ours vs @socket.io/redis-streams-adapter (and @socket.io/redis-adapter) ...');
    try {
      clusterResult = await cluster.runCluster({ quick: opts.quick, log, profileDir: opts.clusterProfile || null });
    } catch (err) {
      clusterResult = { error: `${err.code || err.name}: ${String(err.message).split('\n')[0]}` };
      log(`cluster: ERROR ${clusterResult.error}`);
    }
    clusterResult.command = command;
  }

  const result = {
    command,
    date: new Date().toISOString(),
    durationSec: Math.round((Date.now() - started) / 1000),
    quick: opts.quick,
    budget: { ...BUDGET, rounds: ROUNDS },
    loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    machine,
    implementations: impls.map(({ name, file, implementation, error }) => ({ name, file, implementation, error })),
    ratioDefinition: 'speed-up of native = median time of the other implementation / median time of native (above 1: native is faster)',
    cases: entries,
    memory,
    pendingMemory,
    queueMeasurements,
    fanout: fanoutResult,
    cluster: clusterResult,
  };
  if (opts.only) carryOver(result);
  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeReport(result);
  log(`\nwrote ${path.relative(ROOT, opts.out) || '.'}/latest.json, REPORT.md and the charts (*.svg) in ${result.durationSec} s`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
