'use strict';

// What a client may change in a playlist `{ name, loop, items: [{ id, title, durationS }] }`.
// The DocumentStore applies any valid patch; this keeps documents in the shape the dashboards
// render, whatever a client sends. Every change allowed here leaves a valid playlist, also when
// the store merges it onto a newer version (items merge by `id`, and each field keeps its type).

const MAX_NAME = 100;
const MAX_TITLE = 200;
const MAX_ITEMS = 200;
const MAX_DURATION_S = 24 * 3600;
const ITEM_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ITEM_KEYS = ['id', 'title', 'durationS'];

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// -> an error message, or null
const FIELDS = {
  name: (v) => (typeof v === 'string' && v.trim().length > 0 && v.length <= MAX_NAME ? null : `name must be a non-blank string of at most ${MAX_NAME} characters`),
  loop: (v) => (typeof v === 'boolean' ? null : 'loop must be true or false'),
  items: (v) => {
    if (!Array.isArray(v) || v.length > MAX_ITEMS) return `items must be an array of at most ${MAX_ITEMS} items`;
    const ids = new Set();
    for (const item of v) {
      const err = itemError(item);
      if (err) return err;
      if (ids.has(item.id)) return `items: duplicate id "${item.id}"`;
      ids.add(item.id);
    }
    return null;
  },
};
const ITEM_FIELDS = {
  id: (v) => (typeof v === 'string' && ITEM_ID.test(v) ? null : 'item id must match [A-Za-z0-9._-]{1,64}'),
  title: (v) => (typeof v === 'string' && v.length <= MAX_TITLE ? null : `item title must be a string of at most ${MAX_TITLE} characters`),
  durationS: (v) => (Number.isInteger(v) && v >= 1 && v <= MAX_DURATION_S ? null : `item durationS must be an integer from 1 to ${MAX_DURATION_S}`),
};

function itemError(item) {
  if (!isPlainObject(item)) return 'an item must be an object { id, title, durationS }';
  const keys = Object.keys(item);
  if (keys.length !== ITEM_KEYS.length || !ITEM_KEYS.every((k) => keys.includes(k))) return 'an item must have exactly id, title and durationS';
  for (const k of ITEM_KEYS) {
    const err = ITEM_FIELDS[k](item[k]);
    if (err) return err;
  }
  return null;
}

function mergePatchError(patch) {
  const keys = Object.keys(patch);
  if (keys.length === 0) return 'mergePatch changes nothing';
  for (const k of keys) {
    if (!Object.hasOwn(FIELDS, k)) return `mergePatch: unknown field "${k}" (name, loop, items)`;
    const err = FIELDS[k](patch[k]);
    if (err) return `mergePatch: ${err}`;
  }
  return null;
}

// JSON Pointer of one op -> [field, index?, itemField?]; only the playlist's own paths
function parsePath(path) {
  if (typeof path !== 'string') return null;
  const m = /^\/(name|loop|items)(?:\/(0|[1-9]\d{0,3}|-)(?:\/(id|title|durationS))?)?$/.exec(path);
  return m ? [m[1], m[2], m[3]] : null;
}

function opError(op, i) {
  if (!isPlainObject(op)) return `patch op ${i} must be an object`;
  const where = `patch op ${i}`;
  const p = parsePath(op.path);
  if (!p) return `${where}: path must be /name, /loop, /items, /items/<i> or /items/<i>/(id|title|durationS)`;
  const [field, index, itemField] = p;
  if (op.op === 'test') return null;
  if (!['add', 'replace', 'remove'].includes(op.op)) return `${where}: op must be add, replace, remove or test`;
  if (index === undefined) {
    if (op.op === 'remove') return `${where}: ${field} cannot be removed`;
    const err = FIELDS[field](op.value);
    return err ? `${where}: ${err}` : null;
  }
  if (field !== 'items') return `${where}: ${field} has no elements`;
  if (itemField === undefined) {
    if (op.op === 'remove') return index === '-' ? `${where}: remove needs an index` : null;
    if (op.op === 'replace' && index === '-') return `${where}: replace needs an index`;
    const err = itemError(op.value);
    return err ? `${where}: ${err}` : null;
  }
  if (index === '-' || op.op !== 'replace') return `${where}: an item's fields can only be replaced`;
  const err = ITEM_FIELDS[itemField](op.value);
  return err ? `${where}: ${err}` : null;
}

function patchError(patch) {
  if (patch.length === 0) return 'patch changes nothing';
  if (patch.length > 100) return 'patch has more than 100 ops';
  for (let i = 0; i < patch.length; i++) {
    const err = opError(patch[i], i);
    if (err) return err;
  }
  return null;
}

// body of rt:mutate -> an error message for a change no playlist may take, or null (also for
// bodies the protocol itself rejects, so its own messages and codes apply to those)
function playlistChangeError(body) {
  if (!isPlainObject(body)) return null;
  const hasPatch = Array.isArray(body.patch);
  const hasMerge = isPlainObject(body.mergePatch);
  if (hasPatch && body.mergePatch === undefined) return patchError(body.patch);
  if (hasMerge && body.patch === undefined) return mergePatchError(body.mergePatch);
  return null;
}

module.exports = { playlistChangeError, itemError };
