'use strict';

// RealtimeCoreModule (forRoot, forRootAsync), its providers, RealtimeIoAdapter and the hub the
// server uses, option checks and shutdown, on real Nest applications, for both implementations.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Module, Injectable } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const {
  IMPLS, NestHarness, ioOf, once, configModule, ConfigService, appModule, rtn,
} = require('./helpers');

const APIS = { native: require('realtime-core'), js: require('realtime-core/js') };

jest.setTimeout(30000);

describe.each(IMPLS)('RealtimeCoreModule (%s)', (impl) => {
  const api = APIS[impl];
  const h = new NestHarness();
  afterEach(() => h.cleanup());

  test('forRoot provides the options, the API, the engines and the protocol; FANOUT_HUB is the hub of "/"', async () => {
    const entry = await h.app({ options: { implementation: impl, documentStore: { strategy: 'client-wins' } } });
    const { app } = entry;
    const options = app.get(rtn.REALTIME_CORE_OPTIONS);
    expect(Object.isFrozen(options)).toBe(true);
    expect(options.implementation).toBe(impl);
    expect(options.recovery).toEqual({ maxDisconnectionDuration: 120000, skipMiddlewares: true });
    expect(options.mutations.deltaEvent).toBe('rt:delta');
    expect(app.get(rtn.REALTIME_CORE)).toBe(api);
    const store = app.get(rtn.DOCUMENT_STORE);
    expect(store).toBeInstanceOf(api.DocumentStore);
    expect(store.options.strategy).toBe('client-wins');
    expect(app.get(rtn.OFFLINE_QUEUE)).toBeInstanceOf(api.OfflineQueue);
    const hub = app.get(rtn.FANOUT_HUB);
    expect(hub).toBeInstanceOf(api.FanoutHub);
    expect(app.get(rtn.MutationProtocol)).toBeInstanceOf(rtn.MutationProtocol);
    expect(entry.gateway.protocol).toBe(app.get(rtn.MutationProtocol));

    const io = ioOf(entry);
    expect(io.of('/').adapter.hub).toBe(hub);
    expect(io.of('/').adapter.implementation).toBe(impl);
    expect(io.opts.connectionStateRecovery).toEqual({ maxDisconnectionDuration: 120000, skipMiddlewares: true });
    expect(hub.options.recovery).toEqual(expect.objectContaining({ windowMs: 120000 }));
    // another namespace gets a hub of its own
    expect(io.of('/other').adapter.hub).not.toBe(hub);

    // the hub really serves the clients of '/'
    const { socket } = await h.client(entry);
    expect(hub.connectionCount).toBe(1);
    const got = once(socket, 'hello');
    io.emit('hello', 1);
    expect((await got)[0]).toBe(1);
  });

  test('forRootAsync: useFactory + inject from a configuration module', async () => {
    const Config = configModule({ strategy: 'last-writer-wins', queue: false, recovery: false });
    const entry = await h.app({
      asyncOptions: {
        imports: [Config],
        inject: [ConfigService],
        useFactory: async (config) => ({
          implementation: impl,
          documentStore: { strategy: config.get('strategy') },
          offlineQueue: config.get('queue'),
          recovery: config.get('recovery'),
        }),
      },
    });
    const { app } = entry;
    expect(app.get(rtn.REALTIME_CORE_OPTIONS).recovery).toBe(false);
    expect(app.get(rtn.DOCUMENT_STORE).options.strategy).toBe('last-writer-wins');
    expect(app.get(rtn.OFFLINE_QUEUE)).toBeNull();
    const io = ioOf(entry);
    expect(io.opts.connectionStateRecovery).toBeUndefined();
    expect(io.of('/').adapter.hub).toBe(app.get(rtn.FANOUT_HUB));
    expect(app.get(rtn.FANOUT_HUB).options.recovery).toBeNull();
  });

  test('forRootAsync: useClass with create(); the module is global (a feature module injects the engines)', async () => {
    class Factory {
      create() {
        return { implementation: impl, mutations: { deltaEvent: 'doc:delta' } };
      }
    }
    class Feature {
      constructor(store, hub, core, queue) {
        Object.assign(this, { store, hub, core, queue });
      }
    }
    rtn.InjectDocumentStore()(Feature, undefined, 0);
    rtn.InjectFanoutHub()(Feature, undefined, 1);
    rtn.InjectRealtimeCore()(Feature, undefined, 2);
    rtn.InjectOfflineQueue()(Feature, undefined, 3);
    Injectable()(Feature);
    class FeatureModule {}
    Module({ providers: [Feature], exports: [Feature] })(FeatureModule);

    const entry = await h.app({ asyncOptions: { useClass: Factory }, imports: [FeatureModule] });
    const { app } = entry;
    const feature = app.get(Feature);
    expect(feature.store).toBe(app.get(rtn.DOCUMENT_STORE));
    expect(feature.hub).toBe(app.get(rtn.FANOUT_HUB));
    expect(feature.core).toBe(api);
    expect(feature.queue).toBe(app.get(rtn.OFFLINE_QUEUE));
    expect(app.get(rtn.REALTIME_CORE_OPTIONS).mutations.deltaEvent).toBe('doc:delta');
  });

  test('socketio.durable: the module\'s hub is the durable hub of "/" (directory _root), the queue is durable too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-nest-durable-'));
    try {
      const entry = await h.app({
        options: { implementation: impl, socketio: { durable: { path: path.join(dir, 'sio') } }, offlineQueue: { path: path.join(dir, 'queue') } },
      });
      const hub = entry.app.get(rtn.FANOUT_HUB);
      expect(hub.options.durable).toEqual(expect.objectContaining({ path: path.join(dir, 'sio', '_root') }));
      expect(ioOf(entry).of('/').adapter.hub).toBe(hub);
      expect(entry.app.get(rtn.OFFLINE_QUEUE).stats().durable).toEqual(expect.objectContaining({ path: path.join(dir, 'queue') }));
      const { inbox } = await h.client(entry);
      ioOf(entry).emit('n', 1);
      await inbox.count(1, 'n');
      await h.close(entry);
      expect(fs.readdirSync(path.join(dir, 'sio'))).toEqual(['_root']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('app.close() closes the Socket.io server, then the engines', async () => {
    const entry = await h.app({ options: { implementation: impl } });
    const hub = entry.app.get(rtn.FANOUT_HUB);
    const queue = entry.app.get(rtn.OFFLINE_QUEUE);
    const { socket } = await h.client(entry);
    const gone = once(socket, 'disconnect');
    await h.close(entry);
    await gone;
    expect(() => hub.connect()).toThrow(expect.objectContaining({ code: 'ERR_RT_CLOSED' }));
    expect(() => queue.push('c1', { key: 'k', payload: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_RT_CLOSED' }));
  });

  test('RealtimeIoAdapter overrides: hub null makes the adapter use its own; a hub that disagrees with recovery is refused', async () => {
    const own = await h.app({ options: { implementation: impl } }, { adapterOverrides: { hub: null } });
    expect(ioOf(own).of('/').adapter.hub).not.toBe(own.app.get(rtn.FANOUT_HUB));
    expect(ioOf(own).of('/').adapter.hub).toBeInstanceOf(api.FanoutHub);

    const { AppModule } = appModule({ options: { implementation: impl } });
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    h.apps.push({ app, closed: false });
    // the module's hub was made with recovery; a server without it must refuse that hub
    app.useWebSocketAdapter(new rtn.RealtimeIoAdapter(app, { recovery: false, hub: app.get(rtn.FANOUT_HUB) }));
    await expect(app.listen(0, '127.0.0.1')).rejects.toMatchObject({ code: 'ERR_RT_INVALID_ARGUMENT' });
  });
});

describe.each(IMPLS)('RealtimeIoAdapter without RealtimeCoreModule (%s)', (impl) => {
  const h = new NestHarness();
  afterEach(() => h.cleanup());

  test('the defaults (recovery on, the adapter on a hub of its own), or the implementation given', async () => {
    const { WebSocketGateway, WebSocketServer, SubscribeMessage } = require('@nestjs/websockets');
    class PingGateway {
      ping() {
        return 'pong';
      }
    }
    SubscribeMessage('ping')(PingGateway.prototype, 'ping', Object.getOwnPropertyDescriptor(PingGateway.prototype, 'ping'));
    WebSocketServer()(PingGateway.prototype, 'server');
    WebSocketGateway()(PingGateway);
    class PlainModule {}
    Module({ providers: [PingGateway] })(PlainModule);
    const app = await NestFactory.create(PlainModule, { logger: false, abortOnError: false });
    const entry = { app, closed: false, gateway: app.get(PingGateway) };
    h.apps.push(entry);
    app.useWebSocketAdapter(new rtn.RealtimeIoAdapter(app, impl === 'native' ? undefined : { implementation: impl }));
    await app.listen(0, '127.0.0.1');
    entry.url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
    const io = ioOf(entry);
    expect(io.opts.connectionStateRecovery).toEqual({ maxDisconnectionDuration: 120000, skipMiddlewares: true });
    expect(io.of('/').adapter.implementation).toBe(impl);
    expect(io.of('/').adapter.hub).toBeInstanceOf(APIS[impl].FanoutHub);
    expect(io.of('/').adapter.hub.options.recovery).toEqual(expect.objectContaining({ windowMs: 120000 }));
    const { socket } = await h.client(entry);
    expect(await socket.emitWithAck('ping', {})).toBe('pong');
  });
});

describe.each(IMPLS)('RealtimeCoreModule options are checked (%s)', (impl) => {
  const bad = [
    ['an unknown option', { implementation: impl, implementaton: 'js' }],
    ['an unknown implementation', { implementation: `${impl}-wasm` }],
    ['documentStore not an object', { implementation: impl, documentStore: 'server-wins' }],
    ['an unknown socketio option', { implementation: impl, socketio: { throtle: {} } }],
    ['socketio.implementation', { implementation: impl, socketio: { implementation: impl } }],
    ['socketio.hub', { implementation: impl, socketio: { hub: null } }],
    ['an unknown recovery option', { implementation: impl, recovery: { maxDisconnectDuration: 1000 } }],
    ['an unknown mutations hook', { implementation: impl, mutations: { room: () => [] } }],
    ['a hook that is not a function', { implementation: impl, mutations: { authorize: true } }],
    ['an empty deltaEvent', { implementation: impl, mutations: { deltaEvent: '' } }],
    ['options not an object', impl],
  ];
  test.each(bad)('forRoot refuses %s', (what, options) => {
    expect(() => rtn.RealtimeCoreModule.forRoot(options)).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
  });

  test('forRoot refuses an out-of-range value', () => {
    expect(() => rtn.RealtimeCoreModule.forRoot({ implementation: impl, recovery: { maxDisconnectionDuration: 0 } }))
      .toThrow(expect.objectContaining({ code: 'ERR_RT_OUT_OF_RANGE' }));
  });

  test('forRootAsync refuses what its factory returns when the application is created', async () => {
    const { AppModule } = appModule({ asyncOptions: { useFactory: () => ({ implementation: impl, offlinQueue: false }) } });
    await expect(NestFactory.create(AppModule, { logger: false, abortOnError: false }))
      .rejects.toMatchObject({ code: 'ERR_RT_INVALID_ARGUMENT' });
  });

  test('a bad engine option is refused by the engine when the application is created', async () => {
    const { AppModule } = appModule({ options: { implementation: impl, documentStore: { stratgy: 'x' } } });
    await expect(NestFactory.create(AppModule, { logger: false, abortOnError: false }))
      .rejects.toMatchObject({ code: 'ERR_RT_INVALID_ARGUMENT' });
  });

  test('RealtimeIoAdapter refuses an unknown override', () => {
    expect(() => new rtn.RealtimeIoAdapter(null, { implementation: impl, hubb: null })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
  });
});
