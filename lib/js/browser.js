'use strict';

// The browser subset of the pure-JS twin: the conflict functions, DocumentStore, OptimisticState
// and the hybrid logical clock, built by the same lib/api factories over the same engine as
// require('realtime-core/js'). The offline queue and the fan-out hub are server engines (the
// durable queue writes files) and are not part of it. Bundled by
// examples/realtime-server/browser/bundle.js.

const { RealtimeCoreError, ERROR_CODES } = require('../common/errors');
const { DEFAULT_LIMITS } = require('../common/limits');
const { createConflictFunctions } = require('../api/conflicts');
const { createClockClass } = require('../api/hlc');
const { createDocumentStoreClass } = require('../api/document_store');
const { createOptimisticStateClass } = require('../api/optimistic_state');
const engine = require('./document_engine');

module.exports = Object.freeze({
  implementation: engine.implementation,
  ...createConflictFunctions(engine),
  HybridLogicalClock: createClockClass(engine),
  DocumentStore: createDocumentStoreClass(engine),
  OptimisticState: createOptimisticStateClass(engine),
  RealtimeCoreError,
  ERROR_CODES,
  DEFAULT_LIMITS,
});
