'use strict';

// The same scenarios against Socket.io's own in-memory adapters (socket.io-adapter 2.5: Adapter,
// and SessionAwareAdapter with connection-state recovery) and against realtime-core/socket.io:
// every client must receive the same events, arguments and order. Socket ids and recovery
// offsets differ by nature and are normalised (ids -> #client, offsets -> "<offset>"). The last
// block shows where ours deliberately differs. Once per implementation (RT_IMPL narrows it).

const { IMPLS, Harness, Inbox, once, serverSocket, dropTransport, reconnect, tick } = require('./helpers');

jest.setTimeout(60000);

const csr = { connectionStateRecovery: { maxDisconnectionDuration: 10000 } };

// An offset of either adapter: ours are "<hub offsetPrefix><base 36>", the stock ones are the
// ids of SessionAwareAdapter's stored packets.
function offsetMatcher(io) {
  const stock = new Set();
  const prefixes = [];
  for (const nsp of io._nsps.values()) {
    const a = nsp.adapter;
    if (Array.isArray(a.packets)) for (const p of a.packets) stock.add(p.id);
    if (a.hub && a.hub.options && a.hub.options.offsetPrefix) prefixes.push(a.hub.options.offsetPrefix);
  }
  return (s) => stock.has(s) || prefixes.some((p) => s.startsWith(p) && /^[0-9a-z]+$/.test(s.slice(p.length)));
}

function normalize(value, ids, isOffset) {
  if (typeof value === 'string') {
    if (ids.has(value)) return `#${ids.get(value)}`;
    if (isOffset(value)) return '<offset>';
    return value;
  }
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return { bytes: [...Buffer.from(value)] };
  if (typeof value === 'function') return '<fn>';
  if (Array.isArray(value)) return value.map((v) => normalize(v, ids, isOffset));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v, ids, isOffset);
    return out;
  }
  return value;
}

// A server (ours when impl, else Socket.io's default adapter) and `n` clients, connected in
// order; client i joins rooms(i) on connection (unless recovered).
async function setup(h, impl, { n = 3, rooms = () => [], serverOptions = {}, adapterOptions = {}, clientOptions = {}, nsp = '/', before } = {}) {
  const server = await h.server({ adapter: impl ? { implementation: impl, ...adapterOptions } : null, ...serverOptions });
  const { io, port } = server;
  if (before) before(io);
  io.of(nsp).on('connection', (s) => {
    if (!s.recovered) s.join(rooms(Number(s.handshake.auth.i)));
    s.emit('ready');
  });
  const clients = [];
  const ids = new Map();
  for (let i = 0; i < n; i++) {
    const socket = h.client(port, { nsp, auth: { i }, ...clientOptions });
    const inbox = new Inbox(socket);
    await inbox.count(1, 'ready');
    ids.set(socket.id, i);
    clients.push({ socket, inbox });
  }
  return { ...server, clients, ids };
}

// what each client received (after `ready`), normalised
function received(ctx) {
  const isOffset = offsetMatcher(ctx.io);
  return ctx.clients.map((c) => normalize(c.inbox.events.filter((e) => e[0] !== 'ready'), ctx.ids, isOffset));
}

// waits until every client got `end`
async function settle(ctx, nsp = '/') {
  ctx.io.of(nsp).emit('end');
  await Promise.all(ctx.clients.map((c) => (c.socket.connected ? c.inbox.count(1, 'end') : null)));
}

const SCENARIOS = [
  {
    name: 'rooms, several rooms, except, everyone, socket.broadcast, to(socket id)',
    options: { n: 4, rooms: (i) => [['a'], ['a', 'b'], ['b', 'c'], []][i] },
    async run(ctx) {
      const { io, clients } = ctx;
      const s1 = serverSocket(io, clients[1].socket);
      io.to('a').emit('m', 1, { x: [1, 'y'] });
      io.to(['c', 'a', 'b']).emit('m', 2);
      io.to('a').except('b').emit('m', 3);
      io.except(['a', 'c']).emit('m', 4);
      io.emit('m', 5);
      s1.broadcast.emit('m', 6);
      s1.to('c').emit('m', 7);
      io.to(clients[3].socket.id).emit('m', 8);
      io.to('nobody').emit('m', 9);
      io.emit('m');
      io.emit('m', null, undefined, 'é\u2028');
      await settle(ctx);
      return received(ctx);
    },
  },
  {
    name: 'the same with connection-state recovery (offsets on every recorded packet)',
    options: { n: 3, rooms: (i) => [['a'], ['a', 'b'], ['b']][i], serverOptions: csr },
    async run(ctx) {
      const { io, clients } = ctx;
      io.to('a').emit('m', 1);
      io.to(['a', 'b']).except('a').emit('m', 2);
      serverSocket(io, clients[0].socket).emit('uni', 'x');
      serverSocket(io, clients[1].socket).broadcast.emit('m', 3);
      io.to('b').volatile.emit('v', 1);
      await settle(ctx);
      return received(ctx);
    },
  },
  {
    name: 'join, leave and rejoin; socketsJoin, socketsLeave, fetchSockets, disconnectSockets',
    options: { n: 3, rooms: (i) => [['a'], ['a', 'b'], ['b']][i] },
    async run(ctx) {
      const { io, clients, ids } = ctx;
      const s0 = serverSocket(io, clients[0].socket);
      s0.leave('a');
      s0.join('a');
      io.to('a').emit('m', 1);
      io.in('b').socketsJoin(['c', 'd']);
      io.to('c').emit('m', 2);
      io.socketsLeave('c');
      io.to('c').emit('m', 3);
      const order = (socks) => socks.map((s) => ids.get(s.id));
      const fetched = [order(await io.fetchSockets()), order(await io.in('a').fetchSockets()), order(await io.in(['b', 'a']).except('d').fetchSockets())];
      const all = [...(await io.in('a').allSockets())].map((id) => ids.get(id));
      const rooms = clients.map((c) => [...serverSocket(io, c.socket).rooms].map((r) => (ids.has(r) ? `#${ids.get(r)}` : r)));
      const gone = once(clients[2].socket, 'disconnect');
      io.in('d').except('a').disconnectSockets();
      await gone;
      io.emit('m', 4);
      await settle(ctx);
      return { got: received(ctx), fetched, all, rooms };
    },
  },
  {
    name: 'room events and the rooms/sids maps',
    options: { n: 2, rooms: (i) => [['x', 'y'], ['y']][i] },
    async run(ctx) {
      const { io, clients, ids } = ctx;
      const adapter = io.of('/').adapter;
      const events = [];
      for (const e of ['create-room', 'join-room', 'leave-room', 'delete-room']) adapter.on(e, (...a) => events.push([e, ...a]));
      const s0 = serverSocket(io, clients[0].socket);
      const s1 = serverSocket(io, clients[1].socket);
      s0.join(['z', 'y']);
      s1.leave('y');
      s0.leave('y');
      s1.join('y');
      s0.leave('nope');
      s1.disconnect();
      await tick();
      const norm = (v) => normalize(v, ids, () => false);
      const rooms = [...adapter.rooms].map(([room, members]) => [norm(room), members.size, norm([...members])]);
      const sids = [...adapter.sids].map(([id, r]) => [norm(id), norm([...r])]);
      return { events: norm(events), rooms, sids, y: adapter.rooms.get('y')?.size, none: adapter.rooms.get('none') };
    },
  },
  {
    name: 'acknowledgements: io.timeout().emitWithAck, to(room), socket.emitWithAck',
    options: { n: 3, rooms: (i) => [['a'], ['a'], []][i] },
    async run(ctx) {
      const { io, clients } = ctx;
      clients.forEach((c, i) => c.socket.on('q', (x, ack) => ack({ i, x })));
      const sort = (r) => r.sort((p, q) => p.i - q.i);
      const all = sort(await io.timeout(5000).emitWithAck('q', 1));
      const a = sort(await io.to('a').timeout(5000).emitWithAck('q', 2));
      const none = await io.to('zzz').timeout(5000).emitWithAck('q', 3);
      const one = await serverSocket(io, clients[2].socket).timeout(5000).emitWithAck('q', 4);
      return { all, a, none, one };
    },
  },
  {
    name: 'binary arguments',
    options: { n: 2, rooms: (i) => [['bin'], []][i] },
    async run(ctx) {
      ctx.io.to('bin').emit('b', Buffer.from([1, 2]), { deep: [Buffer.from('hi')] }, 'text');
      ctx.io.emit('b', Uint8Array.of(9));
      await settle(ctx);
      return received(ctx);
    },
  },
  {
    name: 'a namespace other than "/", with recovery',
    options: { n: 2, nsp: '/admin', rooms: (i) => [['r'], []][i], serverOptions: csr },
    async run(ctx) {
      const admin = ctx.io.of('/admin');
      admin.to('r').emit('m', 1);
      admin.emit('m', 2);
      ctx.io.emit('root-only', 3);
      await settle(ctx, '/admin');
      return received(ctx);
    },
  },
  {
    name: 'outgoing listeners see the same packets',
    options: { n: 2, rooms: (i) => [['a'], []][i], serverOptions: csr },
    async run(ctx) {
      const { io, clients, ids } = ctx;
      const seen = [];
      serverSocket(io, clients[0].socket).onAnyOutgoing((...args) => seen.push(args));
      io.to('a').emit('m', 1);
      io.emit('m', 2);
      serverSocket(io, clients[0].socket).emit('uni', 3);
      await settle(ctx);
      return normalize(seen, ids, offsetMatcher(io));
    },
  },
  {
    name: 'rooms joined in a middleware',
    options: {
      n: 2,
      before: (io) => io.use((s, next) => {
        s.join(`mw-${s.handshake.auth.i}`);
        next();
      }),
    },
    async run(ctx) {
      ctx.io.to('mw-1').emit('m', 1);
      await settle(ctx);
      return received(ctx);
    },
  },
  {
    name: 'recovery after a transport close: rooms, everyone, unicasts, volatile',
    options: { n: 2, rooms: (i) => [['a'], ['a']][i], serverOptions: csr },
    async run(ctx) {
      const { io, clients } = ctx;
      const [c0] = clients;
      io.to('a').emit('m', 1);
      await c0.inbox.count(1, 'm');
      const sid = c0.socket.id;
      await dropTransport(c0.socket);
      io.to('a').emit('m', 2);
      io.emit('m', 3);
      io.to(sid).emit('uni', 4);
      io.to('a').volatile.emit('v', 5);
      io.except('a').emit('never', 6);
      const recovered = await reconnect(c0.socket);
      await settle(ctx);
      const rooms = [...serverSocket(io, c0.socket).rooms].map((r) => (r === sid ? '#self' : r));
      return { recovered, rooms, got: received(ctx) };
    },
  },
  {
    name: 'long-polling clients (no upgrade), with recovery',
    options: { n: 2, rooms: (i) => [['a'], ['a', 'b']][i], serverOptions: csr, clientOptions: { transports: ['polling'] } },
    async run(ctx) {
      const { io, clients } = ctx;
      io.to('a').emit('m', 1);
      io.to('b').emit('m', 2, Buffer.from([7]));
      io.except('b').emit('m', 3);
      serverSocket(io, clients[1].socket).emit('uni', 4);
      await settle(ctx);
      return received(ctx);
    },
  },
  {
    name: 'not recovered: unknown session (a new client offering a made-up pid)',
    options: { n: 1, serverOptions: csr },
    async run(ctx) {
      const c = ctx.h.client(ctx.port, { auth: { i: 9 } });
      c._pid = 'made-up';
      c._lastOffset = 'made-up';
      await once(c, 'connect');
      return c.recovered;
    },
  },
];

describe.each(IMPLS)('parity with Socket.io\'s in-memory adapter (%s)', (impl) => {
  let h;
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  async function observe(which, scenario) {
    const ctx = await setup(h, which, scenario.options);
    ctx.h = h;
    const out = await scenario.run(ctx);
    await h.cleanup();
    return out;
  }

  test.each(SCENARIOS.map((s) => [s.name, s]))('%s', async (name, scenario) => {
    const stock = await observe(null, scenario);
    const ours = await observe(impl, scenario);
    expect(ours).toEqual(stock);
  });

  describe('deliberate differences', () => {
    // what each adapter does in a scenario: -> the observation
    async function both(fn) {
      const stock = await fn(null);
      await h.cleanup();
      const ours = await fn(impl);
      await h.cleanup();
      return { stock, ours };
    }

    test('a volatile packet whose last argument is a string: the stock client offset is lost, ours is repaired', async () => {
      const { stock, ours } = await both(async (which) => {
        const ctx = await setup(h, which, { n: 1, rooms: () => ['a'], serverOptions: csr });
        const [c] = ctx.clients;
        const s = serverSocket(ctx.io, c.socket);
        if (!s.conn.transport.writable) await once(s.conn.transport, 'ready');
        ctx.io.to('a').volatile.emit('v', 'a string');
        await c.inbox.count(1, 'v');
        await dropTransport(c.socket);
        ctx.io.to('a').emit('m', 1);
        const recovered = await reconnect(c.socket);
        await settle(ctx);
        return { recovered, got: received(ctx) };
      });
      expect(stock.recovered).toBe(false);
      expect(ours.recovered).toBe(true);
      expect(ours.got[0].map((e) => e[0])).toEqual(['v', 'm', 'end']);
      expect(stock.got[0].map((e) => e[0])).toEqual(['v', 'end']);
    });

    test('events published while a recovered socket runs its middlewares: lost by the stock adapter, held by ours', async () => {
      const { stock, ours } = await both(async (which) => {
        let release;
        const gate = new Promise((r) => { release = r; });
        let entered;
        const waiting = new Promise((r) => { entered = r; });
        const ctx = await setup(h, which, {
          n: 1,
          rooms: () => ['a'],
          serverOptions: { connectionStateRecovery: { maxDisconnectionDuration: 10000, skipMiddlewares: false } },
          before: (io) => io.use((s, next) => {
            if (!s.recovered) return next();
            entered();
            return gate.then(() => next());
          }),
        });
        const [c] = ctx.clients;
        await dropTransport(c.socket);
        c.socket.connect();
        await waiting;
        ctx.io.to('a').emit('during', 1);
        release();
        await c.inbox.count(2, 'ready');
        await settle(ctx);
        return { recovered: c.socket.recovered, got: received(ctx) };
      });
      expect(stock.recovered).toBe(true);
      expect(ours.recovered).toBe(true);
      expect(stock.got[0].map((e) => e[0])).toEqual(['end']);
      expect(ours.got[0].map((e) => e[0])).toEqual(['during', 'end']);
    });

    test('a transport that never drains: the stock adapter buffers without bound, ours closes it', async () => {
      const { stock, ours } = await both(async (which) => {
        const ctx = await setup(h, which, { n: 2, adapterOptions: { maxBacklog: 5 } });
        const [healthy, stuck] = ctx.clients;
        const s = serverSocket(ctx.io, stuck.socket);
        s.conn.transport.writable = false;
        for (let i = 0; i < 10; i++) {
          ctx.io.emit('n', i);
          await healthy.inbox.count(i + 1, 'n');
        }
        await tick();
        return { connected: stuck.socket.connected || s.connected, buffered: s.conn.writeBuffer.length };
      });
      expect(stock).toEqual({ connected: true, buffered: 10 });
      expect(ours.connected).toBe(false);
    });
  });
});
