'use strict';

const { IMPLS, codeOf } = require('../helpers/impls');

const playlist = () => ({ name: 'Lobby', volume: 5, items: [{ id: 1, t: 'a' }, { id: 2, t: 'b' }], meta: { owner: 'ann' } });

function makeStore(rt, options = {}) {
  let now = 1_700_000_000_000;
  const store = new rt.DocumentStore({ nodeId: 'srv', clock: () => now++, ...options });
  return store;
}

describe.each(IMPLS)('DocumentStore (%s)', (_name, rt) => {
  test('put, get, version, has, delete, ids, size', () => {
    const store = makeStore(rt);
    expect(store.put('p1', playlist())).toEqual({ version: 1, delta: null });
    expect(store.get('p1')).toEqual(playlist());
    expect(store.get('p1', { output: 'text' })).toBe(JSON.stringify(playlist()));
    expect(store.version('p1')).toBe(1);
    expect(store.has('p1')).toBe(true);
    expect(store.get('nope')).toBeUndefined();
    expect(store.version('nope')).toBeUndefined();
    expect(store.put('p2', '{"x":1}')).toEqual({ version: 1, delta: null });
    expect(store.ids().sort()).toEqual(['p1', 'p2']);
    expect(store.size).toBe(2);
    // replacing gives a new version and a delta; an identical put changes nothing
    expect(store.put('p2', { x: 2 })).toEqual({ version: 2, delta: { x: 2 } });
    expect(store.put('p2', { x: 2 })).toEqual({ version: 2, delta: null });
    expect(store.delete('p2')).toBe(true);
    expect(store.delete('p2')).toBe(false);
    expect(store.size).toBe(1);
    // what get returns is a copy
    const doc = store.get('p1');
    doc.name = 'changed';
    expect(store.get('p1').name).toBe('Lobby');
  });

  test('apply on the current version: applied, version + 1, merge-patch delta', () => {
    const store = makeStore(rt);
    store.put('p', playlist());
    const r = store.apply('p', { patch: [{ op: 'replace', path: '/volume', value: 7 }, { op: 'add', path: '/meta/room', value: 'hall' }], baseVersion: 1 });
    expect(r).toEqual({ status: 'applied', version: 2, delta: { volume: 7, meta: { room: 'hall' } }, conflicts: [] });
    const m = store.apply('p', { mergePatch: { name: 'Hall', meta: { owner: null } } });
    expect(m).toEqual({ status: 'applied', version: 3, delta: { name: 'Hall', meta: { owner: null } }, conflicts: [] });
    expect(store.get('p')).toEqual({ name: 'Hall', volume: 7, items: [{ id: 1, t: 'a' }, { id: 2, t: 'b' }], meta: { room: 'hall' } });
  });

  test('a change inside an array sends the whole array; replacing an object sends its diff', () => {
    const store = makeStore(rt);
    store.put('p', playlist());
    expect(store.apply('p', { patch: [{ op: 'replace', path: '/items/1/t', value: 'B' }] }).delta)
      .toEqual({ items: [{ id: 1, t: 'a' }, { id: 2, t: 'B' }] });
    expect(store.apply('p', { patch: [{ op: 'replace', path: '/meta', value: { room: 'x' } }] }).delta)
      .toEqual({ meta: { owner: null, room: 'x' } });
    expect(store.apply('p', { patch: [{ op: 'replace', path: '/meta/room', value: 'x' }] }))
      .toEqual({ status: 'applied', version: 3, delta: null, conflicts: [] });
  });

  test('a key removed and written again as an object in one patch: the delta still rebuilds the document', () => {
    const store = makeStore(rt);
    store.put('p', { a: { x: 1, y: 2 }, b: 1 });
    const r = store.apply('p', { patch: [{ op: 'replace', path: '/a/x', value: 5 }, { op: 'remove', path: '/a' }, { op: 'add', path: '/a', value: { x: 5 } }] });
    expect(r.delta).toEqual({ a: { x: 5, y: null } });
    expect(rt.applyMergePatch({ a: { x: 1, y: 2 }, b: 1 }, r.delta)).toEqual(store.get('p'));
    const s = store.apply('p', { patch: [{ op: 'replace', path: '/b', value: 'scalar' }, { op: 'replace', path: '/b', value: { z: 1 } }] });
    expect(s.delta).toEqual({ b: { z: 1 } });
  });

  test('json-patch deltas', () => {
    const store = makeStore(rt, { deltaFormat: 'json-patch' });
    store.put('p', playlist());
    const r = store.apply('p', { patch: [{ op: 'test', path: '/volume', value: 5 }, { value: 1, path: '/volume', op: 'replace' }] });
    expect(r.delta).toEqual([{ op: 'replace', path: '/volume', value: 1 }]);
    expect(store.apply('p', { patch: [{ op: 'move', from: '/name', path: '/title' }] }, { output: 'text' }).delta)
      .toBe('[{"op":"move","path":"/title","from":"/name"}]');
    expect(store.apply('p', { mergePatch: { title: null, volume: 2 } }).delta).toEqual([
      { op: 'remove', path: '/title' },
      { op: 'replace', path: '/volume', value: 2 },
    ]);
  });

  test('a failing patch is rejected and leaves the document unchanged', () => {
    const store = makeStore(rt);
    store.put('p', playlist());
    const r = store.apply('p', {
      patch: [
        { op: 'remove', path: '/items/0' },
        { op: 'replace', path: '/name', value: 'x' },
        { op: 'remove', path: '/meta/owner' },
        { op: 'add', path: '/meta/zzz/deep', value: 1 },
      ],
    });
    expect(r.status).toBe('rejected');
    expect(r.error.code).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(r.version).toBe(1);
    expect(r.delta).toBeNull();
    expect(store.get('p', { output: 'text' })).toBe(JSON.stringify(playlist()));
    expect(store.version('p')).toBe(1);
    expect(store.apply('p', { patch: [{ op: 'test', path: '/volume', value: 6 }] }).error.code).toBe('ERR_RT_TEST_FAILED');
  });

  test('a stale base is merged against what changed since (server-wins by default)', () => {
    const store = makeStore(rt);
    store.put('p', playlist());
    store.apply('p', { patch: [{ op: 'replace', path: '/volume', value: 9 }] }); // v2 by someone else
    store.apply('p', { patch: [{ op: 'replace', path: '/meta/owner', value: 'bob' }] }); // v3
    const r = store.apply('p', {
      patch: [{ op: 'replace', path: '/volume', value: 1 }, { op: 'replace', path: '/name', value: 'Mine' }],
      baseVersion: 1,
    });
    expect(r.status).toBe('merged');
    expect(r.version).toBe(4);
    expect(r.conflicts).toEqual([{ path: '/volume', base: 5, local: 1, remote: 9, resolved: 9, winner: 'remote' }]);
    expect(r.delta).toEqual({ name: 'Mine' });
    expect(store.get('p')).toEqual({ ...playlist(), name: 'Mine', volume: 9, meta: { owner: 'bob' } });
  });

  test('stale base with client-wins, and item-wise merge of arrays with ids', () => {
    const store = makeStore(rt, { strategy: 'client-wins' });
    store.put('p', playlist());
    store.apply('p', { patch: [{ op: 'add', path: '/items/-', value: { id: 3, t: 'c' } }, { op: 'replace', path: '/volume', value: 9 }] });
    const r = store.apply('p', { patch: [{ op: 'replace', path: '/items/0/t', value: 'A' }, { op: 'replace', path: '/volume', value: 1 }], baseVersion: 1 });
    expect(r.status).toBe('merged');
    expect(store.get('p').items).toEqual([{ id: 1, t: 'A' }, { id: 2, t: 'b' }, { id: 3, t: 'c' }]);
    expect(store.get('p').volume).toBe(1);
    expect(r.conflicts).toEqual([{ path: '/volume', base: 5, local: 1, remote: 9, resolved: 1, winner: 'local' }]);
  });

  test('custom resolver in the store', () => {
    const store = makeStore(rt, { resolver: (c) => Math.max(c.local, c.remote) });
    store.put('p', { n: 1 });
    store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 5 }] });
    const r = store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 3 }], baseVersion: 1 });
    expect(r.conflicts).toEqual([{ path: '/n', base: 1, local: 3, remote: 5, resolved: 5, winner: 'custom' }]);
    expect(r.version).toBe(2);
    expect(r.delta).toBeNull();
  });

  test('history limit: older bases are rejected (default) or applied to the current document', () => {
    const strict = makeStore(rt, { historyLimit: 2 });
    strict.put('p', { n: 0 });
    for (let i = 1; i <= 3; i++) strict.apply('p', { patch: [{ op: 'replace', path: '/n', value: i }] });
    expect(strict.version('p')).toBe(4);
    const rejected = strict.apply('p', { patch: [{ op: 'add', path: '/x', value: 1 }], baseVersion: 1 });
    expect(rejected.status).toBe('rejected');
    expect(rejected.error.code).toBe('ERR_RT_STALE_BASE');
    expect(strict.apply('p', { patch: [{ op: 'add', path: '/x', value: 1 }], baseVersion: 2 }).status).toBe('merged');

    const lenient = makeStore(rt, { historyLimit: 1, staleBase: 'current' });
    lenient.put('p', { n: 0 });
    lenient.apply('p', { patch: [{ op: 'replace', path: '/n', value: 1 }] });
    lenient.apply('p', { patch: [{ op: 'replace', path: '/n', value: 2 }] });
    const r = lenient.apply('p', { patch: [{ op: 'replace', path: '/n', value: 7 }], baseVersion: 1 });
    expect(r).toEqual({ status: 'merged', version: 4, delta: { n: 7 }, conflicts: [] });

    expect(codeOf(() => strict.apply('p', { patch: [], baseVersion: 99 }))).toBe('ERR_RT_OUT_OF_RANGE');
  });

  test('mutation ids: applied once per client, replays are duplicates, gaps are reported', () => {
    const store = makeStore(rt);
    store.put('p', { n: 0 });
    const first = store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 1 }], clientId: 'c1', mutationId: 1 });
    expect(first.status).toBe('applied');
    const replay = store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 1 }], clientId: 'c1', mutationId: 1 });
    expect(replay).toEqual({ ...first, status: 'duplicate' });
    expect(store.version('p')).toBe(2);
    const gap = store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 2 }], clientId: 'c1', mutationId: 4 });
    expect(gap.gap).toEqual({ expected: 2, received: 4 });
    expect(store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 3 }], clientId: 'c1', mutationId: 3 }).status).toBe('duplicate');
    // other clients have their own sequence
    expect(store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 3 }], clientId: 'c2', mutationId: 1 }).status).toBe('applied');
    // a rejected mutation is processed too
    const bad = store.apply('p', { patch: [{ op: 'remove', path: '/missing' }], clientId: 'c2', mutationId: 2 });
    expect(bad.status).toBe('rejected');
    expect(store.apply('p', { patch: [{ op: 'remove', path: '/missing' }], clientId: 'c2', mutationId: 2 }).status).toBe('duplicate');
  });

  test('dedup window: older results are forgotten but still duplicates', () => {
    const store = makeStore(rt, { dedupWindow: 1 });
    store.put('p', { n: 0 });
    store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 1 }], clientId: 'c', mutationId: 1 });
    store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 2 }], clientId: 'c', mutationId: 2 });
    expect(store.apply('p', { patch: [], clientId: 'c', mutationId: 1 })).toEqual({ status: 'duplicate', version: 3, delta: null, conflicts: [] });
  });

  test('last-writer-wins uses the mutation timestamps', () => {
    let now = 10_000;
    const store = new rt.DocumentStore({ strategy: 'last-writer-wins', nodeId: 's', clock: () => now });
    const client = new rt.HybridLogicalClock({ nodeId: 'c', clock: () => now });
    store.put('p', { n: 0 });
    const early = client.now();
    now += 10;
    store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 1 }], timestamp: client.now() });
    const late = store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 2 }], baseVersion: 1, timestamp: early });
    expect(late.conflicts[0].winner).toBe('remote');
    now += 10;
    const newer = store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 3 }], baseVersion: 1, timestamp: client.now() });
    expect(newer.conflicts[0].winner).toBe('local');
    expect(store.get('p')).toEqual({ n: 3 });
    expect(codeOf(() => store.apply('p', { patch: [], timestamp: 'bad' }))).toBe('ERR_RT_INVALID_TIMESTAMP');
  });

  test('changesSince: deltas within history, a snapshot beyond it', () => {
    const store = makeStore(rt, { historyLimit: 2 });
    store.put('p', { n: 0 });
    store.apply('p', { patch: [{ op: 'replace', path: '/n', value: 1 }] });
    store.apply('p', { patch: [{ op: 'add', path: '/m', value: 1 }] });
    store.apply('p', { mergePatch: { n: 2 } });
    expect(store.changesSince('p', 4)).toEqual({ version: 4, changes: [] });
    const since2 = store.changesSince('p', 2);
    expect(since2.version).toBe(4);
    expect(since2.changes.map((c) => [c.version, c.delta])).toEqual([[3, { m: 1 }], [4, { n: 2 }]]);
    expect(typeof since2.changes[0].timestamp).toBe('string');
    expect(store.changesSince('p', 1)).toEqual({ version: 4, snapshot: { n: 2, m: 1 } });
    expect(store.changesSince('p', 0, { output: 'text' })).toEqual({ version: 4, snapshot: '{"n":2,"m":1}' });
    expect(codeOf(() => store.changesSince('nope', 0))).toBe('ERR_RT_NOT_FOUND');
  });

  test('bad input leaves the store unchanged', () => {
    const store = makeStore(rt);
    store.put('p', playlist());
    const before = store.get('p', { output: 'text' });
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    const attempts = [
      [() => store.apply('p', { patch: '[{"op":"add","path":"/x","value":' }), 'ERR_RT_INVALID_JSON'],
      [() => store.apply('p', { patch: Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]) }), 'ERR_RT_INVALID_UTF8'],
      [() => store.apply('p', { patch: `[{"op":"add","path":"/x","value":${deep}}]` }), 'ERR_RT_TOO_DEEP'],
      [() => store.apply('p', { patch: { op: 'add' } }), 'ERR_RT_INVALID_PATCH'],
      [() => store.apply('p', { patch: [{ op: 'add', path: '/x' }] }), 'ERR_RT_INVALID_PATCH'],
      [() => store.apply('missing', { patch: [] }), 'ERR_RT_NOT_FOUND'],
      [() => store.apply('p', { patch: [], mergePatch: {} }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => store.apply('p', { patch: [], baseVersion: -1 }), 'ERR_RT_OUT_OF_RANGE'],
      [() => store.apply('p', { patch: [], baseVersion: '1' }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => store.apply('p', { patch: [], clientId: 'c' }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => store.apply(42, { patch: [] }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => store.apply('p', null), 'ERR_RT_INVALID_ARGUMENT'],
      [() => store.put('p', '{"a":'), 'ERR_RT_INVALID_JSON'],
      [() => store.put('p', deep), 'ERR_RT_TOO_DEEP'],
      [() => store.put('p', undefined), 'ERR_RT_INVALID_VALUE'],
      [() => store.put('p', { n: 10n }), 'ERR_RT_INVALID_VALUE'],
      [() => store.put('', {}), 'ERR_RT_INVALID_ARGUMENT'],
    ];
    for (const [attempt, code] of attempts) {
      expect(codeOf(attempt)).toBe(code);
      expect(store.get('p', { output: 'text' })).toBe(before);
      expect(store.version('p')).toBe(1);
    }
    expect(store.ids()).toEqual(['p']);
  });

  test('option checks', () => {
    expect(codeOf(() => new rt.DocumentStore({ strategy: 'nope' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => new rt.DocumentStore({ historyLimit: -1 }))).toBe('ERR_RT_OUT_OF_RANGE');
    expect(codeOf(() => new rt.DocumentStore({ limits: { maxDepth: 0 } }))).toBe('ERR_RT_OUT_OF_RANGE');
    expect(codeOf(() => new rt.DocumentStore({ limits: { maxDeep: 3 } }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => new rt.DocumentStore({ deltaFormat: 'text' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => new rt.DocumentStore({ historyLimits: 3 }))).toBe('ERR_RT_INVALID_ARGUMENT');
  });
});
