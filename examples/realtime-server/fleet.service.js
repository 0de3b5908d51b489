'use strict';

// The organisations' devices, open health alerts and service statuses, in memory, and the
// broadcasts that go with each change. HTTP routes and the simulator change them only through
// these methods, so every change reaches the dashboards the same way.

const { Inject, Injectable } = require('@nestjs/common');
const { SETTINGS, CLOCK } = require('./tokens');
const { Broadcaster } = require('./broadcaster');
const { rooms } = require('./rooms');
const { invalid, notFound } = require('./errors');

const ORGS = ['acme', 'globex'];
const DEVICE_STATUSES = ['online', 'offline', 'playing', 'error'];
const SERVICES = ['api', 'database', 'cdn', 'scheduler', 'storage'];
const SERVICE_STATUSES = ['up', 'degraded', 'down'];
const SEVERITIES = ['warning', 'critical'];
const PLACES = ['Lobby', 'Reception', 'Cafeteria', 'Meeting room', 'Entrance', 'Showroom', 'Warehouse', 'Elevator'];
const MAX_OPEN_ALERTS = 100;

// Device i of a fleet of n: spread over the organisations in turn; ids are global, so a device
// id alone says nothing about access (every lookup checks the organisation).
function seedDevices(n) {
  const devices = [];
  const perOrg = new Map(ORGS.map((o) => [o, 0]));
  const width = Math.max(3, String(n).length);
  for (let i = 0; i < n; i++) {
    const org = ORGS[i % ORGS.length];
    const k = perOrg.get(org) + 1;
    perOrg.set(org, k);
    devices.push({
      deviceId: `${org}-${String(k).padStart(width, '0')}`,
      org,
      name: `${PLACES[(k - 1) % PLACES.length]} screen ${Math.ceil(k / PLACES.length)}`,
      status: k % 3 === 0 ? 'playing' : 'online',
      at: null,
    });
  }
  return devices;
}

class FleetService {
  constructor(settings, broadcaster, clock) {
    this.broadcaster = broadcaster;
    this.clock = clock;
    this.devices = new Map(); // deviceId -> device
    const now = this.now();
    for (const d of seedDevices(settings.devices)) this.devices.set(d.deviceId, { ...d, at: now });
    this.alerts = new Map(ORGS.map((o) => [o, []])); // open alerts, oldest first
    this.nextAlert = 1;
    this.services = new Map(
      ORGS.map((o) => [o, new Map(SERVICES.map((s) => [s, { service: s, status: 'up', latencyMs: 20 }]))]),
    );
  }

  now() {
    return new Date(this.clock()).toISOString();
  }

  orgs() {
    return ORGS;
  }

  // -> public view of a device
  view(d) {
    return { deviceId: d.deviceId, name: d.name, status: d.status, at: d.at };
  }

  devicesOf(org) {
    const out = [];
    for (const d of this.devices.values()) if (d.org === org) out.push(this.view(d));
    return out;
  }

  // The device of that id in that organisation; another organisation's device is "not found"
  // as well, so ids cannot be probed across organisations.
  device(org, deviceId) {
    const d = typeof deviceId === 'string' ? this.devices.get(deviceId) : undefined;
    if (!d || d.org !== org) throw notFound(`no device "${String(deviceId).slice(0, 80)}" in ${org}`);
    return d;
  }

  // the organisation a device id belongs to, or null (for room joins the adapter then judges)
  orgOfDevice(deviceId) {
    const d = typeof deviceId === 'string' ? this.devices.get(deviceId) : undefined;
    return d ? d.org : null;
  }

  setDeviceStatus(org, deviceId, status) {
    if (!DEVICE_STATUSES.includes(status)) throw invalid(`status must be one of ${DEVICE_STATUSES.join(', ')}`);
    const d = this.device(org, deviceId);
    d.status = status;
    d.at = this.now();
    const update = this.view(d);
    this.broadcaster.emit([rooms.org(org), rooms.device(org, d.deviceId)], 'device:status-update', update);
    this.emitSummary(org);
    return update;
  }

  summary(org) {
    let online = 0;
    let total = 0;
    for (const d of this.devices.values()) {
      if (d.org !== org) continue;
      total++;
      if (d.status === 'online' || d.status === 'playing') online++;
    }
    return { devicesOnline: online, devicesTotal: total, alertsOpen: this.alerts.get(org)?.length ?? 0, at: this.now() };
  }

  emitSummary(org) {
    this.broadcaster.emit(rooms.org(org), 'dashboard:update', this.summary(org));
  }

  alertsOf(org) {
    return [...(this.alerts.get(org) || [])];
  }

  raiseAlert(org, { deviceId, severity, metric, value }) {
    if (!SEVERITIES.includes(severity)) throw invalid(`severity must be one of ${SEVERITIES.join(', ')}`);
    this.device(org, deviceId);
    const list = this.alerts.get(org);
    const alert = { id: `alert-${this.nextAlert++}`, deviceId, severity, metric, value, at: this.now() };
    list.push(alert);
    if (list.length > MAX_OPEN_ALERTS) list.shift();
    this.broadcaster.emit(rooms.org(org), 'health:alert', alert);
    this.emitSummary(org);
    return alert;
  }

  resolveOldestAlert(org) {
    const list = this.alerts.get(org);
    if (!list || list.length === 0) return null;
    const alert = list.shift();
    this.emitSummary(org);
    return alert;
  }

  servicesOf(org) {
    return [...this.services.get(org).values()].map((s) => ({ ...s }));
  }

  // service:status is coalesced per service and service:bulk-update per organisation by the
  // adapter's throttle option (app.module.js), so callers may report as often as they like.
  setServiceStatus(org, service, status, latencyMs) {
    const table = this.services.get(org);
    if (!table) throw notFound(`no organisation ${org}`);
    if (!table.has(service)) throw notFound(`no service "${String(service).slice(0, 80)}" (${SERVICES.join(', ')})`);
    if (!SERVICE_STATUSES.includes(status)) throw invalid(`status must be one of ${SERVICE_STATUSES.join(', ')}`);
    if (!Number.isFinite(latencyMs) || latencyMs < 0 || latencyMs > 600000) {
      throw invalid('latencyMs must be a number from 0 to 600000');
    }
    const entry = { service, status, latencyMs: Math.round(latencyMs) };
    table.set(service, entry);
    const at = this.now();
    this.broadcaster.emit(rooms.status(org), 'service:status', { ...entry, at });
    this.broadcaster.emit(rooms.status(org), 'service:bulk-update', { services: this.servicesOf(org), at });
    return { ...entry, at };
  }
}
Inject(SETTINGS)(FleetService, undefined, 0);
Inject(Broadcaster)(FleetService, undefined, 1);
Inject(CLOCK)(FleetService, undefined, 2);
Injectable()(FleetService);

module.exports = { FleetService, ORGS, DEVICE_STATUSES, SERVICES, SERVICE_STATUSES, SEVERITIES, seedDevices };
