'use strict';

// Summarizes a V8 .cpuprofile (from node --cpu-prof): self time by function and by area
// (native addon call, lib/js twin, lib/api layer, JSON built-ins, GC, ...), top N.
//   node benchmarks/profile/summarize.js <file.cpuprofile> [--top=25]

const fs = require('node:fs');
const path = require('node:path');

const file = process.argv[2];
const top = Number((process.argv.find((a) => a.startsWith('--top=')) || '--top=25').slice(6));
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const dt = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const d = prof.timeDeltas[i + 1] !== undefined ? prof.timeDeltas[i + 1] : 0;
  dt.set(prof.samples[i], (dt.get(prof.samples[i]) || 0) + d);
}
const total = [...dt.values()].reduce((a, b) => a + b, 0);
const ROOT = path.resolve(__dirname, '..', '..');

function area(cf) {
  const u = cf.url || '';
  if (cf.functionName === '(garbage collector)') return 'GC';
  if (cf.functionName === '(program)' || cf.functionName === '(idle)') return 'V8/program (incl. native C++ not attributed to a JS frame)';
  if (u.includes('/lib/native/')) return 'lib/native (adapter)';
  if (u.includes('/lib/js/')) return 'lib/js (twin engine)';
  if (u.includes('/lib/api/') || u.includes('/lib/common/')) return 'lib/api + lib/common (shared JS layer)';
  if (u.includes('fast-json-patch')) return 'fast-json-patch';
  if (u.includes('/benchmarks/')) return 'benchmark harness';
  if (u.startsWith('node:')) return 'node internals';
  if (!u) return `builtin/native: ${cf.functionName || '(anonymous)'}`;
  return u;
}

const selfByFn = new Map();
const selfByArea = new Map();
for (const [id, t] of dt) {
  const cf = byId.get(id).callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url ? path.relative(ROOT, cf.url.replace('file://', '')) + ':' + (cf.lineNumber + 1) : ''}`;
  selfByFn.set(key, (selfByFn.get(key) || 0) + t);
  const a = area(cf);
  selfByArea.set(a, (selfByArea.get(a) || 0) + t);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`${path.basename(file)}: ${(total / 1000).toFixed(0)} ms sampled`);
console.log('\nself time by area:');
for (const [a, t] of [...selfByArea].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(t)}  ${a}`);
console.log(`\nself time by function (top ${top}):`);
for (const [k, t] of [...selfByFn].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`  ${pct(t)}  ${k}`);
