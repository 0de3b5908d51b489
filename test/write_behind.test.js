'use strict';

// The write-behind pattern of docs/optimistic-state.md, end to end: a NestJS service
// (examples/write-behind) applies a change, broadcasts it at once, writes it to an
// asynchronous database that fails on demand, and broadcasts the compensating delta on failure.

require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { IMPLS } = require('./helpers/impls');
const { createDevicesModule } = require('../examples/write-behind/app.module');
const { DevicesService } = require('../examples/write-behind/devices.service');

// A database whose writes stay in flight until the test settles them.
function controllableDb() {
  const inFlight = [];
  return {
    inFlight,
    save: (deviceId, patch) => new Promise((resolve, reject) => inFlight.push({ deviceId, patch, resolve, reject })),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe.each(IMPLS)('write-behind through a NestJS service (%s)', (_name, rt) => {
  let app;
  let devices;
  let db;
  let sent;

  beforeEach(async () => {
    db = controllableDb();
    sent = [];
    const broadcast = (room, event, payload) => sent.push([room, event, payload.delta]);
    app = await NestFactory.createApplicationContext(createDevicesModule({ db, broadcast, realtime: rt }), { logger: false });
    devices = app.get(DevicesService);
    devices.open('d1', { status: 'offline', volume: 5 }, 10);
  });

  afterEach(async () => {
    devices.close();
    await app.close();
  });

  test('broadcast at once, confirmed silently, compensated on failure', async () => {
    const first = devices.update('d1', { status: 'online' });
    expect(sent).toEqual([['device:d1', 'device:status-update', { status: 'online' }]]);
    const second = devices.update('d1', { volume: 7 });
    expect(sent.slice(1)).toEqual([['device:d1', 'device:status-update', { volume: 7 }]]);
    expect(db.inFlight.map((w) => w.patch)).toEqual([{ status: 'online' }, { volume: 7 }]);

    // the second write succeeds first: committed under the first, nothing visible changes
    db.inFlight[1].resolve(11);
    await expect(second).resolves.toEqual({ committed: true, version: 11 });
    expect(sent).toHaveLength(2);
    const state = devices.state('d1');
    expect(state.base).toEqual({ status: 'offline', volume: 7 });
    expect(state.baseVersion).toBe(11);

    // the first write fails: rolled back, and clients get the compensating delta
    db.inFlight[0].reject(new Error('unique constraint'));
    const r = await first;
    expect(r.committed).toBe(false);
    expect(r.error.message).toBe('unique constraint');
    expect(sent.slice(2)).toEqual([['device:d1', 'device:status-update', { status: 'offline' }]]);
    expect(state.state).toEqual({ status: 'offline', volume: 7 });
    expect(state.hasPending()).toBe(false);
  });

  test('a change that timed out before the database confirmed it comes back as a base change', async () => {
    const pending = devices.update('d1', { volume: 9 });
    const state = devices.state('d1');
    state.expire(Date.now() + 60_000); // the write took longer than timeoutMs
    expect(state.state).toEqual({ status: 'offline', volume: 5 });
    db.inFlight[0].resolve(11);
    await expect(pending).resolves.toEqual({ committed: true, version: 11 });
    expect(state.state).toEqual({ status: 'offline', volume: 9 });
    expect(state.baseVersion).toBe(11);
    expect(sent.map((s) => s[2])).toEqual([{ volume: 9 }, { volume: 5 }, { volume: 9 }]);
  });

  test('an invalid change is refused before anything is broadcast or written', async () => {
    await expect(devices.update('d1', 10n)).rejects.toMatchObject({ code: 'ERR_RT_INVALID_VALUE' });
    expect(sent).toEqual([]);
    expect(db.inFlight).toEqual([]);
    await settle();
  });
});
