'use strict';

// OfflineQueue (docs/offline-queue.md), in memory, on both implementations.

const { IMPLS, codeOf } = require('../helpers/impls');
const { mulberry32 } = require('../differential/generators');

const T0 = 1_800_000_000_000;

function make(rt, options = {}) {
  const clock = { now: T0 };
  const queue = new rt.OfflineQueue({ seed: 1, clock: () => clock.now, ...options });
  const events = [];
  for (const name of ['dropped', 'dead-letter', 'breaker']) queue.on(name, (e) => events.push([name, e]));
  return { queue, clock, events, take: () => events.splice(0) };
}

const item = (event, payload, key) => (key === undefined ? { event, payload } : { event, payload, key });
const offsets = (items) => items.map((i) => i.offset);

// Everything observable, for "nothing changed" checks.
function observe(queue) {
  return JSON.stringify({
    clients: queue.clients(),
    items: queue.clients().map((c) => queue.peek(c, { limit: 1e6 })),
    dead: queue.deadLetters(),
    size: queue.size(),
  });
}

describe.each(IMPLS)('OfflineQueue (%s)', (_name, rt) => {
  test('push, peek: offsets per client, order, payloads as given', () => {
    const { queue, clock } = make(rt);
    expect(queue.push('u1', item('a', '{"n":1}'))).toEqual({ offset: 1, dropped: [] });
    clock.now += 5;
    expect(queue.push('u1', item('b', Buffer.from([1, 2, 3]), 'k'))).toEqual({ offset: 2, dropped: [] });
    expect(queue.push('u2', item('c', 'x'))).toEqual({ offset: 1, dropped: [] });
    const got = queue.peek('u1');
    expect(got).toEqual([
      { clientId: 'u1', offset: 1, event: 'a', payload: '{"n":1}', attempts: 0, pushedAt: T0 },
      { clientId: 'u1', offset: 2, event: 'b', payload: Buffer.from([1, 2, 3]), key: 'k', attempts: 0, pushedAt: T0 + 5 },
    ]);
    expect(Buffer.isBuffer(got[1].payload)).toBe(true);
    expect(typeof got[0].payload).toBe('string');
    expect(offsets(queue.peek('u1', { after: 1 }))).toEqual([2]);
    expect(offsets(queue.peek('u1', { limit: 1 }))).toEqual([1]);
    expect(queue.peek('nobody')).toEqual([]);
    expect(queue.size()).toBe(3);
    expect(queue.size('u1')).toBe(2);
    expect(queue.size('nobody')).toBe(0);
    expect(queue.clients()).toEqual(['u1', 'u2']);
    // a payload given as bytes is copied: changing the caller's buffer changes nothing inside
    const bytes = Buffer.from('abc');
    queue.push('u3', item('e', bytes));
    bytes[0] = 0x7a;
    expect(queue.peek('u3')[0].payload.toString()).toBe('abc');
  });

  test('peek and due hand back every kind of payload exactly', () => {
    const { queue } = make(rt, { capacity: 100 });
    const payloads = ['', 'a', '{"ascii":"only text here, long enough to be sliced"}', Buffer.from([0, 200, 255]), 'x'.repeat(3000), Buffer.alloc(0), '\u0000\u007f'];
    for (const p of payloads) queue.push('c', item('e', p));
    const check = (got) => {
      expect(got.map((i) => i.payload)).toEqual(payloads);
      got.forEach((i, k) => expect(Buffer.isBuffer(i.payload)).toBe(Buffer.isBuffer(payloads[k])));
    };
    check(queue.peek('c'));
    check(queue.due());
    // one non-ASCII text among them
    queue.push('c', item('e', 'é😀'));
    expect(queue.peek('c').map((i) => i.payload)).toEqual([...payloads, 'é😀']);
  });

  test('overflow drop-oldest (the default), with the dropped item reported', () => {
    const { queue, take } = make(rt, { capacity: 3 });
    for (let i = 0; i < 3; i++) queue.push('c', item('e', `p${i}`));
    expect(queue.push('c', item('e', 'p3'))).toEqual({ offset: 4, dropped: [{ offset: 1, reason: 'overflow' }] });
    expect(offsets(queue.peek('c'))).toEqual([2, 3, 4]);
    expect(take()).toEqual([['dropped', { clientId: 'c', offset: 1, reason: 'overflow' }]]);
    expect(queue.stats().dropped.overflow).toBe(1);
  });

  test('overflow drop-newest: the new item is not queued and uses no offset', () => {
    const { queue, take } = make(rt, { capacity: 2, overflow: 'drop-newest' });
    queue.push('c', item('e', '1'));
    queue.push('c', item('e', '2'));
    expect(queue.push('c', item('e', '3'))).toEqual({ offset: null, dropped: [{ offset: null, reason: 'overflow' }] });
    expect(take()).toEqual([['dropped', { clientId: 'c', offset: null, reason: 'overflow' }]]);
    queue.ack('c', 2);
    expect(queue.push('c', item('e', '4')).offset).toBe(3);
  });

  test('overflow reject: ERR_RT_QUEUE_FULL and nothing changes; pushMany is all or nothing', () => {
    const { queue } = make(rt, { capacity: 2, overflow: 'reject' });
    queue.push('c', item('e', '1', 'k'));
    queue.push('c', item('e', '2'));
    const before = observe(queue);
    expect(codeOf(() => queue.push('c', item('e', '3')))).toBe('ERR_RT_QUEUE_FULL');
    expect(observe(queue)).toBe(before);
    // coalescing makes room, so the same key is accepted
    expect(queue.push('c', item('e', '1b', 'k'))).toEqual({ offset: 3, dropped: [{ offset: 1, reason: 'coalesced' }] });
    const { queue: q2 } = make(rt, { capacity: 3, overflow: 'reject' });
    q2.push('c', item('e', '1'));
    const before2 = observe(q2);
    expect(codeOf(() => q2.pushMany('c', [item('e', '2'), item('e', '3'), item('e', '4')]))).toBe('ERR_RT_QUEUE_FULL');
    expect(observe(q2)).toBe(before2);
  });

  test('coalescing by key: the newest payload wins and goes to the end with a new offset', () => {
    const { queue, take } = make(rt);
    queue.push('dev', item('status', 'online', 'device:1'));
    queue.push('dev', item('alert', 'hot'));
    const r = queue.push('dev', item('status', 'offline', 'device:1'));
    expect(r).toEqual({ offset: 3, dropped: [{ offset: 1, reason: 'coalesced' }] });
    expect(queue.peek('dev').map((i) => [i.offset, i.payload])).toEqual([[2, 'hot'], [3, 'offline']]);
    expect(take()).toEqual([['dropped', { clientId: 'dev', offset: 1, reason: 'coalesced' }]]);
    // keys are per client
    queue.push('other', item('status', 'x', 'device:1'));
    expect(queue.size('dev')).toBe(2);
    expect(queue.stats().dropped.coalesced).toBe(1);
  });

  test('pushMany: each item coalesces and overflows as if pushed one by one', () => {
    const { queue } = make(rt, { capacity: 3 });
    const r = queue.pushMany('c', [item('e', 'a', 'k'), item('e', 'b'), item('e', 'c', 'k'), item('e', 'd'), item('e', 'e')]);
    expect(r).toEqual({
      offsets: [1, 2, 3, 4, 5],
      dropped: [{ offset: 1, reason: 'coalesced' }, { offset: 2, reason: 'overflow' }],
    });
    expect(offsets(queue.peek('c'))).toEqual([3, 4, 5]);
    expect(queue.pushMany('c', [])).toEqual({ offsets: [], dropped: [] });
  });

  test('TTL: expired items are dropped on access and by sweep', () => {
    const { queue, clock, take } = make(rt, { ttlMs: 1000 });
    queue.push('a', item('e', '1'));
    queue.push('b', item('e', '2'));
    clock.now += 500;
    queue.push('a', item('e', '3'));
    clock.now += 499;
    expect(offsets(queue.peek('a'))).toEqual([1, 2]);
    clock.now += 1;
    expect(offsets(queue.peek('a'))).toEqual([2]);
    expect(take()).toEqual([['dropped', { clientId: 'a', offset: 1, reason: 'expired' }]]);
    expect(queue.size('b')).toBe(1); // size only reads
    expect(queue.sweep()).toBe(1);
    expect(take()).toEqual([['dropped', { clientId: 'b', offset: 1, reason: 'expired' }]]);
    expect(queue.clients()).toEqual(['a']);
    expect(queue.stats().dropped.expired).toBe(2);
  });

  test('ack is cumulative; offsets are never reused', () => {
    const { queue } = make(rt);
    for (let i = 0; i < 5; i++) queue.push('c', item('e', String(i)));
    expect(queue.ack('c', 3)).toBe(3);
    expect(offsets(queue.peek('c'))).toEqual([4, 5]);
    expect(queue.ack('c', 2)).toBe(0);
    expect(codeOf(() => queue.ack('c', 6))).toBe('ERR_RT_INVALID_OFFSET');
    expect(queue.ack('c', 5)).toBe(2);
    expect(queue.clients()).toEqual([]);
    expect(queue.push('c', item('e', 'again')).offset).toBe(6);
    expect(codeOf(() => queue.ack('never', 1))).toBe('ERR_RT_INVALID_OFFSET');
    expect(queue.ack('never', 0)).toBe(0);
  });

  test('nack: backoff without jitter, then dead letters after maxAttempts', () => {
    const { queue, clock, take } = make(rt, { jitter: 'none', initialDelayMs: 100, multiplier: 3, maxDelayMs: 250, maxAttempts: 3 });
    queue.push('c', item('e', 'x'));
    expect(queue.nack('c', 1, 'timeout')).toEqual({ status: 'retry', attempts: 1, retryAt: T0 + 100 });
    clock.now += 100;
    expect(queue.nack('c', 1)).toEqual({ status: 'retry', attempts: 2, retryAt: T0 + 100 + 250 });
    clock.now += 10;
    expect(queue.nack('c', 1, 'gone')).toEqual({ status: 'dead', attempts: 3 });
    expect(queue.size()).toBe(0);
    expect(queue.deadLetters()).toEqual([
      { clientId: 'c', offset: 1, event: 'e', payload: 'x', attempts: 3, pushedAt: T0, reason: 'gone', deadAt: T0 + 110 },
    ]);
    expect(take()).toEqual([['dead-letter', { clientId: 'c', offset: 1, event: 'e', attempts: 3, reason: 'gone' }]]);
    expect(codeOf(() => queue.nack('c', 1))).toBe('ERR_RT_INVALID_OFFSET');
    expect(queue.clearDeadLetters()).toBe(1);
    expect(queue.deadLetters()).toEqual([]);
    const s = queue.stats();
    expect([s.retried, s.deadLettered, s.deadLetters]).toEqual([2, 1, 0]);
  });

  test('maxDeadLetters keeps the newest', () => {
    const { queue } = make(rt, { maxAttempts: 1, maxDeadLetters: 2 });
    for (let i = 1; i <= 3; i++) {
      queue.push('c', item('e', String(i)));
      queue.nack('c', i);
    }
    expect(offsets(queue.deadLetters())).toEqual([2, 3]);
    expect(queue.stats().dropped.deadLetterOverflow).toBe(1);
  });

  test.each(['full', 'equal', 'decorrelated'])('jitter %s follows the seeded sequence exactly', (jitter) => {
    const opts = { jitter, initialDelayMs: 1000, multiplier: 2, maxDelayMs: 30000, maxAttempts: 50, seed: 42 };
    const { queue, clock } = make(rt, opts);
    queue.push('c', item('e', 'x'));
    const rnd = mulberry32(42);
    let base = opts.initialDelayMs;
    let prev = opts.initialDelayMs;
    for (let n = 1; n <= 8; n++) {
      if (n > 1) base = Math.min(opts.maxDelayMs, base * opts.multiplier);
      const r = rnd();
      let delay;
      if (jitter === 'full') delay = Math.floor(r * base);
      else if (jitter === 'equal') delay = Math.floor(base / 2 + (r * base) / 2);
      else delay = Math.floor(Math.min(opts.maxDelayMs, opts.initialDelayMs + r * Math.max(0, prev * 3 - opts.initialDelayMs)));
      prev = delay;
      expect([n, queue.nack('c', 1).retryAt - clock.now]).toEqual([n, delay]);
    }
  });

  test('due: ready items in (retryAt, client, offset) order, marked in flight; a waiting retry blocks its client', () => {
    const { queue, clock } = make(rt, { jitter: 'none', initialDelayMs: 100 });
    queue.push('a', item('e', 'a1'));
    queue.push('a', item('e', 'a2'));
    clock.now += 1;
    queue.push('b', item('e', 'b1'));
    const first = queue.due({ limit: 2 });
    expect(first.map((i) => [i.clientId, i.offset])).toEqual([['a', 1], ['a', 2]]);
    expect(queue.due().map((i) => [i.clientId, i.offset])).toEqual([['b', 1]]);
    expect(queue.due()).toEqual([]); // all in flight
    expect(queue.stats().inFlight).toBe(3);
    // a1 fails: it waits 100 ms; a2 (in flight) was already handed out
    queue.nack('a', 1);
    expect(queue.due()).toEqual([]);
    queue.push('a', item('e', 'a3'));
    expect(queue.due()).toEqual([]); // a3 waits behind a1's retry
    clock.now += 100;
    expect(queue.due().map((i) => [i.offset, i.attempts])).toEqual([[1, 1], [3, 0]]);
    // release: back to deliverable without an attempt
    queue.release('a', 3);
    expect(queue.due().map((i) => [i.offset, i.attempts])).toEqual([[3, 0]]);
    expect(queue.ackOne('a', 3)).toBe(true);
    expect(queue.ackOne('a', 3)).toBe(false);
    expect(offsets(queue.peek('a'))).toEqual([1, 2]);
  });

  test('circuit breaker: opens after failures, half-open trial, closes after successes', () => {
    const breaker = { failureThreshold: 2, successThreshold: 2, openMs: 1000 };
    const { queue, clock, take } = make(rt, { breaker, jitter: 'none', initialDelayMs: 0, maxAttempts: 100 });
    for (let i = 0; i < 4; i++) queue.push('c', item('e', String(i)));
    expect(queue.breakerState()).toBe('closed');
    queue.due({ limit: 2 });
    queue.nack('c', 1);
    expect(queue.ackOne('c', 2)).toBe(true); // a success resets the count
    queue.due({ limit: 1 });
    queue.nack('c', 1);
    queue.due({ limit: 1 });
    queue.nack('c', 1);
    expect(queue.breakerState()).toBe('open');
    expect(take()).toEqual([['breaker', { from: 'closed', to: 'open', at: T0 }]]);
    expect(queue.due()).toEqual([]);
    clock.now += 999;
    expect(queue.due()).toEqual([]);
    clock.now += 1;
    const trial = queue.due();
    expect(trial.map((i) => i.offset)).toEqual([1]);
    expect(take()).toEqual([['breaker', { from: 'open', to: 'half-open', at: T0 + 1000 }]]);
    expect(queue.due()).toEqual([]); // one trial at a time
    queue.ackOne('c', 1);
    expect(queue.breakerState()).toBe('half-open');
    queue.due();
    queue.nack('c', 3); // a failure in half-open opens again
    expect(queue.breakerState()).toBe('open');
    clock.now += 1000;
    queue.due();
    queue.ackOne('c', 3);
    queue.due();
    queue.ackOne('c', 4);
    expect(queue.breakerState()).toBe('closed');
    expect(take().map(([, e]) => `${e.from}>${e.to}`)).toEqual(['half-open>open', 'open>half-open', 'half-open>closed']);
    const noBreaker = make(rt, { breaker: false, maxAttempts: 100 }).queue;
    noBreaker.push('c', item('e', 'x'));
    for (let i = 0; i < 10; i++) noBreaker.nack('c', 1);
    expect(noBreaker.breakerState()).toBe('closed');
  });

  test('stats', () => {
    const { queue } = make(rt, { capacity: 2 });
    queue.push('a', item('e', 'xyz'));
    queue.push('a', item('e', Buffer.from([1, 2])));
    queue.push('a', item('e', 'é'));
    queue.ack('a', 2);
    const s = queue.stats();
    expect(s).toMatchObject({ clients: 1, items: 1, payloadBytes: 2, inFlight: 0, deadLetters: 0, pushed: 3, acked: 1, retried: 0, deadLettered: 0 });
    expect(s.dropped).toEqual({ overflow: 1, coalesced: 0, expired: 0, deadLetterOverflow: 0 });
    expect(s.breaker).toEqual({ state: 'closed', failures: 0, successes: 0, openedAt: null });
    expect(s.durable).toBeNull();
  });

  test('bad input: coded errors, queue unchanged', () => {
    const { queue } = make(rt, { maxItemBytes: 8 });
    queue.push('c', item('e', 'ok'));
    const before = observe(queue);
    const cases = [
      [() => queue.push('c', item('e', '123456789')), 'ERR_RT_TOO_LARGE'],
      [() => queue.push('c', item('e', 'éééé'.repeat(1) + 'x')), 'ERR_RT_TOO_LARGE'],
      [() => queue.push('c', item('e', Buffer.alloc(9))), 'ERR_RT_TOO_LARGE'],
      [() => queue.pushMany('c', [item('e', '1'), item('e', '123456789')]), 'ERR_RT_TOO_LARGE'],
      [() => queue.pushMany('c', [item('e', '1'), { event: 'e' }]), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('c', { event: 'e', payload: 5 }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('c', { event: '', payload: 'x' }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('c', { event: 'e', payload: 'x', key: 3 }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('c', { event: 'e', payload: 'x', extra: 1 }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('c', { event: 'e', payload: '\ud800' }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('', item('e', 'x')), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.push('c'.repeat(257), item('e', 'x')), 'ERR_RT_OUT_OF_RANGE'],
      [() => queue.push(null, item('e', 'x')), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.pushMany('c', 'nope'), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.ack('c', -1), 'ERR_RT_OUT_OF_RANGE'],
      [() => queue.ack('c', 1.5), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.ack('c', '1'), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.ack('c', 99), 'ERR_RT_INVALID_OFFSET'],
      [() => queue.nack('c', 99), 'ERR_RT_INVALID_OFFSET'],
      [() => queue.nack('c', 1, 5), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.peek('c', { after: -1 }), 'ERR_RT_OUT_OF_RANGE'],
      [() => queue.peek('c', { limit: 0 }), 'ERR_RT_OUT_OF_RANGE'],
      [() => queue.peek('c', { before: 1 }), 'ERR_RT_INVALID_ARGUMENT'],
      [() => queue.due({ limit: 'all' }), 'ERR_RT_INVALID_ARGUMENT'],
    ];
    for (const [fn, code] of cases) {
      expect([String(fn), codeOf(fn)]).toEqual([String(fn), code]);
      expect(observe(queue)).toBe(before);
    }
  });

  test('bad options: coded errors', () => {
    const bad = [
      [{ capacity: 0 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ capacity: 1.5 }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ overflow: 'drop' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ ttlMs: -1 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ maxAttempts: 0 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ multiplier: 0.5 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ multiplier: '2' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ initialDelayMs: 5000, maxDelayMs: 1000 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ jitter: 'random' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ seed: -1 }, 'ERR_RT_OUT_OF_RANGE'],
      [{ breaker: { failureThreshold: 0 } }, 'ERR_RT_OUT_OF_RANGE'],
      [{ breaker: { tries: 1 } }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ breaker: true }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ fsync: 'always' }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ path: 5 }, 'ERR_RT_INVALID_ARGUMENT'],
      [{ capcity: 5 }, 'ERR_RT_INVALID_ARGUMENT'],
    ];
    for (const [options, code] of bad) {
      expect([options, codeOf(() => new rt.OfflineQueue(options))]).toEqual([options, code]);
    }
  });

  test('close: flushes, then every call throws ERR_RT_CLOSED', async () => {
    const { queue } = make(rt);
    queue.push('c', item('e', 'x'));
    await queue.close();
    expect(codeOf(() => queue.push('c', item('e', 'y')))).toBe('ERR_RT_CLOSED');
    expect(codeOf(() => queue.peek('c'))).toBe('ERR_RT_CLOSED');
    await queue.close(); // idempotent
  });
});

describe.each(IMPLS)('createDelivery (%s)', (_name, rt) => {
  test('delivers everything once, retries failures with backoff, dead-letters what keeps failing', async () => {
    const queue = new rt.OfflineQueue({ seed: 3, initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 3, breaker: false });
    const attempts = new Map();
    const delivered = [];
    // a flaky sink: the first try of every third item fails; item "poison" always fails
    const send = async (it) => {
      const n = (attempts.get(it.payload) || 0) + 1;
      attempts.set(it.payload, n);
      await new Promise((r) => setTimeout(r, 1));
      if (it.payload === 'poison' || (it.offset % 3 === 0 && n === 1)) throw new Error(`refused ${it.payload}`);
      delivered.push(`${it.clientId}:${it.payload}`);
    };
    for (let i = 1; i <= 9; i++) queue.push(`u${i % 2}`, { event: 'e', payload: `p${i}` });
    queue.push('u0', { event: 'e', payload: 'poison' });
    const delivery = rt.createDelivery(queue, { send, concurrency: 4, intervalMs: 2 });
    const deadline = Date.now() + 5000;
    while ((queue.size() > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await delivery.close();
    expect(queue.size()).toBe(0);
    expect(delivered.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `u${(i + 1) % 2}:p${i + 1}`).sort());
    expect(queue.deadLetters().map((d) => [d.payload, d.attempts, d.reason])).toEqual([['poison', 3, 'refused poison']]);
    expect(delivery.stats()).toMatchObject({ sent: 9, inFlight: 0 });
    await queue.close();
  });

  test('stops sending while the breaker is open', async () => {
    const queue = new rt.OfflineQueue({ breaker: { failureThreshold: 2, successThreshold: 1, openMs: 60000 }, maxAttempts: 100, initialDelayMs: 0 });
    for (let i = 0; i < 5; i++) queue.push('c', { event: 'e', payload: String(i) });
    let sends = 0;
    const delivery = rt.createDelivery(queue, { send: async () => { sends++; throw new Error('down'); }, concurrency: 1, intervalMs: 1 });
    const seenOpen = new Promise((r) => queue.on('breaker', (e) => e.to === 'open' && r()));
    await seenOpen;
    const atOpen = sends;
    await new Promise((r) => setTimeout(r, 50));
    expect(sends).toBe(atOpen);
    expect(queue.breakerState()).toBe('open');
    await delivery.close();
    await queue.close();
  });
});
