'use strict';

// /api/*: Bearer-authenticated reads and writes. Every body and parameter is checked before
// anything changes; errors answer `{ error: { code, message } }` (HttpErrorFilter).

const { Controller, Get, Post, Param, Body, Req, HttpCode, Inject } = require('@nestjs/common');
const { SETTINGS } = require('../tokens');
const { FleetService } = require('../fleet.service');
const { PlaylistsService } = require('../playlists.service');
const { NotificationsService } = require('../notifications.service');
const { createAuth } = require('../auth');
const { RequestError, invalid, forbidden, CODES } = require('../errors');
const { method } = require('./decorate');

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class ApiController {
  constructor(settings, fleet, playlists, notifications) {
    this.auth = createAuth(settings.jwtSecret);
    this.fleet = fleet;
    this.playlists = playlists;
    this.notifications = notifications;
  }

  // -> claims of the Bearer token; `roles`: the roles allowed, or all
  user(req, roles) {
    let claims;
    try {
      claims = this.auth.fromRequest(req);
    } catch (err) {
      throw new RequestError(CODES.unauthorized, err.message, 401);
    }
    if (roles && !roles.includes(claims.role)) throw forbidden(`role ${claims.role} may not do this (needs ${roles.join(' or ')})`);
    return claims;
  }

  listPlaylists(req) {
    const { org } = this.user(req);
    return { playlists: this.playlists.listOf(org) };
  }

  getPlaylist(req, entity) {
    const { org } = this.user(req);
    return this.playlists.get(org, entity);
  }

  listDevices(req) {
    const { org } = this.user(req);
    return { devices: this.fleet.devicesOf(org) };
  }

  setDeviceStatus(req, deviceId, body) {
    const { org } = this.user(req, ['admin', 'editor']);
    if (!isPlainObject(body) || typeof body.status !== 'string') throw invalid('body must be JSON { status }');
    return this.fleet.setDeviceStatus(org, deviceId, body.status);
  }

  setServiceStatus(req, service, body) {
    const { org } = this.user(req, ['admin']);
    if (!isPlainObject(body) || typeof body.status !== 'string') throw invalid('body must be JSON { status, latencyMs? }');
    const latencyMs = body.latencyMs === undefined ? 0 : body.latencyMs;
    if (typeof latencyMs !== 'number') throw invalid('latencyMs must be a number');
    return this.fleet.setServiceStatus(org, service, body.status, latencyMs);
  }

  notify(req, body) {
    const { org } = this.user(req, ['admin', 'editor']);
    if (!isPlainObject(body) || typeof body.to !== 'string') throw invalid('body must be JSON { to, title, body? }');
    const text = body.body === undefined ? '' : body.body;
    const notification = this.notifications.notify(org, body.to, { title: body.title, body: text });
    return { notification, to: body.to };
  }
}
method(ApiController, 'listPlaylists', [Get('playlists')], [Req()]);
method(ApiController, 'getPlaylist', [Get('playlists/:entity')], [Req(), Param('entity')]);
method(ApiController, 'listDevices', [Get('devices')], [Req()]);
method(ApiController, 'setDeviceStatus', [Post('devices/:deviceId/status'), HttpCode(200)], [Req(), Param('deviceId'), Body()]);
method(ApiController, 'setServiceStatus', [Post('services/:service/status'), HttpCode(200)], [Req(), Param('service'), Body()]);
method(ApiController, 'notify', [Post('notifications'), HttpCode(200)], [Req(), Body()]);
Inject(SETTINGS)(ApiController, undefined, 0);
Inject(FleetService)(ApiController, undefined, 1);
Inject(PlaylistsService)(ApiController, undefined, 2);
Inject(NotificationsService)(ApiController, undefined, 3);
Controller('api')(ApiController);

module.exports = { ApiController };
