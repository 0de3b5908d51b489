'use strict';

// The engine interface of docs/internals.md over the pure-JS core: the document engines
// (document_engine.js) plus the server-side offline queue and fan-out hub.
const { OfflineQueue } = require('./offline_queue');
const { Fanout } = require('./fanout');

module.exports = {
  ...require('./document_engine'),
  // docs/internals.md, `new Queue(opts)`: the engine class itself has exactly that interface
  Queue: OfflineQueue,
  Fanout,
};
