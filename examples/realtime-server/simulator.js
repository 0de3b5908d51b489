'use strict';

// The device simulator: the traffic of the seeds (device status, schedules, health alerts,
// service statuses, KPIs, notifications, system alerts, server-side playlist edits) at rates that
// grow with the number of devices. Per-device events have a probability per device and tick, so
// 200 devices make about 17 times the device traffic of 12; organisation-level events (KPIs,
// services) are per organisation and tick. `random` and `clock` are injectable and `tick()` is
// public, so a test can drive it step by step.

const { Inject, Injectable, Logger } = require('@nestjs/common');
const { MutationProtocol } = require('realtime-core/nestjs');
const { SETTINGS, CLOCK } = require('./tokens');
const { Broadcaster } = require('./broadcaster');
const { FleetService, SERVICES, SEVERITIES } = require('./fleet.service');
const { NotificationsService } = require('./notifications.service');
const { PlaylistsService } = require('./playlists.service');
const { rooms, MODULES } = require('./rooms');

// per device and tick
const P_STATUS_CHANGE = 0.02;
const P_RECOVER_FROM_ERROR = 0.3;
const P_SCHEDULE = 0.01;
const P_HEALTH_ALERT = 0.003;
// per organisation and tick
const P_RESOLVE_ALERT = 0.05;
const P_NOTIFICATION = 0.03;
const P_PLAYLIST_EDIT = 0.02;
const P_SYSTEM_ALERT = 0.005;
const SERVICES_PER_TICK = 2;

// next status of a device that changes, by its current one
const TRANSITIONS = {
  online: [['playing', 0.6], ['offline', 0.3], ['error', 0.1]],
  playing: [['online', 0.6], ['offline', 0.3], ['error', 0.1]],
  offline: [['online', 0.9], ['error', 0.1]],
  error: [['online', 1]],
};
const METRICS = [['cpu', '%', 85, 100], ['temperature', 'C', 70, 95], ['memory', '%', 90, 100], ['disk', '%', 92, 100]];

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Simulator {
  constructor({ fleet, notifications, playlists, protocol, broadcaster, clock, random, intervalMs, log }) {
    Object.assign(this, { fleet, notifications, playlists, protocol, broadcaster, clock, random, intervalMs });
    this.log = log || (() => {});
    this.timer = null;
    this.ticks = 0;
    this.kpi = new Map(); // org -> running counters
  }

  start() {
    if (this.timer || this.intervalMs === 0) return;
    this.timer = setInterval(() => this.safeTick(), this.intervalMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // A failing step must not stop the simulator, nor the process.
  safeTick() {
    try {
      this.tick();
    } catch (err) {
      this.log(`tick ${this.ticks}: ${err.stack || err.message}`);
    }
  }

  chance(p) {
    return this.random() < p;
  }

  pick(list) {
    return list[Math.floor(this.random() * list.length)];
  }

  between(lo, hi) {
    return lo + this.random() * (hi - lo);
  }

  at() {
    return new Date(this.clock()).toISOString();
  }

  tick() {
    this.ticks++;
    for (const org of this.fleet.orgs()) {
      const devices = this.fleet.devicesOf(org);
      for (const d of devices) this.device(org, d);
      this.alerts(org, devices);
      this.services(org);
      this.kpis(org, devices);
      if (this.chance(P_NOTIFICATION)) this.notification(org);
      if (this.chance(P_PLAYLIST_EDIT)) this.playlistEdit(org);
      if (this.chance(P_SYSTEM_ALERT)) this.systemAlert(org);
    }
  }

  device(org, d) {
    if (d.status === 'error' ? this.chance(P_RECOVER_FROM_ERROR) : this.chance(P_STATUS_CHANGE)) {
      let r = this.random();
      let next = d.status;
      for (const [status, p] of TRANSITIONS[d.status]) {
        next = status;
        if ((r -= p) < 0) break;
      }
      this.fleet.setDeviceStatus(org, d.deviceId, next);
      d.status = next; // d is this tick's snapshot: the schedule below sees the new status
    }
    if (d.status === 'playing' && this.chance(P_SCHEDULE)) {
      const entity = this.pick(this.playlists.entitiesOf(org));
      if (entity) {
        this.broadcaster.emit(rooms.org(org), 'schedule:executed', {
          scheduleId: `sched-${org}-${1 + Math.floor(this.random() * 20)}`,
          deviceId: d.deviceId,
          entity,
          at: this.at(),
        });
      }
    }
  }

  alerts(org, devices) {
    for (const d of devices) {
      if (d.status === 'offline' || !this.chance(P_HEALTH_ALERT)) continue;
      const [metric, , lo, hi] = this.pick(METRICS);
      const value = Math.round(this.between(lo, hi) * 10) / 10;
      this.fleet.raiseAlert(org, { deviceId: d.deviceId, severity: value > (lo + hi) / 2 ? SEVERITIES[1] : SEVERITIES[0], metric, value });
    }
    if (this.chance(P_RESOLVE_ALERT)) this.fleet.resolveOldestAlert(org);
  }

  services(org) {
    for (let i = 0; i < SERVICES_PER_TICK; i++) {
      const service = this.pick(SERVICES);
      const r = this.random();
      const status = r < 0.01 ? 'down' : r < 0.06 ? 'degraded' : 'up';
      const latencyMs = status === 'down' ? 0 : status === 'degraded' ? this.between(300, 1500) : this.between(5, 80);
      this.fleet.setServiceStatus(org, service, status, latencyMs);
    }
  }

  kpis(org, devices) {
    const k = this.kpi.get(org) || { impressions: 0, visitors: 0, kwh: 0 };
    this.kpi.set(org, k);
    const online = devices.filter((d) => d.status === 'online' || d.status === 'playing').length;
    const playing = devices.filter((d) => d.status === 'playing').length;
    k.impressions += Math.round(playing * this.between(0, 4));
    k.visitors += Math.round(this.between(0, 3 + devices.length / 4));
    k.kwh += online * 0.05 * (this.intervalMs || 1000) / 1000;
    const at = this.at();
    const metrics = {
      signage: { impressions: k.impressions, screensOnline: online, screensPlaying: playing },
      analytics: { visitors: k.visitors, dwellTimeS: Math.round(this.between(20, 240)), conversionRate: Math.round(this.between(1, 9) * 10) / 10 },
      energy: { kwh: Math.round(k.kwh * 100) / 100, currentKw: Math.round(online * this.between(0.08, 0.2) * 100) / 100 },
    };
    for (const module of MODULES) {
      this.broadcaster.emit(rooms.module(org, module), `kpi:update:${module}`, { module, metrics: metrics[module], at });
    }
  }

  notification(org) {
    const users = this.notifications.knownUsers(org);
    if (users.length === 0) return;
    const alerts = this.fleet.alertsOf(org);
    const last = alerts[alerts.length - 1];
    this.notifications.notify(org, this.pick(users), last
      ? { title: `${last.severity === 'critical' ? 'Critical' : 'Warning'}: ${last.metric} on ${last.deviceId}`, body: `${last.metric} at ${last.value}` }
      : { title: 'Daily report ready', body: `${this.fleet.summary(org).devicesOnline} screens online` });
  }

  playlistEdit(org) {
    const entity = this.pick(this.playlists.entitiesOf(org));
    if (!entity) return;
    const { doc } = this.playlists.get(org, entity);
    const items = Array.isArray(doc.items) ? doc.items : [];
    const i = items.findIndex((it) => it && Number.isInteger(it.durationS));
    if (i === -1) return;
    const durationS = 5 + Math.floor(this.random() * 56);
    this.protocol.applyServer(entity, { patch: [{ op: 'replace', path: `/items/${i}/durationS`, value: durationS }] });
  }

  systemAlert(org) {
    const [level, message] = this.pick([
      ['warning', 'Scheduled maintenance tonight at 02:00 UTC'],
      ['info', 'Content sync completed'],
      ['info', 'A new player firmware is available'],
    ]);
    this.broadcaster.emit(rooms.org(org), 'alert:system', { level, message, at: this.at() });
  }
}

// The Nest side: started once the application is up, stopped before the engines close.
class SimulatorService {
  constructor(settings, clock, broadcaster, fleet, notifications, playlists, protocol) {
    const logger = new Logger('Simulator');
    const seed = settings.seed === null ? (Math.random() * 2 ** 32) >>> 0 : settings.seed;
    this.enabled = settings.devices > 0;
    this.seed = seed;
    this.simulator = new Simulator({
      fleet, notifications, playlists, protocol, broadcaster, clock,
      random: mulberry32(seed),
      intervalMs: settings.simIntervalMs,
      log: (m) => logger.error(m),
    });
  }

  onApplicationBootstrap() {
    if (this.enabled) this.simulator.start();
  }

  beforeApplicationShutdown() {
    this.simulator.stop();
  }
}
Inject(SETTINGS)(SimulatorService, undefined, 0);
Inject(CLOCK)(SimulatorService, undefined, 1);
Inject(Broadcaster)(SimulatorService, undefined, 2);
Inject(FleetService)(SimulatorService, undefined, 3);
Inject(NotificationsService)(SimulatorService, undefined, 4);
Inject(PlaylistsService)(SimulatorService, undefined, 5);
Inject(MutationProtocol)(SimulatorService, undefined, 6);
Injectable()(SimulatorService);

module.exports = { Simulator, SimulatorService, mulberry32 };
