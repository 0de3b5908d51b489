'use strict';

const { IMPLS, codeOf } = require('../helpers/impls');

describe.each(IMPLS)('HybridLogicalClock (%s)', (_name, rt) => {
  const { HybridLogicalClock } = rt;

  test('timestamps are fixed-width strings that sort in clock order', () => {
    let wall = 1_700_000_000_000;
    const clock = new HybridLogicalClock({ nodeId: 'node-a', clock: () => wall });
    const a = clock.now();
    const b = clock.now();
    wall -= 5000; // the wall clock goes backwards: the logical clock does not
    const c = clock.now();
    wall += 10000;
    const d = clock.now();
    expect(a).toBe(`${(1_700_000_000_000).toString(16).padStart(12, '0')}:0000:node-a`);
    expect(b).toBe(`${(1_700_000_000_000).toString(16).padStart(12, '0')}:0001:node-a`);
    expect(c).toBe(`${(1_700_000_000_000).toString(16).padStart(12, '0')}:0002:node-a`);
    expect(d).toBe(`${(1_700_000_005_000).toString(16).padStart(12, '0')}:0000:node-a`);
    const sorted = [d, b, c, a].sort();
    expect(sorted).toEqual([a, b, c, d]);
    expect([a, b, c, d].map((t, i, all) => (i ? HybridLogicalClock.compare(all[i - 1], t) : -1))).toEqual([-1, -1, -1, -1]);
    expect(clock.compare(d, a)).toBe(1);
    expect(HybridLogicalClock.compare(a, a)).toBe(0);
    expect(clock.last()).toBe(d);
  });

  test('receive moves past a remote timestamp; node id breaks ties', () => {
    const wall = 1000;
    const a = new HybridLogicalClock({ nodeId: 'a', clock: () => wall });
    const b = new HybridLogicalClock({ nodeId: 'b', clock: () => wall });
    const remote = `${(5000).toString(16).padStart(12, '0')}:0007:b`;
    const r = a.receive(remote);
    expect(r).toBe(`${(5000).toString(16).padStart(12, '0')}:0008:a`);
    expect(HybridLogicalClock.compare(remote, r)).toBe(-1);
    expect(a.now()).toBe(`${(5000).toString(16).padStart(12, '0')}:0009:a`);
    const tieA = `${(1).toString(16).padStart(12, '0')}:0000:a`;
    const tieB = `${(1).toString(16).padStart(12, '0')}:0000:b`;
    expect(HybridLogicalClock.compare(tieA, tieB)).toBe(-1);
    expect(b.last()).toBeNull();
  });

  test('refuses malformed timestamps and too much drift, without changing state', () => {
    const clock = new HybridLogicalClock({ nodeId: 'x', clock: () => 1000, maxDriftMs: 100 });
    const before = clock.now();
    for (const bad of ['', 'abc', '00000000000g:0000:n', '0000000003e8:000:n', '0000000003e8:0000:', '0000000003E8:0000:n']) {
      expect(codeOf(() => clock.receive(bad))).toBe('ERR_RT_INVALID_TIMESTAMP');
    }
    expect(codeOf(() => clock.receive(`${(2000).toString(16).padStart(12, '0')}:0000:y`))).toBe('ERR_RT_CLOCK_DRIFT');
    expect(clock.last()).toBe(before);
    expect(codeOf(() => HybridLogicalClock.compare('nope', before))).toBe('ERR_RT_INVALID_TIMESTAMP');
    expect(() => clock.receive(5)).toThrow(TypeError);
  });

  test('counter overflow advances the logical time', () => {
    const clock = new HybridLogicalClock({ nodeId: 'x', clock: () => 1000 });
    const maxed = `${(1000).toString(16).padStart(12, '0')}:ffff:y`;
    expect(clock.receive(maxed)).toBe(`${(1001).toString(16).padStart(12, '0')}:0000:x`);
  });

  test('node id checks and default', () => {
    expect(new HybridLogicalClock().nodeId).toMatch(/^[0-9a-f]{8}$/);
    expect(codeOf(() => new HybridLogicalClock({ nodeId: 'a:b' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => new HybridLogicalClock({ nodeId: '' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => new HybridLogicalClock({ nodeId: 'x'.repeat(65) }))).toBe('ERR_RT_OUT_OF_RANGE');
  });
});
