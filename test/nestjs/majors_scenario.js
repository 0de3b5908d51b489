'use strict';

// Run by test/nestjs/majors.test.js inside a temporary project that has one NestJS major
// installed and a copy of this package at node_modules/realtime-core: a real application with
// RealtimeCoreModule (forRoot and forRootAsync), RealtimeIoAdapter and a RealtimeGateway
// subclass, real socket.io-client clients, both implementations. Prints one JSON line
// ("RESULT {...}") and exits 0 when every check holds; an assertion failure exits non-zero.
// Every wait is event-driven (with a generous timeout), nothing is timed.

require('reflect-metadata');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Module, Injectable } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { WebSocketGateway, WebSocketServer } = require('@nestjs/websockets');
const { io: connect } = require('socket.io-client');
const rtn = require('realtime-core/nestjs');

const ENTITY = 'playlist:1';
const TIMEOUT = 15000;

function waitFor(emitter, event, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), TIMEOUT);
    function on(...args) {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args);
    }
    emitter.on(event, on);
  });
}

function gateway() {
  class Gateway extends rtn.RealtimeGateway {}
  WebSocketServer()(Gateway.prototype, 'server');
  WebSocketGateway()(Gateway);
  return Gateway;
}

async function client(port, clientId) {
  const socket = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { clientId } });
  const deltas = [];
  socket.on('rt:delta', (d) => deltas.push(d));
  await waitFor(socket, 'connect');
  return { socket, deltas };
}

async function scenario(impl, useAsync) {
  const api = impl === 'js' ? require('realtime-core/js') : require('realtime-core');
  const Gateway = gateway();
  class Config {
    get() {
      return impl;
    }
  }
  Injectable()(Config);
  class ConfigModule {}
  Module({ providers: [Config], exports: [Config] })(ConfigModule);
  const core = useAsync
    ? rtn.RealtimeCoreModule.forRootAsync({ imports: [ConfigModule], inject: [Config], useFactory: (c) => ({ implementation: c.get() }) })
    : rtn.RealtimeCoreModule.forRoot({ implementation: impl });
  class AppModule {}
  Module({ imports: [core], providers: [Gateway] })(AppModule);

  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  app.useWebSocketAdapter(new rtn.RealtimeIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const io = app.get(Gateway).server;
  const hub = app.get(rtn.FANOUT_HUB);
  assert.equal(app.get(rtn.REALTIME_CORE), api);
  assert.ok(app.get(rtn.DOCUMENT_STORE) instanceof api.DocumentStore);
  assert.ok(app.get(rtn.OFFLINE_QUEUE) instanceof api.OfflineQueue);
  assert.ok(hub instanceof api.FanoutHub);
  assert.equal(io.of('/').adapter.hub, hub, 'FANOUT_HUB is the hub of "/"');
  assert.deepEqual(io.opts.connectionStateRecovery, { maxDisconnectionDuration: 120000, skipMiddlewares: true });

  const store = app.get(rtn.DOCUMENT_STORE);
  store.put(ENTITY, { name: 'Lobby', volume: 5 });
  const a = await client(port, 'tablet-a');
  const b = await client(port, 'tablet-b');
  for (const c of [a, b]) {
    // eslint-disable-next-line no-await-in-loop
    assert.deepEqual(await c.socket.emitWithAck('rt:sync', { entities: { [ENTITY]: 1 } }), { entities: { [ENTITY]: { version: 1, changes: [] } } });
  }
  const body = { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 7 } };
  const gotFirst = waitFor(b.socket, 'rt:delta');
  assert.deepEqual(await a.socket.emitWithAck('rt:mutate', body), { status: 'applied', version: 2, delta: { volume: 7 } });
  await gotFirst;
  assert.deepEqual(await a.socket.emitWithAck('rt:mutate', body), { status: 'duplicate', version: 2, delta: { volume: 7 } });
  const merged = await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 2, base: 1, mergePatch: { volume: 1, name: 'Hall' } });
  assert.equal(merged.status, 'merged');
  assert.deepEqual(merged.delta, { name: 'Hall' });
  assert.equal(merged.conflicts[0].path, '/volume');
  const rejected = await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 0, base: 1, mergePatch: {} });
  assert.equal(rejected.error.code, 'ERR_RT_INVALID_ARGUMENT');
  const gotServer = waitFor(a.socket, 'rt:delta', (d) => d.version === 4);
  assert.equal(app.get(rtn.MutationProtocol).applyServer(ENTITY, { mergePatch: { volume: 2 } }).version, 4);
  await gotServer;
  // B got each broadcast once, the duplicate none
  if (b.deltas.length < 3) await waitFor(b.socket, 'rt:delta', () => b.deltas.length >= 3);
  assert.deepEqual(b.deltas.map((d) => d.version), [2, 3, 4]);
  assert.deepEqual(a.deltas.map((d) => d.version), [4]);
  const sync = await b.socket.emitWithAck('rt:sync', { entities: { [ENTITY]: 2 } });
  assert.deepEqual(sync.entities[ENTITY].changes.map((c) => c.version), [3, 4]);
  assert.deepEqual(store.get(ENTITY), { name: 'Hall', volume: 2 });

  for (const c of [a, b]) c.socket.disconnect();
  await app.close();
  assert.throws(() => hub.connect(), { code: 'ERR_RT_CLOSED' });
  return { impl, forRoot: useAsync ? 'forRootAsync' : 'forRoot', deltasB: b.deltas.length };
}

async function main() {
  const results = [];
  for (const impl of ['native', 'js']) {
    for (const useAsync of [false, true]) {
      // eslint-disable-next-line no-await-in-loop
      results.push(await scenario(impl, useAsync));
    }
  }
  // read from disk: an ESM-only package may not export its package.json
  const nest = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8')).version;
  process.stdout.write(`RESULT ${JSON.stringify({ nest, node: process.version, results })}\n`);
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
