'use strict';

// Child process of the test/redis tests: one Socket.io server with the realtime-core adapter
// scaled out over Redis.
//   fork(cluster_server.js, [name], { env: { RT_IMPL, RT_CLIENT (ioredis | node-redis),
//        RT_REDIS_URL, RT_HEARTBEAT_MS, RT_HEARTBEAT_TIMEOUT_MS, RT_RECOVERY (1|0) } })
// IPC: sends { listening: port } once ready; answers { id, op, ...args } commands with
// { id, result } or { id, error }; sends { event: 'cluster-state', state } on changes.

const http = require('node:http');
const path = require('node:path');
const { Server } = require('socket.io');
const { createAdapter } = require(path.join(__dirname, '..', '..', 'lib', 'socket.io'));

const name = process.argv[2] || 'node';
const env = process.env;
const impl = env.RT_IMPL || 'native';
const kind = env.RT_CLIENT || 'ioredis';
const url = env.RT_REDIS_URL;
const send = (m) => { if (process.connected) process.send(m); };

async function makeClient() {
  if (kind === 'ioredis') {
    const IORedis = require('ioredis');
    const c = new IORedis(url, { retryStrategy: () => 100, maxRetriesPerRequest: null });
    c.on('error', () => {});
    return c;
  }
  const { createClient } = require('redis');
  const c = createClient({ url, socket: { reconnectStrategy: () => 100 } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

const serverSideEvents = [];

async function main() {
  const client = await makeClient();
  const httpServer = http.createServer();
  const options = {
    adapter: createAdapter({
      implementation: impl,
      // RT_AUTHZ=1: a socket whose data says `revoked` may not (re)join any room
      authorizeJoin: env.RT_AUTHZ === '1' ? (socket) => !(socket.data && socket.data.revoked) : undefined,
      redis: client,
      cluster: {
        heartbeatInterval: Number(env.RT_HEARTBEAT_MS || 200),
        heartbeatTimeout: Number(env.RT_HEARTBEAT_TIMEOUT_MS || 1000),
        requestsTimeout: 5000,
        commandTimeout: 2000,
        outbox: { capacity: 100, ttlMs: 60000, initialDelayMs: 20, maxDelayMs: 200, breaker: { openMs: 200 } },
      },
    }),
  };
  if (env.RT_RECOVERY !== '0') options.connectionStateRecovery = { maxDisconnectionDuration: 60000 };
  const io = new Server(httpServer, options);
  const adapter = io.of('/').adapter;
  adapter.on('cluster-state', (s) => send({ event: 'cluster-state', state: s.state }));

  io.on('connection', (socket) => {
    const auth = socket.handshake.auth || {};
    if (!socket.recovered) {
      socket.data.user = auth.user;
      socket.data.node = name;
      if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
    }
    socket.on('join', (room, ack) => {
      socket.join(room);
      ack(name);
    });
    socket.on('whoami', (ack) => ack(name));
  });
  // a second namespace: its own adapter, channels and keys
  const admin = io.of('/admin');
  admin.on('connection', (socket) => {
    const auth = socket.handshake.auth || {};
    if (!socket.recovered && Array.isArray(auth.rooms)) socket.join(auth.rooms);
  });
  io.on('announce', (...args) => serverSideEvents.push(args));
  io.on('ask', (arg, cb) => cb(`${name}:${arg}`));

  const target = (c) => {
    let t = c.nsp ? io.of(c.nsp) : io;
    if (c.rooms && c.rooms.length) t = t.to(c.rooms);
    if (c.except && c.except.length) t = t.except(c.except);
    if (c.local) t = t.local;
    return t;
  };

  const ops = {
    emit: (c) => { target(c).emit(c.event, ...(c.args || [])); return true; },
    // n emits of `event` with i = 1..n, one per event-loop turn
    emitSeries: async (c) => {
      for (let i = 1; i <= c.n; i++) {
        target(c).emit(c.event, i);
        await new Promise((r) => setImmediate(r));
      }
      return true;
    },
    emitBinary: (c) => { target(c).emit(c.event, Buffer.from(c.text)); return true; },
    // an emit of a `size`-character string: -> the error code it threw, or null
    emitBig: (c) => {
      try {
        target(c).emit(c.event, 'x'.repeat(c.size));
        return null;
      } catch (err) {
        return err.code || String(err);
      }
    },
    emitVolatile: (c) => { target(c).volatile.emit(c.event, ...(c.args || [])); return true; },
    emitWithAck: (c) => target(c).timeout(c.timeout || 5000).emitWithAck(c.event, ...(c.args || [])),
    fetchSockets: async (c) => (await target(c).fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })),
    serverSideEmit: (c) => { io.serverSideEmit(c.event, ...(c.args || [])); return true; },
    serverSideEmitWithAck: (c) => io.serverSideEmitWithAck(c.event, ...(c.args || [])),
    serverSideEvents: () => serverSideEvents,
    socketsJoin: (c) => { target(c).socketsJoin(c.join); return true; },
    socketsLeave: (c) => { target(c).socketsLeave(c.leave); return true; },
    disconnectSockets: (c) => { target(c).disconnectSockets(!!c.close); return true; },
    serverCount: (c) => (c.nsp ? io.of(c.nsp).adapter : adapter).serverCount(),
    localRooms: (c) => { const s = io.of('/').sockets.get(c.sid); return s ? [...s.rooms].sort() : null; },
    setData: (c) => { io.of('/').sockets.get(c.sid).data[c.key] = c.value; return true; },
    localSockets: () => [...io.of('/').sockets.keys()],
    metrics: () => { const m = adapter.metrics(); delete m.hub; return m; },
    close: async () => { await io.close(); if (kind === 'ioredis') client.disconnect(); else if (client.isOpen) client.destroy(); return true; },
  };

  process.on('message', async (c) => {
    try {
      const result = await ops[c.op](c);
      send({ id: c.id, result });
    } catch (err) {
      send({ id: c.id, error: String((err && err.message) || err) });
    }
  });

  await adapter.ready;
  await admin.adapter.ready;
  httpServer.listen(0, '127.0.0.1', () => send({ listening: httpServer.address().port }));
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
