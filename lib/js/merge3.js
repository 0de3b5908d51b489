'use strict';

// Three-way merge as specified in docs/semantics.md section 6. Twin of native/core/merge3.{h,cpp}.
//
// `undefined` stands for an absent value (a missing key): JSON has no undefined. The result
// and the conflict records share values with the inputs; callers copy or serialize them.

const { fail, hasOwn, isObject, isArray, setKey, deepEqual, parse } = require('./json');
const { escapeToken } = require('./pointer');
const { compare } = require('./hlc');
const { invalidArgument } = require('../common/errors');

function sameOrBothAbsent(x, y) {
  if (x === undefined || y === undefined) return x === y;
  return deepEqual(x, y);
}

class Merger {
  constructor(opts, limits) {
    this.strategy = opts.strategy;
    this.arrayKey = opts.arrayKey === undefined ? 'id' : opts.arrayKey;
    this.resolver = opts.resolver || null;
    this.limits = limits;
    this.conflicts = [];
    this.localWins = false;
    if (this.strategy === 'last-writer-wins') {
      this.localWins = compare(opts.localTimestamp, opts.remoteTimestamp) > 0;
    }
    if (this.strategy === 'custom' && typeof this.resolver !== 'function') {
      throw invalidArgument('strategy "custom" needs a resolver');
    }
  }

  merge(b, l, r, path) {
    if (l === undefined ? r === undefined : r !== undefined && deepEqual(l, r)) return l;
    if (sameOrBothAbsent(l, b)) return r;
    if (sameOrBothAbsent(r, b)) return l;
    if (isObject(l) && isObject(r)) return this.mergeObjects(isObject(b) ? b : null, l, r, path);
    if (isArray(l) && isArray(r) && this.arrayKey !== null) {
      const ids = this.idIndexes(b, l, r);
      if (ids !== null) return this.mergeById(isArray(b) ? b : [], l, r, ids, path);
    }
    return this.conflict(path, b, l, r);
  }

  mergeObjects(b, l, r, path) {
    const out = {};
    const keysR = Object.keys(r);
    for (let i = 0; i < keysR.length; i++) {
      const k = keysR[i];
      const bv = b !== null && hasOwn(b, k) ? b[k] : undefined;
      const lv = hasOwn(l, k) ? l[k] : undefined;
      const v = this.merge(bv, lv, r[k], `${path}/${escapeToken(k)}`);
      if (v !== undefined) setKey(out, k, v);
    }
    const keysL = Object.keys(l);
    for (let i = 0; i < keysL.length; i++) {
      const k = keysL[i];
      if (hasOwn(r, k)) continue;
      const bv = b !== null && hasOwn(b, k) ? b[k] : undefined;
      const v = this.merge(bv, l[k], undefined, `${path}/${escapeToken(k)}`);
      if (v !== undefined) setKey(out, k, v);
    }
    return out;
  }

  // id -> index maps of b (when an array), l and r, or null when an item has no usable id
  // or an id repeats within one array (then the arrays merge as plain values).
  idIndexes(b, l, r) {
    const key = this.arrayKey;
    const index = (arr) => {
      const map = new Map();
      for (let i = 0; i < arr.length; i++) {
        const item = arr[i];
        if (!isObject(item) || !hasOwn(item, key)) return null;
        const id = item[key];
        if ((typeof id !== 'string' && typeof id !== 'number') || map.has(id)) return null;
        map.set(id, i);
      }
      return map;
    };
    const lm = index(l);
    if (lm === null) return null;
    const rm = index(r);
    if (rm === null) return null;
    const bm = isArray(b) ? index(b) : new Map();
    if (bm === null) return null;
    return { bm, lm, rm };
  }

  mergeById(b, l, r, { bm, lm, rm }, path) {
    const key = this.arrayKey;
    const dropped = new Set();
    const resolved = new Map();
    // 1. Membership, in base order; delete/edit conflicts are resolved here.
    for (let i = 0; i < b.length; i++) {
      const id = b[i][key];
      const inL = lm.has(id);
      const inR = rm.has(id);
      if (inL === inR) {
        if (!inL) dropped.add(id);
        continue;
      }
      const item = inR ? r[rm.get(id)] : l[lm.get(id)];
      if (deepEqual(item, b[i])) {
        dropped.add(id);
        continue;
      }
      const p = `${path}/${i}`;
      const v = inR ? this.conflict(p, b[i], undefined, item) : this.conflict(p, b[i], item, undefined);
      if (v === undefined) dropped.add(id);
      else resolved.set(id, v);
    }
    // 2. Order: remote's kept items; each local-only kept item right after the last placed
    // item before it in l (consecutive local items chain behind the same remote anchor).
    const front = [];
    const followers = new Map();
    let anchor = null;
    for (let i = 0; i < l.length; i++) {
      const id = l[i][key];
      if (dropped.has(id)) continue;
      if (rm.has(id)) {
        anchor = id;
        continue;
      }
      if (anchor === null) front.push(id);
      else {
        const list = followers.get(anchor);
        if (list) list.push(id);
        else followers.set(anchor, [id]);
      }
    }
    const order = front.slice();
    for (let i = 0; i < r.length; i++) {
      const id = r[i][key];
      if (dropped.has(id)) continue;
      order.push(id);
      const list = followers.get(id);
      if (list) for (const f of list) order.push(f);
    }
    // 3. Values, in result order. A path index is the item's position in `order`, also after a
    // custom resolution dropped an earlier item (the spec is silent; both engines agree on it).
    const out = [];
    for (let i = 0; i < order.length; i++) {
      const id = order[i];
      if (resolved.has(id)) {
        out.push(resolved.get(id));
        continue;
      }
      const inL = lm.has(id);
      const inR = rm.has(id);
      if (inL && inR) {
        const bItem = bm.has(id) ? b[bm.get(id)] : undefined;
        const v = this.merge(bItem, l[lm.get(id)], r[rm.get(id)], `${path}/${i}`);
        if (v !== undefined) out.push(v);
      } else {
        out.push(inR ? r[rm.get(id)] : l[lm.get(id)]);
      }
    }
    return out;
  }

  conflict(path, b, l, r) {
    let resolved;
    let winner;
    switch (this.strategy) {
      case 'client-wins':
        resolved = l;
        winner = 'local';
        break;
      case 'last-writer-wins':
        resolved = this.localWins ? l : r;
        winner = this.localWins ? 'local' : 'remote';
        break;
      case 'custom':
        resolved = this.resolve(path, b, l, r);
        winner = 'custom';
        break;
      default:
        resolved = r;
        winner = 'remote';
    }
    const record = { path };
    if (b !== undefined) record.base = b;
    if (l !== undefined) record.local = l;
    if (r !== undefined) record.remote = r;
    if (resolved !== undefined) record.resolved = resolved;
    record.winner = winner;
    this.conflicts.push(record);
    return resolved;
  }

  resolve(path, b, l, r) {
    // JSON.stringify leaves out the absent (undefined) sides.
    const out = this.resolver(JSON.stringify({ path, base: b, local: l, remote: r }));
    if (out === undefined) return undefined;
    if (typeof out !== 'string' && !(out instanceof Uint8Array)) {
      throw fail('ERR_RT_INVALID_VALUE', 'a resolver must return JSON text or undefined');
    }
    return parse(out, this.limits, 'resolver result');
  }
}

// Returns { doc, conflicts }. A document deleted by a custom resolution at the root is null
// (JSON text cannot express absence).
function merge3(base, local, remote, opts, limits) {
  const m = new Merger(opts, limits);
  const doc = m.merge(base, local, remote, '');
  return { doc: doc === undefined ? null : doc, conflicts: m.conflicts };
}

module.exports = { merge3 };
