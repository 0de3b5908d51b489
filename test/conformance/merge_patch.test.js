'use strict';

const { IMPLS, codeOf } = require('../helpers/impls');

// RFC 7396 appendix A, every example (original, patch, result).
const RFC7396_EXAMPLES = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [['a', 'b'], ['c', 'd'], ['c', 'd']],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

describe.each(IMPLS)('applyMergePatch (%s)', (_name, rt) => {
  test.each(RFC7396_EXAMPLES)('RFC 7396 A: %j + %j', (doc, patch, expected) => {
    // null and strings as documents are passed as JSON text
    const asText = (v) => (v === null || typeof v === 'string' ? JSON.stringify(v) : v);
    expect(rt.applyMergePatch(asText(doc), asText(patch))).toEqual(expected);
  });

  test('keeps nulls inside arrays and key order (new keys at the end)', () => {
    expect(rt.applyMergePatch({ b: 1, a: { x: 1 } }, { a: { y: [null, { z: null }] }, c: 2 }, { output: 'text' }))
      .toBe('{"b":1,"a":{"x":1,"y":[null,{"z":null}]},"c":2}');
  });

  test('does not modify its inputs', () => {
    const doc = { a: { b: 1 } };
    const patch = { a: { b: null, c: 2 } };
    rt.applyMergePatch(doc, patch);
    expect(doc).toEqual({ a: { b: 1 } });
    expect(patch).toEqual({ a: { b: null, c: 2 } });
  });

  test('depth limit applies to the result', () => {
    expect(codeOf(() => rt.applyMergePatch({ a: { b: {} } }, { a: { b: { c: [[]] } } }, { limits: { maxDepth: 4 } }))).toBe('ERR_RT_TOO_DEEP');
  });

  test('__proto__ in a merge patch is a plain key', () => {
    const out = rt.applyMergePatch('{}', '{"__proto__":{"polluted":true}}');
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(true);
    expect({}.polluted).toBeUndefined();
    expect(out.polluted).toBeUndefined();
  });
});
