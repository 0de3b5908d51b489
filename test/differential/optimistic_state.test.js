'use strict';

// Randomised interleavings of apply, commit, rollback, rebase, batch and expire on both
// OptimisticState implementations: results, events and state compared byte for byte, and the
// invariant checked after every step: the visible state is the base with every pending change
// re-applied from scratch. A fixed seed always runs, plus a fresh one (RT_SEED repeats it).

const { IMPLS, native, js } = require('../helpers/impls');
const { makeGen } = require('./generators');

const FIXED_SEED = 20261122;
const FRESH_SEED = process.env.RT_SEED ? Number(process.env.RT_SEED) : Math.floor(Math.random() * 2 ** 31);
const RUNS = Math.max(10, Number(process.env.RT_ROUNDS || 300) / 6);
const STEPS = 40;

function outcome(fn) {
  try {
    return { ok: JSON.stringify(fn()) };
  } catch (err) {
    return { error: err.code || `${err.name}: ${err.message}`, index: err.details && err.details.index };
  }
}

function observe(state) {
  return JSON.stringify({
    state: state.stateText(),
    base: state.baseText(),
    baseVersion: state.baseVersion,
    pending: state.pending,
  });
}

// The invariant, computed with the same implementation's stateless functions.
function replayed(rt, state) {
  let doc = state.baseText();
  for (const p of state.pending) {
    doc = p.kind === 'patch'
      ? rt.applyPatch(doc, p.change, { output: 'text' })
      : rt.applyMergePatch(doc, p.change, { output: 'text' });
  }
  return doc;
}

// One random operation, described as a batch op so it can also go into a batch.
function randomOp(g, view, nextId) {
  const pendingIds = view.pending.map((p) => p.id);
  const someId = () => (pendingIds.length > 0 && g.chance(0.9) ? g.pick(pendingIds) : g.pick(['ghost', `m${nextId()}`]));
  const change = (doc) => (g.chance(0.75) ? { patch: g.patch(doc) } : { mergePatch: g.mergePatch() });
  switch (g.pick(['apply', 'apply', 'apply', 'commit', 'rollback', 'rebase', 'rebase', 'rollbackAll'])) {
    case 'apply': {
      const id = g.chance(0.95) || pendingIds.length === 0 ? `m${nextId()}` : g.pick(pendingIds);
      return { op: 'apply', id, ...change(view.state) };
    }
    case 'commit': {
      const op = { op: 'commit', id: someId() };
      if (g.chance(0.3)) Object.assign(op, change(view.base));
      if (g.chance(0.6)) op.version = Math.max(0, view.baseVersion + g.int(4) - 1);
      return op;
    }
    case 'rollback':
      return { op: 'rollback', id: someId() };
    case 'rollbackAll':
      return g.chance(0.3) ? { op: 'rollbackAll' } : { op: 'rollback', id: someId() };
    default: {
      const op = g.chance(0.15) ? { op: 'rebase', snapshot: g.value() } : { op: 'rebase', ...change(view.base) };
      if (g.chance(0.7)) op.version = Math.max(0, view.baseVersion + g.int(4) - 1);
      if (g.chance(0.3)) op.confirms = pendingIds.filter(() => g.chance(0.4));
      return op;
    }
  }
}

function run(state, op) {
  const { op: name, id, version, confirms, ...rest } = op;
  switch (name) {
    case 'apply':
      return state.apply(id, rest, { output: 'text' });
    case 'commit':
      return state.commit(id, version === undefined ? rest : { ...rest, version }, { output: 'text' });
    case 'rollback':
      return state.rollback(id, { output: 'text' });
    case 'rollbackAll':
      return state.rollbackAll({ output: 'text' });
    default:
      return state.rebase(rest, { version, confirms, output: 'text' });
  }
}

function session(seed, impls, check) {
  const g = makeGen(seed);
  for (let r = 0; r < RUNS; r++) {
    let tick = 5_000_000;
    let counter = 0;
    const nextId = () => ++counter;
    const options = {
      maxPending: 1 + g.int(8),
      overflow: g.pick(['reject', 'rollback-oldest']),
      timeoutMs: 20 + g.int(200),
      baseVersion: g.int(3),
      autoExpire: false,
      clock: () => tick,
    };
    const initial = g.object();
    const states = impls.map(([, rt]) => new rt.OptimisticState(initial, options));
    const logs = states.map((s) => {
      const log = [];
      for (const name of ['change', 'commit', 'rollback']) s.on(name, (e) => log.push([name, e]));
      return log;
    });
    for (let step = 0; step < STEPS; step++) {
      tick += g.int(40);
      const view = { ...JSON.parse(observe(states[0])) };
      view.state = JSON.parse(view.state);
      view.base = JSON.parse(view.base);
      let action;
      const roll = g.rnd();
      if (roll < 0.1) action = { expire: tick };
      else if (roll < 0.25) action = { batch: Array.from({ length: 1 + g.int(4) }, () => randomOp(g, view, nextId)) };
      else action = { op: randomOp(g, view, nextId) };
      const label = `seed ${seed} run ${r} step ${step} ${JSON.stringify(options)} ${JSON.stringify(action).slice(0, 1500)}`;
      const results = states.map((s) =>
        outcome(() => {
          if (action.expire !== undefined) return s.expire(action.expire, { output: 'text' });
          if (action.batch) return s.batch(action.batch, { output: 'text' });
          return run(s, action.op);
        }),
      );
      check(label, states, results, logs);
    }
    for (const s of states) s.close();
  }
}

describe.each([
  ['fixed seed', FIXED_SEED],
  ['fresh seed', FRESH_SEED],
])('OptimisticState randomised (%s %i)', (_label, seed) => {
  beforeAll(() => {
    process.stdout.write(`optimistic-state seed: ${seed}\n`);
  });

  test.each(IMPLS)('invariant on %s: visible = base + pending re-applied from scratch', (_name, rt) => {
    session(seed, [[_name, rt]], (label, [state]) => {
      expect([label, state.stateText()]).toEqual([label, replayed(rt, state)]);
    });
  });

  (native && js ? test : test.skip)('native and js agree on every result, event and state', () => {
    session(seed, [['native', native], ['js', js]], (label, states, results, logs) => {
      const [a, b] = results;
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        throw new Error(`${label}: results differ\nnative: ${JSON.stringify(a).slice(0, 2000)}\njs:     ${JSON.stringify(b).slice(0, 2000)}`);
      }
      const [sa, sb] = states.map(observe);
      if (sa !== sb) throw new Error(`${label}: states differ\nnative: ${sa.slice(0, 2000)}\njs:     ${sb.slice(0, 2000)}`);
      const [la, lb] = logs.map((l) => JSON.stringify(l.splice(0)));
      if (la !== lb) throw new Error(`${label}: events differ\nnative: ${la.slice(0, 2000)}\njs:     ${lb.slice(0, 2000)}`);
    });
  });
});
