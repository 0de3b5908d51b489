'use strict';

// Real Nest applications (listening on port 0 of 127.0.0.1) with RealtimeCoreModule,
// RealtimeIoAdapter and a RealtimeGateway, and real socket.io-client clients. Every wait is
// event-driven with a generous timeout; nothing asserts on timing.

require('reflect-metadata');
const { Module, Injectable, Inject } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { WebSocketGateway, WebSocketServer } = require('@nestjs/websockets');
const { io: connectClient } = require('socket.io-client');
const rtn = require('realtime-core/nestjs');
const { IMPLS, Inbox, once, closeClients } = require('../socket.io/helpers');

// a ConfigModule-like module: a global provider of configuration values
const CONFIG = Symbol('CONFIG');
class ConfigService {
  constructor(values) {
    this.values = values;
  }

  get(key) {
    return this.values[key];
  }
}
Inject(CONFIG)(ConfigService, undefined, 0);
Injectable()(ConfigService);

function configModule(values) {
  class ConfigModule {}
  Module({ providers: [{ provide: CONFIG, useValue: values }, ConfigService], exports: [ConfigService] })(ConfigModule);
  return ConfigModule;
}

function gatewayClass(gatewayOptions) {
  class TestGateway extends rtn.RealtimeGateway {}
  WebSocketServer()(TestGateway.prototype, 'server'); // Nest sets it: the server, or the namespace
  WebSocketGateway(gatewayOptions)(TestGateway);
  return TestGateway;
}

// -> { AppModule, Gateway }: RealtimeCoreModule (forRoot(options), or
// forRootAsync(asyncOptions)) and a RealtimeGateway subclass
function appModule({ options, asyncOptions, gateway = {}, imports = [], providers = [] }) {
  class AppModule {}
  const Gateway = gatewayClass(gateway);
  const core = asyncOptions ? rtn.RealtimeCoreModule.forRootAsync(asyncOptions) : rtn.RealtimeCoreModule.forRoot(options);
  Module({ imports: [core, ...imports], providers: [Gateway, ...providers] })(AppModule);
  return { AppModule, Gateway };
}

class NestHarness {
  constructor() {
    this.apps = [];
    this.clients = [];
  }

  // -> { app, gateway, port, url }
  async app(spec, { adapterOverrides, listen = true } = {}) {
    const { AppModule, Gateway } = appModule(spec);
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    const entry = { app, gateway: app.get(Gateway), closed: false };
    this.apps.push(entry);
    app.useWebSocketAdapter(new rtn.RealtimeIoAdapter(app, adapterOverrides));
    if (listen) {
      await app.listen(0, '127.0.0.1');
      entry.port = app.getHttpServer().address().port;
      entry.url = `http://127.0.0.1:${entry.port}`;
    }
    return entry;
  }

  async close(entry) {
    if (entry.closed) return;
    entry.closed = true;
    await entry.app.close();
  }

  // a connected client with an Inbox; reconnection off unless asked for
  async client(entry, { nsp = '/', clientId, ...opts } = {}) {
    const socket = connectClient(`${entry.url}${nsp}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: clientId === undefined ? {} : { clientId },
      ...opts,
    });
    this.clients.push(socket);
    const inbox = new Inbox(socket);
    await once(socket, 'connect');
    return { socket, inbox };
  }

  async cleanup() {
    closeClients(this.clients);
    this.clients = [];
    for (const entry of this.apps) await this.close(entry);
    this.apps = [];
  }
}

// the Socket.io server of an app, as Nest gave it to the gateway (@WebSocketServer)
function ioOf(entry) {
  const s = entry.gateway.server;
  return typeof s.of === 'function' ? s : s.server;
}

module.exports = { IMPLS, NestHarness, ioOf, once, configModule, ConfigService, appModule, rtn };
