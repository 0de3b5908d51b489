'use strict';

// require('realtime-core/socket.io'): the Socket.io adapter over FanoutHub.
//
//   const { Server } = require('socket.io');
//   const { createAdapter } = require('realtime-core/socket.io');
//   const io = new Server(httpServer, { adapter: createAdapter({ implementation: 'native' }) });
//
// See docs/socket-io-adapter.md.

const { parseAdapterOptions } = require('./options');
const { createAdapterClass } = require('./adapter');
const { createClusterAdapterClass } = require('./cluster/adapter');
const metrics = require('./metrics');

// every adapter instance that is not closed, for createMetricsCollector
const liveAdapters = new Set();

// -> an adapter class for `new Server({ adapter })` or `io.adapter(...)`
// (with { redis }: the same adapter, scaled out over Redis: docs/redis.md)
function createAdapter(options) {
  const settings = parseAdapterOptions(options);
  const Base = createAdapterClass(settings, liveAdapters);
  return settings.cluster ? createClusterAdapterClass(Base, settings) : Base;
}

// prom-client metrics over the adapters' metrics(): every live adapter of this module, or those
// of one server ({ io }), or a custom list ({ adapters: () => [...] }).
function createMetricsCollector(options) {
  return metrics.createMetricsCollector(options, liveAdapters);
}

module.exports = { createAdapter, createMetricsCollector };
