'use strict';

// lib/redis/client.js wrapRedis() against a real redis-server, with both client libraries.

const IORedis = require('ioredis');
const { createClient } = require('redis');
const { startRedis } = require('../helpers/redis');
const { wrapRedis } = require('../../lib/redis/client');

jest.setTimeout(30000);

function waitFor(predicate, what, timeout = 15000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - t0 > timeout) return reject(new Error(`timed out waiting for ${what}`));
      return setTimeout(check, 10);
    };
    check();
  });
}

const KINDS = {
  ioredis: {
    async make(url) {
      const c = new IORedis(url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
      c.on('error', () => {});
      await new Promise((resolve) => { if (c.status === 'ready') resolve(); else c.once('ready', resolve); });
      return c;
    },
    close: (c) => c.disconnect(),
  },
  'node-redis': {
    async make(url) {
      const c = createClient({ url, socket: { reconnectStrategy: () => 50 } });
      c.on('error', () => {});
      await c.connect();
      return c;
    },
    close: (c) => { if (c.isOpen) c.destroy(); },
  },
};

let redis;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { if (redis) await redis.stop(); });

test('refuses what is not a redis client', () => {
  expect(() => wrapRedis({})).toThrow(TypeError);
  expect(() => wrapRedis(null)).toThrow(TypeError);
});

describe.each(Object.keys(KINDS))('%s', (kind) => {
  const { make, close } = KINDS[kind];
  let client;
  let r;
  const opened = [];
  beforeEach(async () => {
    if (!redis.running) await redis.start();
    client = await make(redis.url);
    r = wrapRedis(client);
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    close(client);
  });

  test('kind, command (strings, integers, arrays) and commandBuffer (Buffers)', async () => {
    expect(r.kind).toBe(kind);
    expect(r.isReady()).toBe(true);
    const key = `t:${kind}:a`;
    expect(await r.command(['SET', key, 'héllo'])).toBe('OK');
    expect(await r.command(['GET', key])).toBe('héllo');
    expect(await r.command(['INCR', `${key}:n`])).toBe(1);
    await r.command(['RPUSH', `${key}:l`, 'x', 'y']);
    expect(await r.command(['LRANGE', `${key}:l`, 0, -1])).toEqual(['x', 'y']);
    const bin = Buffer.from([0, 255, 1, 128]);
    await r.command(['SET', `${key}:b`, bin]);
    const back = await r.commandBuffer(['GET', `${key}:b`]);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back.equals(bin)).toBe(true);
    const list = await r.commandBuffer(['LRANGE', `${key}:l`, 0, -1]);
    expect(list.map((b) => Buffer.isBuffer(b))).toEqual([true, true]);
    expect(await r.command(['GET', `${key}:missing`])).toBeNull();
    await expect(r.command(['NOSUCHCOMMAND'])).rejects.toThrow();
  });

  test('evalScript loads the script on NOSCRIPT, then uses EVALSHA', async () => {
    await r.command(['SCRIPT', 'FLUSH']);
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])";
    const key = `t:${kind}:eval`;
    expect(await r.evalScript(script, [key], ['v1'])).toBe('v1');
    // the script is cached now: EVALSHA succeeds without a fallback
    const sha = require('crypto').createHash('sha1').update(script).digest('hex');
    expect(await r.command(['SCRIPT', 'EXISTS', sha])).toEqual([1]);
    expect(await r.evalScript(script, [key], ['v2'])).toBe('v2');
    const buf = await r.evalScriptBuffer(script, [key], [Buffer.from([1, 2, 3])]);
    expect(Buffer.isBuffer(buf) && buf.equals(Buffer.from([1, 2, 3]))).toBe(true);
    await r.command(['SCRIPT', 'FLUSH']);
    expect(await r.evalScript(script, [key], ['v3'])).toBe('v3');
  });

  test('publish / subscriber: Buffer messages on a duplicate connection', async () => {
    const sub = await r.subscriber();
    opened.push(sub);
    const got = [];
    await sub.subscribe(`ch:${kind}`, (message, channel) => got.push([message, channel]));
    await sub.subscribe(`ch2:${kind}`, (message) => got.push([message, 'second']));
    const payload = Buffer.from([0x93, 0x00, 0xff]);
    expect(await r.publish(`ch:${kind}`, payload)).toBe(1);
    await r.publish(`ch2:${kind}`, 'text');
    await waitFor(() => got.length === 2, 'two messages');
    expect(Buffer.isBuffer(got[0][0]) && got[0][0].equals(payload)).toBe(true);
    expect(got[0][1]).toBe(`ch:${kind}`);
    expect(got[1][0].toString()).toBe('text');
    await sub.unsubscribe(`ch2:${kind}`);
    expect(await r.publish(`ch2:${kind}`, 'nobody')).toBe(0);
  });

  test('onState reports down and ready across a Redis restart; subscriptions come back', async () => {
    const states = [];
    const off = r.onState((s) => states.push(s));
    const sub = await r.subscriber();
    opened.push(sub);
    const got = [];
    await sub.subscribe(`rs:${kind}`, (m) => got.push(m.toString()));
    await redis.stop();
    await waitFor(() => states.includes('down'), "'down'");
    expect(r.isReady()).toBe(false);
    await redis.start();
    await waitFor(() => states[states.length - 1] === 'ready', "'ready'");
    expect(states).toEqual(['down', 'ready']);
    expect(await r.command(['PING'])).toBe('PONG');
    // the duplicate resubscribes by itself; publish until it hears one
    let n = 0;
    await waitFor(() => {
      r.publish(`rs:${kind}`, `m${n++}`).catch(() => {});
      return got.length > 0;
    }, 'a message after the restart');
    off();
  });
});
