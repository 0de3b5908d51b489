'use strict';

// A/B of two builds of the same implementation (for example the addon with and without a fix)
// on one case, interleaved in rounds so machine load hits both alike:
//   node benchmarks/profile/ab.js --a=lib/index.js --b=/tmp/rtc-exp/lib/index.js \
//     --case=merge3/128KB/text --rounds=12 --ms=250
// Prints the median over rounds of each build's mean time per call, and b's speed-up over a.
// --a / --b may also be `fast-json-patch` for stateless cases that have the peer.

const path = require('node:path');
const { statelessCases, STORE_SPECS, buildStore, storeTask } = require('../cases');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.join('=')];
}));
const caseId = args.case || 'merge3/128KB/text';
const rounds = Number(args.rounds || 12);
const ms = Number(args.ms || 250);

function fnFor(label, spec) {
  if (spec === 'fast-json-patch') {
    const c = statelessCases([]).find((x) => x.id === caseId);
    return c.run['fast-json-patch'];
  }
  const mod = require(path.resolve(spec));
  const m = /^DocumentStore\.apply\/([^/]+)\/(fresh|stale)$/.exec(caseId);
  if (m) return storeTask(buildStore(mod, STORE_SPECS.find((s) => s.label === m[1])), m[2]);
  return statelessCases([{ name: label, mod }]).find((x) => x.id === caseId).run[label];
}

const fns = { a: fnFor('a', args.a), b: fnFor('b', args.b) };
const means = { a: [], b: [] };
for (const k of ['a', 'b']) for (let i = 0; i < 50; i++) fns[k](); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 ? ['b', 'a'] : ['a', 'b']) {
    const end = process.hrtime.bigint() + BigInt(ms * 1e6);
    const t0 = process.hrtime.bigint();
    let n = 0;
    let now = t0;
    while (now < end) {
      fns[k]();
      n++;
      now = process.hrtime.bigint();
    }
    means[k].push(Number(now - t0) / n);
  }
}
const med = (xs) => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const a = med(means.a);
const b = med(means.b);
console.log(`${caseId}: a=${args.a} ${(a / 1000).toFixed(1)} us/call; b=${args.b} ${(b / 1000).toFixed(1)} us/call; b is ${(a / b).toFixed(2)}x a`);
