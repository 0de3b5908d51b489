'use strict';

// JSON Merge Patch (RFC 7396) as specified in docs/semantics.md section 4, applied through the
// primitive changes of section 8.1. Twin of native/core/merge_patch.{h,cpp}.
//
// No depth check is needed: a member written at nesting n comes from nesting n of the patch,
// so n + depth(written value) <= depth(patch) <= maxDepth (the patch was parsed under it), and
// untouched parts keep the document's valid depth.

const { hasOwn, isObject } = require('./json');
const { escapeToken } = require('./pointer');
const { keySet, keyRemove, rootSet } = require('./patch');

// RFC 7396 applied to {}: the member without its null members, recursively. The patch is
// owned by the caller (freshly parsed), so this strips in place.
function stripNulls(v) {
  if (!isObject(v)) return v;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const m = v[k];
    if (m === null) delete v[k];
    else if (isObject(m)) stripNulls(m);
  }
  return v;
}

function mergeInto(target, patch, log, tokens, ptr) {
  const keys = Object.keys(patch);
  const n = tokens.length;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = patch[k];
    const path = log === null ? '' : `${ptr}/${escapeToken(k)}`;
    if (v === null) {
      if (hasOwn(target, k)) keyRemove(log, target, k, tokens, n, path, -1, false);
    } else if (isObject(v) && hasOwn(target, k) && isObject(target[k])) {
      tokens.push(k);
      mergeInto(target[k], v, log, tokens, path);
      tokens.pop();
    } else {
      keySet(log, target, k, stripNulls(v), tokens, n, path, -1);
    }
  }
}

// Applies `patch` to `doc` in place (both owned by the caller) and returns the new root.
function applyMergePatch(doc, patch, log = null) {
  if (!isObject(patch)) return rootSet(log, doc, patch);
  if (!isObject(doc)) return rootSet(log, doc, stripNulls(patch));
  mergeInto(doc, patch, log, [], '');
  return doc;
}

module.exports = { applyMergePatch, stripNulls };
