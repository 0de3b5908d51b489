'use strict';

const { RealtimeCoreError, ERROR_CODES } = require('../common/errors');
const { DEFAULT_LIMITS } = require('../common/limits');
const { createConflictFunctions } = require('./conflicts');
const { createClockClass } = require('./hlc');
const { createDocumentStoreClass } = require('./document_store');
const { createOptimisticStateClass } = require('./optimistic_state');
const { createOfflineQueueClass } = require('./offline_queue');
const { createFanoutHubClass } = require('./fanout');
const { createDelivery } = require('./delivery');

// Builds the public API over one engine (native or the JS twin); see docs/internals.md.
function createApi(engine) {
  const OfflineQueue = createOfflineQueueClass(engine);
  return Object.freeze({
    implementation: engine.implementation,
    ...createConflictFunctions(engine),
    HybridLogicalClock: createClockClass(engine),
    DocumentStore: createDocumentStoreClass(engine),
    OptimisticState: createOptimisticStateClass(engine),
    OfflineQueue,
    FanoutHub: createFanoutHubClass(engine, OfflineQueue),
    createDelivery,
    RealtimeCoreError,
    ERROR_CODES,
    DEFAULT_LIMITS,
  });
}

module.exports = { createApi };
