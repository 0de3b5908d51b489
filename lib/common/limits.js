'use strict';

const { invalidArgument, outOfRange } = require('./errors');

const DEFAULT_LIMITS = Object.freeze({
  maxDepth: 100,
  maxDocumentBytes: 16 * 1024 * 1024,
  maxPatchOps: 10000,
  maxPatchGrowthBytes: 4 * 1024 * 1024,
});

const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS);

// Returns a frozen, complete limits object; unknown keys and bad values are refused so a typo
// never silently leaves a limit at its default.
function normalizeLimits(limits) {
  if (limits === undefined) return DEFAULT_LIMITS;
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) {
    throw invalidArgument('limits must be an object');
  }
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(limits)) {
    if (!LIMIT_NAMES.includes(key)) throw invalidArgument(`unknown limit "${key}"`);
    const value = limits[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw invalidArgument(`limits.${key} must be an integer`);
    }
    // Deeper documents would exhaust the stack of JavaScript's own recursive JSON functions.
    const max = key === 'maxDepth' ? 1000 : 2 ** 31 - 1;
    if (value < 1 || value > max) throw outOfRange(`limits.${key} must be between 1 and ${max}`);
    out[key] = value;
  }
  return Object.freeze(out);
}

module.exports = { DEFAULT_LIMITS, normalizeLimits };
