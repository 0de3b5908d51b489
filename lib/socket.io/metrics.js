'use strict';

// Metrics of the adapter: the counters each adapter keeps, and a prom-client collector over
// every live adapter (prom-client is an optional peer dependency, loaded only here).

// 'outage', 'unavailable', 'denied': scale-out over Redis only (docs/redis.md)
const FAILURE_REASONS = ['unknown-session', 'expired', 'invalid-offset', 'too-old', 'error', 'outage', 'unavailable', 'denied'];

function newCounters() {
  const reasons = {};
  for (const r of FAILURE_REASONS) reasons[r] = 0;
  return {
    deliveries: 0, // packets written to sockets (one per socket)
    directWrites: 0, // of which written by the direct-write fast path (ws Sender#sendFrame)
    bytes: 0, // bytes of those packets
    packets: 0, // packets encoded (once per delivery, by the hub or by the fallback encoder)
    fallbackPackets: 0, // packets encoded by nsp.server.encoder (binary, custom parser, other types)
    droppedVolatile: 0, // volatile packets not written because the socket's transport was busy
    droppedPending: 0, // packets for a recovering socket beyond the pending buffer
    slowDisconnects: 0, // sockets closed because the hub marked them slow
    recoveries: 0,
    recoveryFailures: 0,
    recoveryFailuresByReason: reasons,
    offsetRepairs: 0, // recoveries whose client offset was a plain string argument (repaired)
    joinsDenied: 0,
    rateLimited: 0,
    oversizeInbound: 0,
    oversizeOutbound: 0,
    refusedConnections: 0, // sockets refused because the hub was at maxConnections
  };
}

// prom-client metrics: [name, type, help, (m) => number]; m = adapter.metrics()
const METRICS = [
  ['deliveries_total', 'counter', 'Packets written to sockets', (m) => m.deliveries],
  ['direct_writes_total', 'counter', 'Packets written to sockets by the direct-write fast path', (m) => m.directWrites],
  ['bytes_total', 'counter', 'Bytes of the packets written to sockets', (m) => m.bytes],
  ['packets_total', 'counter', 'Packets encoded (once per delivery)', (m) => m.packets],
  ['fallback_packets_total', 'counter', 'Packets encoded by the Socket.io encoder instead of the hub', (m) => m.fallbackPackets],
  ['drops_total', 'counter', 'Volatile packets dropped (busy transport or slow consumer) and pending packets dropped', (m) => m.drops],
  ['coalesced_total', 'counter', 'Keyed messages replaced by a newer one before delivery', (m) => m.coalesced],
  ['slow_consumers_total', 'counter', 'Sockets disconnected as slow consumers', (m) => m.slowDisconnects],
  ['recoveries_total', 'counter', 'Sessions recovered', (m) => m.recoveries],
  ['recovery_failures_total', 'counter', 'Recovery attempts that failed', (m) => m.recoveryFailures],
  ['joins_denied_total', 'counter', 'Room joins refused by authorizeJoin', (m) => m.joinsDenied],
  ['rate_limited_total', 'counter', 'Sockets disconnected by the inbound rate limit', (m) => m.rateLimited],
  ['oversize_inbound_total', 'counter', 'Sockets disconnected for an inbound packet over the size limit', (m) => m.oversizeInbound],
  ['oversize_outbound_total', 'counter', 'Outbound messages refused for their size', (m) => m.oversizeOutbound],
  ['sockets', 'gauge', 'Sockets known to the adapter', (m) => m.sockets],
  ['rooms', 'gauge', 'Rooms', (m) => m.rooms],
  ['backlog', 'gauge', 'Packets written and not yet drained, summed over sockets', (m) => m.backlog],
  ['max_backlog', 'gauge', 'Largest backlog of one socket', (m) => m.maxBacklog],
  ['pending_keys', 'gauge', 'Throttled keys waiting for their turn', (m) => m.hub.pendingKeys || 0],
  ['open_batches', 'gauge', 'Open batches', (m) => m.hub.openBatches || 0],
  ['recovery_packets', 'gauge', 'Packets in the recovery log', (m) => m.hub.recoveryPackets || 0],
  ['recovery_bytes', 'gauge', 'Bytes in the recovery log', (m) => m.hub.recoveryBytes || 0],
  ['sessions', 'gauge', 'Disconnected sessions kept for recovery', (m) => m.hub.sessions || 0],
];

function loadPromClient(requireFn = require) {
  try {
    return requireFn('prom-client');
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND') {
      const e = new Error(
        'realtime-core/socket.io: createMetricsCollector() needs the optional peer dependency "prom-client" '
        + '(npm install prom-client), or pass it as { promClient }',
      );
      e.code = 'ERR_RT_MISSING_PEER';
      e.cause = err;
      throw e;
    }
    throw err;
  }
}

// Registers one prom-client metric per entry of METRICS, labelled by namespace and
// implementation, whose collect() reads adapter.metrics() of every adapter `adapters()` returns.
// -> { metrics: { [name]: metric }, unregister() }
function createMetricsCollector(options, liveAdapters) {
  const o = options || {};
  const prom = o.promClient || loadPromClient();
  const registry = o.registry || prom.register;
  const prefix = o.prefix === undefined ? 'realtime_core_socketio_' : String(o.prefix);
  const labelNames = ['namespace', 'implementation'];
  const source = () => {
    if (typeof o.adapters === 'function') return o.adapters();
    if (o.io) return [...o.io._nsps.values()].map((nsp) => nsp.adapter).filter((a) => a && typeof a.metrics === 'function' && liveAdapters.has(a));
    return [...liveAdapters];
  };
  const metrics = {};
  for (const [suffix, type, help, get] of METRICS) {
    const name = prefix + suffix;
    const Ctor = type === 'counter' ? prom.Counter : prom.Gauge;
    metrics[name] = new Ctor({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const m of source().map((a) => a.metrics())) {
          const labels = { namespace: m.namespace, implementation: m.implementation };
          const v = Number(get(m)) || 0;
          if (type === 'counter') {
            this.inc(labels, v);
          } else {
            this.set(labels, v);
          }
        }
      },
    });
  }
  return {
    metrics,
    unregister() {
      for (const name of Object.keys(metrics)) registry.removeSingleMetric(name);
    },
  };
}

module.exports = { newCounters, createMetricsCollector, loadPromClient, METRICS, FAILURE_REASONS };
