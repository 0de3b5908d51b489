'use strict';

// require('realtime-core/cluster'): engines that work across several Node processes over Redis.
// See docs/cluster-documents.md.
const { ClusterDocumentStore } = require('./document-store');

module.exports = { ClusterDocumentStore };
