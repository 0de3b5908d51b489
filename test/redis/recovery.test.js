'use strict';

// Connection-state recovery across nodes: a client disconnects from node A and reconnects (through
// a TCP front, as through a load balancer) to node B within the window; it gets every event it
// missed, once, in order, and socket.recovered is true. Both implementations.

const { io: connectClient } = require('socket.io-client');
const { startRedis } = require('../helpers/redis');
const { Inbox, once, closeClients } = require('../socket.io/helpers');
const { startNode, startFront, serverCounts, waitFor } = require('./cluster_harness');

jest.setTimeout(90000);

const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);
const seqOf = (offset) => Number(String(offset).split('-')[1]);

describe.each(IMPLS)('recovery across nodes (%s)', (impl) => {
  let redis;
  let A;
  let B;
  let front;
  const clients = [];

  beforeAll(async () => {
    redis = await startRedis();
    const opts = { redisUrl: redis.url, impl, client: impl === 'native' ? 'ioredis' : 'node-redis', env: { RT_AUTHZ: '1' } };
    [A, B] = await Promise.all([startNode('A', opts), startNode('B', opts)]);
    await serverCounts([A, B], 2);
    front = await startFront(A.port);
  });

  afterAll(async () => {
    closeClients(clients);
    if (front) await front.close();
    await Promise.all([A, B].filter(Boolean).map((n) => n.close()));
    if (redis) await redis.stop();
  });

  // a client through the front, in `rooms`, that has received one recorded event (an offset)
  async function viaFront(name, rooms) {
    const socket = connectClient(`http://127.0.0.1:${front.port}`, {
      transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms, user: name },
    });
    clients.push(socket);
    const inbox = new Inbox(socket);
    await once(socket, 'connect');
    return { socket, inbox };
  }

  // the front sends new connections to `to`, and drops the current ones; resolves once the
  // session was saved in Redis by the node the client was on
  async function moveTo(client, from, to) {
    const saved = (await from.call('metrics')).cluster.sessionsSaved;
    front.setTarget(to.port);
    const gone = once(client.socket, 'disconnect');
    front.dropAll();
    await gone;
    await waitFor(async () => (await from.call('metrics')).cluster.sessionsSaved > saved, 'the session saved');
  }

  async function reconnect(client) {
    const back = once(client.socket, 'connect');
    client.socket.connect();
    await back;
    return client.socket.recovered;
  }

  test('A -> B: every missed event once, in order, with its rooms and data', async () => {
    const x = await viaFront('x', ['r1', 'r2']);
    // y, straight to A (not through the front): sees the live stream
    const ySocket = connectClient(`http://127.0.0.1:${A.port}`, {
      transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms: ['r1'], user: 'y' },
    });
    clients.push(ySocket);
    const y = { socket: ySocket, inbox: new Inbox(ySocket) };
    await once(ySocket, 'connect');
    await A.call('emit', { rooms: ['r1'], event: 'before', args: [0] });
    await x.inbox.count(1, 'before');
    const sid = x.socket.id;
    expect(await A.call('localRooms', { sid })).toEqual([sid, 'r1', 'r2'].sort());

    await moveTo(x, A, B);

    // missed: from both nodes, to its rooms, to it alone, to everyone; and what it must not get
    const expected = [];
    for (let i = 1; i <= 5; i++) {
      const from = i % 2 ? A : B;
      await from.call('emit', { rooms: ['r1'], event: 'missed', args: [`r1-${i}`] });
      expected.push(`r1-${i}`);
      await from.call('emit', { rooms: ['r2'], event: 'missed', args: [`r2-${i}`, { n: i }] });
      expected.push(`r2-${i}`);
    }
    await B.call('emit', { rooms: [sid], event: 'missed', args: ['unicast'] });
    expected.push('unicast');
    await A.call('emitBinary', { rooms: ['r2'], event: 'bin', text: 'bytes' });
    await A.call('emit', { event: 'missed', args: ['everyone'] });
    expected.push('everyone');
    await A.call('emit', { rooms: ['r2'], except: ['r1'], event: 'missed', args: ['excepted'] });
    await B.call('emit', { rooms: ['other'], event: 'missed', args: ['other-room'] });
    await A.call('emitVolatile', { rooms: ['r1'], event: 'missed', args: ['volatile'] });
    // y (connected to A, in r1) sees the r1 ones live: the stream has been published
    await y.inbox.until((evs) => evs.some((e) => e[1] === 'everyone'), 'the live stream on A');

    x.inbox.clear();
    expect(await reconnect(x)).toBe(true);
    expect(x.socket.id).toBe(sid);
    // a live event after the recovery: the replay is complete once it is here
    await B.call('emit', { rooms: ['r1'], event: 'live', args: ['after'] });
    await x.inbox.count(1, 'live');
    const missed = x.inbox.named('missed');
    expect(missed.map((e) => e[1]).sort()).toEqual([...expected].sort());
    // in order: the global order of offsets; each node's emits in the order it made them
    const seqs = missed.map((e) => seqOf(e[e.length - 1]));
    expect([...seqs].sort((p, q) => p - q)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    // (emits of different nodes are ordered by Redis, those of one node as it made them)
    const names1 = missed.map((e) => e[1]);
    expect(names1.filter((n) => ['r1-1', 'r1-3', 'r1-5'].includes(n))).toEqual(['r1-1', 'r1-3', 'r1-5']);
    expect(names1.filter((n) => ['r1-2', 'r1-4'].includes(n))).toEqual(['r1-2', 'r1-4']);
    expect(missed.find((e) => e[1] === 'r2-3').slice(2, 3)).toEqual([{ n: 3 }]);
    // a binary packet is recorded and replayed too
    const bin = x.inbox.named('bin');
    expect(bin.length).toBe(1);
    expect(Buffer.from(bin[0][1]).toString()).toBe('bytes');
    expect(typeof bin[0][2]).toBe('string');
    // the live event came after the replay, once
    const names = x.inbox.events.map((e) => e[0]);
    expect(names.indexOf('live')).toBe(names.length - 1);
    expect(x.inbox.named('live').length).toBe(1);

    // restored on B: rooms and data
    expect(await B.call('localRooms', { sid })).toEqual([sid, 'r1', 'r2'].sort());
    const [info] = await A.call('fetchSockets', { rooms: [sid] });
    expect(info.data).toEqual({ user: 'x', node: 'A' });
    const m = await B.call('metrics');
    expect(m.recoveries).toBe(1);
  });

  test('emits racing with the restore: each arrives once, in order', async () => {
    front.setTarget(A.port);
    const w = await viaFront('w', ['r5']);
    await A.call('emit', { rooms: ['r5'], event: 'start' });
    await w.inbox.count(1, 'start');
    await moveTo(w, A, B);
    const N = 300;
    const series = [
      A.call('emitSeries', { rooms: ['r5'], event: 'fromA', n: N }),
      B.call('emitSeries', { rooms: ['r5'], event: 'fromB', n: N }),
    ];
    expect(await reconnect(w)).toBe(true);
    await Promise.all(series);
    await w.inbox.count(N, 'fromA');
    await w.inbox.count(N, 'fromB');
    const range = Array.from({ length: N }, (_, i) => i + 1);
    expect(w.inbox.named('fromA').map((e) => e[1])).toEqual(range);
    expect(w.inbox.named('fromB').map((e) => e[1])).toEqual(range);
    const seqs = w.inbox.events.filter((e) => e[0] === 'fromA' || e[0] === 'fromB').map((e) => seqOf(e[e.length - 1]));
    expect([...seqs].sort((p, q) => p - q)).toEqual(seqs);
  });

  test('authorizeJoin denies a restored room: not recovered (no partial replay)', async () => {
    front.setTarget(A.port);
    const v = await viaFront('v', ['vip']);
    await A.call('emit', { rooms: ['vip'], event: 'v1' });
    await v.inbox.count(1, 'v1');
    await A.call('setData', { sid: v.socket.id, key: 'revoked', value: true });
    await moveTo(v, A, B);
    await A.call('emit', { rooms: ['vip'], event: 'v2' });
    const failures = (await B.call('metrics')).recoveryFailuresByReason.denied;
    expect(await reconnect(v)).toBe(false);
    expect(v.inbox.named('v2')).toEqual([]);
    expect((await B.call('metrics')).recoveryFailuresByReason.denied).toBe(failures + 1);
  });

  test('a session is restored once; an unknown one or a bad offset gets a fresh session', async () => {
    front.setTarget(A.port);
    const z = await viaFront('z', ['r1']);
    await B.call('emit', { rooms: ['r1'], event: 'one', args: [1] });
    await z.inbox.count(1, 'one');
    const { _pid: pid, _lastOffset: offset } = z.socket;
    await moveTo(z, A, B);
    expect(await reconnect(z)).toBe(true);

    // the same session again (from a second client with its pid and offset): consumed
    const again = connectClient(`http://127.0.0.1:${A.port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    clients.push(again);
    again._pid = pid;
    again._lastOffset = offset;
    await once(again, 'connect');
    expect(again.recovered).toBe(false);

    const bad = connectClient(`http://127.0.0.1:${B.port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    clients.push(bad);
    bad._pid = z.socket._pid;
    bad._lastOffset = 'not-an-offset';
    await once(bad, 'connect');
    expect(bad.recovered).toBe(false);
    const ma = await A.call('metrics');
    const mb = await B.call('metrics');
    expect(ma.recoveryFailuresByReason['unknown-session']).toBe(1);
    expect(mb.recoveryFailuresByReason['invalid-offset']).toBe(1);
  });
});
