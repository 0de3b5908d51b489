'use strict';

const { Controller, Get, Inject } = require('@nestjs/common');
const { InjectRealtimeCore } = require('realtime-core/nestjs');
const { Broadcaster } = require('../broadcaster');
const { method } = require('./decorate');

class HealthController {
  constructor(realtime, broadcaster) {
    this.realtime = realtime;
    this.broadcaster = broadcaster;
  }

  health() {
    return { status: 'ok', implementation: this.realtime.implementation, connections: this.broadcaster.connections() };
  }
}
method(HealthController, 'health', [Get('health')]);
InjectRealtimeCore()(HealthController, undefined, 0);
Inject(Broadcaster)(HealthController, undefined, 1);
Controller()(HealthController);

module.exports = { HealthController };
