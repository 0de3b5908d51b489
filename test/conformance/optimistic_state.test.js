'use strict';

// OptimisticState (docs/optimistic-state.md) on both implementations.

const { IMPLS, codeOf } = require('../helpers/impls');

const T0 = 1_700_000_000_000;

function make(rt, initial, options = {}) {
  const clock = { now: T0 };
  const state = new rt.OptimisticState(initial, { clock: () => clock.now, autoExpire: false, ...options });
  const events = [];
  for (const name of ['change', 'commit', 'rollback']) state.on(name, (e) => events.push([name, e]));
  return { state, clock, events, take: () => events.splice(0) };
}

const replace = (path, value) => ({ patch: [{ op: 'replace', path, value }] });
const add = (path, value) => ({ patch: [{ op: 'add', path, value }] });

// Everything observable about the state, for "nothing changed" checks.
function snapshot(state) {
  return {
    state: state.stateText(),
    base: state.baseText(),
    baseVersion: state.baseVersion,
    pending: state.pending.map(({ id, kind, change, createdAt }) => ({ id, kind, change, createdAt })),
  };
}

describe.each(IMPLS)('OptimisticState (%s)', (_name, rt) => {
  test('apply shows the change at once; base stays; pending lists it', () => {
    const { state, clock, take } = make(rt, { title: 'Lobby', n: 1 });
    expect(state.apply('a', replace('/title', 'Hall'))).toEqual({ delta: { title: 'Hall' }, rolledBack: [] });
    clock.now += 250;
    expect(state.apply('b', { mergePatch: { n: 2, tag: 'x' } })).toEqual({ delta: { n: 2, tag: 'x' }, rolledBack: [] });
    expect(state.state).toEqual({ title: 'Hall', n: 2, tag: 'x' });
    expect(state.stateText()).toBe('{"title":"Hall","n":2,"tag":"x"}');
    expect(state.base).toEqual({ title: 'Lobby', n: 1 });
    expect(state.baseText()).toBe('{"title":"Lobby","n":1}');
    expect(state.baseVersion).toBe(0);
    expect(state.pendingCount).toBe(2);
    expect(state.hasPending()).toBe(true);
    clock.now += 100;
    expect(state.pending).toEqual([
      { id: 'a', kind: 'patch', change: [{ op: 'replace', path: '/title', value: 'Hall' }], createdAt: T0, ageMs: 350 },
      { id: 'b', kind: 'merge-patch', change: { n: 2, tag: 'x' }, createdAt: T0 + 250, ageMs: 100 },
    ]);
    expect(take()).toEqual([
      ['change', { cause: 'apply', id: 'a', delta: { title: 'Hall' } }],
      ['change', { cause: 'apply', id: 'b', delta: { n: 2, tag: 'x' } }],
    ]);
    // what the getters return is a copy
    const s = state.state;
    s.title = 'mutated';
    expect(state.state.title).toBe('Hall');
  });

  test('initial as JSON text (string or bytes), text output everywhere', () => {
    const { state, take } = make(rt, Buffer.from('{"a":[1,2]}'), { output: 'text', baseVersion: 4 });
    expect(state.baseVersion).toBe(4);
    expect(state.apply('x', { patch: '[{"op":"add","path":"/a/-","value":3}]' }))
      .toEqual({ delta: '{"a":[1,2,3]}', rolledBack: [] });
    expect(state.pending[0].change).toBe('[{"op":"add","path":"/a/-","value":3}]');
    expect(state.apply('y', { mergePatch: '{"b":true}' }, { output: 'value' })).toEqual({ delta: { b: true }, rolledBack: [] });
    expect(take()).toEqual([
      ['change', { cause: 'apply', id: 'x', delta: '{"a":[1,2,3]}' }],
      ['change', { cause: 'apply', id: 'y', delta: { b: true } }],
    ]);
    const s2 = new rt.OptimisticState('"just a string"', { autoExpire: false });
    expect(s2.state).toBe('just a string');
  });

  test('a change that alters nothing is still pending, with a null delta', () => {
    const { state, take } = make(rt, { a: 1 });
    expect(state.apply('t', { patch: [{ op: 'test', path: '/a', value: 1 }] })).toEqual({ delta: null, rolledBack: [] });
    expect(state.pendingCount).toBe(1);
    expect(take()).toEqual([['change', { cause: 'apply', id: 't', delta: null }]]);
  });

  test('commit of the oldest change moves it into the base; the visible state does not move', () => {
    const { state, take } = make(rt, { a: 1, b: 1 });
    state.apply('m1', replace('/a', 2));
    state.apply('m2', replace('/b', 2));
    take();
    expect(state.commit('m1')).toEqual({ version: 1, delta: null, rolledBack: [] });
    expect(state.base).toEqual({ a: 2, b: 1 });
    expect(state.state).toEqual({ a: 2, b: 2 });
    expect(state.pending.map((p) => p.id)).toEqual(['m2']);
    expect(state.commit('m2', { version: 9 })).toEqual({ version: 9, delta: null, rolledBack: [] });
    expect(state.baseVersion).toBe(9);
    expect(state.hasPending()).toBe(false);
    expect(take()).toEqual([
      ['commit', { id: 'm1', version: 1, delta: null }],
      ['commit', { id: 'm2', version: 9, delta: null }],
    ]);
  });

  test('commit with a canonical change replaces the optimistic one and re-applies those above it', () => {
    const { state, take } = make(rt, { price: 10, items: [] });
    state.apply('p', replace('/price', 12));
    state.apply('i', add('/items/-', 'x'));
    take();
    // the server rounded the price differently
    const r = state.commit('p', { mergePatch: { price: 11.99 }, version: 3 });
    expect(r).toEqual({ version: 3, delta: { price: 11.99 }, rolledBack: [] });
    expect(state.base).toEqual({ price: 11.99, items: [] });
    expect(state.state).toEqual({ price: 11.99, items: ['x'] });
    expect(take()).toEqual([['commit', { id: 'p', version: 3, delta: { price: 11.99 } }]]);
  });

  test('commit of a later change puts it below the older pending ones', () => {
    const { state } = make(rt, { list: [] });
    state.apply('first', add('/list/-', 'A'));
    state.apply('second', add('/list/-', 'B'));
    expect(state.state).toEqual({ list: ['A', 'B'] });
    const r = state.commit('second');
    expect(r).toEqual({ version: 1, delta: { list: ['B', 'A'] }, rolledBack: [] });
    expect(state.base).toEqual({ list: ['B'] });
    expect(state.state).toEqual({ list: ['B', 'A'] });
  });

  test('commit whose change no longer applies to the base throws and changes nothing', () => {
    const { state } = make(rt, { a: {} });
    state.apply('mk', add('/a/x', 1));
    state.apply('dep', replace('/a/x', 2));
    const before = snapshot(state);
    expect(codeOf(() => state.commit('dep'))).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(codeOf(() => state.commit('mk', { patch: [{ op: 'remove', path: '/nope' }] }))).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(snapshot(state)).toEqual(before);
  });

  test('commit with a version the base already has: the change arrived through a rebase', () => {
    const { state, take } = make(rt, { n: [] }, { baseVersion: 5 });
    state.apply('mine', add('/n/-', 1));
    take();
    // the server's broadcast of version 6 (which is our change) arrives before our ack
    expect(state.rebase({ patch: [{ op: 'add', path: '/n/-', value: 1 }] }, { version: 6 }).delta).toEqual({ n: [1, 1] });
    expect(state.commit('mine', { version: 6 })).toEqual({ version: 6, delta: { n: [1] }, rolledBack: [] });
    expect(state.state).toEqual({ n: [1] });
    expect(state.baseVersion).toBe(6);
    expect(take()).toEqual([
      ['change', { cause: 'rebase', version: 6, delta: { n: [1, 1] } }],
      ['commit', { id: 'mine', version: 6, delta: { n: [1] } }],
    ]);
  });

  test('rollback removes a change, re-applies those above it, and drops what depended on it', () => {
    const { state, take } = make(rt, { doc: {} });
    state.apply('a', add('/doc/x', 1));
    state.apply('b', add('/doc/y', 1));
    state.apply('c', replace('/doc/x', 2)); // needs a
    state.apply('d', replace('/doc/y', 3));
    take();
    const r = state.rollback('a');
    expect(r).toEqual({ delta: { doc: { x: null } }, rolledBack: [{ id: 'a', reason: 'explicit' }, { id: 'c', reason: 'conflict' }] });
    expect(state.state).toEqual({ doc: { y: 3 } });
    expect(state.pending.map((p) => p.id)).toEqual(['b', 'd']);
    expect(take()).toEqual([
      ['rollback', { id: 'a', reason: 'explicit', delta: { doc: { x: null } } }],
      ['rollback', { id: 'c', reason: 'conflict', delta: null }],
    ]);
  });

  test('rollbackAll returns to the base; the first event carries the delta', () => {
    const { state, take } = make(rt, { v: 0 });
    state.apply('1', replace('/v', 1));
    state.apply('2', replace('/v', 2));
    take();
    expect(state.rollbackAll()).toEqual({ delta: { v: 0 }, rolledBack: [{ id: '1', reason: 'explicit' }, { id: '2', reason: 'explicit' }] });
    expect(state.state).toEqual({ v: 0 });
    expect(take()).toEqual([
      ['rollback', { id: '1', reason: 'explicit', delta: { v: 0 } }],
      ['rollback', { id: '2', reason: 'explicit', delta: null }],
    ]);
    expect(state.rollbackAll()).toEqual({ delta: null, rolledBack: [] });
    expect(take()).toEqual([]);
  });

  test('rebase: a remote change lands under the pending ones; one that no longer applies is dropped', () => {
    const { state, take } = make(rt, { title: 'x', tags: ['a'], n: 1 });
    state.apply('t', replace('/title', 'mine'));
    state.apply('rm', { patch: [{ op: 'remove', path: '/tags/0' }] });
    take();
    const r = state.rebase({ patch: [{ op: 'remove', path: '/tags/0' }, { op: 'replace', path: '/n', value: 2 }] }, { version: 1 });
    expect(r).toEqual({ status: 'applied', version: 1, delta: { n: 2 }, committed: [], rolledBack: [{ id: 'rm', reason: 'conflict' }] });
    expect(state.base).toEqual({ title: 'x', tags: [], n: 2 });
    expect(state.state).toEqual({ title: 'mine', tags: [], n: 2 });
    expect(take()).toEqual([
      ['change', { cause: 'rebase', version: 1, delta: { n: 2 } }],
      ['rollback', { id: 'rm', reason: 'conflict', delta: null }],
    ]);
    // a version the base already has is a duplicate: nothing happens, no events
    expect(state.rebase({ mergePatch: { n: 99 } }, { version: 1 })).toEqual({ status: 'duplicate', version: 1, delta: null, committed: [], rolledBack: [] });
    expect(state.state.n).toBe(2);
    expect(take()).toEqual([]);
    // without a version the base version counts up
    expect(state.rebase({ mergePatch: { z: 1 } }).version).toBe(2);
  });

  test('rebase with confirms commits the mutations the remote change already holds', () => {
    const { state, take } = make(rt, { log: [] }, { baseVersion: 10 });
    state.apply('m1', add('/log/-', 'one'));
    state.apply('m2', add('/log/-', 'two'));
    take();
    const r = state.rebase({ snapshot: { log: ['one', 'other'] } }, { version: 12, confirms: ['m1'] });
    expect(r).toEqual({ status: 'applied', version: 12, delta: { log: ['one', 'other', 'two'] }, committed: ['m1'], rolledBack: [] });
    expect(state.state).toEqual({ log: ['one', 'other', 'two'] });
    expect(state.pending.map((p) => p.id)).toEqual(['m2']);
    expect(take()).toEqual([
      ['change', { cause: 'rebase', version: 12, delta: { log: ['one', 'other', 'two'] } }],
      ['commit', { id: 'm1', version: 12, delta: null }],
    ]);
    const before = snapshot(state);
    expect(codeOf(() => state.rebase({ mergePatch: {} }, { version: 13, confirms: ['nope'] }))).toBe('ERR_RT_UNKNOWN_ID');
    expect(codeOf(() => state.rebase({ mergePatch: {} }, { confirms: ['m2', 'm2'] }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => state.rebase({ patch: [{ op: 'remove', path: '/gone' }] }, { version: 13 }))).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(snapshot(state)).toEqual(before);
  });

  test('expire rolls back what is pending for timeoutMs or longer', () => {
    const { state, clock, take } = make(rt, { a: 0, b: 0 }, { timeoutMs: 1000 });
    state.apply('old', replace('/a', 1));
    clock.now += 600;
    state.apply('new', replace('/b', 1));
    take();
    expect(state.expire(T0 + 999)).toEqual({ delta: null, rolledBack: [] });
    expect(state.expire(T0 + 1000)).toEqual({ delta: { a: 0 }, rolledBack: [{ id: 'old', reason: 'timeout' }] });
    expect(take()).toEqual([['rollback', { id: 'old', reason: 'timeout', delta: { a: 0 } }]]);
    clock.now = T0 + 5000;
    expect(state.expire()).toEqual({ delta: { b: 0 }, rolledBack: [{ id: 'new', reason: 'timeout' }] });
    expect(state.pendingCount).toBe(0);
  });

  test('the timer expires changes by itself and never keeps the process alive', async () => {
    const state = new rt.OptimisticState({ a: 0 }, { timeoutMs: 20 });
    const seen = new Promise((resolve) => state.once('rollback', resolve));
    state.apply('x', replace('/a', 1));
    expect(await seen).toEqual({ id: 'x', reason: 'timeout', delta: { a: 0 } });
    expect(state.state).toEqual({ a: 0 });
    state.close();
  });

  test('close stops the timer', async () => {
    const state = new rt.OptimisticState({ a: 0 }, { timeoutMs: 10 });
    state.apply('x', replace('/a', 1));
    state.close();
    await new Promise((r) => setTimeout(r, 40));
    expect(state.pendingCount).toBe(1);
    expect(state.expire().rolledBack).toEqual([{ id: 'x', reason: 'timeout' }]);
  });

  test('maxPending: refused by default, or the oldest rolled back', () => {
    const { state } = make(rt, { n: 0 }, { maxPending: 2 });
    state.apply('1', replace('/n', 1));
    state.apply('2', replace('/n', 2));
    const before = snapshot(state);
    expect(codeOf(() => state.apply('3', replace('/n', 3)))).toBe('ERR_RT_TOO_MANY_PENDING');
    expect(snapshot(state)).toEqual(before);

    const o = make(rt, { list: [] }, { maxPending: 2, overflow: 'rollback-oldest' });
    o.state.apply('1', add('/list/-', 1));
    o.state.apply('2', replace('/list/0', 2)); // depends on 1
    o.state.apply('3', add('/list/-', 3));
    o.take();
    // room is made by rolling back 1; 2 depended on it
    expect(o.state.state).toEqual({ list: [3] });
    expect(o.state.pending.map((p) => p.id)).toEqual(['3']);
    o.state.apply('4', add('/list/-', 4));
    const r = o.state.apply('5', add('/list/-', 5));
    expect(r).toEqual({ delta: { list: [4, 5] }, rolledBack: [{ id: '3', reason: 'overflow' }] });
    expect(o.take()).toEqual([
      ['change', { cause: 'apply', id: '4', delta: { list: [3, 4] } }],
      ['change', { cause: 'apply', id: '5', delta: { list: [4, 5] } }],
      ['rollback', { id: '3', reason: 'overflow', delta: null }],
    ]);
  });

  test('overflow makes room only if the new change applies', () => {
    const { state } = make(rt, { a: {} }, { maxPending: 1, overflow: 'rollback-oldest' });
    state.apply('mk', add('/a/x', 1));
    const before = snapshot(state);
    // applies on the visible state, but not once 'mk' is rolled back: refused, 'mk' stays
    expect(codeOf(() => state.apply('dep', replace('/a/x', 2)))).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(snapshot(state)).toEqual(before);
  });

  test('the interleaving of the issue: apply A, apply B, remote rebase, commit B canonically, rollback A', () => {
    const { state, take } = make(rt, { name: 'Lobby', volume: 5, items: [{ id: 1 }] }, { baseVersion: 1 });
    expect(state.apply('A', replace('/volume', 7)).delta).toEqual({ volume: 7 });
    expect(state.apply('B', { mergePatch: { name: 'Hall' } }).delta).toEqual({ name: 'Hall' });
    expect(state.state).toEqual({ name: 'Hall', volume: 7, items: [{ id: 1 }] });

    const rb = state.rebase({ patch: [{ op: 'add', path: '/items/-', value: { id: 2 } }] }, { version: 2 });
    expect(rb.delta).toEqual({ items: [{ id: 1 }, { id: 2 }] });
    expect(state.state).toEqual({ name: 'Hall', volume: 7, items: [{ id: 1 }, { id: 2 }] });
    expect(state.base).toEqual({ name: 'Lobby', volume: 5, items: [{ id: 1 }, { id: 2 }] });

    const cb = state.commit('B', { mergePatch: { name: 'Main hall' }, version: 3 });
    expect(cb).toEqual({ version: 3, delta: { name: 'Main hall' }, rolledBack: [] });
    expect(state.base).toEqual({ name: 'Main hall', volume: 5, items: [{ id: 1 }, { id: 2 }] });
    expect(state.state).toEqual({ name: 'Main hall', volume: 7, items: [{ id: 1 }, { id: 2 }] });

    const ra = state.rollback('A');
    expect(ra).toEqual({ delta: { volume: 5 }, rolledBack: [{ id: 'A', reason: 'explicit' }] });
    expect(state.state).toEqual(state.base);
    expect(state.hasPending()).toBe(false);
    expect(take()).toEqual([
      ['change', { cause: 'apply', id: 'A', delta: { volume: 7 } }],
      ['change', { cause: 'apply', id: 'B', delta: { name: 'Hall' } }],
      ['change', { cause: 'rebase', version: 2, delta: { items: [{ id: 1 }, { id: 2 }] } }],
      ['commit', { id: 'B', version: 3, delta: { name: 'Main hall' } }],
      ['rollback', { id: 'A', reason: 'explicit', delta: { volume: 5 } }],
    ]);
  });

  test('batch: all operations, per-op results and one delta for the whole', () => {
    const { state, take } = make(rt, { a: 0, b: 0, c: 0 });
    state.apply('x', replace('/a', 1));
    take();
    const r = state.batch([
      { op: 'apply', id: 'y', patch: [{ op: 'replace', path: '/b', value: 1 }] },
      { op: 'commit', id: 'x', version: 4 },
      { op: 'rebase', mergePatch: { c: 5 }, version: 5 },
      { op: 'apply', id: 'z', mergePatch: { c: 6 } },
      { op: 'rollback', id: 'z' },
    ]);
    expect(r).toEqual({
      delta: { b: 1, c: 5 },
      results: [
        { delta: { b: 1 }, rolledBack: [] },
        { version: 4, delta: null, rolledBack: [] },
        { status: 'applied', version: 5, delta: { c: 5 }, committed: [], rolledBack: [] },
        { delta: { c: 6 }, rolledBack: [] },
        { delta: { c: 5 }, rolledBack: [{ id: 'z', reason: 'explicit' }] },
      ],
    });
    expect(state.state).toEqual({ a: 1, b: 1, c: 5 });
    expect(state.baseVersion).toBe(5);
    expect(take()).toEqual([
      ['change', { cause: 'apply', id: 'y', delta: { b: 1 } }],
      ['commit', { id: 'x', version: 4, delta: null }],
      ['change', { cause: 'rebase', version: 5, delta: { c: 5 } }],
      ['change', { cause: 'apply', id: 'z', delta: { c: 6 } }],
      ['rollback', { id: 'z', reason: 'explicit', delta: { c: 5 } }],
    ]);
    expect(state.batch([{ op: 'rollbackAll' }]).results[0].rolledBack).toEqual([{ id: 'y', reason: 'explicit' }]);
  });

  test('batch is all or nothing; the error says which op failed', () => {
    const { state, take } = make(rt, { a: 0 });
    state.apply('x', replace('/a', 1));
    take();
    const before = snapshot(state);
    const attempt = (ops) => {
      try {
        state.batch(ops);
      } catch (err) {
        return { code: err.code, index: err.details && err.details.index };
      }
      return 'no error';
    };
    expect(attempt([
      { op: 'apply', id: 'y', mergePatch: { b: 1 } },
      { op: 'commit', id: 'x' },
      { op: 'apply', id: 'y', mergePatch: { c: 1 } },
    ])).toEqual({ code: 'ERR_RT_DUPLICATE_ID', index: 2 });
    expect(attempt([{ op: 'rollbackAll' }, { op: 'rollback', id: 'x' }])).toEqual({ code: 'ERR_RT_UNKNOWN_ID', index: 1 });
    expect(attempt([{ op: 'rebase', snapshot: {} }, { op: 'apply', id: 'q', patch: [{ op: 'remove', path: '/a' }] }]))
      .toEqual({ code: 'ERR_RT_PATH_NOT_FOUND', index: 1 });
    // argument errors are found before anything runs
    expect(attempt([{ op: 'rollbackAll' }, { op: 'jump' }])).toEqual({ code: 'ERR_RT_INVALID_ARGUMENT', index: 1 });
    expect(attempt([{ op: 'rollbackAll' }, { op: 'apply', id: 'k', patch: '[' }])).toEqual({ code: 'ERR_RT_INVALID_JSON', index: 1 });
    expect(snapshot(state)).toEqual(before);
    expect(take()).toEqual([]);
  });

  test('bad input: coded errors, state unchanged', () => {
    const { state } = make(rt, { a: 1, list: [] });
    state.apply('x', replace('/a', 2));
    const before = snapshot(state);
    const cases = [
      [() => state.apply('x', replace('/a', 3)), 'ERR_RT_DUPLICATE_ID'],
      [() => state.commit('nope'), 'ERR_RT_UNKNOWN_ID'],
      [() => state.rollback('nope'), 'ERR_RT_UNKNOWN_ID'],
      [() => state.apply('y', { patch: [{ op: 'remove', path: '/missing' }] }), 'ERR_RT_PATH_NOT_FOUND'],
      [() => state.apply('y', { patch: [{ op: 'test', path: '/a', value: 1 }] }), 'ERR_RT_TEST_FAILED'],
      [() => state.apply('y', { patch: [{ op: 'jump', path: '/a' }] }), 'ERR_RT_INVALID_PATCH'],
      [() => state.apply('y', { patch: '[{"op":' }), 'ERR_RT_INVALID_JSON'],
      [() => state.apply('y', { patch: Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]) }), 'ERR_RT_INVALID_UTF8'],
      [() => state.apply('y', { mergePatch: { n: 10n } }), 'ERR_RT_INVALID_VALUE'],
      [() => state.apply('y', { mergePatch: () => 1 }), 'ERR_RT_INVALID_VALUE'],
      [() => state.apply('y', { patch: [], mergePatch: {} }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.apply('y', {}), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.apply('y', { patch: [], extra: 1 }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.apply('', { patch: [] }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.apply(7, { patch: [] }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.apply('z'.repeat(257), { patch: [] }), 'ERR_RT_OUT_OF_RANGE'],
      [() => state.apply('y', null), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.commit('x', { version: -1 }), 'ERR_RT_OUT_OF_RANGE'],
      [() => state.commit('x', { version: 1.5 }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.commit('x', { patch: '{}' }), 'ERR_RT_INVALID_PATCH'],
      [() => state.rebase({ snapshot: '{' }), 'ERR_RT_INVALID_JSON'],
      [() => state.rebase({ patch: [] }, { version: 'two' }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.rebase({ patch: [] }, { confirms: 'x' }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.rebase({ patch: [], snapshot: {} }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.expire(-5), 'ERR_RT_OUT_OF_RANGE'],
      [() => state.batch('nope'), 'ERR_RT_INVALID_ARGUMENT'],
      [() => state.apply('y', { patch: [] }, { output: 'xml' }), 'ERR_RT_INVALID_ARGUMENT'],
    ];
    const limited = make(rt, { a: 1 }, { limits: { maxDepth: 4, maxPatchOps: 2 } }).state;
    cases.push([() => limited.apply('d', { patch: [{ op: 'add', path: '/deep', value: [[[[[1]]]]] }] }), 'ERR_RT_TOO_DEEP']);
    cases.push([() => limited.apply('d', { patch: [{ op: 'test', path: '/a', value: 1 }, { op: 'test', path: '/a', value: 1 }, { op: 'test', path: '/a', value: 1 }] }), 'ERR_RT_TOO_MANY_OPS']);
    for (const [fn, code] of cases) {
      expect([String(fn), codeOf(fn)]).toEqual([String(fn), code]);
      expect(snapshot(state)).toEqual(before);
    }
  });

  test('bad options: coded errors', () => {
    const bad = [
      [{ timeoutMs: 0 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ timeoutMs: -1 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ timeoutMs: 1.5 }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ timeoutMs: '30s' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ maxPending: 0 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ overflow: 'drop' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ baseVersion: -1 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ clock: 5 }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ autoExpire: 'yes' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ output: 'json' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ limits: { maxDepth: 0 } }, 'ERR_RT_OUT_OF_RANGE'],
      [{ timeout: 5 }, 'ERR_RT_INVALID_ARGUMENT'],
    ];
    for (const [options, code] of bad) {
      expect([options, codeOf(() => new rt.OptimisticState({}, options))]).toEqual([options, code]);
    }
    expect(codeOf(() => new rt.OptimisticState())).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => new rt.OptimisticState('{"a":'))).toBe('ERR_RT_INVALID_JSON');
    expect(codeOf(() => new rt.OptimisticState({ a: 1 }, { limits: { maxDocumentBytes: 4 } }))).toBe('ERR_RT_TOO_LARGE');
    const s = new rt.OptimisticState({}, { autoExpire: false });
    expect(s.options).toEqual({ timeoutMs: 30000, maxPending: 100, overflow: 'reject', baseVersion: 0, limits: rt.DEFAULT_LIMITS, autoExpire: false, output: 'value' });
  });

  test('a listener that throws: the state change stands and the error reaches the caller', () => {
    const { state } = make(rt, { a: 0 });
    state.on('change', () => {
      throw new Error('listener failed');
    });
    expect(() => state.apply('x', replace('/a', 1))).toThrow('listener failed');
    expect(state.state).toEqual({ a: 1 });
    expect(state.pendingCount).toBe(1);
  });

  test('__proto__ and friends are plain keys', () => {
    const { state } = make(rt, {});
    state.apply('p', { mergePatch: '{"__proto__":{"polluted":1},"constructor":2}' });
    expect(Object.keys(state.state)).toEqual(['__proto__', 'constructor']);
    expect({}.polluted).toBeUndefined();
    expect(state.rollback('p').delta).toEqual(JSON.parse('{"__proto__":null,"constructor":null}'));
  });
});
