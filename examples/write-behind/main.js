'use strict';

// node examples/write-behind/main.js: the write-behind pattern against a database that fails
// every third write, printing what clients would receive.
require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { createDevicesModule } = require('./app.module');
const { DevicesService } = require('./devices.service');

async function main() {
  let writes = 0;
  let version = 0;
  const db = {
    save: (deviceId, patch) =>
      new Promise((resolve, reject) => {
        setTimeout(() => (++writes % 3 === 0 ? reject(new Error('database unavailable')) : resolve(++version)), 20);
      }),
  };
  const broadcast = (room, event, payload) => console.log(`-> ${room} ${event} ${JSON.stringify(payload.delta)}`);
  const app = await NestFactory.createApplicationContext(createDevicesModule({ db, broadcast }), { logger: false });
  const devices = app.get(DevicesService);
  devices.open('d1', { status: 'offline', volume: 5 });
  const results = await Promise.all([
    devices.update('d1', { status: 'online' }),
    devices.update('d1', { volume: 7 }),
    devices.update('d1', { status: 'playing' }),
  ]);
  for (const r of results) console.log(r.committed ? `committed as version ${r.version}` : `rolled back: ${r.error.message}`);
  console.log('state', JSON.stringify(devices.state('d1').state));
  devices.close();
  await app.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
