'use strict';

const { IMPLS, codeOf } = require('../helpers/impls');

const roundTrip = (rt, text) => rt.applyMergePatch(text, '{}', { output: 'text' });
// a merge patch that is not an object returns the patch itself: the cleanest way to parse and re-serialize
const reserialize = (rt, text) => rt.applyMergePatch('{}', text, { output: 'text' });

describe.each(IMPLS)('JSON text in and out (%s)', (_name, rt) => {
  test('numbers serialize as JavaScript does', () => {
    const input = '[1e21,1e-7,1.5e-7,123456789012345678901,0.1,-0,5e-324,1.7976931348623157e308,100,1e15,1.0,2e0,-1.25E+2,9007199254740993,0.30000000000000004,1e300,123e-20]';
    expect(reserialize(rt, input)).toBe(JSON.stringify(JSON.parse(input)));
  });

  test('strings escape as JSON.stringify does', () => {
    const s = '"a\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\/\\u007f\\u2028\\u2029é😀\\ud83d\\ude00"';
    expect(reserialize(rt, s)).toBe(JSON.stringify(JSON.parse(s)));
  });

  test('object key order is JavaScript order; duplicates keep the first position and last value', () => {
    const text = '{"b":1,"10":2,"2":3,"01":4,"4294967294":5,"4294967295":6,"-1":7,"a":8,"b":9}';
    expect(roundTrip(rt, text)).toBe(JSON.stringify(JSON.parse(text)));
    expect(rt.applyPatch('{"b":1,"a":2}', [{ op: 'add', path: '/5', value: 0 }, { op: 'add', path: '/c', value: 0 }, { op: 'add', path: '/1', value: 0 }], { output: 'text' }))
      .toBe('{"1":0,"5":0,"b":1,"a":2,"c":0}');
  });

  test('multi-byte characters around the native small-text buffer (1 KiB) are never cut off', () => {
    for (let n = 1010; n <= 1030; n++) {
      for (const ch of ['é', '€', '😀']) {
        const text = JSON.stringify('a'.repeat(n) + ch + 'z');
        expect([n, ch, reserialize(rt, text)]).toEqual([n, ch, text]);
      }
    }
  });

  test('whitespace and scalars at the top level', () => {
    expect(reserialize(rt, ' \t\n\r"x" ')).toBe('"x"');
    expect(reserialize(rt, 'true')).toBe('true');
    expect(rt.applyPatch('null', '[]')).toBeNull();
  });

  test.each([
    ['empty text', ''],
    ['trailing comma', '[1,]'],
    ['single quotes', "{'a':1}"],
    ['leading zero', '[01]'],
    ['leading plus', '[+1]'],
    ['NaN', '[NaN]'],
    ['bare dot', '[.5]'],
    ['unterminated string', '"abc'],
    ['control character in string', '"a\u0001b"'],
    ['bad escape', '"\\x"'],
    ['short unicode escape', '"\\u12"'],
    ['two values', '1 2'],
    ['comment', '[1]//'],
    ['BOM', '\ufeff[1]'],
    ['non-breaking space', '[1,\u00a02]'],
    ['unclosed', '{"a":[1,{"b":2}'],
  ])('malformed: %s', (_title, text) => {
    expect(codeOf(() => rt.applyPatch(text, []))).toBe('ERR_RT_INVALID_JSON');
  });

  test('invalid UTF-8 and lone surrogates', () => {
    expect(codeOf(() => rt.applyPatch(Buffer.from([0x22, 0xc3, 0x28, 0x22]), []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch(Buffer.from([0x22, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x22]), []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch(Buffer.from([0x22, 0xc0, 0xaf, 0x22]), []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch('"\\ud800"', []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch('"\\udc00\\ud800"', []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch('"\ud800"', []))).toBe('ERR_RT_INVALID_UTF8');
    expect(codeOf(() => rt.applyPatch({ s: 'x\udfffy' }, []))).toBe('ERR_RT_INVALID_UTF8');
    // outside a string token, bad bytes are a syntax error, which wins
    expect(codeOf(() => rt.applyPatch(Buffer.from([0x5b, 0xff, 0x5d]), []))).toBe('ERR_RT_INVALID_JSON');
    expect(codeOf(() => rt.applyPatch(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x2c, 0x5d]), []))).toBe('ERR_RT_INVALID_JSON');
    // a valid pair is fine
    expect(rt.applyPatch('"\\ud83d\\ude00"', [])).toBe('😀');
  });

  test('100,000 levels of nesting: a coded error, not a crash; syntax errors still win', () => {
    const deepArray = '['.repeat(100000) + ']'.repeat(100000);
    const deepObject = '{"a":'.repeat(100000) + '1' + '}'.repeat(100000);
    expect(codeOf(() => rt.applyPatch(deepArray, []))).toBe('ERR_RT_TOO_DEEP');
    expect(codeOf(() => rt.applyPatch(deepObject, []))).toBe('ERR_RT_TOO_DEEP');
    expect(codeOf(() => rt.applyPatch(deepArray + ',', []))).toBe('ERR_RT_INVALID_JSON');
    expect(codeOf(() => rt.applyPatch('['.repeat(100000) + '"\\ud800"' + ']'.repeat(100000), []))).toBe('ERR_RT_TOO_DEEP');
    let value = 1;
    for (let i = 0; i < 100000; i++) value = [value];
    expect(codeOf(() => rt.applyPatch(value, []))).toBe('ERR_RT_TOO_DEEP');
    expect(codeOf(() => rt.diff(deepArray, '[]'))).toBe('ERR_RT_TOO_DEEP');
    expect(codeOf(() => rt.merge3('{}', deepObject, '{}'))).toBe('ERR_RT_TOO_DEEP');
  });

  test('depth limit is exact', () => {
    const nested = (n) => '['.repeat(n) + ']'.repeat(n);
    expect(rt.applyPatch(nested(100), [])).toBeDefined();
    expect(codeOf(() => rt.applyPatch(nested(101), []))).toBe('ERR_RT_TOO_DEEP');
    expect(rt.applyPatch(nested(3), [], { limits: { maxDepth: 3 } })).toEqual([[[]]]);
    expect(codeOf(() => rt.applyPatch(nested(4), [], { limits: { maxDepth: 3 } }))).toBe('ERR_RT_TOO_DEEP');
  });

  test('size limit counts UTF-8 bytes of the text', () => {
    const text = JSON.stringify('é'.repeat(10)); // 22 bytes
    expect(rt.applyPatch(text, [], { limits: { maxDocumentBytes: 22 } })).toBe('é'.repeat(10));
    expect(codeOf(() => rt.applyPatch(text, [], { limits: { maxDocumentBytes: 21 } }))).toBe('ERR_RT_TOO_LARGE');
    expect(codeOf(() => rt.applyPatch(Buffer.from('[1,2,3]'), [], { limits: { maxDocumentBytes: 6 } }))).toBe('ERR_RT_TOO_LARGE');
    // the size check comes before the syntax check
    expect(codeOf(() => rt.applyPatch('[1,2,3', [], { limits: { maxDocumentBytes: 5 } }))).toBe('ERR_RT_TOO_LARGE');
    // arguments are checked in order, each completely
    const big = JSON.stringify('x'.repeat(5000));
    expect(codeOf(() => rt.applyPatch('[', big, { limits: { maxDocumentBytes: 100 } }))).toBe('ERR_RT_INVALID_JSON');
    expect(codeOf(() => rt.applyPatch(big, '[', { limits: { maxDocumentBytes: 100 } }))).toBe('ERR_RT_TOO_LARGE');
    expect(codeOf(() => rt.merge3('{}', '{', big, { limits: { maxDocumentBytes: 100 } }))).toBe('ERR_RT_INVALID_JSON');
  });

  test('values that are not JSON', () => {
    const cyclic = { a: 1 };
    cyclic.self = cyclic;
    expect(codeOf(() => rt.applyPatch(cyclic, []))).toBe('ERR_RT_INVALID_VALUE');
    expect(codeOf(() => rt.applyPatch(undefined, []))).toBe('ERR_RT_INVALID_VALUE');
    expect(codeOf(() => rt.applyPatch(() => 1, []))).toBe('ERR_RT_INVALID_VALUE');
    expect(codeOf(() => rt.applyPatch(1n, []))).toBe('ERR_RT_INVALID_VALUE');
    // JSON.stringify semantics for the rest
    expect(rt.applyPatch({ d: new Date(0), u: undefined, n: NaN, a: [undefined, Infinity] }, [])).toEqual({ d: '1970-01-01T00:00:00.000Z', n: null, a: [null, null] });
  });

  test('wrong argument types and options', () => {
    expect(codeOf(() => rt.applyPatch({}, [], { output: 'buffer' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.applyPatch({}, [], 'text'))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.applyPatch({}, [], { limits: { maxDepth: 1.5 } }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.diff({}, {}, { format: 'xml' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => rt.diff({}, {}, { arrayKey: '' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(() => rt.applyPatch({}, [], { limits: { maxDepth: -1 } })).toThrow(RangeError);
  });
});
