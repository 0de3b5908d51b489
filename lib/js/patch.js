'use strict';

// JSON Patch (RFC 6902) as specified in docs/semantics.md section 3, and the primitive-change
// layer of section 8.1 that the store uses for atomicity (undo), history (inverse patches)
// and deltas. Twin of native/core/patch.{h,cpp}.

const {
  fail,
  hasOwn,
  isObject,
  isArray,
  setKey,
  deepEqual,
  clone,
  sizeOf,
  depthExceeds,
  isArrayIndexKey,
} = require('./json');
const { parsePointer, arrayIndex, resolve } = require('./pointer');

// ---- primitive changes (8.1) ----

const KEY_SET = 0;
const KEY_REMOVE = 1;
const ITEM_INSERT = 2;
const ITEM_REMOVE = 3;
const ITEM_REPLACE = 4;
const ROOT_SET = 5;

// Records the primitives applied to a stored document: enough to undo them exactly (key
// positions included) and to write the inverse patch for the history. An optional observer
// sees each change as it happens (the store builds deltas with it).
class ChangeLog {
  constructor(observer = null) {
    this.entries = [];
    this.observer = observer;
  }

  get changed() {
    return this.entries.length > 0;
  }

  // Newest first, so every entry sees its container exactly as it left it.
  undo() {
    const entries = this.entries;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      switch (e.t) {
        case KEY_SET:
          if (e.had) setKey(e.c, e.k, e.old);
          else delete e.c[e.k];
          break;
        case KEY_REMOVE:
          restoreKey(e.c, e.k, e.old, e.keys);
          break;
        case ITEM_INSERT:
          e.c.splice(e.k, 1);
          break;
        case ITEM_REMOVE:
          e.c.splice(e.k, 0, e.old);
          break;
        case ITEM_REPLACE:
          e.c[e.k] = e.old;
          break;
        default:
          // ROOT_SET: the caller still holds the old root.
          break;
      }
    }
    this.entries = [];
  }

  // The inverse JSON Patch (new -> old) as JSON text, ops in the order they must apply.
  // Old values are detached from the document by now (or were snapshotted when a move
  // re-attached them), so serializing them here is safe.
  inverseText() {
    const entries = this.entries;
    const ops = new Array(entries.length);
    for (let i = entries.length - 1, j = 0; i >= 0; i--, j++) {
      const e = entries[i];
      const old = e.snap !== undefined ? e.snap : e.old;
      switch (e.t) {
        case KEY_SET:
          ops[j] = e.had ? { op: 'replace', path: e.path, value: old } : { op: 'remove', path: e.path };
          break;
        case KEY_REMOVE:
        case ITEM_REMOVE:
          ops[j] = { op: 'add', path: e.path, value: old };
          break;
        case ITEM_INSERT:
          ops[j] = { op: 'remove', path: e.path };
          break;
        case ITEM_REPLACE:
          ops[j] = { op: 'replace', path: e.path, value: old };
          break;
        default:
          ops[j] = { op: 'replace', path: '', value: old };
      }
    }
    return JSON.stringify(ops);
  }
}

// Puts a removed key back at its former position. `keys` is the key order before the
// removal (null for array-index keys, which JavaScript orders by itself).
function restoreKey(obj, key, value, keys) {
  if (keys === null) {
    setKey(obj, key, value);
    return;
  }
  const at = keys.indexOf(key);
  const tail = [];
  for (let j = at + 1; j < keys.length; j++) {
    const k = keys[j];
    tail.push(obj[k]);
    delete obj[k];
  }
  setKey(obj, key, value);
  for (let j = at + 1; j < keys.length; j++) setKey(obj, keys[j], tail[j - at - 1]);
}

// The primitives. `log` is null for a throwaway document (plain applyPatch): then no no-op
// detection is needed, because nothing is recorded. Otherwise `tokens[0..n)` is the container's
// path, `path` the concrete pointer of the member or item, and `outer` the token count of the
// first array on the way from the root (-1: none), which the merge-patch delta needs.

function keySet(log, obj, key, value, tokens, n, path, outer) {
  if (log === null) {
    setKey(obj, key, value);
    return;
  }
  const had = hasOwn(obj, key);
  const old = had ? obj[key] : undefined;
  if (had && deepEqual(old, value)) return;
  setKey(obj, key, value);
  log.entries.push({ t: KEY_SET, c: obj, k: key, had, old, path, keys: null, snap: undefined });
  if (log.observer) log.observer(KEY_SET, tokens, n, key, had, old, value, outer, path);
}

function keyRemove(log, obj, key, tokens, n, path, outer, reattached) {
  const old = obj[key];
  if (log === null) {
    delete obj[key];
    return old;
  }
  const keys = isArrayIndexKey(key) ? null : Object.keys(obj);
  delete obj[key];
  // A moved value lives on in the document and may change again; the inverse needs it as it was.
  const snap = reattached ? clone(old) : undefined;
  log.entries.push({ t: KEY_REMOVE, c: obj, k: key, had: true, old, path, keys, snap });
  if (log.observer) log.observer(KEY_REMOVE, tokens, n, key, true, old, undefined, outer, path);
  return old;
}

function itemInsert(log, arr, i, value, tokens, n, path, outer) {
  if (i === arr.length) arr.push(value);
  else arr.splice(i, 0, value);
  if (log === null) return;
  log.entries.push({ t: ITEM_INSERT, c: arr, k: i, had: false, old: undefined, path, keys: null, snap: undefined });
  if (log.observer) log.observer(ITEM_INSERT, tokens, n, i, false, undefined, value, outer, path);
}

function itemRemove(log, arr, i, tokens, n, path, outer, reattached) {
  const old = i === arr.length - 1 ? arr.pop() : arr.splice(i, 1)[0];
  if (log === null) return old;
  const snap = reattached ? clone(old) : undefined;
  log.entries.push({ t: ITEM_REMOVE, c: arr, k: i, had: true, old, path, keys: null, snap });
  if (log.observer) log.observer(ITEM_REMOVE, tokens, n, i, true, old, undefined, outer, path);
  return old;
}

function itemReplace(log, arr, i, value, tokens, n, path, outer) {
  const old = arr[i];
  if (log !== null && deepEqual(old, value)) return;
  arr[i] = value;
  if (log === null) return;
  log.entries.push({ t: ITEM_REPLACE, c: arr, k: i, had: true, old, path, keys: null, snap: undefined });
  if (log.observer) log.observer(ITEM_REPLACE, tokens, n, i, true, old, value, outer, path);
}

// Returns the new root.
function rootSet(log, oldRoot, value) {
  if (log === null) return value;
  if (deepEqual(oldRoot, value)) return oldRoot;
  log.entries.push({ t: ROOT_SET, c: null, k: null, had: true, old: oldRoot, path: '', keys: null, snap: undefined });
  if (log.observer) log.observer(ROOT_SET, null, 0, null, true, oldRoot, value, -1, '');
  return value;
}

// ---- parsing and structural validation ----

const OP_NAMES = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

class CompiledPatch {
  constructor(ops, hasCopy, bytesUpperBound, valueSlack) {
    this.ops = ops;
    this.hasCopy = hasCopy;
    // Upper bound of the patch text's UTF-8 length (for the growth shortcut in applyOps).
    this.bytesUpperBound = bytesUpperBound;
    // Every op value is known to have depth <= maxDepth - valueSlack.
    this.valueSlack = valueSlack;
  }
}

function parsePointerOf(i, pointer, member) {
  try {
    return parsePointer(pointer);
  } catch {
    throw fail('ERR_RT_INVALID_POINTER', `op ${i}: invalid JSON pointer in "${member}"`);
  }
}

function invalidOp(i, message) {
  return fail('ERR_RT_INVALID_PATCH', `op ${i}: ${message}`);
}

// Validates the whole patch before anything applies; the first invalid op gives the error.
// `bytesUpperBound` is Infinity when unknown; valueSlack is 2 for parsed text (values sit two
// levels deep in a patch that was itself parsed under maxDepth), 0 for trusted patches.
function compilePatch(value, limits, bytesUpperBound = Infinity, valueSlack = 0) {
  if (!isArray(value)) throw fail('ERR_RT_INVALID_PATCH', 'patch must be an array of operations');
  if (value.length > limits.maxPatchOps) {
    throw fail('ERR_RT_TOO_MANY_OPS', `patch has ${value.length} operations, more than maxPatchOps (${limits.maxPatchOps})`);
  }
  const ops = new Array(value.length);
  let hasCopy = false;
  for (let i = 0; i < value.length; i++) {
    const el = value[i];
    if (!isObject(el)) throw invalidOp(i, 'must be an object');
    const op = hasOwn(el, 'op') ? el.op : undefined;
    if (typeof op !== 'string' || !OP_NAMES.has(op)) {
      throw invalidOp(i, '"op" must be one of add, remove, replace, move, copy, test');
    }
    const path = hasOwn(el, 'path') ? el.path : undefined;
    if (typeof path !== 'string') throw invalidOp(i, '"path" must be a string');
    let from = null;
    if (op === 'move' || op === 'copy') {
      from = hasOwn(el, 'from') ? el.from : undefined;
      if (typeof from !== 'string') throw invalidOp(i, '"from" must be a string');
      if (op === 'copy') hasCopy = true;
    }
    const needsValue = op === 'add' || op === 'replace' || op === 'test';
    if (needsValue && !hasOwn(el, 'value')) throw invalidOp(i, '"value" is required');
    const tokens = parsePointerOf(i, path, 'path');
    const fromTokens = from === null ? null : parsePointerOf(i, from, 'from');
    ops[i] = { op, path, tokens, from, fromTokens, value: needsValue ? el.value : undefined };
  }
  return new CompiledPatch(ops, hasCopy, bytesUpperBound, valueSlack);
}

// ---- application ----

function opError(code, i, op, reason) {
  return fail(code, `op ${i} (${op.op} ${op.path}): ${reason}`);
}

// Set by walkParent: token count of the first array met (-1: none). Module state is fine:
// the walk never re-enters.
let walkOuter = -1;

// The container at tokens[0, count), or undefined.
function walkParent(root, tokens, count) {
  let cur = root;
  let outer = isArray(root) ? 0 : -1;
  for (let j = 0; j < count; j++) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    const t = tokens[j];
    if (isArray(cur)) {
      const idx = arrayIndex(t);
      if (idx < 0 || idx >= cur.length) return undefined;
      cur = cur[idx];
    } else {
      if (!hasOwn(cur, t)) return undefined;
      cur = cur[t];
    }
    if (outer < 0 && isArray(cur)) outer = j + 1;
  }
  if (typeof cur !== 'object' || cur === null) return undefined;
  walkOuter = outer;
  return cur;
}

function parentPointer(path) {
  return path.slice(0, path.lastIndexOf('/'));
}

class ApplyState {
  constructor(root, patch, limits, enforceGrowth, log) {
    this.root = root;
    this.limits = limits;
    this.log = log;
    this.growth = 0;
    // sizeOf(v) <= 8 * UTF-8 length of v's text (numbers are the worst case: 1 byte, size 8),
    // so without copy ops a small patch cannot reach the growth limit and sizing is skipped.
    this.accountGrowth =
      enforceGrowth && (patch.hasCopy || patch.bytesUpperBound * 8 > limits.maxPatchGrowthBytes);
    this.valueSlack = patch.valueSlack;
  }
}

// Inserts `value` at op-relative `tokens`/`path`. `srcDepthTokens` is how deep the value sat in
// the (depth-valid) document for copy/move, or -1 for a value from the patch. For a copy the
// value is sized and deep-copied only after every other check passed (a copy bomb stops
// before it allocates).
function addAt(st, i, op, tokens, path, value, srcDepthTokens, isCopy) {
  const n = tokens.length;
  const maxDepth = st.limits.maxDepth;
  const slack = srcDepthTokens >= 0 ? srcDepthTokens : st.valueSlack;
  let parent = null;
  let index = -1;
  let outer = -1;
  if (n > 0) {
    parent = walkParent(st.root, tokens, n - 1);
    if (parent === undefined) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
    outer = walkOuter;
    if (isArray(parent)) {
      const last = tokens[n - 1];
      index = last === '-' ? parent.length : arrayIndex(last);
      if (index < 0 || index > parent.length) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
    }
  }
  // depth(value) <= maxDepth - slack is already known, so only deeper targets need a walk.
  if (n > slack && depthExceeds(value, maxDepth - n)) {
    throw opError('ERR_RT_TOO_DEEP', i, op, 'result nesting exceeds maxDepth');
  }
  if (st.accountGrowth && (isCopy || op.op !== 'move')) {
    st.growth += sizeOf(value);
    if (st.growth > st.limits.maxPatchGrowthBytes) {
      throw opError('ERR_RT_GROWTH_LIMIT', i, op, 'patch inserts more than maxPatchGrowthBytes');
    }
  }
  if (isCopy) value = clone(value);
  if (n === 0) {
    st.root = rootSet(st.log, st.root, value);
  } else if (index >= 0) {
    const concrete = st.log === null ? path : `${parentPointer(path)}/${index}`;
    itemInsert(st.log, parent, index, value, tokens, n - 1, concrete, outer);
  } else {
    keySet(st.log, parent, tokens[n - 1], value, tokens, n - 1, path, outer);
  }
}

function removeAt(st, i, op, tokens, path, reattached) {
  const n = tokens.length;
  if (n === 0) throw opError('ERR_RT_INVALID_PATCH', i, op, 'cannot remove the document root');
  const parent = walkParent(st.root, tokens, n - 1);
  if (parent === undefined) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
  const outer = walkOuter;
  const last = tokens[n - 1];
  if (isArray(parent)) {
    const index = arrayIndex(last);
    if (index < 0 || index >= parent.length) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
    return itemRemove(st.log, parent, index, tokens, n - 1, path, outer, reattached);
  }
  if (!hasOwn(parent, last)) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
  return keyRemove(st.log, parent, last, tokens, n - 1, path, outer, reattached);
}

function replaceAt(st, i, op) {
  const { tokens, path, value } = op;
  const n = tokens.length;
  const maxDepth = st.limits.maxDepth;
  let parent = null;
  let index = -1;
  let outer = -1;
  if (n > 0) {
    parent = walkParent(st.root, tokens, n - 1);
    if (parent === undefined) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
    outer = walkOuter;
    const last = tokens[n - 1];
    if (isArray(parent)) {
      index = arrayIndex(last);
      if (index < 0 || index >= parent.length) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
    } else if (!hasOwn(parent, last)) {
      throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
    }
  }
  if (n > st.valueSlack && depthExceeds(value, maxDepth - n)) {
    throw opError('ERR_RT_TOO_DEEP', i, op, 'result nesting exceeds maxDepth');
  }
  if (st.accountGrowth) {
    st.growth += sizeOf(value);
    if (st.growth > st.limits.maxPatchGrowthBytes) {
      throw opError('ERR_RT_GROWTH_LIMIT', i, op, 'patch inserts more than maxPatchGrowthBytes');
    }
  }
  if (n === 0) st.root = rootSet(st.log, st.root, value);
  else if (index >= 0) itemReplace(st.log, parent, index, value, tokens, n - 1, path, outer);
  else keySet(st.log, parent, tokens[n - 1], value, tokens, n - 1, path, outer);
}

// Applies the ops in order to `root` in place and returns the new root. Op values are moved
// into the document (the caller owns the compiled patch and uses it once). On failure this
// throws; the caller discards the document (applyPatch) or undoes the log (store).
function applyOps(root, patch, limits, enforceGrowth = true, log = null) {
  const st = new ApplyState(root, patch, limits, enforceGrowth, log);
  const ops = patch.ops;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    switch (op.op) {
      case 'add':
        addAt(st, i, op, op.tokens, op.path, op.value, -1, false);
        break;
      case 'remove':
        removeAt(st, i, op, op.tokens, op.path, false);
        break;
      case 'replace':
        replaceAt(st, i, op);
        break;
      case 'move': {
        const value = resolve(st.root, op.fromTokens);
        if (value === undefined) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'from path not found');
        if (op.from === op.path) break;
        // Pointers escape "/" inside tokens, so a raw prefix test is a token prefix test.
        if (op.path.startsWith(op.from + '/')) {
          throw opError('ERR_RT_INVALID_PATCH', i, op, 'cannot move a value into itself');
        }
        removeAt(st, i, op, op.fromTokens, op.from, true);
        addAt(st, i, op, op.tokens, op.path, value, op.fromTokens.length, false);
        break;
      }
      case 'copy': {
        const value = resolve(st.root, op.fromTokens);
        if (value === undefined) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'from path not found');
        addAt(st, i, op, op.tokens, op.path, value, op.fromTokens.length, true);
        break;
      }
      default: {
        const actual = resolve(st.root, op.tokens);
        if (actual === undefined) throw opError('ERR_RT_PATH_NOT_FOUND', i, op, 'path not found');
        if (!deepEqual(actual, op.value)) throw opError('ERR_RT_TEST_FAILED', i, op, 'test failed');
      }
    }
  }
  return st.root;
}

// Section 8.2, json-patch delta of a patch mutation: the ops without tests, members in the
// order op, path, from, value. Call before applying (values still as parsed).
function serializeOpsWithoutTests(patch) {
  const out = [];
  for (const o of patch.ops) {
    if (o.op === 'test') continue;
    const w = { op: o.op, path: o.path };
    if (o.from !== null) w.from = o.from;
    if (o.op === 'add' || o.op === 'replace') w.value = o.value;
    out.push(w);
  }
  return JSON.stringify(out);
}

module.exports = {
  KEY_SET,
  KEY_REMOVE,
  ITEM_INSERT,
  ITEM_REMOVE,
  ITEM_REPLACE,
  ROOT_SET,
  ChangeLog,
  keySet,
  keyRemove,
  rootSet,
  compilePatch,
  applyOps,
  serializeOpsWithoutTests,
};
