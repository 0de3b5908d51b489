'use strict';

// Long busy stretches in a V8 .cpuprofile (e.g. a node of the cluster suite's throughput phase):
// runs of samples with no idle sample in between, at least <ms> long; self and inclusive time by
// function inside them (benchmarks/profile/FINDINGS.md, "Scale-out over Redis").
//   node benchmarks/cluster_longtasks.js <file.cpuprofile> [ms=50]
const fs = require('fs');
const file = process.argv[2];
const minMs = Number(process.argv[3] || 50);
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children || []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber + 1}`;
let t = p.startTime;
const runs = [];
let cur = null;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i];
  const n = byId.get(p.samples[i]);
  const idle = n.callFrame.functionName === '(idle)';
  if (!idle) {
    if (!cur) cur = { start: t, end: t, ids: [] };
    cur.end = t;
    cur.ids.push(p.samples[i]);
  } else if (cur) {
    if (t - cur.start >= 0) runs.push(cur);
    cur = null;
  }
}
if (cur) runs.push(cur);
const long = runs.filter((r) => (r.end - r.start) / 1000 >= minMs);
console.log(`${runs.length} busy stretches, ${long.length} of ${minMs} ms or more; longest: ${runs.map((r) => ((r.end - r.start) / 1000).toFixed(0)).sort((a, b) => b - a).slice(0, 10).join(', ')} ms`);
const self = new Map();
const incl = new Map();
let total = 0;
for (const r of long) for (const id of r.ids) {
  total++;
  const n = byId.get(id);
  self.set(name(n), (self.get(name(n)) || 0) + 1);
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const k = name(byId.get(x));
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) || 0) + 1);
  }
}
const top = (m, k) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([f, c]) => `${(100 * c / total).toFixed(1).padStart(5)}%  ${f}`).join('\n');
console.log(`self, inside the long stretches:\n${top(self, 18)}\ninclusive:\n${top(incl, 30)}`);
