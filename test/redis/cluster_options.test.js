'use strict';

// createAdapter({ redis, cluster }) option checks (no Redis server needed: clients are never
// connected).

const IORedis = require('ioredis');
const { createClient } = require('redis');
const { createAdapter } = require('realtime-core/socket.io');

describe('createAdapter({ redis, cluster })', () => {
  const io = new IORedis({ lazyConnect: true });
  const nr = createClient();

  test('takes an ioredis or a node-redis client', () => {
    expect(typeof createAdapter({ redis: io })).toBe('function');
    expect(typeof createAdapter({ redis: nr, cluster: { heartbeatInterval: 100, heartbeatTimeout: 300 } })).toBe('function');
  });

  test('refuses what is not a client, cluster without redis, durable with redis, bad values', () => {
    expect(() => createAdapter({ redis: {} })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => createAdapter({ cluster: {} })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => createAdapter({ redis: io, durable: { path: '/tmp/x' } })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => createAdapter({ redis: io, cluster: { heartbeatIntervall: 5 } })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => createAdapter({ redis: io, cluster: { heartbeatInterval: 500, heartbeatTimeout: 500 } })).toThrow(expect.objectContaining({ code: 'ERR_RT_OUT_OF_RANGE' }));
    expect(() => createAdapter({ redis: io, cluster: { keyPrefix: 'a{b}' } })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => createAdapter({ redis: io, cluster: { outbox: { capacity: 0 } } })).toThrow(expect.objectContaining({ code: 'ERR_RT_OUT_OF_RANGE' }));
    expect(() => createAdapter({ redis: io, cluster: { outbox: { breaker: { openMs: 'x' } } } })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
  });
});
