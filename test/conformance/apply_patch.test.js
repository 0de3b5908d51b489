'use strict';

const { IMPLS, codeOf } = require('../helpers/impls');

// RFC 6902 appendix A, every example.
const RFC6902_EXAMPLES = [
  ['A.1 adding an object member', { foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
  ['A.2 adding an array element', { foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }], { foo: ['bar', 'qux', 'baz'] }],
  ['A.3 removing an object member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
  ['A.4 removing an array element', { foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
  ['A.5 replacing a value', { baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }], { baz: 'boo', foo: 'bar' }],
  [
    'A.6 moving a value',
    { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
    [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
    { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
  ],
  ['A.7 moving an array element', { foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }], { foo: ['all', 'cows', 'eat', 'grass'] }],
  [
    'A.8 testing a value: success',
    { baz: 'qux', foo: ['a', 2, 'c'] },
    [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }],
    { baz: 'qux', foo: ['a', 2, 'c'] },
  ],
  ['A.10 adding a nested member object', { foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }], { foo: 'bar', child: { grandchild: {} } }],
  ['A.11 ignoring unrecognized elements', { foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }], { foo: 'bar', baz: 'qux' }],
  ['A.14 ~ escape ordering', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
  ['A.16 adding an array value', { foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }], { foo: ['bar', ['abc', 'def']] }],
];

const RFC6902_ERRORS = [
  ['A.9 testing a value: error', { baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }], 'ERR_RT_TEST_FAILED'],
  ['A.12 adding to a nonexistent target', { foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }], 'ERR_RT_PATH_NOT_FOUND'],
  // A.13: a duplicate "op" member; like JSON.parse, the last one ("remove") counts, and /baz is missing.
  ['A.13 invalid JSON Patch document', '{"foo":"bar"}', '[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]', 'ERR_RT_PATH_NOT_FOUND'],
  ['A.15 comparing strings and numbers', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }], 'ERR_RT_TEST_FAILED'],
];

const STRICT_ERRORS = [
  ['patch not an array', { a: 1 }, { op: 'add', path: '/a', value: 1 }, 'ERR_RT_INVALID_PATCH'],
  ['op not an object', { a: 1 }, [1], 'ERR_RT_INVALID_PATCH'],
  ['unknown op', { a: 1 }, [{ op: 'increment', path: '/a' }], 'ERR_RT_INVALID_PATCH'],
  ['missing op', { a: 1 }, [{ path: '/a' }], 'ERR_RT_INVALID_PATCH'],
  ['missing path', { a: 1 }, [{ op: 'remove' }], 'ERR_RT_INVALID_PATCH'],
  ['path not a string', { a: 1 }, [{ op: 'remove', path: 1 }], 'ERR_RT_INVALID_PATCH'],
  ['missing value on add', { a: 1 }, [{ op: 'add', path: '/b' }], 'ERR_RT_INVALID_PATCH'],
  ['missing value on replace', { a: 1 }, [{ op: 'replace', path: '/a' }], 'ERR_RT_INVALID_PATCH'],
  ['missing value on test', { a: 1 }, [{ op: 'test', path: '/a' }], 'ERR_RT_INVALID_PATCH'],
  ['missing from on move', { a: 1 }, [{ op: 'move', path: '/b' }], 'ERR_RT_INVALID_PATCH'],
  ['missing from on copy', { a: 1 }, [{ op: 'copy', path: '/b' }], 'ERR_RT_INVALID_PATCH'],
  ['pointer without leading slash', { a: 1 }, [{ op: 'remove', path: 'a' }], 'ERR_RT_INVALID_POINTER'],
  ['bad ~ escape', { a: 1 }, [{ op: 'remove', path: '/a~2' }], 'ERR_RT_INVALID_POINTER'],
  ['trailing ~', { a: 1 }, [{ op: 'remove', path: '/a~' }], 'ERR_RT_INVALID_POINTER'],
  ['bad from pointer', { a: 1 }, [{ op: 'copy', from: 'a', path: '/b' }], 'ERR_RT_INVALID_POINTER'],
  ['leading zero index', { a: [1, 2] }, [{ op: 'replace', path: '/a/01', value: 3 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['negative index', { a: [1, 2] }, [{ op: 'replace', path: '/a/-1', value: 3 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['index past the end (replace)', { a: [1, 2] }, [{ op: 'replace', path: '/a/2', value: 3 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['index past the end (add)', { a: [1, 2] }, [{ op: 'add', path: '/a/3', value: 3 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['- outside add', { a: [1, 2] }, [{ op: 'replace', path: '/a/-', value: 3 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['non-numeric index', { a: [1, 2] }, [{ op: 'remove', path: '/a/x' }], 'ERR_RT_PATH_NOT_FOUND'],
  ['path through a scalar', { a: 1 }, [{ op: 'add', path: '/a/b', value: 2 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['path through null', { a: null }, [{ op: 'add', path: '/a/b', value: 2 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['remove through a string', { a: 'xyz' }, [{ op: 'remove', path: '/a/0' }], 'ERR_RT_PATH_NOT_FOUND'],
  ['remove a missing key', { a: 1 }, [{ op: 'remove', path: '/b' }], 'ERR_RT_PATH_NOT_FOUND'],
  ['replace a missing key', { a: 1 }, [{ op: 'replace', path: '/b', value: 1 }], 'ERR_RT_PATH_NOT_FOUND'],
  ['test a missing key', { a: 1 }, [{ op: 'test', path: '/b', value: null }], 'ERR_RT_PATH_NOT_FOUND'],
  ['move from a missing key', { a: 1 }, [{ op: 'move', from: '/b', path: '/c' }], 'ERR_RT_PATH_NOT_FOUND'],
  ['move into its own child', { a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }], 'ERR_RT_INVALID_PATCH'],
  ['remove the root', { a: 1 }, [{ op: 'remove', path: '' }], 'ERR_RT_INVALID_PATCH'],
  // Structure is checked for the whole patch before anything applies.
  ['structure error after a failing op', { a: 1 }, [{ op: 'remove', path: '/zz' }, { op: 'bogus', path: '/a' }], 'ERR_RT_INVALID_PATCH'],
];

describe.each(IMPLS)('applyPatch (%s)', (name, rt) => {
  test.each(RFC6902_EXAMPLES)('%s', (_title, doc, patch, expected) => {
    expect(rt.applyPatch(doc, patch)).toEqual(expected);
  });

  test.each(RFC6902_ERRORS)('%s', (_title, doc, patch, code) => {
    expect(codeOf(() => rt.applyPatch(doc, patch))).toBe(code);
  });

  test.each(STRICT_ERRORS)('refuses: %s', (_title, doc, patch, code) => {
    expect(codeOf(() => rt.applyPatch(doc, patch))).toBe(code);
  });

  test('errors are RealtimeCoreError instances with a code and a message naming the op', () => {
    let caught;
    try {
      rt.applyPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 1 }, { op: 'replace', path: '/a/b', value: 2 }]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(rt.RealtimeCoreError);
    expect(caught).toBeInstanceOf(Error);
    expect(caught.code).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(caught.message).toMatch(/op 1/);
  });

  test('never modifies its inputs, and a failing patch returns nothing half-applied', () => {
    const doc = { list: [1, 2, 3], obj: { k: 'v' } };
    const snapshot = JSON.stringify(doc);
    const patch = [
      { op: 'add', path: '/list/0', value: 0 },
      { op: 'remove', path: '/obj/k' },
      { op: 'test', path: '/list/0', value: 99 },
    ];
    expect(codeOf(() => rt.applyPatch(doc, patch))).toBe('ERR_RT_TEST_FAILED');
    expect(JSON.stringify(doc)).toBe(snapshot);
    const out = rt.applyPatch(doc, patch.slice(0, 2));
    expect(out).toEqual({ list: [0, 1, 2, 3], obj: {} });
    expect(JSON.stringify(doc)).toBe(snapshot);
  });

  test('pointer escapes ~0 and ~1, the empty key, and root operations', () => {
    expect(rt.applyPatch({ 'a/b': 1, 'm~n': 2, '': 3 }, [
      { op: 'replace', path: '/a~1b', value: 10 },
      { op: 'replace', path: '/m~0n', value: 20 },
      { op: 'replace', path: '/', value: 30 },
    ])).toEqual({ 'a/b': 10, 'm~n': 20, '': 30 });
    expect(rt.applyPatch({ a: 1 }, [{ op: 'replace', path: '', value: [1] }])).toEqual([1]);
    expect(rt.applyPatch({ a: 1 }, [{ op: 'add', path: '', value: 'x' }])).toBe('x');
    expect(rt.applyPatch([1, 2], [{ op: 'add', path: '/-', value: 3 }])).toEqual([1, 2, 3]);
  });

  test('move and copy', () => {
    expect(rt.applyPatch({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a' }])).toEqual({ a: { b: 1 } });
    expect(rt.applyPatch({ a: [1, 2, 3] }, [{ op: 'move', from: '/a/0', path: '/a/-' }])).toEqual({ a: [2, 3, 1] });
    expect(rt.applyPatch({ a: { b: [1] } }, [{ op: 'copy', from: '/a', path: '/c' }])).toEqual({ a: { b: [1] }, c: { b: [1] } });
    // the copy is deep: changing it leaves the source alone
    expect(rt.applyPatch({ a: { b: [1] } }, [
      { op: 'copy', from: '/a', path: '/c' },
      { op: 'add', path: '/c/b/-', value: 2 },
    ])).toEqual({ a: { b: [1] }, c: { b: [1, 2] } });
    // add over an existing key replaces in place
    expect(JSON.stringify(rt.applyPatch({ x: 1, y: 2 }, [{ op: 'add', path: '/x', value: 3 }]))).toBe('{"x":3,"y":2}');
  });

  test('test op uses deep equality (numbers by value, key order ignored)', () => {
    expect(rt.applyPatch('{"a":{"x":1.0,"y":[1,{"z":null}]}}', [{ op: 'test', path: '/a', value: { y: [1, { z: null }], x: 1 } }]))
      .toEqual({ a: { x: 1, y: [1, { z: null }] } });
  });

  test('text in, text out', () => {
    const out = rt.applyPatch(Buffer.from('{"b":1,"a":[true]}'), '[{"op":"add","path":"/a/-","value":2e3}]', { output: 'text' });
    expect(out).toBe('{"b":1,"a":[true,2000]}');
  });

  test('limits: too many ops, growth (copy bomb), depth', () => {
    const ops = Array.from({ length: 11 }, (_, i) => ({ op: 'add', path: `/k${i}`, value: i }));
    expect(codeOf(() => rt.applyPatch({}, ops, { limits: { maxPatchOps: 10 } }))).toBe('ERR_RT_TOO_MANY_OPS');
    expect(Object.keys(rt.applyPatch({}, ops.slice(0, 10), { limits: { maxPatchOps: 10 } }))).toHaveLength(10);

    const bomb = [{ op: 'add', path: '/a', value: 'x'.repeat(1000) }];
    for (let i = 0; i < 20; i++) bomb.push({ op: 'copy', from: '/a', path: `/b${i}` }, { op: 'add', path: '/a', value: [] }, { op: 'move', from: `/b${i}`, path: '/a/0' }, { op: 'copy', from: '/a/0', path: '/a/1' });
    expect(codeOf(() => rt.applyPatch({}, bomb))).toBe('ERR_RT_GROWTH_LIMIT');

    const doubling = [{ op: 'add', path: '/d', value: ['x'.repeat(1000)] }];
    for (let i = 0; i < 20; i++) doubling.push({ op: 'copy', from: '/d', path: '/d/-' });
    expect(codeOf(() => rt.applyPatch({}, doubling))).toBe('ERR_RT_GROWTH_LIMIT');

    expect(codeOf(() => rt.applyPatch({ a: { b: {} } }, [{ op: 'add', path: '/a/b/c', value: [[1]] }], { limits: { maxDepth: 4 } }))).toBe('ERR_RT_TOO_DEEP');
    expect(rt.applyPatch({ a: { b: {} } }, [{ op: 'add', path: '/a/b/c', value: [1] }], { limits: { maxDepth: 4 } })).toEqual({ a: { b: { c: [1] } } });
  });

  test('__proto__, constructor and prototype are plain keys', () => {
    const out = rt.applyPatch('{"__proto__":{"x":1}}', [
      { op: 'add', path: '/__proto__/polluted', value: true },
      { op: 'add', path: '/constructor', value: { prototype: { polluted: true } } },
      { op: 'add', path: '/prototype', value: 1 },
    ]);
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.polluted).toBeUndefined();
    expect({}.polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"__proto__":{"x":1,"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}');
    expect(codeOf(() => rt.applyPatch({}, [{ op: 'add', path: '/__proto__/x', value: 1 }]))).toBe('ERR_RT_PATH_NOT_FOUND');
    expect(codeOf(() => rt.applyPatch({}, [{ op: 'test', path: '/constructor', value: null }]))).toBe('ERR_RT_PATH_NOT_FOUND');
  });

  test('implementation name', () => {
    expect(rt.implementation).toBe(name);
  });
});
