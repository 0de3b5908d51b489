'use strict';

// The application module for one set of settings: realtime-core's module (engines, adapter
// options, mutation rules) plus the example's services, gateways and controllers.

const fs = require('node:fs');
const path = require('node:path');
const { Module } = require('@nestjs/common');
const { RealtimeCoreModule } = require('realtime-core/nestjs');
const { SETTINGS, CLOCK } = require('./tokens');
const { Broadcaster } = require('./broadcaster');
const { FleetService } = require('./fleet.service');
const { PlaylistsService } = require('./playlists.service');
const { NotificationsService } = require('./notifications.service');
const { SimulatorService } = require('./simulator');
const { DashboardGateway } = require('./dashboard.gateway');
const { PlaylistGateway } = require('./playlist.gateway');
const { ApiController } = require('./http/api.controller');
const { DemoController } = require('./http/demo.controller');
const { HealthController } = require('./http/health.controller');
const { StaticController } = require('./http/static.controller');
const { rooms, authorizeJoin, orgOfEntity } = require('./rooms');

const DAY_MS = 24 * 3600 * 1000;

// The module's options: everything realtime-core does for the example is configured here.
function realtimeOptions(settings, broadcaster) {
  return {
    implementation: settings.implementation,
    documentStore: { strategy: 'server-wins' },
    // notification:new waits here for users who are offline (notifications.service.js)
    offlineQueue: { path: path.join(settings.dataDir, 'queue'), capacity: 50, ttlMs: 7 * DAY_MS, fsync: 'interval' },
    socketio: {
      // the seeds' "at most 1 update per second": per service, and one bulk per organisation
      // (the adapter's key includes the target rooms, so organisations never hide each other)
      throttle: {
        'service:status': ([s]) => (s && typeof s.service === 'string' ? s.service : null),
        'service:bulk-update': () => 'services',
        // a summary per organisation: with hundreds of devices, once a second is what a person reads
        'dashboard:update': () => 'summary',
      },
      authorizeJoin,
      rateLimit: { points: 300, intervalMs: 10000 },
      maxInboundBytes: 64 * 1024,
      durable: { path: path.join(settings.dataDir, 'socket.io') },
    },
    // middlewares run again on recovery: an expired or foreign token does not get its session back
    recovery: { maxDisconnectionDuration: 120000, skipMiddlewares: false },
    mutations: {
      rooms: (entity) => {
        const org = orgOfEntity(entity);
        return org ? [rooms.org(org)] : [];
      },
      authorize: (socket, entity, action) =>
        orgOfEntity(entity) === socket.data.org && (action === 'sync' || socket.data.role !== 'viewer'),
      // mutation ids are deduplicated per user and device, so one user can never make another's
      // mutation look like a replay
      clientId: (socket) => `${socket.data.org}:${socket.data.sub}:${socket.data.clientId}`,
      onApplied: ({ entity, version, socket }) => {
        const org = orgOfEntity(entity);
        if (org) broadcaster.emit(rooms.org(org), 'playlist:updated', { entity, version, updatedBy: socket ? socket.data.sub : 'server' });
      },
    },
  };
}

function createAppModule(settings, { clock = Date.now } = {}) {
  fs.mkdirSync(settings.dataDir, { recursive: true });
  const broadcaster = new Broadcaster();
  const controllers = [ApiController, HealthController, StaticController];
  if (settings.demoLogin) controllers.push(DemoController);
  class AppModule {}
  Module({
    imports: [RealtimeCoreModule.forRoot(realtimeOptions(settings, broadcaster))],
    controllers,
    providers: [
      { provide: SETTINGS, useValue: settings },
      { provide: CLOCK, useValue: clock },
      { provide: Broadcaster, useValue: broadcaster },
      FleetService,
      PlaylistsService,
      NotificationsService,
      SimulatorService,
      DashboardGateway,
      PlaylistGateway,
    ],
  })(AppModule);
  return AppModule;
}

module.exports = { createAppModule, realtimeOptions };
