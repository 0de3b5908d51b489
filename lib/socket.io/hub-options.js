'use strict';

// The FanoutHub options of one namespace, from createAdapter's settings and the server's
// connectionStateRecovery. One function for both the adapter (which creates a hub per namespace)
// and realtime-core/nestjs (which creates the hub of '/' up front, so that it can be injected),
// so the two can never build hubs that disagree.

const path = require('path');
const crypto = require('crypto');

function randomPrefix() {
  let s = '';
  while (s.length < 8) s += crypto.randomBytes(8).readBigUInt64LE().toString(36);
  return `${s.slice(0, 8)}-`;
}

// one directory per namespace under durable.path
function namespaceDir(name) {
  return name === '/' ? '_root' : `nsp_${encodeURIComponent(name.slice(1))}`;
}

// settings: parseAdapterOptions(...); csr: the server's connectionStateRecovery option (falsy: off)
// -> { recoveryOn, windowMs, durable, hubOptions }
function namespaceHubOptions(settings, name, csr) {
  // with scale-out over Redis, sessions and packets are recorded in Redis (lib/socket.io/cluster)
  // and the hub only routes
  const recoveryOn = !!csr && settings.recovery !== false && !settings.cluster;
  const windowMs = recoveryOn
    ? (settings.recovery.windowMs || csr.maxDisconnectionDuration || 2 * 60 * 1000)
    : 0;
  const hubOptions = {
    namespace: name,
    throttleMs: settings.throttleMs,
    batch: { maxItems: settings.batch.maxItems, maxDelayMs: settings.batch.maxDelayMs },
    maxBacklog: settings.maxBacklog,
    maxPayloadBytes: settings.maxPayloadBytes,
    clock: settings.clock,
    autoFlush: true,
  };
  if (settings.maxConnections !== undefined) hubOptions.maxConnections = settings.maxConnections;
  if (settings.maxRooms !== undefined) hubOptions.maxRooms = settings.maxRooms;
  const durable = recoveryOn && !!settings.durable;
  if (recoveryOn) {
    const r = { windowMs };
    if (settings.recovery.maxPackets !== undefined) r.maxPackets = settings.recovery.maxPackets;
    if (settings.recovery.maxBytes !== undefined) r.maxBytes = settings.recovery.maxBytes;
    hubOptions.recovery = r;
    if (settings.recovery.maxSessions !== undefined) hubOptions.maxSessions = settings.recovery.maxSessions;
    if (durable) {
      hubOptions.durable = { ...settings.durable, path: path.join(settings.durable.path, namespaceDir(name)) };
    } else {
      // offsets of different server runs never collide (a client's stale offset fails cleanly)
      hubOptions.offsetPrefix = randomPrefix();
    }
  }
  return { recoveryOn, windowMs, durable, hubOptions };
}

module.exports = { namespaceHubOptions, namespaceDir };
