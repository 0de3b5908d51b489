'use strict';

// Randomised differential tests: the same random inputs through the native engine and the
// JS twin; results compared byte for byte (JSON text) and error codes compared exactly.
// A fixed seed always runs, plus a fresh one printed on every run (RT_SEED=<n> repeats it).

const { native, js } = require('../helpers/impls');
const { makeGen } = require('./generators');

const FIXED_SEED = 20261121;
const FRESH_SEED = process.env.RT_SEED ? Number(process.env.RT_SEED) : Math.floor(Math.random() * 2 ** 31);
const ROUNDS = Number(process.env.RT_ROUNDS || 300);

function outcome(fn) {
  try {
    const v = fn();
    // error messages may be worded differently; the codes must match
    if (v && typeof v === 'object' && v.error) v.error = { code: v.error.code };
    return { ok: typeof v === 'string' ? v : JSON.stringify(v) };
  } catch (err) {
    return { error: err.code || `${err.name}: ${err.message}` };
  }
}

function compare(label, fn) {
  const a = outcome(() => fn(native));
  const b = outcome(() => fn(js));
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`${label}: native and js differ\nnative: ${JSON.stringify(a).slice(0, 2000)}\njs:     ${JSON.stringify(b).slice(0, 2000)}`);
  }
  return a;
}

// Needs both implementations (RT_IMPL narrows a local run to one).
const describeBoth = native && js ? describe.each : describe.skip.each;

describeBoth([
  ['fixed seed', FIXED_SEED],
  ['fresh seed', FRESH_SEED],
])('differential (%s %i)', (_label, seed) => {
  beforeAll(() => {
    // printed so a failing fresh seed can be replayed with RT_SEED
    process.stdout.write(`differential seed: ${seed}\n`);
  });

  test('applyPatch', () => {
    const g = makeGen(seed);
    for (let i = 0; i < ROUNDS; i++) {
      const doc = g.value();
      const patch = g.patch(doc);
      compare(`applyPatch #${i} doc=${JSON.stringify(doc)} patch=${JSON.stringify(patch)}`, (rt) =>
        rt.applyPatch(JSON.stringify(doc), patch, { output: 'text' }),
      );
    }
  });

  test('applyMergePatch', () => {
    const g = makeGen(seed + 1);
    for (let i = 0; i < ROUNDS; i++) {
      const doc = g.value();
      const patch = g.mergePatch();
      compare(`applyMergePatch #${i}`, (rt) => rt.applyMergePatch(JSON.stringify(doc), JSON.stringify(patch), { output: 'text' }));
    }
  });

  test('diff (both formats, with and without arrayKey), and the json-patch diff applies back', () => {
    const g = makeGen(seed + 2);
    for (let i = 0; i < ROUNDS; i++) {
      const a = JSON.stringify(g.value());
      const b = JSON.stringify(g.chance(0.8) ? g.mutate(JSON.parse(a), (d, p) => js.applyPatch(JSON.stringify(d), p)) : g.value());
      for (const arrayKey of [null, 'id']) {
        const jp = compare(`diff #${i} ${JSON.stringify(a)} -> ${JSON.stringify(b)} key=${arrayKey}`, (rt) =>
          rt.diff(a, b, { arrayKey, output: 'text' }),
        );
        compare(`merge diff #${i}`, (rt) => rt.diff(a, b, { format: 'merge-patch', arrayKey, output: 'text' }));
        const back = native.applyPatch(a, jp.ok, { output: 'text' });
        expect(JSON.parse(back)).toEqual(JSON.parse(b));
      }
    }
  });

  test('merge3 (server-wins, client-wins, by id and as values)', () => {
    const g = makeGen(seed + 3);
    for (let i = 0; i < ROUNDS; i++) {
      const text = (v) => JSON.stringify(v);
      const baseValue = g.value();
      const base = text(baseValue);
      const local = text(g.mutate(baseValue, (d, p) => js.applyPatch(text(d), p)));
      const remote = text(g.mutate(baseValue, (d, p) => js.applyPatch(text(d), p)));
      for (const strategy of ['server-wins', 'client-wins']) {
        for (const arrayKey of ['id', null]) {
          compare(`merge3 #${i} ${strategy} ${arrayKey} b=${base} l=${local} r=${remote}`, (rt) =>
            rt.merge3(base, local, remote, { strategy, arrayKey, output: 'text' }),
          );
        }
      }
    }
  });

  test('DocumentStore: random mutation sequences with stale bases, replays and failures', () => {
    const g = makeGen(seed + 4);
    for (let run = 0; run < Math.max(10, ROUNDS / 20); run++) {
      const options = {
        nodeId: 'n',
        strategy: g.pick(['server-wins', 'client-wins', 'last-writer-wins']),
        historyLimit: 1 + g.int(8),
        staleBase: g.pick(['reject', 'current']),
        deltaFormat: g.pick(['merge-patch', 'json-patch']),
      };
      let tick = 1_000_000;
      const stores = [native, js].map((rt) => new rt.DocumentStore({ ...options, clock: () => tick }));
      const shadow = []; // documents by version, to derive realistic stale patches
      const initial = g.object();
      compare(`store put run ${run}`, (rt) => stores[rt === native ? 0 : 1].put('d', initial, { output: 'text' }));
      shadow.push(initial);
      for (let step = 0; step < 30; step++) {
        tick += g.int(3);
        const current = JSON.parse(stores[1].get('d', { output: 'text' }));
        const version = stores[1].version('d');
        const baseVersion = g.chance(0.5) ? version : Math.max(0, version - 1 - g.int(6));
        const baseDoc = shadow[Math.min(shadow.length - 1, Math.max(0, baseVersion - 1))] ?? current;
        const mutation = g.chance(0.8) ? { patch: g.patch(baseDoc) } : { mergePatch: JSON.stringify(g.mergePatch()) };
        if (baseVersion >= 1) mutation.baseVersion = baseVersion;
        if (g.chance(0.5)) {
          mutation.clientId = g.pick(['c1', 'c2']);
          mutation.mutationId = 1 + g.int(step + 2);
        }
        if (options.strategy === 'last-writer-wins' || g.chance(0.2)) {
          mutation.timestamp = `${(tick - g.int(5)).toString(16).padStart(12, '0')}:${g.int(3).toString(16).padStart(4, '0')}:c`;
        }
        compare(`store run ${run} step ${step} ${JSON.stringify(options)} mutation=${JSON.stringify(mutation)}`, (rt) =>
          stores[rt === native ? 0 : 1].apply('d', mutation, { output: 'text' }),
        );
        compare(`store run ${run} step ${step} state`, (rt) => stores[rt === native ? 0 : 1].get('d', { output: 'text' }));
        const after = stores[1].version('d');
        if (after > shadow.length) shadow.push(JSON.parse(stores[1].get('d', { output: 'text' })));
        if (g.chance(0.2)) {
          const since = g.int(after + 1);
          compare(`changesSince run ${run} step ${step}`, (rt) => stores[rt === native ? 0 : 1].changesSince('d', since, { output: 'text' }));
        }
      }
    }
  });
});
