'use strict';

// createAdapter(options): checks and defaults. Unknown option names are refused, so a typo never
// silently falls back to a default (the same rule as the rest of realtime-core).

const { invalidArgument, outOfRange } = require('../common/errors');
const { isPlainObject, checkOptions, integerOption, oneOf } = require('../api/options');
const { parseClusterOptions } = require('./cluster/options');

const ADAPTER_OPTIONS = [
  'implementation', 'throttleMs', 'throttle', 'batch', 'maxBacklog', 'maxPayloadBytes', 'maxInboundBytes',
  'rateLimit', 'authorizeJoin', 'errorEvent', 'recovery', 'durable', 'slowConsumer', 'clock',
  'maxConnections', 'maxRooms', 'pendingLimit', 'directWrite', 'hub', 'redis', 'cluster',
];
const BATCH_OPTIONS = ['events', 'maxItems', 'maxDelayMs'];
const RATE_OPTIONS = ['points', 'intervalMs'];
const RECOVERY_OPTIONS = ['windowMs', 'maxPackets', 'maxBytes', 'maxSessions'];
const DURABLE_OPTIONS = ['path', 'fsync', 'fsyncIntervalMs', 'segmentBytes'];
const INT32 = 2 ** 31 - 1;

function fnOption(value, name) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'function') throw invalidArgument(`${name} must be a function`);
  return value;
}

// throttle: { [event]: (args, target) => key | null } or (event, args, target) => key | null
// -> (event, args, target) => key | null, or null
function throttleOption(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === 'function') return value;
  if (!isPlainObject(value)) throw invalidArgument('throttle must be an object { [event]: (args) => key | null } or a function');
  const table = new Map();
  for (const [event, fn] of Object.entries(value)) {
    if (typeof fn !== 'function') throw invalidArgument(`throttle["${event}"] must be a function (args) => key | null`);
    table.set(event, fn);
  }
  if (table.size === 0) return null;
  return (event, args, target) => {
    const fn = table.get(event);
    return fn === undefined ? null : fn(args, target);
  };
}

// batch: { events: string[] | (event, args, target) => boolean, maxItems, maxDelayMs } or a
// function (event, args, target) => boolean
function batchOption(value) {
  if (value === undefined || value === null || value === false) return { select: null, maxItems: 50, maxDelayMs: 200 };
  if (typeof value === 'function') return { select: value, maxItems: 50, maxDelayMs: 200 };
  const o = checkOptions(value, BATCH_OPTIONS, 'batch');
  let select = null;
  if (typeof o.events === 'function') {
    select = o.events;
  } else if (Array.isArray(o.events)) {
    for (const e of o.events) if (typeof e !== 'string' || e.length === 0) throw invalidArgument('batch.events must be non-empty strings');
    const set = new Set(o.events);
    if (set.size) select = (event) => set.has(event);
  } else if (o.events !== undefined) {
    throw invalidArgument('batch.events must be an array of event names or a function');
  }
  return {
    select,
    maxItems: integerOption(o.maxItems, 'batch.maxItems', { min: 1, max: 1e6, fallback: 50 }),
    maxDelayMs: integerOption(o.maxDelayMs, 'batch.maxDelayMs', { min: 0, max: INT32, fallback: 200 }),
  };
}

function rateOption(value) {
  if (value === undefined || value === null || value === false) return null;
  const o = checkOptions(value, RATE_OPTIONS, 'rateLimit');
  if (o.points === undefined || o.intervalMs === undefined) throw invalidArgument('rateLimit needs { points, intervalMs }');
  return {
    points: integerOption(o.points, 'rateLimit.points', { min: 1, max: 1e9, fallback: undefined }),
    intervalMs: integerOption(o.intervalMs, 'rateLimit.intervalMs', { min: 1, max: INT32, fallback: undefined }),
  };
}

function recoveryOption(value) {
  if (value === undefined || value === null || value === true) return {};
  if (value === false) return false;
  const o = checkOptions(value, RECOVERY_OPTIONS, 'recovery');
  const out = {};
  if (o.windowMs !== undefined) out.windowMs = integerOption(o.windowMs, 'recovery.windowMs', { min: 1, max: INT32 });
  if (o.maxPackets !== undefined) out.maxPackets = integerOption(o.maxPackets, 'recovery.maxPackets', { min: 1, max: 1e7 });
  if (o.maxBytes !== undefined) out.maxBytes = integerOption(o.maxBytes, 'recovery.maxBytes', { min: 1, max: Number.MAX_SAFE_INTEGER });
  if (o.maxSessions !== undefined) out.maxSessions = integerOption(o.maxSessions, 'recovery.maxSessions', { min: 1, max: 1e6 });
  return out;
}

function durableOption(value) {
  if (value === undefined || value === null) return null;
  const o = checkOptions(value, DURABLE_OPTIONS, 'durable');
  if (typeof o.path !== 'string' || o.path.length === 0) throw invalidArgument('durable.path must be a non-empty string');
  const out = { path: o.path };
  for (const k of ['fsync', 'fsyncIntervalMs', 'segmentBytes']) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function booleanOption(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument(`${name} must be true or false`);
  return value;
}

function implementationOption(value) {
  if (value === undefined) return 'native';
  if (value === 'native' || value === 'js') return value;
  if (value && typeof value === 'object' && typeof value.FanoutHub === 'function') return value;
  throw invalidArgument("implementation must be 'native', 'js' or an API object with a FanoutHub class");
}

// The FanoutHub of namespace '/', made by the caller; whether it fits the server (implementation,
// recovery, durable) is checked when the namespace's adapter is created (adapter.js claimHub).
function hubOption(value) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || typeof value.publish !== 'function' || typeof value.connect !== 'function') {
    throw invalidArgument('hub must be a FanoutHub');
  }
  return value;
}

function parseAdapterOptions(options) {
  const o = checkOptions(options, ADAPTER_OPTIONS, 'createAdapter');
  const errorEvent = o.errorEvent === undefined ? 'rt:error' : o.errorEvent;
  if (typeof errorEvent !== 'string' || errorEvent.length === 0) throw invalidArgument('errorEvent must be a non-empty string');
  const clock = o.clock === undefined ? Date.now : o.clock;
  if (typeof clock !== 'function') throw invalidArgument('clock must be a function returning milliseconds');
  const maxInboundBytes = o.maxInboundBytes === undefined || o.maxInboundBytes === null
    ? null
    : integerOption(o.maxInboundBytes, 'maxInboundBytes', { min: 1, max: INT32 });
  const settings = {
    implementation: implementationOption(o.implementation),
    throttleMs: integerOption(o.throttleMs, 'throttleMs', { min: 0, max: INT32, fallback: 1000 }),
    throttle: throttleOption(o.throttle),
    batch: batchOption(o.batch),
    maxBacklog: integerOption(o.maxBacklog, 'maxBacklog', { min: 1, max: INT32, fallback: 1000 }),
    maxPayloadBytes: integerOption(o.maxPayloadBytes, 'maxPayloadBytes', { min: 1, max: INT32, fallback: 1024 * 1024 }),
    maxInboundBytes,
    rateLimit: rateOption(o.rateLimit),
    authorizeJoin: fnOption(o.authorizeJoin, 'authorizeJoin'),
    errorEvent,
    recovery: recoveryOption(o.recovery),
    durable: durableOption(o.durable),
    slowConsumer: oneOf(o.slowConsumer, ['close', 'disconnect'], 'slowConsumer', 'close'),
    clock,
    maxConnections: o.maxConnections === undefined ? undefined : integerOption(o.maxConnections, 'maxConnections', { min: 1, max: 2 ** 32 - 1 }),
    maxRooms: o.maxRooms === undefined ? undefined : integerOption(o.maxRooms, 'maxRooms', { min: 1, max: 2 ** 32 - 1 }),
    pendingLimit: integerOption(o.pendingLimit, 'pendingLimit', { min: 0, max: 1e9, fallback: 1000 }),
    directWrite: booleanOption(o.directWrite, 'directWrite', true),
    hub: hubOption(o.hub),
    // scale-out over Redis (docs/redis.md): null on a single process
    cluster: parseClusterOptions(o.redis, o.cluster),
  };
  if (settings.durable && settings.recovery === false) throw outOfRange('durable needs recovery');
  // across nodes the recovery log is in Redis, not on one node's disk
  if (settings.durable && settings.cluster) throw invalidArgument('durable cannot be combined with redis: recovery is kept in Redis');
  return settings;
}

module.exports = { parseAdapterOptions };
