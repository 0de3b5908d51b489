'use strict';

// Socket.io calls an adapter's init() once; a second call (a harness, a framework) must not
// subscribe again, or every message from another node would be delivered twice.

const http = require('node:http');
const IORedis = require('ioredis');
const { Server } = require('socket.io');
const { io: connectClient } = require('socket.io-client');
const { createAdapter } = require('realtime-core/socket.io');
const { startRedis } = require('../helpers/redis');
const { Inbox, once, closeClients } = require('../socket.io/helpers');

jest.setTimeout(60000);

let redis;
const closers = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  if (redis) await redis.stop();
});

async function node() {
  const client = new IORedis(redis.port);
  const server = http.createServer();
  const io = new Server(server, { adapter: createAdapter({ redis: client }) });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    await new Promise((resolve) => io.close(() => resolve()));
    client.disconnect();
  });
  await io.of('/').adapter.ready;
  return { io, port: server.address().port };
}

test('init() twice: a remote broadcast still arrives once', async () => {
  const a = await node();
  const b = await node();
  a.io.of('/').adapter.init();
  await a.io.of('/').adapter.ready;
  const socket = connectClient(`http://127.0.0.1:${a.port}`, { transports: ['websocket'], reconnection: false });
  closers.push(async () => closeClients([socket]));
  const inbox = new Inbox(socket);
  await once(socket, 'connect');
  b.io.emit('first', 1);
  await inbox.count(1, 'first');
  b.io.emit('second', 2); // frames arrive in order: a duplicate of `first` would come before this
  await inbox.count(1, 'second');
  expect(inbox.events).toEqual([['first', 1], ['second', 2]]);
});
