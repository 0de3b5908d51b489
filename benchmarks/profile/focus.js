'use strict';

// Runs ONE benchmark case with ONE implementation in a tight loop, for profiling:
//   node --cpu-prof --cpu-prof-dir=benchmarks/results/profiles \
//     benchmarks/profile/focus.js --impl=native --case=merge3/128KB/text --seconds=5
//   perf record -g -- node --perf-basic-prof benchmarks/profile/focus.js --impl=native --case=...
// --impl: native | js | fast-json-patch (stateless cases that have the peer)
// --case: any case id of benchmarks/run.js, e.g. DocumentStore.apply/10000x1KB/stale
// Set-up (data, store filling) runs before the timed loop; --cpu-prof covers both, so the
// summary script can drop it by function, or use --setup-only to profile set-up alone.

const path = require('node:path');
const { statelessCases, STORE_SPECS, buildStore, storeTask } = require('../cases');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.length ? v.join('=') : true];
}));
const implName = args.impl || 'native';
const caseId = args.case || 'merge3/128KB/text';
const seconds = Number(args.seconds || 5);
const ROOT = path.resolve(__dirname, '..', '..');
const modules = { native: path.join(ROOT, 'lib', 'index.js'), js: path.join(ROOT, 'lib', 'js', 'index.js') };

function loopFor(fn) {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  const t0 = process.hrtime.bigint();
  let now = t0;
  while (now < end) {
    for (let k = 0; k < 16; k++) fn();
    n += 16;
    now = process.hrtime.bigint();
  }
  const ns = Number(now - t0) / n;
  process.stdout.write(`${caseId} ${implName}: ${n} calls, mean ${(ns / 1000).toFixed(2)} us/call\n`);
}

const impl = implName === 'fast-json-patch' ? null : { name: implName, mod: require(modules[implName] || path.resolve(implName)) };
const m = /^DocumentStore\.apply\/([^/]+)\/(fresh|stale)$/.exec(caseId);
if (m) {
  const spec = STORE_SPECS.find((s) => s.label === m[1]);
  if (!spec || !impl) throw new Error(`unknown store case ${caseId} / ${implName}`);
  const st = buildStore(impl.mod, spec);
  if (!args['setup-only']) loopFor(storeTask(st, m[2]));
} else {
  const c = statelessCases(impl ? [impl] : []).find((x) => x.id === caseId);
  if (!c) throw new Error(`unknown case ${caseId}`);
  const fn = c.run[implName];
  if (!fn) throw new Error(`${caseId} has no ${implName} implementation`);
  loopFor(fn);
}
