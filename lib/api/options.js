'use strict';

// Argument and option checks shared by both implementations, so the two refuse exactly the
// same things with exactly the same errors.

const { invalidArgument, outOfRange } = require('../common/errors');
const { utf8Length } = require('../common/json-text');

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// `allowed` lists the option names; an unknown name is refused so a typo never silently falls
// back to a default.
function checkOptions(options, allowed, what) {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw invalidArgument(`${what} options must be a plain object`);
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw invalidArgument(`${what}: unknown option "${key}"`);
  }
  return options;
}

function oneOf(value, choices, name, fallback) {
  if (value === undefined) return fallback;
  if (!choices.includes(value)) {
    throw invalidArgument(`${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value;
}

function outputOption(value) {
  return oneOf(value, ['value', 'text'], 'output', 'value');
}

function arrayKeyOption(value, fallback) {
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument('arrayKey must be a non-empty string or null');
  return value;
}

function integerOption(value, name, { min, max, fallback }) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidArgument(`${name} must be an integer`);
  if (value < min || value > max) throw outOfRange(`${name} must be between ${min} and ${max}`);
  return value;
}

function functionOption(value, name) {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalidArgument(`${name} must be a function`);
  return value;
}

function stringArg(value, name, { maxBytes = 1024, allowEmpty = false } = {}) {
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string`);
  if (!allowEmpty && value.length === 0) throw invalidArgument(`${name} must not be empty`);
  if (!value.isWellFormed()) throw invalidArgument(`${name} must be well-formed Unicode`);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no byte count (hot path).
  if (value.length * 3 > maxBytes && utf8Length(value) > maxBytes) {
    throw outOfRange(`${name} must be at most ${maxBytes} bytes`);
  }
  return value;
}

const STRATEGIES = ['server-wins', 'client-wins', 'last-writer-wins', 'custom'];

// A resolver is required for (and implies) the custom strategy.
function strategyOptions(options, what) {
  const resolver = functionOption(options.resolver, `${what}: resolver`);
  const strategy = oneOf(options.strategy, STRATEGIES, `${what}: strategy`, resolver ? 'custom' : 'server-wins');
  if (strategy === 'custom' && !resolver) throw invalidArgument(`${what}: strategy 'custom' needs a resolver function`);
  if (strategy !== 'custom' && resolver) throw invalidArgument(`${what}: a resolver is only used with strategy 'custom'`);
  return { strategy, resolver };
}

function nodeIdOption(value) {
  if (value === undefined) {
    const bytes = new Uint8Array(4);
    globalThis.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  stringArg(value, 'nodeId', { maxBytes: 64 });
  if (value.includes(':')) throw invalidArgument('nodeId must not contain ":"');
  return value;
}

function clockOption(value) {
  const clock = functionOption(value, 'clock') || Date.now;
  return () => {
    const ms = clock();
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms >= 2 ** 48) {
      throw outOfRange('clock() must return an integer number of milliseconds between 0 and 2^48');
    }
    return ms;
  };
}

module.exports = {
  isPlainObject,
  checkOptions,
  oneOf,
  outputOption,
  arrayKeyOption,
  integerOption,
  functionOption,
  stringArg,
  strategyOptions,
  nodeIdOption,
  clockOption,
};
