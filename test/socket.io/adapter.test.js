'use strict';

// realtime-core/socket.io: the adapter with real Socket.io servers and socket.io-client
// connections, once per implementation (RT_IMPL=js|native narrows it).

const { Registry } = require('prom-client');
const { Encoder, Decoder } = require('socket.io-parser');
const { createAdapter, createMetricsCollector } = require('realtime-core/socket.io');
const encoding = require('../../lib/socket.io/encoding');
const { IMPLS, Harness, Inbox, once, serverSocket, tick } = require('./helpers');

jest.setTimeout(30000);

describe.each(IMPLS)('socket.io adapter (%s)', (impl) => {
  let h;
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  const start = (adapterOptions = {}, serverOptions = {}) => h.server({ adapter: { implementation: impl, ...adapterOptions }, ...serverOptions });

  // n connected clients with inboxes; join(i) -> rooms of client i (joined on connection)
  async function clients(port, n, opts) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await h.connected(port, opts));
    return out;
  }

  async function withRooms(io, port, roomsOf) {
    io.on('connection', (s) => {
      const i = Number(s.handshake.auth.i);
      s.join(roomsOf(i));
      s.emit('ready');
    });
    const out = [];
    for (let i = 0; i < roomsOf.count; i++) {
      const c = h.client(port, { auth: { i } });
      const inbox = new Inbox(c);
      await once(c, 'ready');
      inbox.clear();
      out.push({ socket: c, inbox });
    }
    return out;
  }

  describe('rooms and broadcasts', () => {
    test('to(room), several rooms without duplicates, except, everyone, socket.broadcast', async () => {
      const { io, port } = await start();
      const rooms = [['a'], ['a', 'b'], ['b'], []];
      const roomsOf = Object.assign((i) => rooms[i], { count: rooms.length });
      const cs = await withRooms(io, port, roomsOf);
      io.to('a').emit('m', 1);
      io.to(['a', 'b']).emit('m', 2);
      io.to('a').to('b').except('b').emit('m', 3);
      io.except('a').emit('m', 4);
      io.emit('m', 5);
      io.to('nobody').emit('m', 6);
      serverSocket(io, cs[1].socket).broadcast.emit('m', 7);
      serverSocket(io, cs[1].socket).to('b').emit('m', 8);
      io.emit('end');
      await Promise.all(cs.map((c) => c.inbox.count(1, 'end')));
      const got = cs.map((c) => c.inbox.named('m').map((e) => e[1]));
      expect(got).toEqual([
        [1, 2, 3, 5, 7],
        [1, 2, 5],
        [2, 4, 5, 7, 8],
        [4, 5, 7],
      ]);
    });

    test('a namespace other than "/" encodes its prefix; arguments of every JSON type', async () => {
      const { io, port } = await start();
      const admin = io.of('/admin');
      admin.on('connection', (s) => s.join('r'));
      const { socket, inbox } = await h.connected(port, { nsp: '/admin' });
      await tick();
      const args = [null, true, 0, -1.5, 'é\u2028"\\', [1, [2]], { a: { b: null } }, 'last'];
      admin.to('r').emit('types', ...args);
      admin.emit('none');
      await inbox.count(2);
      expect(inbox.events[0]).toEqual(['types', ...args]);
      expect(inbox.events[1]).toEqual(['none']);
      expect(socket.connected).toBe(true);
      expect(admin.adapter.implementation).toBe(impl);
    });

    test('binary arguments fall back to the Socket.io encoder and reach the same targets', async () => {
      const { io, port } = await start();
      io.on('connection', (s) => s.join('bin'));
      const a = await h.connected(port);
      const b = await h.connected(port);
      await tick();
      serverSocket(io, b.socket).leave('bin');
      io.to('bin').emit('blob', Buffer.from([1, 2, 3]), { nested: Buffer.from('xy') });
      io.emit('end');
      await a.inbox.count(1, 'end');
      await b.inbox.count(1, 'end');
      const [ev, buf, obj] = a.inbox.events[0];
      expect(ev).toBe('blob');
      expect(Buffer.from(buf)).toEqual(Buffer.from([1, 2, 3]));
      expect(Buffer.from(obj.nested).toString()).toBe('xy');
      expect(b.inbox.named('blob')).toHaveLength(0);
      expect(io.of('/').adapter.metrics().fallbackPackets).toBe(1);
    });

    test('io.adapter(createAdapter()) after the server is made; serverCount and serverSideEmit', async () => {
      const { io, port } = await h.server({ adapter: null });
      io.adapter(createAdapter({ implementation: impl }));
      expect(io.of('/').adapter.implementation).toBe(impl);
      io.on('connection', (s) => s.join('x'));
      const { inbox } = await h.connected(port);
      await tick();
      io.to('x').emit('hi', 1);
      await inbox.count(1);
      expect(inbox.events).toEqual([['hi', 1]]);
      await expect(io.of('/').adapter.serverCount()).resolves.toBe(1);
      await expect(io.serverSideEmitWithAck('ping')).resolves.toEqual([]);
      expect(io.serverSideEmit('ping')).toBe(true);
    });

    test('volatile packets are delivered to writable transports and dropped (counted) otherwise', async () => {
      const { io, port } = await start();
      const a = await h.connected(port);
      const b = await h.connected(port);
      const sb = serverSocket(io, b.socket);
      io.volatile.emit('v', 1);
      await a.inbox.count(1);
      await b.inbox.count(1);
      sb.conn.transport.writable = false;
      io.volatile.emit('v', 2);
      sb.conn.transport.writable = true;
      io.emit('end');
      await a.inbox.count(1, 'end');
      await b.inbox.count(1, 'end');
      expect(a.inbox.named('v').map((e) => e[1])).toEqual([1, 2]);
      expect(b.inbox.named('v').map((e) => e[1])).toEqual([1]);
      expect(io.of('/').adapter.metrics().droppedVolatile).toBe(1);
    });

    test('the websocket frame is computed once per delivery, and never when ws cannot be loaded', async () => {
      // engine.io's path (directWrite: false), where every write goes through writeToEngine
      const { io, port } = await start({ directWrite: false });
      const a = await h.connected(port);
      const b = await h.connected(port);
      const seen = [];
      for (const c of [a, b]) {
        const s = serverSocket(io, c.socket);
        const orig = s.client.writeToEngine.bind(s.client);
        s.client.writeToEngine = (packets, opts) => {
          seen.push([packets, opts]);
          return orig(packets, opts);
        };
      }
      io.emit('f', 1);
      await a.inbox.count(1);
      await b.inbox.count(1);
      expect(seen).toHaveLength(2);
      expect(seen[0][0]).toEqual(['2["f",1]']);
      expect(seen[0][1].preEncoded).toBe(true);
      expect(seen[0][1].wsPreEncodedFrame).toBeDefined();
      expect(seen[1][1].wsPreEncodedFrame).toBe(seen[0][1].wsPreEncodedFrame);
      seen.length = 0;
      encoding.setSenderFrameForTests(null);
      try {
        io.emit('f', 2);
        await a.inbox.count(2);
        await b.inbox.count(2);
      } finally {
        encoding.setSenderFrameForTests(undefined);
      }
      expect(seen[0][1].wsPreEncodedFrame).toBeUndefined();
      expect(a.inbox.events.map((e) => e[1])).toEqual([1, 2]);
    });

    test('outgoing listeners are called only on sockets that have them, with the packet data', async () => {
      const { io, port } = await start();
      const a = await h.connected(port);
      const b = await h.connected(port);
      const sa = serverSocket(io, a.socket);
      const sb = serverSocket(io, b.socket);
      const outgoing = [];
      sa.onAnyOutgoing((...args) => outgoing.push(args));
      const spy = jest.spyOn(sb, 'notifyOutgoingListeners');
      io.emit('o', { k: 1 });
      await a.inbox.count(1);
      await b.inbox.count(1);
      expect(outgoing).toEqual([['o', { k: 1 }]]);
      expect(spy).not.toHaveBeenCalled();
    });
  });

  describe('direct writes', () => {
    // Everything the server sends to client i in `run`, per client, in order (acks included),
    // with directWrite on or off; -> { got, metrics }
    async function scenario(directWrite, run, { n = 3, clientOptions = {}, serverOptions = {}, adapterOptions = {} } = {}) {
      const local = new Harness();
      try {
        const { io, port } = await local.server({ adapter: { implementation: impl, directWrite, ...adapterOptions }, ...serverOptions });
        io.on('connection', (s) => {
          s.join(`r${s.handshake.auth.i % 2}`);
          s.emit('ready');
        });
        const cs = [];
        for (let i = 0; i < n; i++) {
          const socket = local.client(port, { auth: { i }, ...clientOptions });
          socket.on('q', (x, ack) => ack(x));
          const inbox = new Inbox(socket);
          await once(socket, 'ready');
          inbox.clear();
          cs.push({ socket, inbox });
        }
        const ctx = { io, cs, server: (i) => serverSocket(io, cs[i].socket) };
        await run(ctx);
        io.emit('end');
        await Promise.all(cs.map((c) => c.inbox.count(1, 'end')));
        const prefix = io.of('/').adapter.hub.options.offsetPrefix;
        const plain = (v) => {
          if (typeof v === 'function') return '<ack>';
          if (typeof v === 'string' && prefix && v.startsWith(prefix)) return '<offset>';
          if (typeof v === 'string' && v.length > 64) return `<${v.length} chars: ${v.slice(0, 8)}>`;
          return Buffer.isBuffer(v) || v instanceof ArrayBuffer ? [...Buffer.from(v)] : v;
        };
        const got = cs.map((c) => c.inbox.events.map((e) => e.map(plain)));
        return { got, metrics: io.of('/').adapter.metrics() };
      } finally {
        await local.cleanup();
      }
    }

    // broadcasts of every kind, in bursts and across ticks
    async function mixed({ io, server }) {
      const big = 'x'.repeat(200000);
      for (let k = 0; k < 3; k++) {
        io.emit('all', k);
        io.to('r0').emit('room', k, { k });
        io.to('r1').except('r0').emit('room1', k);
        io.to(['r0', 'r1']).emit('both', k, big.length);
        io.emit('big', big.slice(0, 1000 * (k + 1)));
        io.emit('bin', Buffer.from([k, 1, 2]));
        server(0).emit('uni', k);
        server(1).broadcast.emit('bcast', k);
        io.to(server(2).id).emit('to-id', k);
        for (let j = 0; j < 50; j++) io.emit('burst', k, j);
        await tick();
      }
      io.emit('huge', big);
      await expect(io.timeout(5000).emitWithAck('q', 7)).resolves.toEqual([7, 7, 7]);
      await expect(server(1).timeout(5000).emitWithAck('q', 8)).resolves.toBe(8);
    }

    test('with directWrite on (default) and off, clients receive the same packets in the same order', async () => {
      for (const serverOptions of [{}, { connectionStateRecovery: { maxDisconnectionDuration: 5000 } }]) {
        const off = await scenario(false, mixed, { serverOptions });
        const on = await scenario(true, mixed, { serverOptions });
        expect(on.got).toEqual(off.got);
        expect(on.got[0].filter((e) => e[0] === 'burst')).toHaveLength(150);
        expect(off.metrics.directWrites).toBe(0);
        expect(on.metrics.directWrites).toBeGreaterThan(0);
        expect(on.metrics.deliveries).toBe(off.metrics.deliveries);
        expect(on.metrics.slowDisconnects).toBe(0);
      }
      expect(createAdapter({ directWrite: true })).toBeDefined();
      expect(() => createAdapter({ directWrite: 'yes' })).toThrow(TypeError);
    });

    test('a direct write is one sendFrame of the delivery\'s frame; engine.io sees no packet of it', async () => {
      const { io, port } = await start();
      const a = await h.connected(port);
      const b = await h.connected(port);
      const frames = [];
      const engine = [];
      for (const c of [a, b]) {
        const s = serverSocket(io, c.socket);
        const sender = s.conn.transport.socket._sender;
        const orig = sender.sendFrame;
        sender.sendFrame = function sendFrame(list, cb) {
          frames.push(list);
          return orig.call(this, list, cb);
        };
        s.conn.on('packetCreate', (p) => engine.push(p));
      }
      io.emit('f', 1);
      await a.inbox.count(1);
      await b.inbox.count(1);
      expect(frames).toHaveLength(2);
      expect(frames[0]).toBe(frames[1]);
      expect(frames[0]).toHaveLength(1);
      expect(frames[0][0].subarray(2).toString()).toBe('42["f",1]');
      expect(engine).toEqual([]);
      expect(io.of('/').adapter.metrics()).toMatchObject({ deliveries: 2, directWrites: 2 });
    });

    test('long-polling clients keep working through engine.io, next to websocket clients', async () => {
      const { io, port } = await start();
      io.on('connection', (s) => s.join('r'));
      const ws = await h.connected(port);
      const polling = await h.connected(port, { transports: ['polling'] });
      const upgrading = await h.connected(port, { transports: ['polling', 'websocket'] });
      await tick();
      const expected = [];
      for (let k = 0; k < 5; k++) {
        for (let j = 0; j < 20; j++) {
          io.to('r').emit('n', k * 20 + j);
          expected.push(k * 20 + j);
        }
        await tick();
      }
      for (const c of [ws, polling, upgrading]) {
        await c.inbox.count(100, 'n');
        expect(c.inbox.named('n').map((e) => e[1])).toEqual(expected);
      }
      const m = io.of('/').adapter.metrics();
      expect(m.deliveries).toBe(300);
      expect(m.directWrites).toBeGreaterThan(0);
      expect(m.directWrites).toBeLessThanOrEqual(200);
      expect(serverSocket(io, polling.socket).conn.transport.name).toBe('polling');
    });

    test('engine.io writes (emits with an ack, unicasts) and direct writes interleave in emit order', async () => {
      for (const serverOptions of [{}, { connectionStateRecovery: { maxDisconnectionDuration: 5000 } }]) {
        const { io, port } = await start({}, serverOptions);
        io.on('connection', (s) => s.join('r'));
        const c = await h.connected(port);
        c.socket.on('n', (...args) => {
          const ack = args[args.length - 1];
          if (typeof ack === 'function') ack('ok');
        });
        await tick();
        const s = serverSocket(io, c.socket);
        let created = 0;
        s.conn.on('packetCreate', (p) => { if (p.type === 'message') created++; });
        const acks = [];
        let i = 0;
        for (let round = 0; round < 6; round++) {
          for (let j = 0; j < 12; j++, i++) {
            if (j % 4 === 1) s.emit('n', i, (x) => acks.push(x)); // engine.io's path without recovery
            else if (j % 4 === 2) s.emit('n', i, Buffer.from([i])); // attachments: engine.io's path
            else if (j % 4 === 3) io.to('r').emit('n', i);
            else io.emit('n', i);
          }
          if (round % 2) await tick();
        }
        await c.inbox.count(i, 'n');
        expect(c.inbox.named('n').map((e) => e[1])).toEqual(Array.from({ length: i }, (_, k) => k));
        await new Promise((resolve) => { const t = setInterval(() => { if (acks.length === 18) { clearInterval(t); resolve(); } }, 5); });
        expect(created).toBeGreaterThan(0); // some went through engine.io
        expect(io.of('/').adapter.metrics().directWrites).toBeGreaterThan(0); // some did not
        c.inbox.clear();
        c.socket.disconnect();
      }
    });

    test('a busy ws Sender (queued data) or permessage-deflate: engine.io\'s path, order kept', async () => {
      const { io, port } = await start();
      const c = await h.connected(port);
      const s = serverSocket(io, c.socket);
      const sender = s.conn.transport.socket._sender;
      io.emit('n', 0);
      await c.inbox.count(1);
      const before = io.of('/').adapter.metrics().directWrites;
      sender._state = 1; // as while compressing: ws queues what it is given
      io.emit('n', 1);
      io.emit('n', 2);
      await tick();
      expect(io.of('/').adapter.metrics().directWrites).toBe(before);
      expect(c.inbox.events).toHaveLength(1);
      sender._state = 0;
      sender.dequeue();
      io.emit('n', 3);
      await c.inbox.count(4);
      expect(c.inbox.events.map((e) => e[1])).toEqual([0, 1, 2, 3]);

      const z = await start({}, { perMessageDeflate: { threshold: 0 } });
      const zc = await h.connected(z.port);
      for (let k = 0; k < 20; k++) z.io.emit('z', k, 'y'.repeat(k * 1000));
      await zc.inbox.count(20);
      expect(zc.inbox.events.map((e) => e[1])).toEqual(Array.from({ length: 20 }, (_, k) => k));
      expect(z.io.of('/').adapter.metrics().directWrites).toBe(0);
    });

    test('a client that stops reading: direct writes stay in flight, the socket becomes a slow consumer', async () => {
      const { io, port } = await start({ maxBacklog: 4, maxPayloadBytes: 4 << 20 });
      const healthy = await h.connected(port);
      const stuck = await h.connected(port);
      const ss = serverSocket(io, stuck.socket);
      const clientWs = stuck.socket.io.engine.transport.ws;
      clientWs._socket.pause(); // the client reads nothing more
      const payload = 'p'.repeat(1 << 20);
      let sent = 0;
      for (; sent < 200 && ss.connected; sent++) {
        io.emit('n', sent, payload);
        await healthy.inbox.count(sent + 1, 'n');
      }
      clientWs.terminate(); // (its close handshake could not complete)
      expect(ss.connected).toBe(false);
      expect(sent).toBeGreaterThan(4);
      const m = io.of('/').adapter.metrics();
      expect(m.slowDisconnects).toBe(1);
      expect(m.directWrites).toBeGreaterThan(0);
      expect(io.of('/').adapter.sids.size).toBe(1);
    });
  });

  describe('acknowledgements', () => {
    test('io.timeout().emitWithAck collects one response per client (broadcastWithAck)', async () => {
      const { io, port } = await start();
      io.on('connection', (s) => s.join(s.handshake.auth.room));
      const cs = [];
      for (const room of ['r', 'r', 'other']) {
        const c = h.client(port, { auth: { room } });
        c.on('q', (x, ack) => ack({ from: room, x }));
        await once(c, 'connect');
        cs.push(c);
      }
      await tick();
      const all = await io.timeout(5000).emitWithAck('q', 1);
      expect(all).toHaveLength(3);
      const some = await io.to('r').timeout(5000).emitWithAck('q', 2);
      expect(some).toEqual([{ from: 'r', x: 2 }, { from: 'r', x: 2 }]);
      const none = await io.to('nobody').timeout(5000).emitWithAck('q', 3);
      expect(none).toEqual([]);
    });

    test('socket.emitWithAck (a unicast) with and without connection-state recovery', async () => {
      for (const serverOptions of [{}, { connectionStateRecovery: { maxDisconnectionDuration: 5000 } }]) {
        const { io, port } = await start({}, serverOptions);
        const c = h.client(port);
        c.on('q', (x, ack) => ack(x * 2));
        await once(c, 'connect');
        const s = serverSocket(io, c);
        await expect(s.timeout(5000).emitWithAck('q', 21)).resolves.toBe(42);
      }
    });
  });

  describe('server-side socket operations', () => {
    test('fetchSockets, socketsJoin, socketsLeave, disconnectSockets', async () => {
      const { io, port } = await start();
      const rooms = [['a'], ['a', 'b'], ['b']];
      const cs = await withRooms(io, port, Object.assign((i) => rooms[i], { count: 3 }));
      const ids = cs.map((c) => c.socket.id);
      expect((await io.in('a').fetchSockets()).map((s) => s.id)).toEqual([ids[0], ids[1]]);
      expect((await io.in(['b', 'a']).except('a').fetchSockets()).map((s) => s.id)).toEqual([ids[2]]);
      expect((await io.fetchSockets()).map((s) => s.id)).toEqual(ids);
      expect([...(await io.in('b').allSockets())]).toEqual([ids[1], ids[2]]);
      io.in('a').socketsJoin(['c', 'd']);
      expect((await io.in('c').fetchSockets()).map((s) => s.id)).toEqual([ids[0], ids[1]]);
      io.socketsLeave('d');
      expect(io.of('/').adapter.rooms.has('d')).toBe(false);
      const gone = once(cs[2].socket, 'disconnect');
      io.in('b').except('a').disconnectSockets();
      expect(await gone).toEqual(['io server disconnect']);
      expect((await io.fetchSockets()).map((s) => s.id)).toEqual([ids[0], ids[1]]);
    });

    test('room events in the in-memory adapter order; rooms and sids views', async () => {
      const { io, port } = await start();
      const adapter = io.of('/').adapter;
      const events = [];
      for (const e of ['create-room', 'join-room', 'leave-room', 'delete-room']) adapter.on(e, (...a) => events.push([e, ...a]));
      const c = h.client(port);
      io.on('connection', (s) => s.join(['x', 'y']));
      await once(c, 'connect');
      await tick();
      const id = c.id;
      const s = serverSocket(io, c);
      expect(s.rooms).toBeInstanceOf(Set);
      expect([...s.rooms]).toEqual([id, 'x', 'y']);
      expect(adapter.rooms.get('x').size).toBe(1);
      expect(adapter.rooms.get('x').has(id)).toBe(true);
      expect([...adapter.rooms.get('x')]).toEqual([id]);
      expect(adapter.rooms.get('nope')).toBeUndefined();
      expect(adapter.rooms.size).toBe(3);
      expect([...adapter.rooms.keys()]).toEqual([id, 'x', 'y']);
      expect(new Map([...adapter.sids].map(([k, v]) => [k, [...v]]))).toEqual(new Map([[id, [id, 'x', 'y']]]));
      expect(adapter.sids.get(id)).toBeInstanceOf(Set);
      expect(() => adapter.rooms.set('z', new Set())).toThrow(TypeError);
      expect(() => adapter.rooms.delete('x')).toThrow(TypeError);
      expect(() => adapter.rooms.get('x').add('q')).toThrow(TypeError);
      s.leave('x');
      s.join('x');
      s.disconnect();
      await tick();
      expect(events).toEqual([
        ['create-room', id], ['join-room', id, id],
        ['create-room', 'x'], ['join-room', 'x', id],
        ['create-room', 'y'], ['join-room', 'y', id],
        ['leave-room', 'x', id], ['delete-room', 'x'],
        ['create-room', 'x'], ['join-room', 'x', id],
        ['leave-room', id, id], ['delete-room', id],
        ['leave-room', 'y', id], ['delete-room', 'y'],
        ['leave-room', 'x', id], ['delete-room', 'x'],
      ]);
      expect(adapter.rooms.size).toBe(0);
      expect(adapter.sids.size).toBe(0);
    });

    test('room names the hub cannot take as they are (long, empty, numbers) still work', async () => {
      const { io, port } = await start();
      const long = 'L'.repeat(300);
      io.on('connection', (s) => s.join([long, '', 5]));
      const { socket, inbox } = await h.connected(port);
      await tick();
      const adapter = io.of('/').adapter;
      expect([...serverSocket(io, socket).rooms]).toEqual([socket.id, long, '', 5]);
      expect(adapter.rooms.get(long).size).toBe(1);
      expect(adapter.rooms.has('5')).toBe(false);
      io.to(long).emit('a');
      io.to(5).emit('b');
      io.to('L'.repeat(301)).emit('never');
      io.emit('end');
      await inbox.count(1, 'end');
      expect(inbox.events.map((e) => e[0])).toEqual(['a', 'b', 'end']);
    });
  });

  describe('throttling, coalescing and batching', () => {
    test('throttle: the first update at once, the newest of the rest when its turn comes', async () => {
      const { io, port } = await start({
        throttleMs: 200,
        throttle: { 'device:status': ([status]) => status.device },
      });
      io.on('connection', (s) => s.join('org'));
      const { inbox } = await h.connected(port);
      await tick();
      for (let i = 1; i <= 10; i++) io.to('org').emit('device:status', { device: 'd7', v: i });
      io.to('org').emit('device:status', { device: 'd8', v: 1 });
      io.to('org').emit('other', 1);
      await inbox.until((evs) => evs.some((e) => e[0] === 'device:status' && e[1].device === 'd7' && e[1].v === 10), 'the last d7 update');
      const d7 = inbox.events.filter((e) => e[0] === 'device:status' && e[1].device === 'd7').map((e) => e[1].v);
      expect(d7).toEqual([1, 10]);
      expect(inbox.named('other')).toHaveLength(1);
      const m = io.of('/').adapter.metrics();
      expect(m.coalesced).toBe(8);
      expect(m.hub.pendingKeys).toBe(0);
    });

    test('throttle keys are per target: the same key for two rooms never hides one of them', async () => {
      const { io, port } = await start({ throttleMs: 60000, throttle: (event) => (event === 's' ? 'k' : null) });
      io.on('connection', (s) => s.join(s.handshake.auth.room));
      const a = h.client(port, { auth: { room: 'A' } });
      const b = h.client(port, { auth: { room: 'B' } });
      const ia = new Inbox(a);
      const ib = new Inbox(b);
      await Promise.all([once(a, 'connect'), once(b, 'connect')]);
      await tick();
      io.to('A').emit('s', 'a1');
      io.to('B').emit('s', 'b1');
      io.to('A').emit('s', 'a2');
      await ia.count(1);
      await ib.count(1);
      await io.of('/').adapter.flush({ all: true });
      await ia.count(2);
      expect(ia.events).toEqual([['s', 'a1'], ['s', 'a2']]);
      expect(ib.events).toEqual([['s', 'b1']]);
    });

    test('batch: rt:bulk packets of maxItems, the rest after maxDelayMs, flushed on close', async () => {
      const { io, port } = await start({ batch: { events: ['kpi'], maxItems: 3, maxDelayMs: 50 } });
      io.on('connection', (s) => s.join('dash'));
      const { inbox } = await h.connected(port);
      await tick();
      for (let i = 0; i < 7; i++) io.to('dash').emit('kpi', { i });
      io.to('dash').emit('plain', 1);
      await inbox.count(3, 'rt:bulk');
      expect(inbox.named('rt:bulk')).toEqual([
        ['rt:bulk', [['kpi', { i: 0 }], ['kpi', { i: 1 }], ['kpi', { i: 2 }]]],
        ['rt:bulk', [['kpi', { i: 3 }], ['kpi', { i: 4 }], ['kpi', { i: 5 }]]],
        ['rt:bulk', [['kpi', { i: 6 }]]],
      ]);
      expect(inbox.named('plain')).toHaveLength(1);
      // not batchable (two rooms): delivered as it is
      io.to(['dash', 'x']).emit('kpi', { i: 7 });
      await inbox.count(1, 'kpi');
      expect(inbox.named('kpi')).toEqual([['kpi', { i: 7 }]]);
      expect(io.of('/').adapter.metrics().hub.bulks).toBe(3);
    });

    test('batch (function form) and close() flushing what is pending', async () => {
      const { io, port } = await start({ batch: (event) => event.startsWith('b:'), throttleMs: 60000, throttle: { t: () => 'k' } });
      io.on('connection', (s) => s.join('r'));
      const { inbox } = await h.connected(port);
      await tick();
      io.to('r').emit('b:one', 1);
      io.to('r').emit('b:two', 2);
      io.to('r').emit('t', 1);
      io.to('r').emit('t', 2);
      await inbox.count(1, 't');
      await io.of('/').adapter.close();
      await inbox.count(2, 't');
      await inbox.count(1, 'rt:bulk');
      expect(inbox.named('rt:bulk')).toEqual([['rt:bulk', [['b:one', 1], ['b:two', 2]]]]);
      expect(inbox.named('t')).toEqual([['t', 1], ['t', 2]]);
    });

    test('adapter.publish passes a message straight to the hub', async () => {
      const { io, port } = await start();
      io.on('connection', (s) => s.join('p'));
      const { inbox } = await h.connected(port);
      await tick();
      const res = io.of('/').adapter.publish({ rooms: ['p'], event: 'direct', payload: '{"raw":true}' });
      expect(res.status).toBe('delivered');
      io.of('/').adapter.publish({ event: 'args', args: '[1,"two"]' });
      await inbox.count(2);
      expect(inbox.events).toEqual([['direct', { raw: true }], ['args', 1, 'two']]);
    });
  });

  describe('slow consumers', () => {
    test('a socket whose transport does not drain is closed once its backlog reaches maxBacklog', async () => {
      const { io, port } = await start({ maxBacklog: 3 });
      const a = await h.connected(port);
      const b = await h.connected(port);
      const sb = serverSocket(io, b.socket);
      const bId = b.socket.id;
      const slowEvents = [];
      io.of('/').adapter.on('slow-consumer', (id) => slowEvents.push(id));
      const gone = once(b.socket, 'disconnect');
      sb.conn.transport.writable = false; // its writes now wait in engine.io's buffer, no 'drain'
      // one at a time, so that the healthy client drains between packets
      for (let i = 0; i < 5; i++) {
        io.emit('n', i);
        await a.inbox.count(i + 1);
      }
      expect((await gone)[0]).toBe('transport close');
      expect(a.inbox.events.map((e) => e[1])).toEqual([0, 1, 2, 3, 4]);
      const m = io.of('/').adapter.metrics();
      expect(m.slowDisconnects).toBe(1);
      expect(m.slowConsumers).toBe(1);
      expect(slowEvents).toEqual([bId]);
      expect(io.of('/').adapter.sids.size).toBe(1);
    });

    test('drained transports keep their backlog at zero (many packets, maxBacklog 2)', async () => {
      const { io, port } = await start({ maxBacklog: 2 });
      const { inbox } = await h.connected(port);
      for (let round = 0; round < 20; round++) {
        io.emit('x', round);
        await inbox.count(round + 1);
      }
      expect(io.of('/').adapter.metrics().slowDisconnects).toBe(0);
    });
  });

  describe('security', () => {
    const orgHook = (socket, room) => room.startsWith(`org:${socket.handshake.auth.org}:`);

    test('authorizeJoin: a socket never joins nor receives another organisation\'s rooms', async () => {
      const { io, port } = await start({ authorizeJoin: orgHook });
      const denied = [];
      io.of('/').adapter.on('join-denied', (room, id) => denied.push([room, id]));
      io.on('connection', (s) => {
        s.join(['org:1:all', 'org:2:all']);
        s.on('join', (room) => s.join(room));
      });
      const one = h.client(port, { auth: { org: 1 } });
      const two = h.client(port, { auth: { org: 2 } });
      const i1 = new Inbox(one);
      const i2 = new Inbox(two);
      await Promise.all([once(one, 'connect'), once(two, 'connect')]);
      await tick();
      expect([...serverSocket(io, one).rooms]).toEqual([one.id, 'org:1:all']);
      expect([...serverSocket(io, two).rooms]).toEqual([two.id, 'org:2:all']);
      // server-side socketsJoin goes through the hook too
      io.socketsJoin('org:1:dashboards');
      io.to('org:1:all').emit('secret', 1);
      io.to('org:2:all').emit('secret', 2);
      io.to('org:1:dashboards').emit('dash', 1);
      io.emit('end');
      await i1.count(1, 'end');
      await i2.count(1, 'end');
      expect(i1.named('secret')).toEqual([['secret', 1]]);
      expect(i2.named('secret')).toEqual([['secret', 2]]);
      expect(i1.named('dash')).toHaveLength(1);
      expect(i2.named('dash')).toHaveLength(0);
      expect(denied).toEqual(expect.arrayContaining([['org:2:all', one.id], ['org:1:all', two.id], ['org:1:dashboards', two.id]]));
      expect(io.of('/').adapter.metrics().joinsDenied).toBe(3);
    });

    test('authorizeJoin may be asynchronous; throws and non-true answers deny', async () => {
      const { io, port } = await start({
        authorizeJoin: async (socket, room) => {
          await new Promise((r) => setTimeout(r, 5));
          if (room === 'boom') throw new Error('x');
          if (room === 'yes-ish') return 1;
          return room.startsWith('ok');
        },
      });
      let joined;
      io.on('connection', (s) => {
        joined = Promise.resolve(s.join(['ok1', 'no', 'boom', 'yes-ish', 'ok2'])).then(() => [...s.rooms]);
      });
      const c = h.client(port);
      await once(c, 'connect');
      await tick();
      expect(await joined).toEqual([c.id, 'ok1', 'ok2']);
      expect(io.of('/').adapter.metrics().joinsDenied).toBe(3);
    });

    test('the inbound rate limit: an rt:error, then a disconnect; handlers never see the excess', async () => {
      const { io, port } = await start({ rateLimit: { points: 3, intervalMs: 60000 } });
      let handled = 0;
      io.on('connection', (s) => s.on('ev', () => { handled++; }));
      const { socket, inbox } = await h.connected(port);
      const gone = once(socket, 'disconnect');
      for (let i = 0; i < 6; i++) socket.emit('ev', i);
      expect(await gone).toEqual(['io server disconnect']);
      expect(inbox.named('rt:error')).toEqual([['rt:error', { code: 'ERR_RT_RATE_LIMITED', message: expect.any(String) }]]);
      expect(handled).toBe(3);
      expect(io.of('/').adapter.metrics().rateLimited).toBe(1);
    });

    test('the token bucket refills with the clock', async () => {
      let now = 1000;
      const { io, port } = await start({ rateLimit: { points: 2, intervalMs: 1000 }, clock: () => now });
      const got = [];
      io.on('connection', (s) => s.on('ev', (i, ack) => { got.push(i); ack(); }));
      const { socket } = await h.connected(port);
      await socket.emitWithAck('ev', 1);
      await socket.emitWithAck('ev', 2);
      now += 1000;
      await socket.emitWithAck('ev', 3);
      await socket.emitWithAck('ev', 4);
      expect(got).toEqual([1, 2, 3, 4]);
      expect(socket.connected).toBe(true);
    });

    test('inbound packets over maxInboundBytes never reach a handler; the socket is disconnected', async () => {
      const { io, port } = await start({ maxInboundBytes: 1000 });
      const seen = [];
      io.on('connection', (s) => {
        s.onAny((ev) => seen.push(ev));
        s.use(([ev], next) => { seen.push(`mw:${ev}`); next(); });
        s.on('small', (x, ack) => ack());
      });
      const { socket, inbox } = await h.connected(port);
      await socket.timeout(5000).emitWithAck('small', 'x'.repeat(100));
      const gone = once(socket, 'disconnect');
      socket.emit('big', 'x'.repeat(2000));
      socket.emit('after', 1);
      expect(await gone).toEqual(['io server disconnect']);
      expect(inbox.named('rt:error')).toEqual([['rt:error', { code: 'ERR_RT_TOO_LARGE', message: expect.any(String) }]]);
      expect(seen).toEqual(['small', 'mw:small']);
      expect(io.of('/').adapter.metrics().oversizeInbound).toBe(1);
    });

    test('binary attachments count toward maxInboundBytes', async () => {
      const { io, port } = await start({ maxInboundBytes: 1000 });
      const seen = [];
      io.on('connection', (s) => s.onAny((ev) => seen.push(ev)));
      const { socket, inbox } = await h.connected(port);
      const gone = once(socket, 'disconnect');
      socket.emit('small-bin', Buffer.alloc(10));
      socket.emit('big-bin', Buffer.alloc(5000));
      expect(await gone).toEqual(['io server disconnect']);
      expect(seen).toEqual(['small-bin']);
      expect(inbox.named('rt:error')[0][1].code).toBe('ERR_RT_TOO_LARGE');
    });

    test('outbound messages over maxPayloadBytes throw ERR_RT_TOO_LARGE (hub and fallback paths)', async () => {
      const { io, port } = await start({ maxPayloadBytes: 1000 });
      const { inbox } = await h.connected(port);
      expect(() => io.emit('big', 'x'.repeat(2000))).toThrow(expect.objectContaining({ code: 'ERR_RT_TOO_LARGE' }));
      expect(() => io.emit('bigbin', Buffer.alloc(2000))).toThrow(expect.objectContaining({ code: 'ERR_RT_TOO_LARGE' }));
      io.emit('ok', 'x'.repeat(100));
      await inbox.count(1);
      expect(inbox.events.map((e) => e[0])).toEqual(['ok']);
      expect(io.of('/').adapter.metrics().oversizeOutbound).toBe(2);
    });
  });

  describe('custom parser', () => {
    // socket.io-parser with a replacer/reviver: not the default encoding, so the adapter encodes
    // the hub's packets with it (recovery included)
    const replacer = (k, v) => (typeof v === 'string' && v.startsWith('date:') ? { $d: v.slice(5) } : v);
    const reviver = (k, v) => (v && typeof v === 'object' && typeof v.$d === 'string' ? `revived:${v.$d}` : v);
    const parser = {
      protocol: 5,
      Encoder: class extends Encoder { constructor() { super(replacer); } },
      Decoder: class extends Decoder { constructor() { super(reviver); } },
    };

    test('packets are encoded with nsp.server.encoder, throttled and recovered ones too', async () => {
      const { io, port } = await start({ throttleMs: 60000, throttle: { t: () => 'k' } }, { parser, connectionStateRecovery: { maxDisconnectionDuration: 5000 } });
      io.on('connection', (s) => s.join('r'));
      const c = h.client(port, { parser });
      const inbox = new Inbox(c);
      await once(c, 'connect');
      await tick();
      io.to('r').emit('d', 'date:1');
      io.to('r').emit('t', 'date:2');
      io.to('r').emit('t', 'date:3');
      await inbox.count(2);
      io.of('/').adapter.flush({ all: true });
      await inbox.count(3);
      expect(inbox.events.map((e) => [e[0], e[1]])).toEqual([['d', 'revived:1'], ['t', 'revived:2'], ['t', 'revived:3']]);
      const m = io.of('/').adapter.metrics();
      expect(m.fallbackPackets).toBe(0);
      expect(m.hub.recorded).toBe(3);
    });
  });

  describe('metrics', () => {
    test('adapter.metrics() and a prom-client collector over every namespace adapter', async () => {
      const { io, port } = await start();
      io.of('/admin');
      const { inbox } = await h.connected(port);
      io.emit('m', 'x');
      await inbox.count(1);
      const m = io.of('/').adapter.metrics();
      expect(m).toMatchObject({ namespace: '/', implementation: impl, deliveries: 1, packets: 1, sockets: 1, rooms: 1 });
      expect(m.bytes).toBeGreaterThan(0);
      expect(m.hub).toMatchObject({ connections: 1, deliveries: 1 });
      for (const k of ['drops', 'coalesced', 'backlog', 'recoveries', 'recoveryFailures', 'joinsDenied', 'rateLimited', 'oversizeInbound', 'oversizeOutbound']) {
        expect(typeof m[k]).toBe('number');
      }
      const registry = new Registry();
      const collector = createMetricsCollector({ registry, prefix: 'rt_test_', io });
      const text = await registry.metrics();
      expect(text).toContain(`rt_test_deliveries_total{namespace="/",implementation="${impl}"} 1`);
      expect(text).toContain(`rt_test_sockets{namespace="/",implementation="${impl}"} 1`);
      expect(text).toContain(`rt_test_sockets{namespace="/admin",implementation="${impl}"} 0`);
      io.emit('m', 'y');
      await inbox.count(2);
      expect(await registry.metrics()).toContain(`rt_test_deliveries_total{namespace="/",implementation="${impl}"} 2`);
      collector.unregister();
      expect(await registry.metrics()).not.toContain('rt_test_');
    });
  });
});

describe('createAdapter options and prom-client', () => {
  test('unknown or invalid options are refused', () => {
    expect(() => createAdapter({ implementaton: 'js' })).toThrow(/unknown option/);
    expect(() => createAdapter({ rateLimit: { points: 0, intervalMs: 1 } })).toThrow(RangeError);
    expect(() => createAdapter({ batch: { events: [1] } })).toThrow(TypeError);
    expect(() => createAdapter({ throttle: { x: 1 } })).toThrow(TypeError);
    expect(() => createAdapter({ implementation: 'wasm' })).toThrow(TypeError);
    expect(() => createAdapter({ durable: { path: '/tmp/x' }, recovery: false })).toThrow(RangeError);
  });

  test('createMetricsCollector without prom-client installed: a clear error', () => {
    jest.isolateModules(() => {
      jest.doMock('prom-client', () => {
        const err = new Error("Cannot find module 'prom-client'");
        err.code = 'MODULE_NOT_FOUND';
        throw err;
      });
      // eslint-disable-next-line global-require
      const sio = require('realtime-core/socket.io');
      expect(() => sio.createMetricsCollector({})).toThrow(expect.objectContaining({ code: 'ERR_RT_MISSING_PEER', message: expect.stringMatching(/npm install prom-client/) }));
    });
    jest.dontMock('prom-client');
  });
});
