'use strict';

// RealtimeCoreModule: forRoot / forRootAsync (Nest's ConfigurableModuleBuilder) providing the
// options, the implementation's API, the engines and the MutationProtocol. DOCUMENT_STORE is a
// DocumentStore, or a ClusterDocumentStore when `documentStore.redis` is given.

const { ConfigurableModuleBuilder, Inject, Injectable, Module } = require('@nestjs/common');
const {
  REALTIME_CORE_OPTIONS, REALTIME_CORE, DOCUMENT_STORE, OFFLINE_QUEUE, FANOUT_HUB, RAW_OPTIONS,
} = require('./tokens');
const { parseModuleOptions, moduleHubOptions, loadApi } = require('./options');
const { MutationProtocol } = require('./mutation-protocol');

// Closes the engines once the application's Socket.io servers are closed: Nest closes them
// (dispose) after beforeApplicationShutdown and before onApplicationShutdown, and an adapter's
// close flushes pending packets into the hub, which must still be open then.
class EngineLifecycle {
  constructor(queue, hub) {
    this.queue = queue;
    this.hub = hub;
    this.closed = false;
  }

  async onApplicationShutdown() {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.hub.close(), this.queue ? this.queue.close() : undefined]);
  }
}
Inject(OFFLINE_QUEUE)(EngineLifecycle, undefined, 0);
Inject(FANOUT_HUB)(EngineLifecycle, undefined, 1);
Injectable()(EngineLifecycle);

const { ConfigurableModuleClass } = new ConfigurableModuleBuilder({ optionsInjectionToken: RAW_OPTIONS })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

class RealtimeCoreModule extends ConfigurableModuleClass {
  // checked at once, so bad options fail where the module is declared
  static forRoot(options = {}) {
    parseModuleOptions(options === null || typeof options !== 'object' ? options : withoutExtras(options));
    return super.forRoot(options);
  }
}

function withoutExtras(options) {
  const { isGlobal, ...rest } = options;
  return rest;
}

const PROVIDERS = [
  { provide: REALTIME_CORE_OPTIONS, useFactory: (raw) => parseModuleOptions(raw), inject: [RAW_OPTIONS] },
  { provide: REALTIME_CORE, useFactory: (o) => loadApi(o.implementation), inject: [REALTIME_CORE_OPTIONS] },
  {
    provide: DOCUMENT_STORE,
    // `documentStore.redis` given: the documents live in Redis, ordered across the application's
    // instances (docs/cluster-documents.md)
    useFactory: (o, api) => (o.documentStore.redis === undefined
      // eslint-disable-next-line global-require
      ? new api.DocumentStore(o.documentStore)
      // eslint-disable-next-line global-require
      : new (require('../cluster').ClusterDocumentStore)({ ...o.documentStore, implementation: o.implementation })),
    inject: [REALTIME_CORE_OPTIONS, REALTIME_CORE],
  },
  {
    provide: OFFLINE_QUEUE,
    useFactory: (o, api) => (o.offlineQueue === false ? null : new api.OfflineQueue(o.offlineQueue)),
    inject: [REALTIME_CORE_OPTIONS, REALTIME_CORE],
  },
  {
    provide: FANOUT_HUB,
    useFactory: (o, api) => new api.FanoutHub(moduleHubOptions(o)),
    inject: [REALTIME_CORE_OPTIONS, REALTIME_CORE],
  },
  MutationProtocol,
  EngineLifecycle,
];

Module({
  providers: PROVIDERS,
  exports: [REALTIME_CORE_OPTIONS, REALTIME_CORE, DOCUMENT_STORE, OFFLINE_QUEUE, FANOUT_HUB, MutationProtocol],
})(RealtimeCoreModule);

module.exports = { RealtimeCoreModule };
