'use strict';

const { Module } = require('@nestjs/common');
const { DevicesService, DEVICE_DB, BROADCAST, REALTIME } = require('./devices.service');

// A module wiring the service to a database, a broadcaster and an implementation of
// realtime-core; an application passes its own (a repository, a Socket.io server).
function createDevicesModule({ db, broadcast, realtime = require('realtime-core') }) {
  class DevicesModule {}
  Module({
    providers: [
      DevicesService,
      { provide: DEVICE_DB, useValue: db },
      { provide: BROADCAST, useValue: broadcast },
      { provide: REALTIME, useValue: realtime },
    ],
    exports: [DevicesService],
  })(DevicesModule);
  return DevicesModule;
}

module.exports = { createDevicesModule };
