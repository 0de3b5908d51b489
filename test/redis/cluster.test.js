'use strict';

// Three server processes with the realtime-core adapter scaled out over a real redis-server;
// clients spread over them. Both implementations, both Redis client libraries.

const { io: connectClient } = require('socket.io-client');
const { startRedis } = require('../helpers/redis');
const { Inbox, once, closeClients } = require('../socket.io/helpers');
const { startNode, serverCounts, waitFor } = require('./cluster_harness');

jest.setTimeout(90000);

const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);
// native with ioredis, js with node-redis: each implementation and each client once
const CASES = IMPLS.map((impl) => [impl, impl === 'native' ? 'ioredis' : 'node-redis']);

describe.each(CASES)('three nodes (%s, %s)', (impl, client) => {
  let redis;
  let A;
  let B;
  let C;
  const clients = [];
  const c = {}; // name -> { socket, inbox }

  async function connect(name, node, rooms) {
    const socket = connectClient(`http://127.0.0.1:${node.port}`, {
      transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms, user: name },
    });
    clients.push(socket);
    const inbox = new Inbox(socket);
    socket.on('q', (x, cb) => cb(`${name}:${x}`));
    await once(socket, 'connect');
    c[name] = { socket, inbox, node };
    return c[name];
  }

  // `name` got `event` (and, if given, not `absent`): waits until a marker broadcast to everyone
  // from `from` arrived everywhere, so that whatever `from` emitted before it had arrived too
  let markers = 0;
  async function settle(from) {
    const m = `marker-${++markers}`;
    await from.call('emit', { event: m });
    await Promise.all(Object.values(c).filter((x) => x.socket.connected).map((x) => x.inbox.count(1, m)));
  }
  const got = (name, event) => c[name].inbox.named(event).map((e) => e.slice(1, -1));

  beforeAll(async () => {
    redis = await startRedis();
    const opts = { redisUrl: redis.url, impl, client };
    [A, B, C] = await Promise.all([startNode('A', opts), startNode('B', opts), startNode('C', opts)]);
    await serverCounts([A, B, C], 3);
    await connect('a1', A, ['r1']);
    await connect('b1', B, ['r1', 'r2']);
    await connect('c1', C, ['r2']);
    await connect('c2', C, []);
  });

  afterAll(async () => {
    closeClients(clients);
    await Promise.all([A, B, C].filter(Boolean).map((n) => n.close()));
    if (redis) await redis.stop();
  });

  test('serverCount counts every node', async () => {
    for (const n of [A, B, C]) expect(await n.call('serverCount')).toBe(3);
  });

  test('room broadcasts reach the members on every node, once', async () => {
    await A.call('emit', { rooms: ['r1'], event: 'm1', args: [1] });
    await C.call('emit', { rooms: ['r2'], event: 'm2', args: [{ x: 2 }] });
    await B.call('emit', { rooms: ['r1', 'r2'], event: 'm3', args: ['three'] });
    await settle(A);
    await settle(B);
    await settle(C);
    expect(got('a1', 'm1')).toEqual([[1]]);
    expect(got('b1', 'm1')).toEqual([[1]]);
    expect(got('c1', 'm1')).toEqual([]);
    expect(got('c2', 'm1')).toEqual([]);
    expect(got('b1', 'm2')).toEqual([[{ x: 2 }]]);
    expect(got('c1', 'm2')).toEqual([[{ x: 2 }]]);
    expect(got('a1', 'm2')).toEqual([]);
    // a socket in both rooms gets it once
    for (const n of ['a1', 'b1', 'c1']) expect(got(n, 'm3')).toEqual([['three']]);
    expect(got('c2', 'm3')).toEqual([]);
    // recorded packets carry an offset (connectionStateRecovery is on)
    expect(typeof c.a1.inbox.named('m1')[0][2]).toBe('string');
  });

  test('except, and unicast to a socket of another node', async () => {
    await B.call('emit', { except: ['r1'], event: 'e1' });
    await C.call('emit', { rooms: ['r2'], except: ['r1'], event: 'e2' });
    await A.call('emit', { rooms: [c.c2.socket.id], event: 'direct', args: ['hi'] });
    await settle(B);
    await settle(C);
    await settle(A);
    expect(['a1', 'b1', 'c1', 'c2'].map((n) => got(n, 'e1').length)).toEqual([0, 0, 1, 1]);
    expect(['a1', 'b1', 'c1', 'c2'].map((n) => got(n, 'e2').length)).toEqual([0, 0, 1, 0]);
    expect(['a1', 'b1', 'c1', 'c2'].map((n) => got(n, 'direct').length)).toEqual([0, 0, 0, 1]);
  });

  test('an emit over maxPayloadBytes throws on the emitting node and goes nowhere', async () => {
    expect(await A.call('emitBig', { rooms: ['r1'], event: 'big', size: 2 * 1024 * 1024 })).toBe('ERR_RT_TOO_LARGE');
    expect(await A.call('emitBig', { rooms: [c.a1.socket.id], event: 'big', size: 2 * 1024 * 1024 })).toBe('ERR_RT_TOO_LARGE');
    expect(await B.call('emitBig', { rooms: ['r1'], event: 'small', size: 10 })).toBeNull();
    await settle(A);
    await settle(B);
    expect(got('a1', 'big')).toEqual([]);
    expect(got('b1', 'big')).toEqual([]);
    expect(got('a1', 'small').length).toBe(1);
    expect((await A.call('metrics')).oversizeOutbound).toBe(2);
  });

  test('acknowledgements across nodes (broadcastWithAck)', async () => {
    const r1 = await C.call('emitWithAck', { rooms: ['r1'], event: 'q', args: ['x'] });
    expect(r1.sort()).toEqual(['a1:x', 'b1:x']);
    const all = await A.call('emitWithAck', { event: 'q', args: ['y'] });
    expect(all.sort()).toEqual(['a1:y', 'b1:y', 'c1:y', 'c2:y']);
    const none = await B.call('emitWithAck', { rooms: ['nobody'], event: 'q', args: ['z'] });
    expect(none).toEqual([]);
  });

  test('fetchSockets across nodes', async () => {
    const r2 = await A.call('fetchSockets', { rooms: ['r2'] });
    expect(r2.map((s) => s.id).sort()).toEqual([c.b1.socket.id, c.c1.socket.id].sort());
    const b1 = r2.find((s) => s.id === c.b1.socket.id);
    expect(b1.data).toEqual({ user: 'b1', node: 'B' });
    expect(b1.rooms).toEqual([c.b1.socket.id, 'r1', 'r2'].sort());
    const all = await B.call('fetchSockets', {});
    expect(all.length).toBe(4);
    const except = await C.call('fetchSockets', { except: ['r1'] });
    expect(except.map((s) => s.data.user).sort()).toEqual(['c1', 'c2']);
  });

  test('serverSideEmit, with and without acknowledgements', async () => {
    await A.call('serverSideEmit', { event: 'announce', args: ['hello', 1] });
    for (const n of [B, C]) {
      await waitFor(async () => (await n.call('serverSideEvents')).length === 1, `announce on ${n.name}`);
      expect(await n.call('serverSideEvents')).toEqual([['hello', 1]]);
    }
    expect(await A.call('serverSideEvents')).toEqual([]);
    const answers = await B.call('serverSideEmitWithAck', { event: 'ask', args: ['q'] });
    expect(answers.sort()).toEqual(['A:q', 'C:q']);
  });

  test('socketsJoin / socketsLeave across nodes', async () => {
    await B.call('socketsJoin', { rooms: ['r1'], join: 'r3' });
    await waitFor(async () => (await A.call('localRooms', { sid: c.a1.socket.id })).includes('r3'), 'a1 in r3');
    await waitFor(async () => (await B.call('localRooms', { sid: c.b1.socket.id })).includes('r3'), 'b1 in r3');
    await C.call('emit', { rooms: ['r3'], event: 'j1' });
    await settle(C);
    expect(['a1', 'b1', 'c1', 'c2'].map((n) => got(n, 'j1').length)).toEqual([1, 1, 0, 0]);
    await C.call('socketsLeave', { rooms: ['r3'], leave: 'r3' });
    await waitFor(async () => !(await A.call('localRooms', { sid: c.a1.socket.id })).includes('r3'), 'a1 left r3');
    await waitFor(async () => !(await B.call('localRooms', { sid: c.b1.socket.id })).includes('r3'), 'b1 left r3');
    await A.call('emit', { rooms: ['r3'], event: 'j2' });
    await settle(A);
    expect(['a1', 'b1', 'c1', 'c2'].map((n) => got(n, 'j2').length)).toEqual([0, 0, 0, 0]);
  });

  test('disconnectSockets across nodes', async () => {
    const gone = [once(c.b1.socket, 'disconnect'), once(c.c1.socket, 'disconnect')];
    await A.call('disconnectSockets', { rooms: ['r2'], close: false });
    const reasons = (await Promise.all(gone)).map((args) => args[0]);
    expect(reasons).toEqual(['io server disconnect', 'io server disconnect']);
    expect(c.a1.socket.connected).toBe(true);
    expect(c.c2.socket.connected).toBe(true);
    await waitFor(async () => (await C.call('localSockets')).length === 1, 'C has one socket left');
  });

  test('namespaces are separate (their own adapters, channels and keys)', async () => {
    await serverCounts([A, B, C], 3, '/admin');
    const admin = connectClient(`http://127.0.0.1:${A.port}/admin`, {
      transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms: ['r1'] },
    });
    clients.push(admin);
    const inbox = new Inbox(admin);
    await once(admin, 'connect');
    await B.call('emit', { nsp: '/admin', rooms: ['r1'], event: 'adm', args: [1] });
    await C.call('emit', { rooms: ['r1'], event: 'root', args: [2] });
    await C.call('emit', { nsp: '/admin', event: 'adm-end' });
    await inbox.count(1, 'adm-end');
    await settle(C);
    expect(inbox.named('adm').map((e) => e[1])).toEqual([1]);
    expect(inbox.named('root')).toEqual([]);
    expect(got('a1', 'adm')).toEqual([]);
    expect(got('a1', 'root')).toEqual([[2]]);
  });

  test('serverCount drops when a node dies (heartbeat timeout)', async () => {
    await C.kill();
    await serverCounts([A, B], 2);
    // and the survivors still talk to each other
    await B.call('emit', { rooms: ['r1'], event: 'after-kill' });
    await c.a1.inbox.count(1, 'after-kill');
    const answers = await A.call('serverSideEmitWithAck', { event: 'ask', args: ['k'] });
    expect(answers).toEqual(['B:k']);
  });
});

// Without connectionStateRecovery nothing is recorded: broadcasts go out at once, without offsets.
describe.each(CASES)('two nodes without recovery (%s, %s)', (impl, client) => {
  let redis;
  let A;
  let B;
  const clients = [];

  beforeAll(async () => {
    redis = await startRedis();
    const opts = { redisUrl: redis.url, impl, client, env: { RT_RECOVERY: '0' } };
    [A, B] = await Promise.all([startNode('A', opts), startNode('B', opts)]);
    await serverCounts([A, B], 2);
  });

  afterAll(async () => {
    closeClients(clients);
    await Promise.all([A, B].filter(Boolean).map((n) => n.close()));
    if (redis) await redis.stop();
  });

  test('rooms, except, unicast, acks', async () => {
    const mk = async (node, rooms) => {
      const socket = connectClient(`http://127.0.0.1:${node.port}`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms } });
      clients.push(socket);
      const inbox = new Inbox(socket);
      socket.on('q', (x, cb) => cb(`${socket.id}:${x}`));
      await once(socket, 'connect');
      return { socket, inbox };
    };
    const a = await mk(A, ['r1']);
    const b = await mk(B, ['r1', 'r2']);
    await A.call('emit', { rooms: ['r1'], except: ['r2'], event: 'x', args: [1] });
    await B.call('emit', { rooms: [a.socket.id], event: 'u', args: [2] });
    await A.call('emit', { event: 'end' });
    await a.inbox.count(1, 'end');
    await b.inbox.count(1, 'end');
    expect(a.inbox.named('x')).toEqual([['x', 1]]);
    expect(b.inbox.named('x')).toEqual([]);
    expect(a.inbox.named('u')).toEqual([['u', 2]]);
    expect(b.inbox.named('u')).toEqual([]);
    const acks = await B.call('emitWithAck', { rooms: ['r1'], event: 'q', args: ['k'] });
    expect(acks.sort()).toEqual([`${a.socket.id}:k`, `${b.socket.id}:k`].sort());
    expect((await A.call('metrics')).cluster.recorded).toBe(0);
  });
});
