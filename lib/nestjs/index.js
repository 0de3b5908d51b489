'use strict';

// require('realtime-core/nestjs'): the NestJS module, the Socket.io adapter and the mutation
// protocol. See docs/nestjs.md. Needs @nestjs/common, @nestjs/core, @nestjs/websockets and
// @nestjs/platform-socket.io (10, 11 or 12) and reflect-metadata.

require('reflect-metadata');
const { Inject } = require('@nestjs/common');
const tokens = require('./tokens');
const { RealtimeCoreModule } = require('./module');
const { RealtimeIoAdapter } = require('./io-adapter');
const { MutationProtocol } = require('./mutation-protocol');
const { RealtimeGateway } = require('./gateway');

const InjectDocumentStore = () => Inject(tokens.DOCUMENT_STORE);
const InjectOfflineQueue = () => Inject(tokens.OFFLINE_QUEUE);
const InjectFanoutHub = () => Inject(tokens.FANOUT_HUB);
const InjectRealtimeCore = () => Inject(tokens.REALTIME_CORE);

module.exports = {
  RealtimeCoreModule,
  RealtimeIoAdapter,
  MutationProtocol,
  RealtimeGateway,
  REALTIME_CORE_OPTIONS: tokens.REALTIME_CORE_OPTIONS,
  REALTIME_CORE: tokens.REALTIME_CORE,
  DOCUMENT_STORE: tokens.DOCUMENT_STORE,
  OFFLINE_QUEUE: tokens.OFFLINE_QUEUE,
  FANOUT_HUB: tokens.FANOUT_HUB,
  InjectDocumentStore,
  InjectOfflineQueue,
  InjectFanoutHub,
  InjectRealtimeCore,
};
