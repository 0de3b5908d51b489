'use strict';

// The benchmark cases, shared by run.js (timing) and profile/focus.js (profiling one case).
// Each stateless case has, per implementation, a function run once per iteration, and a
// `check` that verifies before timing that every implementation computed the same thing.

const fjp = require('fast-json-patch');
const data = require('./data');

// canonical text: keys sorted, for "same document" checks across implementations whose key
// order may legitimately differ (a peer)
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const asValue = (x) => (typeof x === 'string' ? JSON.parse(x) : x);
const asText = (x) => (typeof x === 'string' ? x : JSON.stringify(x));
const clone = (v) => JSON.parse(JSON.stringify(v));

// ---------------------------------------------------------------------------------------------
// stateless cases: applyPatch, applyMergePatch, diff, merge3 x 3 sizes x 2 input forms

const SIZES = [
  { label: '1KB', bytes: 1024, seed: 101 },
  { label: '16KB', bytes: 16 * 1024, seed: 202 },
  { label: '128KB', bytes: 128 * 1024, seed: 303 },
];
const TEXT = Object.freeze({ output: 'text' });

// Each case: for every implementation a function run once per iteration, and a `check` that
// verifies, before timing, that every implementation computed the same thing.
function statelessCases(impls) {
  const cases = [];
  for (const size of SIZES) {
    const d = data.statelessData(size.bytes, size.seed);
    const t = d.text;
    const sizeInfo = { label: size.label, docBytes: t.doc.length, counts: d.counts };

    // --- applyPatch
    for (const form of ['value', 'text']) {
      const run = {};
      for (const impl of impls) {
        const rt = impl.mod;
        run[impl.name] = form === 'value'
          ? () => rt.applyPatch(d.doc, d.patch)
          : () => rt.applyPatch(t.doc, t.patch, TEXT);
      }
      // fast-json-patch, same contract: input not mutated, patch validated.
      // value form: applyPatch(doc, ops, validate=true, mutateDocument=false) (it deep-clones doc)
      // text form: parse both (a private copy, so mutating it is fine), apply, stringify.
      run['fast-json-patch'] = form === 'value'
        ? () => fjp.applyPatch(d.doc, d.patch, true, false).newDocument
        : () => JSON.stringify(fjp.applyPatch(JSON.parse(t.doc), JSON.parse(t.patch), true, true).newDocument);
      cases.push({
        id: `applyPatch/${size.label}/${form}`,
        fn: 'applyPatch', size: sizeInfo, form,
        what: `RFC 6902 patch of ${d.patch.length} ops (test, 2 replaces in a device, insert + remove in a playlist, 2 settings changes) on a ${t.doc.length}-byte document; ${form === 'value' ? 'JS values in, value out' : 'JSON text in, text out'}`,
        run,
        check(outs) {
          const want = canonical(d.patched);
          const problems = [];
          for (const [name, o] of Object.entries(outs)) if (canonical(asValue(o)) !== want) problems.push(`${name}: wrong document`);
          if (JSON.stringify(d.patch) !== t.patch) problems.push('the patch value was mutated');
          if (JSON.stringify(d.doc) !== t.doc) problems.push('the document value was mutated');
          return problems;
        },
      });
    }

    // --- applyMergePatch (no peer installed)
    for (const form of ['value', 'text']) {
      const run = {};
      for (const impl of impls) {
        const rt = impl.mod;
        run[impl.name] = form === 'value'
          ? () => rt.applyMergePatch(d.doc, d.mergePatch)
          : () => rt.applyMergePatch(t.doc, t.mergePatch, TEXT);
      }
      cases.push({
        id: `applyMergePatch/${size.label}/${form}`,
        fn: 'applyMergePatch', size: sizeInfo, form,
        what: `RFC 7396 merge patch (${t.mergePatch.length} bytes: settings, KPIs, a removed key) on a ${t.doc.length}-byte document; ${form === 'value' ? 'values' : 'text'} in and out`,
        run,
        check: (outs) => sameTextCheck(outs),
      });
    }

    // --- diff (json-patch format, no arrayKey: the same job as fast-json-patch's compare)
    for (const form of ['value', 'text']) {
      const run = {};
      for (const impl of impls) {
        const rt = impl.mod;
        run[impl.name] = form === 'value'
          ? () => rt.diff(d.doc, d.patched)
          : () => rt.diff(t.doc, t.patched, TEXT);
      }
      run['fast-json-patch'] = form === 'value'
        ? () => fjp.compare(d.doc, d.patched)
        : () => JSON.stringify(fjp.compare(JSON.parse(t.doc), JSON.parse(t.patched)));
      cases.push({
        id: `diff/${size.label}/${form}`,
        fn: 'diff', size: sizeInfo, form,
        what: `JSON Patch diff of a ${t.doc.length}-byte document and its patched version (the applyPatch case's result); ${form === 'value' ? 'values' : 'text'} in and out`,
        run,
        check(outs, notes) {
          const problems = [];
          for (const [name, o] of Object.entries(outs)) {
            const ops = asValue(o);
            notes[name] = `${ops.length} ops, ${asText(o).length} bytes`;
            const got = fjp.applyPatch(clone(d.doc), clone(ops), true, true).newDocument;
            if (canonical(got) !== canonical(d.patched)) problems.push(`${name}: its patch does not turn a into b`);
          }
          return problems.concat(sameTextCheck(outs, ['native', 'js']));
        },
      });
    }

    // --- merge3 (server-wins, arrays merged by id; one conflict on settings.theme)
    for (const form of ['value', 'text']) {
      const run = {};
      for (const impl of impls) {
        const rt = impl.mod;
        run[impl.name] = form === 'value'
          ? () => rt.merge3(d.triple.base, d.triple.local, d.triple.remote)
          : () => rt.merge3(t.base, t.local, t.remote, TEXT);
      }
      cases.push({
        id: `merge3/${size.label}/${form}`,
        fn: 'merge3', size: sizeInfo, form,
        what: `three-way merge of a ${t.doc.length}-byte document: client edits a device and inserts a playlist item, server edits another device, an item, a schedule, KPIs, removes an alert; both change the theme (1 conflict, server-wins); ${form === 'value' ? 'values' : 'text'} in and out`,
        run,
        check(outs, notes) {
          for (const [name, o] of Object.entries(outs)) {
            const c = asValue(o.conflicts);
            notes[name] = `${c.length} conflict(s)`;
          }
          return sameTextCheck(
            Object.fromEntries(Object.entries(outs).map(([k, o]) => [k, { doc: asValue(o.doc), conflicts: asValue(o.conflicts) }])),
          );
        },
      });
    }
  }
  return cases;
}

// native and the twin must agree byte for byte
function sameTextCheck(outs, names) {
  const entries = Object.entries(outs).filter(([n]) => !names || names.includes(n));
  if (entries.length < 2) return [];
  const [first, ...rest] = entries;
  const want = asText(first[1]);
  return rest.filter(([, o]) => asText(o) !== want).map(([n]) => `${n} differs from ${first[0]}`);
}

// ---------------------------------------------------------------------------------------------
// DocumentStore.apply: JSON text in, delta text out, on a pool of stored documents

const STORE_SPECS = [
  { label: '100x1KB', docs: 100, bytes: 1024 },
  { label: '10000x1KB', docs: 10000, bytes: 1024 },
  { label: '100x16KB', docs: 100, bytes: 16 * 1024 },
];
const STALE_BY = 3; // a stale client is this many versions behind

// Builds one store with `spec.docs` entities, then brings every document to version 4 with
// three fresh writes, so a stale write (baseVersion = current - 3) always has the history it
// needs. Returns the state the two timed loops share.
function buildStore(rt, spec) {
  const store = new rt.DocumentStore({ nodeId: 'bench' });
  const ids = [];
  const versions = new Int32Array(spec.docs);
  const counters = new Int32Array(spec.docs);
  for (let i = 0; i < spec.docs; i++) {
    const id = `scr-${i}`;
    ids.push(id);
    versions[i] = store.put(id, JSON.stringify(data.makeEntity(i, spec.bytes))).version;
  }
  const fresh = data.freshPatchPool();
  const stale = data.stalePatchPool();
  for (let round = 0; round < STALE_BY; round++) {
    for (let i = 0; i < spec.docs; i++) {
      const r = store.apply(ids[i], { patch: fresh[counters[i]++ % data.POOL], baseVersion: versions[i] }, TEXT);
      versions[i] = r.version;
    }
  }
  return { store, ids, versions, counters, fresh, stale, cursor: 0, statuses: {} };
}

// One iteration = one apply on the next document of the pool (round robin): every iteration
// changes its document (see data.js: the pools never repeat a value on one document).
function storeTask(st, mode) {
  const { store, ids, versions, counters, statuses } = st;
  const n = ids.length;
  const pool = mode === 'fresh' ? st.fresh : st.stale;
  const back = mode === 'fresh' ? 0 : STALE_BY;
  return () => {
    const i = st.cursor;
    st.cursor = i + 1 === n ? 0 : i + 1;
    const r = store.apply(ids[i], { patch: pool[counters[i]++ % data.POOL], baseVersion: versions[i] - back }, TEXT);
    versions[i] = r.version;
    statuses[r.status] = (statuses[r.status] || 0) + 1;
    return r;
  };
}

// Before timing: the same short deterministic sequence on a small fresh store for each
// implementation must give byte-identical results (status, version, delta, conflicts).
function storeCheck(impls, spec) {
  const transcripts = {};
  for (const impl of impls) {
    const small = { ...spec, docs: 3 };
    const st = buildStore(impl.mod, small);
    const out = [];
    for (const mode of ['fresh', 'stale']) {
      const task = storeTask(st, mode);
      for (let k = 0; k < 9; k++) {
        const r = task();
        out.push(`${r.status} ${r.version} ${r.delta} ${typeof r.conflicts === 'string' ? r.conflicts : JSON.stringify(r.conflicts)}`);
      }
    }
    transcripts[impl.name] = out;
  }
  const problems = [];
  const names = Object.keys(transcripts);
  for (const n of names.slice(1)) {
    const a = transcripts[names[0]];
    const b = transcripts[n];
    const k = a.findIndex((line, j) => line !== b[j]);
    if (k >= 0) problems.push(`${n} differs from ${names[0]} at step ${k}: ${b[k].slice(0, 160)} vs ${a[k].slice(0, 160)}`);
  }
  const expect = (name) => {
    const t = transcripts[name];
    if (!t) return;
    if (!t.slice(0, 9).every((l) => l.startsWith('applied '))) problems.push(`${name}: a fresh write was not 'applied'`);
    if (!t.slice(9).every((l) => l.startsWith('merged '))) problems.push(`${name}: a stale write was not 'merged'`);
    if (t.some((l) => / null /.test(l))) problems.push(`${name}: a write did not change its document`);
  };
  names.forEach(expect);
  return problems;
}

module.exports = { SIZES, TEXT, statelessCases, sameTextCheck, STORE_SPECS, STALE_BY, buildStore, storeTask, storeCheck, canonical };
