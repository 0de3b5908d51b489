'use strict';

// The dashboard's Socket.io side: authentication of the handshake, the rooms every socket is in
// (its organisation and its user), subscriptions, and dashboard:init. Each handler answers
// through its ack, `{ ok: false, error: { code, message } }` for bad input; none throws into Nest.

const { Inject, Logger } = require('@nestjs/common');
const { WebSocketGateway, SubscribeMessage, MessageBody, ConnectedSocket } = require('@nestjs/websockets');
const { SETTINGS } = require('./tokens');
const { Broadcaster } = require('./broadcaster');
const { FleetService } = require('./fleet.service');
const { PlaylistsService } = require('./playlists.service');
const { NotificationsService } = require('./notifications.service');
const { createAuth } = require('./auth');
const { rooms, MODULES, authorizeJoin } = require('./rooms');
const { invalid, forbidden, notFound, failure } = require('./errors');

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// what a subscription event names -> its room, from validated input only
const TOPICS = {
  module(socket, body) {
    if (!isPlainObject(body) || typeof body.module !== 'string') throw invalid('payload must be { module }');
    if (!MODULES.includes(body.module)) throw invalid(`module must be one of ${MODULES.join(', ')}`);
    return rooms.module(socket.data.org, body.module);
  },
  status(socket) {
    return rooms.status(socket.data.org);
  },
  device(socket, body, fleet) {
    if (!isPlainObject(body) || typeof body.deviceId !== 'string' || body.deviceId.length === 0 || body.deviceId.length > 128) {
      throw invalid('payload must be { deviceId } (a string of 1 to 128 characters)');
    }
    // Another organisation's device answers like an unknown one, so a client cannot learn which
    // device ids exist elsewhere; the adapter's authorizeJoin still guards every room name.
    if (fleet.orgOfDevice(body.deviceId) !== socket.data.org) throw notFound(`no device "${body.deviceId}"`);
    return rooms.device(socket.data.org, body.deviceId);
  },
};

class DashboardGateway {
  constructor(settings, broadcaster, fleet, playlists, notifications) {
    this.broadcaster = broadcaster;
    this.fleet = fleet;
    this.playlists = playlists;
    this.notifications = notifications;
    this.auth = createAuth(settings.jwtSecret);
    this.log = new Logger('Dashboard');
  }

  afterInit(server) {
    this.broadcaster.attach(server);
    server.use(this.auth.middleware((m) => this.log.warn(m)));
  }

  handleConnection(socket) {
    const { org, sub } = socket.data;
    socket.join([rooms.org(org), rooms.user(org, sub)]);
    this.notifications.connected(socket);
  }

  // -> ack of a subscription change
  change(socket, topic, body, join) {
    try {
      const room = TOPICS[topic](socket, body, this.fleet);
      if (join) {
        socket.join(room);
        if (!socket.rooms.has(room)) throw forbidden(`not allowed to join ${room}`);
      } else {
        // the same answer as subscribing, so leaving tells nothing about other organisations
        if (!authorizeJoin(socket, room)) throw forbidden(`not allowed to leave ${room}`);
        socket.leave(room);
      }
      return { ok: true, room };
    } catch (err) {
      if (!err.code) this.log.error(err.stack || err.message);
      return failure(err);
    }
  }

  init(socket) {
    try {
      const { org, sub, role } = socket.data;
      return {
        user: sub,
        org,
        role,
        devices: this.fleet.devicesOf(org),
        playlists: this.playlists.listOf(org),
        alerts: this.fleet.alertsOf(org),
        services: this.fleet.servicesOf(org),
        summary: this.fleet.summary(org),
      };
    } catch (err) {
      this.log.error(err.stack || err.message);
      return failure(err);
    }
  }

  subscribeModule(socket, body) { return this.change(socket, 'module', body, true); }
  unsubscribeModule(socket, body) { return this.change(socket, 'module', body, false); }
  subscribeStatus(socket, body) { return this.change(socket, 'status', body, true); }
  unsubscribeStatus(socket, body) { return this.change(socket, 'status', body, false); }
  subscribeDevice(socket, body) { return this.change(socket, 'device', body, true); }
  unsubscribeDevice(socket, body) { return this.change(socket, 'device', body, false); }
}

const HANDLERS = {
  init: 'dashboard:init',
  subscribeModule: 'subscribe:module',
  unsubscribeModule: 'unsubscribe:module',
  subscribeStatus: 'subscribe:status',
  unsubscribeStatus: 'unsubscribe:status',
  subscribeDevice: 'subscribe:device',
  unsubscribeDevice: 'unsubscribe:device',
};
for (const [method, event] of Object.entries(HANDLERS)) {
  const descriptor = Object.getOwnPropertyDescriptor(DashboardGateway.prototype, method);
  SubscribeMessage(event)(DashboardGateway.prototype, method, descriptor);
  ConnectedSocket()(DashboardGateway.prototype, method, 0);
  MessageBody()(DashboardGateway.prototype, method, 1);
}
Inject(SETTINGS)(DashboardGateway, undefined, 0);
Inject(Broadcaster)(DashboardGateway, undefined, 1);
Inject(FleetService)(DashboardGateway, undefined, 2);
Inject(PlaylistsService)(DashboardGateway, undefined, 3);
Inject(NotificationsService)(DashboardGateway, undefined, 4);
WebSocketGateway()(DashboardGateway);

module.exports = { DashboardGateway };
