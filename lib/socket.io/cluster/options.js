'use strict';

// createAdapter({ redis, cluster }) checks and defaults for scale-out over Redis
// (docs/socket-io-adapter.md "Options", docs/redis.md).

const { invalidArgument, outOfRange } = require('../../common/errors');
const { checkOptions, integerOption } = require('../../api/options');
const { wrapRedis } = require('../../redis/client');

const CLUSTER_OPTIONS = ['keyPrefix', 'heartbeatInterval', 'heartbeatTimeout', 'requestsTimeout', 'commandTimeout', 'outbox'];
const OUTBOX_OPTIONS = ['capacity', 'ttlMs', 'maxAttempts', 'initialDelayMs', 'maxDelayMs', 'breaker'];
const BREAKER_OPTIONS = ['failureThreshold', 'successThreshold', 'openMs'];
const INT32 = 2 ** 31 - 1;

function breakerOption(value) {
  const o = checkOptions(value, BREAKER_OPTIONS, 'cluster.outbox.breaker');
  return {
    failureThreshold: integerOption(o.failureThreshold, 'cluster.outbox.breaker.failureThreshold', { min: 1, max: 1e6, fallback: 5 }),
    successThreshold: integerOption(o.successThreshold, 'cluster.outbox.breaker.successThreshold', { min: 1, max: 1e6, fallback: 1 }),
    openMs: integerOption(o.openMs, 'cluster.outbox.breaker.openMs', { min: 1, max: INT32, fallback: 1000 }),
  };
}

function outboxOption(value) {
  const o = checkOptions(value, OUTBOX_OPTIONS, 'cluster.outbox');
  const out = {
    capacity: integerOption(o.capacity, 'cluster.outbox.capacity', { min: 1, max: 1e6, fallback: 1000 }),
    ttlMs: integerOption(o.ttlMs, 'cluster.outbox.ttlMs', { min: 0, max: INT32, fallback: 30000 }),
    maxAttempts: integerOption(o.maxAttempts, 'cluster.outbox.maxAttempts', { min: 1, max: 1000, fallback: 5 }),
    initialDelayMs: integerOption(o.initialDelayMs, 'cluster.outbox.initialDelayMs', { min: 0, max: INT32, fallback: 100 }),
    maxDelayMs: integerOption(o.maxDelayMs, 'cluster.outbox.maxDelayMs', { min: 0, max: INT32, fallback: 5000 }),
    breaker: breakerOption(o.breaker),
  };
  if (out.maxDelayMs < out.initialDelayMs) throw outOfRange('cluster.outbox.maxDelayMs must be at least initialDelayMs');
  return out;
}

// -> null (no redis: one process) or { redis: wrapRedis(client), keyPrefix, heartbeatInterval,
// heartbeatTimeout, requestsTimeout, commandTimeout, outbox }
function parseClusterOptions(redis, cluster) {
  if (redis === undefined || redis === null) {
    if (cluster !== undefined && cluster !== null) throw invalidArgument('cluster options need a redis client (createAdapter({ redis, cluster }))');
    return null;
  }
  let wrapped;
  try {
    wrapped = typeof redis.kind === 'string' && typeof redis.evalScript === 'function' ? redis : wrapRedis(redis);
  } catch {
    throw invalidArgument('redis must be a client of the "ioredis" or the "redis" package');
  }
  const o = checkOptions(cluster === null ? undefined : cluster, CLUSTER_OPTIONS, 'cluster');
  const keyPrefix = o.keyPrefix === undefined ? 'realtime-core' : o.keyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0 || /[{}\0]/.test(keyPrefix)) {
    throw invalidArgument('cluster.keyPrefix must be a non-empty string without braces or NUL');
  }
  const heartbeatInterval = integerOption(o.heartbeatInterval, 'cluster.heartbeatInterval', { min: 1, max: INT32, fallback: 5000 });
  const heartbeatTimeout = integerOption(o.heartbeatTimeout, 'cluster.heartbeatTimeout', { min: 1, max: INT32, fallback: 10000 });
  if (heartbeatTimeout <= heartbeatInterval) throw outOfRange('cluster.heartbeatTimeout must be greater than cluster.heartbeatInterval');
  return {
    redis: wrapped,
    // a hash tag: every key and channel of a deployment in one Redis Cluster slot
    keyPrefix: `{${keyPrefix}}`,
    heartbeatInterval,
    heartbeatTimeout,
    requestsTimeout: integerOption(o.requestsTimeout, 'cluster.requestsTimeout', { min: 1, max: INT32, fallback: 5000 }),
    commandTimeout: integerOption(o.commandTimeout, 'cluster.commandTimeout', { min: 1, max: INT32, fallback: 5000 }),
    outbox: outboxOption(o.outbox),
  };
}

module.exports = { parseClusterOptions };
