'use strict';

// diff(a, b) as specified in docs/semantics.md section 5: a JSON Patch (with the Myers array
// diff, exactly as specified) or a merge patch. Twin of native/core/diff.{h,cpp}.
//
// Ops reference values of `b` (no copies): callers that hand them out serialize them first.

const { hasOwn, isObject, isArray, setKey, deepEqual, clone } = require('./json');
const { escapeToken } = require('./pointer');

const MAX_MIDDLE = 4096;
const MAX_D = 1024;

const KEEP = 0;
const DELETE = 1;
const INSERT = 2;

function diffJson(a, b, path, arrayKey, ops) {
  if (isArray(a)) {
    if (isArray(b)) {
      diffArrays(a, b, path, arrayKey, ops);
      return;
    }
  } else if (isObject(a) && isObject(b)) {
    diffObjects(a, b, path, arrayKey, ops);
    return;
  }
  // Equal containers produce no ops through the two branches above, so the equality test
  // of 5.1 only matters here.
  if (!deepEqual(a, b)) ops.push({ op: 'replace', path, value: b });
}

function diffObjects(a, b, path, arrayKey, ops) {
  const keysA = Object.keys(a);
  for (let i = 0; i < keysA.length; i++) {
    const k = keysA[i];
    const p = `${path}/${escapeToken(k)}`;
    if (!hasOwn(b, k)) ops.push({ op: 'remove', path: p });
    else diffJson(a[k], b[k], p, arrayKey, ops);
  }
  const keysB = Object.keys(b);
  for (let i = 0; i < keysB.length; i++) {
    const k = keysB[i];
    if (!hasOwn(a, k)) ops.push({ op: 'add', path: `${path}/${escapeToken(k)}`, value: b[k] });
  }
}

function makeMatcher(arrayKey) {
  if (arrayKey === null) return deepEqual;
  return (x, y) => {
    if (isObject(x) && isObject(y) && hasOwn(x, arrayKey) && hasOwn(y, arrayKey)) {
      return deepEqual(x[arrayKey], y[arrayKey]);
    }
    return deepEqual(x, y);
  };
}

// Shortest edit script of A[a0..a0+N) -> B[b0..b0+M) as parallel arrays of (kind, i, j) in
// order of increasing position, or null when D would exceed MAX_D.
function myers(A, a0, N, B, b0, M, match) {
  const max = Math.min(N + M, MAX_D);
  const offset = max + 1;
  const V = new Int32Array(2 * max + 3);
  V[offset + 1] = 0;
  const trace = [];
  let found = -1;
  let endK = 0;
  for (let d = 0; d <= max && found < 0; d++) {
    // Round d only reads diagonals of parity d-1; keep a copy of them for the backtrack.
    trace.push(V.slice(offset - d, offset + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let x;
      if (k === -d || (k !== d && V[offset + k - 1] < V[offset + k + 1])) x = V[offset + k + 1];
      else x = V[offset + k - 1] + 1;
      let y = x - k;
      while (x < N && y < M && match(A[a0 + x], B[b0 + y])) {
        x++;
        y++;
      }
      V[offset + k] = x;
      if (x >= N && y >= M) {
        found = d;
        endK = k;
        break;
      }
    }
  }
  if (found < 0) return null;

  // Backtrack from (N, M); trace[d] holds V before round d, at offsets -d..d.
  const kinds = [];
  const is = [];
  const js = [];
  let x = N;
  let y = N - endK;
  for (let d = found; d > 0; d--) {
    const prev = trace[d];
    const k = x - y;
    const at = (kk) => prev[kk + d];
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    const startX = down ? prevX : prevX + 1;
    const startY = down ? prevY + 1 : prevY;
    while (x > startX && y > startY) {
      x--;
      y--;
      kinds.push(KEEP);
      is.push(x);
      js.push(y);
    }
    if (down) {
      kinds.push(INSERT);
      is.push(-1);
      js.push(prevY);
    } else {
      kinds.push(DELETE);
      is.push(prevX);
      js.push(-1);
    }
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    kinds.push(KEEP);
    is.push(x);
    js.push(y);
  }
  kinds.reverse();
  is.reverse();
  js.reverse();
  return { kinds, is, js };
}

function diffArrays(A, B, path, arrayKey, ops) {
  const n = A.length;
  const m = B.length;
  const match = makeMatcher(arrayKey);
  // Matched pairs that are not deep-equal (possible with arrayKey), diffed at the end.
  const late = [];

  let p = 0;
  while (p < n && p < m && match(A[p], B[p])) {
    if (arrayKey !== null && !deepEqual(A[p], B[p])) late.push(p, A[p], B[p]);
    p++;
  }
  let s = 0;
  const suffix = [];
  while (s < n - p && s < m - p && match(A[n - 1 - s], B[m - 1 - s])) {
    if (arrayKey !== null && !deepEqual(A[n - 1 - s], B[m - 1 - s])) {
      suffix.push(m - 1 - s, A[n - 1 - s], B[m - 1 - s]);
    }
    s++;
  }
  const N = n - p - s;
  const M = m - p - s;

  let script = null;
  if (N <= MAX_MIDDLE && M <= MAX_MIDDLE) script = myers(A, p, N, B, p, M, match);

  let pos = p;
  const dels = [];
  const inss = [];
  const flush = () => {
    const pairs = Math.min(dels.length, inss.length);
    for (let h = 0; h < pairs; h++) {
      const oldItem = A[dels[h]];
      const newItem = B[inss[h]];
      const p2 = `${path}/${pos}`;
      if ((isObject(oldItem) && isObject(newItem)) || (isArray(oldItem) && isArray(newItem))) {
        diffJson(oldItem, newItem, p2, arrayKey, ops);
      } else {
        ops.push({ op: 'replace', path: p2, value: newItem });
      }
      pos++;
    }
    for (let h = pairs; h < dels.length; h++) ops.push({ op: 'remove', path: `${path}/${pos}` });
    for (let h = pairs; h < inss.length; h++) {
      ops.push({ op: 'add', path: `${path}/${pos}`, value: B[inss[h]] });
      pos++;
    }
    dels.length = 0;
    inss.length = 0;
  };

  if (script === null) {
    for (let i = 0; i < N; i++) dels.push(p + i);
    for (let j = 0; j < M; j++) inss.push(p + j);
    flush();
  } else {
    const { kinds, is, js } = script;
    for (let t = 0; t < kinds.length; t++) {
      const kind = kinds[t];
      if (kind === DELETE) dels.push(p + is[t]);
      else if (kind === INSERT) inss.push(p + js[t]);
      else {
        flush();
        const oldItem = A[p + is[t]];
        const newItem = B[p + js[t]];
        if (arrayKey !== null && !deepEqual(oldItem, newItem)) late.push(pos, oldItem, newItem);
        pos++;
      }
    }
    flush();
  }

  for (let t = suffix.length - 3; t >= 0; t -= 3) late.push(suffix[t], suffix[t + 1], suffix[t + 2]);
  for (let t = 0; t < late.length; t += 3) diffJson(late[t + 1], late[t + 2], `${path}/${late[t]}`, arrayKey, ops);
}

// 5.2. With `copy`, values taken from b are deep-copied (for results built from live state).
function mergeDiff(a, b, copy = false) {
  if (!isObject(b) || !isObject(a)) return copy ? clone(b) : b;
  const out = {};
  const keysA = Object.keys(a);
  for (let i = 0; i < keysA.length; i++) {
    const k = keysA[i];
    if (!hasOwn(b, k)) setKey(out, k, null);
    else if (!deepEqual(a[k], b[k])) setKey(out, k, mergeDiff(a[k], b[k], copy));
  }
  const keysB = Object.keys(b);
  for (let i = 0; i < keysB.length; i++) {
    const k = keysB[i];
    if (!hasOwn(a, k)) setKey(out, k, copy ? clone(b[k]) : b[k]);
  }
  return out;
}

function diff(a, b, format = 'json-patch', arrayKey = null) {
  // Equal objects give {}; equal non-objects give b itself ({} would turn them into {}).
  if (format === 'merge-patch') return mergeDiff(a, b);
  const ops = [];
  diffJson(a, b, '', arrayKey, ops);
  return ops;
}

module.exports = { diff, diffJson, mergeDiff };
