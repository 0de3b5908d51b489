'use strict';

// RealtimeCoreModule's options: checked once, defaults filled in, frozen. Unknown names are
// refused (ERR_RT_INVALID_ARGUMENT) as everywhere in realtime-core, so a typo never silently falls
// back to a default.

const { invalidArgument } = require('../common/errors');
const { isPlainObject, checkOptions, oneOf, integerOption, functionOption } = require('../api/options');
const { parseAdapterOptions } = require('../socket.io/options');
const { namespaceHubOptions } = require('../socket.io/hub-options');

const MODULE_OPTIONS = ['implementation', 'documentStore', 'offlineQueue', 'socketio', 'recovery', 'mutations'];
const RECOVERY_OPTIONS = ['maxDisconnectionDuration', 'skipMiddlewares'];
const MUTATION_OPTIONS = ['rooms', 'authorize', 'clientId', 'onApplied', 'deltaEvent', 'joinOnSync'];
const DEFAULT_RECOVERY = Object.freeze({ maxDisconnectionDuration: 120000, skipMiddlewares: true });

function engineOptions(value, name) {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalidArgument(`RealtimeCoreModule: ${name} must be a plain object`);
  return value;
}

// DocumentStore options, or with `redis` (a client): ClusterDocumentStore options, whose
// `implementation` is the module's
function documentStoreOption(value) {
  const o = engineOptions(value, 'documentStore');
  if (o.redis === undefined) return o;
  if (o.redis === null || typeof o.redis !== 'object') throw invalidArgument('RealtimeCoreModule: documentStore.redis must be an ioredis or node-redis client');
  if ('implementation' in o) throw invalidArgument('RealtimeCoreModule: documentStore.implementation is set by the module (use the module\'s implementation option)');
  return o;
}

// Socket.io's connectionStateRecovery, or false
function recoveryOption(value) {
  if (value === undefined || value === true) return DEFAULT_RECOVERY;
  if (value === false) return false;
  const o = checkOptions(value, RECOVERY_OPTIONS, 'RealtimeCoreModule recovery');
  const out = {
    maxDisconnectionDuration: integerOption(o.maxDisconnectionDuration, 'recovery.maxDisconnectionDuration', {
      min: 1, max: 2 ** 31 - 1, fallback: DEFAULT_RECOVERY.maxDisconnectionDuration,
    }),
    skipMiddlewares: DEFAULT_RECOVERY.skipMiddlewares,
  };
  if (o.skipMiddlewares !== undefined) {
    if (typeof o.skipMiddlewares !== 'boolean') throw invalidArgument('recovery.skipMiddlewares must be true or false');
    out.skipMiddlewares = o.skipMiddlewares;
  }
  return Object.freeze(out);
}

// createAdapter options without `implementation` and `hub` (the module decides both)
function socketioOption(value, implementation) {
  const o = engineOptions(value, 'socketio');
  for (const key of ['implementation', 'hub']) {
    if (key in o) throw invalidArgument(`RealtimeCoreModule: socketio.${key} is set by the module (use the module's ${key === 'hub' ? 'FANOUT_HUB' : 'implementation option'})`);
  }
  // validated now, so a bad adapter option fails at startup rather than at the first connection
  parseAdapterOptions({ ...o, implementation });
  return o;
}

function defaultRooms(entity) {
  return [`entity:${entity}`];
}

function defaultClientId(socket) {
  const auth = socket && socket.handshake && socket.handshake.auth;
  const id = auth && auth.clientId;
  return id === undefined || id === null ? socket.id : id;
}

function mutationsOption(value) {
  const o = checkOptions(value, MUTATION_OPTIONS, 'RealtimeCoreModule mutations');
  const deltaEvent = o.deltaEvent === undefined ? 'rt:delta' : o.deltaEvent;
  if (typeof deltaEvent !== 'string' || deltaEvent.length === 0) throw invalidArgument('mutations.deltaEvent must be a non-empty string');
  let joinOnSync = true;
  if (o.joinOnSync !== undefined) {
    if (typeof o.joinOnSync !== 'boolean') throw invalidArgument('mutations.joinOnSync must be true or false');
    joinOnSync = o.joinOnSync;
  }
  return Object.freeze({
    rooms: functionOption(o.rooms, 'mutations.rooms') || defaultRooms,
    authorize: functionOption(o.authorize, 'mutations.authorize') || null,
    clientId: functionOption(o.clientId, 'mutations.clientId') || defaultClientId,
    onApplied: functionOption(o.onApplied, 'mutations.onApplied') || null,
    deltaEvent,
    joinOnSync,
  });
}

// forRoot's options (or what forRootAsync's factory returned) -> the module's frozen options
function parseModuleOptions(options) {
  const o = checkOptions(options, MODULE_OPTIONS, 'RealtimeCoreModule');
  const implementation = oneOf(o.implementation, ['native', 'js'], 'implementation', 'native');
  let offlineQueue = {};
  if (o.offlineQueue === false) offlineQueue = false;
  else offlineQueue = engineOptions(o.offlineQueue, 'offlineQueue');
  return Object.freeze({
    implementation,
    documentStore: documentStoreOption(o.documentStore),
    offlineQueue,
    socketio: socketioOption(o.socketio, implementation),
    recovery: recoveryOption(o.recovery),
    mutations: mutationsOption(o.mutations),
  });
}

// The options of the module's FanoutHub: the hub the adapter would make for '/' of a server
// created by RealtimeIoAdapter (same function, so they always agree).
function moduleHubOptions(options) {
  const settings = parseAdapterOptions({ ...options.socketio, implementation: options.implementation });
  return namespaceHubOptions(settings, '/', options.recovery || undefined).hubOptions;
}

function loadApi(implementation) {
  // eslint-disable-next-line global-require
  return implementation === 'js' ? require('../js') : require('..');
}

module.exports = { parseModuleOptions, moduleHubOptions, loadApi };
