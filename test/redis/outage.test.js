'use strict';

// Redis stopped and restarted while two nodes serve clients: no crash, local delivery never
// stops, cross-node messages emitted during the outage are delivered after it (the outbox), the
// state is reported, and a session saved before the outage is not recovered partially.

const { io: connectClient } = require('socket.io-client');
const { startRedis } = require('../helpers/redis');
const { Inbox, once, closeClients } = require('../socket.io/helpers');
const { startNode, startFront, serverCounts, waitFor } = require('./cluster_harness');

jest.setTimeout(90000);

const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);
const CASES = IMPLS.map((impl) => [impl, impl === 'native' ? 'ioredis' : 'node-redis']);

describe.each(CASES)('Redis outage (%s, %s)', (impl, client) => {
  let redis;
  let A;
  let B;
  const clients = [];

  beforeAll(async () => {
    redis = await startRedis();
    const opts = { redisUrl: redis.url, impl, client };
    [A, B] = await Promise.all([startNode('A', opts), startNode('B', opts)]);
    await serverCounts([A, B], 2);
  });

  afterAll(async () => {
    closeClients(clients);
    await Promise.all([A, B].filter(Boolean).map((n) => n.close()));
    if (redis) await redis.stop();
  });

  async function connect(node, rooms, name) {
    const socket = connectClient(`http://127.0.0.1:${node.port}`, {
      transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms, user: name },
    });
    clients.push(socket);
    const inbox = new Inbox(socket);
    await once(socket, 'connect');
    return { socket, inbox };
  }

  test('stop and restart Redis mid-run', async () => {
    const a1 = await connect(A, ['r1'], 'a1');
    const b1 = await connect(B, ['r1'], 'b1');
    const z = await connect(A, ['r1'], 'z');
    await B.call('emit', { rooms: ['r1'], event: 'before' });
    await Promise.all([a1, b1, z].map((c) => c.inbox.count(1, 'before')));

    // z disconnects before the outage (its session is saved in Redis)
    const saved = (await A.call('metrics')).cluster.sessionsSaved;
    const gone = once(z.socket, 'disconnect');
    z.socket.io.engine.close();
    await gone;
    await waitFor(async () => (await A.call('metrics')).cluster.sessionsSaved > saved, 'z session saved');

    await redis.stop();
    await waitFor(() => A.states.includes('disconnected') && B.states.includes('disconnected'), "'cluster-state' disconnected");

    // local delivery goes on, in order
    for (let i = 1; i <= 3; i++) await A.call('emit', { rooms: ['r1'], event: 'during-a', args: [i] });
    await B.call('emit', { rooms: ['r1'], event: 'during-b', args: [1] });
    await a1.inbox.count(3, 'during-a');
    expect(a1.inbox.named('during-a').map((e) => e[1])).toEqual([1, 2, 3]);
    await b1.inbox.count(1, 'during-b');
    // an acknowledged emit reaches the local sockets too
    const acks = await A.call('emitWithAck', { rooms: ['r1'], event: 'q', args: [1], timeout: 500 }).catch((e) => e);
    expect(acks).toBeInstanceOf(Error); // a1 does not answer 'q' (no handler): timed out, no crash

    const mA = await A.call('metrics');
    expect(mA.cluster.state).toBe('disconnected');
    expect(mA.cluster.outbox).toBe(3);
    expect(mA.cluster.unrecorded).toBeGreaterThanOrEqual(3);
    // the nodes forget each other (no heartbeats)
    await serverCounts([A], 1);
    await serverCounts([B], 1);

    await redis.start();
    await waitFor(() => A.states[A.states.length - 1] === 'connected' && B.states[B.states.length - 1] === 'connected', "'cluster-state' connected");
    await serverCounts([A, B], 2);

    // what was emitted during the outage crosses over now, in order
    await b1.inbox.count(3, 'during-a');
    expect(b1.inbox.named('during-a').map((e) => e[1])).toEqual([1, 2, 3]);
    await a1.inbox.count(1, 'during-b');
    await waitFor(async () => (await A.call('metrics')).cluster.outbox === 0, 'outbox drained');

    // and new traffic flows both ways, recorded again
    await A.call('emit', { rooms: ['r1'], event: 'after', args: ['x'] });
    await b1.inbox.count(1, 'after');
    expect(typeof b1.inbox.named('after')[0][2]).toBe('string');
    await B.call('emit', { rooms: ['r1'], event: 'after', args: ['y'] });
    await a1.inbox.count(2, 'after');

    // z missed packets that were never recorded: it gets a fresh session, not a partial replay
    const back = once(z.socket, 'connect');
    z.socket.connect();
    await back;
    expect(z.socket.recovered).toBe(false);

    const m = await A.call('metrics');
    expect(m.cluster.dropped).toBe(0);
    expect(m.cluster.queued).toBe(3);
    expect(m.cluster.redelivered).toBe(3);
    expect(m.cluster.state).toBe('connected');
    expect(A.child.exitCode).toBeNull();
    expect(B.child.exitCode).toBeNull();
  });

  test('an outage longer than the outbox: the oldest messages are dropped and counted', async () => {
    const a2 = await connect(A, ['r9'], 'a2');
    const b2 = await connect(B, ['r9'], 'b2');
    const before = (await A.call('metrics')).cluster;
    await redis.stop();
    await waitFor(() => A.states[A.states.length - 1] === 'disconnected', "'cluster-state' disconnected");
    // the servers of these tests keep 100 messages (cluster_server.js outbox.capacity)
    await A.call('emitSeries', { rooms: ['r9'], event: 'flood', n: 110 });
    await a2.inbox.count(110, 'flood');
    expect((await A.call('metrics')).cluster.dropped - before.dropped).toBe(10);
    await redis.start();
    await waitFor(() => A.states[A.states.length - 1] === 'connected', "'cluster-state' connected");
    await b2.inbox.count(100, 'flood');
    await A.call('emit', { rooms: ['r9'], event: 'flood-end' });
    await b2.inbox.count(1, 'flood-end');
    expect(b2.inbox.named('flood').map((e) => e[1])).toEqual(Array.from({ length: 100 }, (_, i) => i + 11));
    expect(a2.inbox.named('flood').map((e) => e[1])).toEqual(Array.from({ length: 110 }, (_, i) => i + 1));
  });
});

// Redis unreachable but its data kept (a network partition): the sessions saved before are still
// in Redis, the packets emitted meanwhile are not: those sessions are refused ('outage').
describe(`Redis unreachable, data kept (${IMPLS[0]}, ioredis)`, () => {
  let redis;
  let front;
  let A;
  const clients = [];

  beforeAll(async () => {
    redis = await startRedis();
    front = await startFront(redis.port);
    A = await startNode('A', { redisUrl: `redis://127.0.0.1:${front.port}`, impl: IMPLS[0] });
  });

  afterAll(async () => {
    closeClients(clients);
    if (front) front.resume();
    if (A) await A.close();
    if (front) await front.close();
    if (redis) await redis.stop();
  });

  test('a session that missed unrecorded packets is not recovered; later ones are', async () => {
    const connect = async (name) => {
      const socket = connectClient(`http://127.0.0.1:${A.port}`, {
        transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms: ['r1'], user: name },
      });
      clients.push(socket);
      const inbox = new Inbox(socket);
      await once(socket, 'connect');
      return { socket, inbox };
    };
    const drop = async (c) => {
      const saved = (await A.call('metrics')).cluster.sessionsSaved;
      const gone = once(c.socket, 'disconnect');
      c.socket.io.engine.close();
      await gone;
      await waitFor(async () => (await A.call('metrics')).cluster.sessionsSaved > saved, 'session saved');
    };
    const z = await connect('z');
    const live = await connect('live');
    await A.call('emit', { rooms: ['r1'], event: 'before' });
    await z.inbox.count(1, 'before');
    await drop(z);

    front.pause();
    await waitFor(() => A.states.includes('disconnected'), "'cluster-state' disconnected");
    await A.call('emit', { rooms: ['r1'], event: 'unrecorded' });
    await live.inbox.count(1, 'unrecorded');
    front.resume();
    await waitFor(() => A.states[A.states.length - 1] === 'connected', "'cluster-state' connected");
    // the gap is marked on reconnection; a packet recorded after it proves it is in place
    await A.call('emit', { rooms: ['r1'], event: 'recorded' });
    await live.inbox.count(1, 'recorded');

    const back = once(z.socket, 'connect');
    z.socket.connect();
    await back;
    expect(z.socket.recovered).toBe(false);
    expect(z.inbox.named('unrecorded')).toEqual([]);
    expect((await A.call('metrics')).recoveryFailuresByReason.outage).toBe(1);

    // a session saved after the outage recovers as usual
    const y = await connect('y');
    await A.call('emit', { rooms: ['r1'], event: 'one' });
    await y.inbox.count(1, 'one');
    await drop(y);
    await A.call('emit', { rooms: ['r1'], event: 'two' });
    await live.inbox.count(1, 'two');
    const back2 = once(y.socket, 'connect');
    y.socket.connect();
    await back2;
    expect(y.socket.recovered).toBe(true);
    await y.inbox.count(1, 'two');
  });
});
