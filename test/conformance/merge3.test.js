'use strict';

const { IMPLS, codeOf } = require('../helpers/impls');

const base = { title: 'Lobby', volume: 5, tags: ['a'], schedule: { start: '08:00', end: '18:00' }, owner: 'ann' };

describe.each(IMPLS)('merge3 (%s)', (_name, rt) => {
  test('changes to different fields from both sides are all kept', () => {
    const local = { ...base, title: 'Lobby TV', schedule: { start: '07:00', end: '18:00' } };
    const remote = { ...base, volume: 7, schedule: { start: '08:00', end: '20:00' }, extra: 1 };
    const { doc, conflicts } = rt.merge3(base, local, remote);
    expect(conflicts).toEqual([]);
    expect(doc).toEqual({ title: 'Lobby TV', volume: 7, tags: ['a'], schedule: { start: '07:00', end: '20:00' }, owner: 'ann', extra: 1 });
    // result key order: remote's keys, then local-only keys
    expect(Object.keys(doc)).toEqual(['title', 'volume', 'tags', 'schedule', 'owner', 'extra']);
  });

  test('same field changed on both sides: server-wins (default) and client-wins', () => {
    const local = { ...base, volume: 1 };
    const remote = { ...base, volume: 9 };
    const server = rt.merge3(base, local, remote);
    expect(server.doc.volume).toBe(9);
    expect(server.conflicts).toEqual([{ path: '/volume', base: 5, local: 1, remote: 9, resolved: 9, winner: 'remote' }]);
    const client = rt.merge3(base, local, remote, { strategy: 'client-wins' });
    expect(client.doc.volume).toBe(1);
    expect(client.conflicts).toEqual([{ path: '/volume', base: 5, local: 1, remote: 9, resolved: 1, winner: 'local' }]);
  });

  test('the same change on both sides is no conflict', () => {
    const both = { ...base, volume: 6 };
    expect(rt.merge3(base, both, both)).toEqual({ doc: both, conflicts: [] });
  });

  test('delete versus edit', () => {
    const { owner, ...withoutOwner } = base;
    expect(owner).toBe('ann');
    const edited = { ...base, owner: 'bob' };
    // local deleted, remote edited: server wins keeps the edit
    expect(rt.merge3(base, withoutOwner, edited)).toEqual({
      doc: edited,
      conflicts: [{ path: '/owner', base: 'ann', remote: 'bob', resolved: 'bob', winner: 'remote' }],
    });
    // local deleted, remote edited: client wins deletes
    const cw = rt.merge3(base, withoutOwner, edited, { strategy: 'client-wins' });
    expect(cw.doc).toEqual(withoutOwner);
    expect(cw.conflicts).toEqual([{ path: '/owner', base: 'ann', remote: 'bob', winner: 'local' }]);
    // local edited, remote deleted
    expect(rt.merge3(base, edited, withoutOwner)).toEqual({
      doc: withoutOwner,
      conflicts: [{ path: '/owner', base: 'ann', local: 'bob', winner: 'remote' }],
    });
    // deleted on one side, untouched on the other: deleted, no conflict
    expect(rt.merge3(base, withoutOwner, base)).toEqual({ doc: withoutOwner, conflicts: [] });
  });

  test('arrays without ids are values', () => {
    const local = { ...base, tags: ['a', 'b'] };
    const remote = { ...base, tags: ['a', 'c'] };
    const r = rt.merge3(base, local, remote);
    expect(r.doc.tags).toEqual(['a', 'c']);
    expect(r.conflicts).toEqual([{ path: '/tags', base: ['a'], local: ['a', 'b'], remote: ['a', 'c'], resolved: ['a', 'c'], winner: 'remote' }]);
  });

  test('arrays of items with ids merge item by item', () => {
    const b = { items: [{ id: 1, t: 'one' }, { id: 2, t: 'two' }, { id: 3, t: 'three' }] };
    const l = { items: [{ id: 1, t: 'ONE' }, { id: 2, t: 'two' }, { id: 4, t: 'four' }, { id: 3, t: 'three' }] };
    const r = { items: [{ id: 3, t: 'three' }, { id: 1, t: 'one', d: 1 }] };
    const out = rt.merge3(b, l, r);
    // remote order wins; remote deleted 2 (unchanged locally): gone; local added 4 after its local neighbour 2... which is
    // gone, so after 1 (the last placed item before it in local order)
    expect(out.doc).toEqual({ items: [{ id: 3, t: 'three' }, { id: 1, t: 'ONE', d: 1 }, { id: 4, t: 'four' }] });
    expect(out.conflicts).toEqual([]);
  });

  test('item conflicts by id: edit/edit inside an item, delete/edit of an item', () => {
    const b = { items: [{ id: 'a', n: 1 }, { id: 'b', n: 1 }] };
    const l = { items: [{ id: 'a', n: 2 }, { id: 'b', n: 5 }] };
    const r = { items: [{ id: 'a', n: 3 }] };
    const out = rt.merge3(b, l, r);
    expect(out.doc).toEqual({ items: [{ id: 'a', n: 3 }] });
    expect(out.conflicts).toEqual([
      { path: '/items/1', base: { id: 'b', n: 1 }, local: { id: 'b', n: 5 }, winner: 'remote' },
      { path: '/items/0/n', base: 1, local: 2, remote: 3, resolved: 3, winner: 'remote' },
    ]);
    const cw = rt.merge3(b, l, r, { strategy: 'client-wins' });
    expect(cw.doc).toEqual({ items: [{ id: 'a', n: 2 }, { id: 'b', n: 5 }] });
    expect(rt.merge3(b, l, r, { arrayKey: null }).conflicts).toHaveLength(1);
  });

  test('last-writer-wins compares hybrid logical clock timestamps', () => {
    const clock = new rt.HybridLogicalClock({ nodeId: 'n1', clock: () => 1000 });
    const older = clock.now();
    const newer = clock.now();
    const local = { ...base, volume: 1 };
    const remote = { ...base, volume: 9 };
    expect(rt.merge3(base, local, remote, { strategy: 'last-writer-wins', localTimestamp: newer, remoteTimestamp: older }).doc.volume).toBe(1);
    expect(rt.merge3(base, local, remote, { strategy: 'last-writer-wins', localTimestamp: older, remoteTimestamp: newer }).doc.volume).toBe(9);
    // a tie goes to the remote side
    const tie = rt.merge3(base, local, remote, { strategy: 'last-writer-wins', localTimestamp: older, remoteTimestamp: older });
    expect(tie.conflicts[0].winner).toBe('remote');
    expect(codeOf(() => rt.merge3(base, local, remote, { strategy: 'last-writer-wins' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.merge3(base, local, remote, { strategy: 'last-writer-wins', localTimestamp: 'x', remoteTimestamp: older }))).toBe('ERR_RT_INVALID_TIMESTAMP');
  });

  test('custom resolver: called once per conflict in order, may delete', () => {
    const local = { ...base, volume: 1, title: 'L' };
    const remote = { ...base, volume: 9, title: 'R' };
    const seen = [];
    const out = rt.merge3(base, local, remote, {
      resolver: (c) => {
        seen.push(c);
        return c.path === '/volume' ? c.local + c.remote : undefined;
      },
    });
    expect(seen).toEqual([
      { path: '/title', base: 'Lobby', local: 'L', remote: 'R' },
      { path: '/volume', base: 5, local: 1, remote: 9 },
    ]);
    expect(out.doc.volume).toBe(10);
    expect('title' in out.doc).toBe(false);
    expect(out.conflicts).toEqual([
      { path: '/title', base: 'Lobby', local: 'L', remote: 'R', winner: 'custom' },
      { path: '/volume', base: 5, local: 1, remote: 9, resolved: 10, winner: 'custom' },
    ]);
  });

  test('a resolver that throws: the error comes out unchanged', () => {
    const boom = new Error('boom');
    let caught;
    try {
      rt.merge3(base, { ...base, volume: 1 }, { ...base, volume: 2 }, { strategy: 'custom', resolver: () => { throw boom; } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBe(boom);
  });

  test('option checks', () => {
    expect(codeOf(() => rt.merge3(base, base, base, { strategy: 'custom' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.merge3(base, base, base, { strategy: 'remote-wins' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.merge3(base, base, base, { strategyy: 'client-wins' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(() => rt.merge3(base, base, base, { resolver: 5 })).toThrow(TypeError);
  });

  test('text output', () => {
    const out = rt.merge3(base, { ...base, volume: 1 }, { ...base, volume: 2 }, { output: 'text' });
    expect(typeof out.doc).toBe('string');
    expect(JSON.parse(out.doc).volume).toBe(2);
    expect(out.conflicts).toBe('[{"path":"/volume","base":5,"local":1,"remote":2,"resolved":2,"winner":"remote"}]');
  });
});
