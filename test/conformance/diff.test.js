'use strict';

const { IMPLS } = require('../helpers/impls');

describe.each(IMPLS)('diff (%s)', (_name, rt) => {
  test('object members: remove in old order, then adds in new order', () => {
    expect(rt.diff({ a: 1, b: 2, c: { d: 1 } }, { c: { d: 2 }, b: 2, e: 5 })).toEqual([
      { op: 'remove', path: '/a' },
      { op: 'replace', path: '/c/d', value: 2 },
      { op: 'add', path: '/e', value: 5 },
    ]);
  });

  test('equal documents give no ops, type changes a replace', () => {
    expect(rt.diff({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
    expect(rt.diff({ a: [1] }, { a: { 0: 1 } })).toEqual([{ op: 'replace', path: '/a', value: { 0: 1 } }]);
    expect(rt.diff('1', '"1"')).toEqual([{ op: 'replace', path: '', value: '1' }]);
  });

  test('escapes pointer tokens', () => {
    expect(rt.diff({}, { 'a/b~c': 1 })).toEqual([{ op: 'add', path: '/a~1b~0c', value: 1 }]);
  });

  test('an insert or remove at the front of a 1000-item array is one op', () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ id: i, title: `song ${i}` }));
    const inserted = [{ id: -1, title: 'new' }, ...items];
    expect(rt.diff({ items }, { items: inserted })).toEqual([{ op: 'add', path: '/items/0', value: { id: -1, title: 'new' } }]);
    expect(rt.diff({ items }, { items: items.slice(1) })).toEqual([{ op: 'remove', path: '/items/0' }]);
    const middle = items.slice();
    middle.splice(500, 1);
    expect(rt.diff(items, middle)).toEqual([{ op: 'remove', path: '/500' }]);
  });

  test('changed items are diffed in place; with arrayKey items match by id', () => {
    const a = [{ id: 1, v: 'a' }, { id: 2, v: 'b' }, { id: 3, v: 'c' }];
    const b = [{ id: 1, v: 'a' }, { id: 2, v: 'B' }, { id: 3, v: 'c' }];
    expect(rt.diff(a, b)).toEqual([{ op: 'replace', path: '/1/v', value: 'B' }]);
    const c = [{ id: 0, v: 'z' }, { id: 1, v: 'a' }, { id: 2, v: 'B' }, { id: 3, v: 'c' }];
    expect(rt.diff(a, c, { arrayKey: 'id' })).toEqual([
      { op: 'add', path: '/0', value: { id: 0, v: 'z' } },
      { op: 'replace', path: '/2/v', value: 'B' },
    ]);
  });

  test('merge-patch format', () => {
    expect(rt.diff({ a: 1, b: { c: 1, d: 2 }, e: [1] }, { b: { c: 1, d: 3 }, e: [1, 2], f: true }, { format: 'merge-patch' }))
      .toEqual({ a: null, b: { d: 3 }, e: [1, 2], f: true });
    expect(rt.diff({ a: 1 }, { a: 1 }, { format: 'merge-patch' })).toEqual({});
    expect(rt.diff({ a: 1 }, [1], { format: 'merge-patch' })).toEqual([1]);
    // equal scalars: the patch is the value itself ({} would turn the document into {})
    expect(rt.diff('5', '5', { format: 'merge-patch' })).toBe(5);
    expect(rt.applyMergePatch('5', rt.diff('5', '5', { format: 'merge-patch', output: 'text' }))).toBe(5);
  });

  test('apply(a, diff(a, b)) equals b on a set of tricky pairs', () => {
    const pairs = [
      [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]],
      [[], [1, 2, 3]],
      [[1, 2, 3], []],
      [[1, [2, 3], { a: 1 }], [[2], 1, { a: 2 }, 7]],
      [{ a: [{ id: 1, x: [1, 2] }, { id: 2 }] }, { a: [{ id: 2 }, { id: 1, x: [2, 1] }, { id: 3 }] }],
      [{ '': { '~': { '/': 1 } } }, { '': { '~': { '/': 2, '01': 3 } } }],
      ['null', '{"a":null}'],
      [Array.from({ length: 50 }, (_, i) => i % 7), Array.from({ length: 60 }, (_, i) => (i * 3) % 11)],
    ];
    for (const [a, b] of pairs) {
      for (const arrayKey of [null, 'id']) {
        const patch = rt.diff(a, b, { arrayKey });
        expect(rt.applyPatch(a, patch)).toEqual(typeof b === 'string' ? JSON.parse(b) : b);
      }
    }
  });
});
