'use strict';

// Seeded random JSON documents, patches and mutations for the differential tests.

// The PRNG the OfflineQueue's jitter uses too (docs/offline-queue.md).
const { mulberry32 } = require('../../lib/js/prng');

const KEYS = ['a', 'b', 'c', 'id', 'name', '0', '1', '10', '01', '', 'a/b', 'm~n', '__proto__', 'constructor', 'é', 'x'];
const STRINGS = ['', 'x', 'hello', 'é', '😀', 'a"b', 'line\nbreak', '\u0001', '\u2028'];
const NUMBERS = [0, 1, -1, 0.5, 1e21, 1.5e-7, 123456789, -0.1, 2 ** 53, 1e-300];

function makeGen(seed) {
  const rnd = mulberry32(seed);
  const int = (n) => Math.floor(rnd() * n);
  const pick = (arr) => arr[int(arr.length)];
  const chance = (p) => rnd() < p;

  function scalar() {
    switch (int(5)) {
      case 0: return null;
      case 1: return chance(0.5);
      case 2: return pick(NUMBERS);
      case 3: return pick(STRINGS);
      default: return int(100);
    }
  }

  function value(depth = 0) {
    if (depth >= 4 || chance(0.35)) return scalar();
    if (chance(0.5)) {
      const n = int(5);
      if (chance(0.3)) {
        // an array of items with ids, to exercise item-wise merges and keyed diffs
        return Array.from({ length: n }, (_, i) => ({ id: i * 3 + int(3), v: value(depth + 2) }));
      }
      return Array.from({ length: n }, () => value(depth + 1));
    }
    const obj = {};
    const n = int(5);
    for (let i = 0; i < n; i++) {
      Object.defineProperty(obj, pick(KEYS), { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return obj;
  }

  function object(depth = 0) {
    let v = value(depth);
    while (v === null || typeof v !== 'object' || Array.isArray(v)) v = value(depth);
    return v;
  }

  const esc = (k) => k.replace(/~/g, '~0').replace(/\//g, '~1');

  // all pointers of a document (existing locations), plus their containers
  function pointers(doc, prefix = '', out = []) {
    out.push({ path: prefix, value: doc });
    if (doc && typeof doc === 'object') {
      if (Array.isArray(doc)) doc.forEach((v, i) => pointers(v, `${prefix}/${i}`, out));
      else for (const k of Object.keys(doc)) pointers(doc[k], `${prefix}/${esc(k)}`, out);
    }
    return out;
  }

  function randomPath(doc, { forAdd }) {
    const ps = pointers(doc);
    const p = pick(ps);
    if (forAdd && p.value && typeof p.value === 'object') {
      if (Array.isArray(p.value)) return `${p.path}/${chance(0.3) ? '-' : int(p.value.length + 1)}`;
      return `${p.path}/${esc(pick(KEYS))}`;
    }
    if (chance(0.08)) return `${p.path}/${pick(['nope', '-', '01', '99', ''])}`;
    return p.path;
  }

  // Ops mostly valid against `doc` as it evolves; some invalid on purpose.
  function patch(doc) {
    const ops = [];
    const n = 1 + int(5);
    for (let i = 0; i < n; i++) {
      const kind = pick(['add', 'add', 'remove', 'replace', 'replace', 'move', 'copy', 'test']);
      const op = { op: kind, path: randomPath(doc, { forAdd: kind === 'add' || kind === 'move' || kind === 'copy' }) };
      if (kind === 'move' || kind === 'copy') op.from = randomPath(doc, { forAdd: false });
      if (kind === 'add' || kind === 'replace') op.value = value(2);
      if (kind === 'test') op.value = chance(0.5) ? scalar() : value(3);
      if (chance(0.02)) delete op.path;
      ops.push(op);
    }
    return ops;
  }

  function mergePatch() {
    const p = object(1);
    for (const k of Object.keys(p)) if (chance(0.3)) p[k] = null;
    return chance(0.1) ? value(2) : p;
  }

  // A variation of `doc`: a few random edits, applied with the given applyPatch.
  function mutate(doc, applyPatch) {
    let out = doc;
    for (let i = 0; i < 1 + int(4); i++) {
      try {
        out = applyPatch(out, patch(out));
      } catch {
        // invalid random ops are fine: try another
      }
    }
    return out;
  }

  return { rnd, int, pick, chance, value, object, patch, mergePatch, mutate };
}

module.exports = { makeGen, mulberry32 };
