#!/usr/bin/env node
'use strict';

// realtime-core benchmarks: the native addon vs the pure-JS twin vs a peer (fast-json-patch),
// in one run, on the same data, reported as ratios. See benchmarks/README.md.
//
//   node benchmarks/run.js              full run (about 3-4 minutes on 2 cores)
//   node benchmarks/run.js --quick      smoke run (tiny time budget; results/quick/)
//   options: --filter=<regex> (case ids), --time=<ms> (per implementation and case),
//            --no-memory, --native=<module path>, --js=<module path>, --out=<dir>,
//            --report-only (re-render REPORT.md and the charts from <out>/latest.json)
//
// Writes <out>/latest.json (raw numbers), <out>/REPORT.md and <out>/ratios*.svg
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
      case '--help':
      case '-h':
        process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(3, 13).join('\n') + '\n');
        process.exit(0);
        break;
      default:
        process.stderr.write(`unknown argument ${arg} (try --help)\n`);
        process.exit(2);
    }
  }
  if (!opts.out) opts.out = path.join(__dirname, 'results', opts.quick ? 'quick' : '');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

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

function writeReport(result) {
  fs.mkdirSync(opts.out, { recursive: true });
  const entries = result.cases;
  fs.writeFileSync(path.join(opts.out, 'ratios.svg'), ratioChart(entries, 'nativeVsJs', 'native speed-up over the JS twin (median time JS / median time native), log scale'));
  fs.writeFileSync(path.join(opts.out, 'ratios-peer.svg'), ratioChart(entries.filter((e) => e.ratios.nativeVsPeer != null), 'nativeVsPeer', 'native speed-up over fast-json-patch (median time fjp / median time native), log scale'));
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
    if (!ids.some(want) || loaded.length === 0) continue;
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

  for (const c of optimisticCases(loaded.filter((impl) => impl.mod.OptimisticState))) {
    if (!want(c.id)) continue;
    runCase(c, record);
  }

  if (['push', 'pushMany', 'peek+ack'].some((op) => want(`OfflineQueue.${op}/1-client`) || want(`OfflineQueue.${op}/10000-clients`))) {
    for (const c of queueCases(loaded.filter((impl) => impl.mod.OfflineQueue))) {
      if (!want(c.id)) continue;
      runCase(c, record);
    }
  }

  for (const c of statelessCases(loaded)) {
    if (!want(c.id)) continue;
    runCase(c, record);
  }

  let memory = null;
  if (opts.memory && loaded.length) {
    log('memory: one child process per implementation (--expose-gc) ...');
    memory = memoryRuns(loaded);
    for (const [name, m] of Object.entries(memory)) {
      if (m.error) log(`  ${name}: ERROR ${m.error}`);
      else log(`  ${name}: ${m.docs} docs: after put ${m.put.heapPerDoc} B heap + ${m.put.rssPerDoc} B RSS per doc; with ${m.applies} writes of history each: ${m.history.heapPerDoc} B heap + ${m.history.rssPerDoc} B RSS per doc`);
    }
  }

  let pendingMemory = null;
  if (opts.memory && loaded.length) {
    pendingMemory = pendingMemoryRuns(loaded);
    for (const [name, m] of Object.entries(pendingMemory)) {
      log(m.error ? `  ${name}: ERROR ${m.error}` : `  ${name}: ${m.pending} pending changes: ${m.heapPerPending} B heap + ${m.rssPerPending} B RSS per pending change (${m.avgChangeTextBytes} B of text each)`);
    }
  }

  let queueMeasurements = null;
  if (opts.memory && want('OfflineQueue.pushMany/1-client')) {
    const withQueue = loaded.filter((impl) => impl.mod.OfflineQueue);
    if (withQueue.length) {
      log('OfflineQueue: memory, event-loop delay and durable throughput, one child process each ...');
      queueMeasurements = queueChildRuns(withQueue);
    }
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
  };
  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeReport(result);
  log(`\nwrote ${path.relative(ROOT, opts.out) || '.'}/latest.json, REPORT.md, ratios.svg, ratios-peer.svg in ${result.durationSec} s`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
