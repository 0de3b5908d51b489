'use strict';

// Write-behind with OptimisticState: a change is applied in memory and broadcast at once; the
// database write happens afterwards; on success the change is committed, on failure it is rolled
// back and the compensating delta is broadcast. Every visible change reaches clients exactly once
// because the service broadcasts each non-null delta of the state's events.

const { Inject, Injectable } = require('@nestjs/common');

const DEVICE_DB = Symbol('DEVICE_DB'); // { save(deviceId, patch, { version }) -> Promise<version> }
const BROADCAST = Symbol('BROADCAST'); // (room, event, payload) => void, e.g. io.to(room).emit
const REALTIME = Symbol('REALTIME'); // require('realtime-core') or require('realtime-core/js')

// A change that is no longer pending (timed out, or dropped by a rebase) has nothing to undo.
function undo(state, id) {
  try {
    state.rollback(id);
  } catch (err) {
    if (err.code !== 'ERR_RT_UNKNOWN_ID') throw err;
  }
}

class DevicesService {
  constructor(db, broadcast, rt) {
    this.db = db;
    this.broadcast = broadcast;
    this.rt = rt;
    this.devices = new Map(); // deviceId -> OptimisticState
    this.nextMutation = 1;
  }

  // One OptimisticState per device document; its events are the broadcast feed.
  open(deviceId, initial, version = 0) {
    const state = new this.rt.OptimisticState(initial, { baseVersion: version, timeoutMs: 30000, maxPending: 100 });
    const room = `device:${deviceId}`;
    const send = (event) => ({ delta }) => {
      if (delta !== null) this.broadcast(room, event, { deviceId, delta });
    };
    state.on('change', send('device:status-update'));
    state.on('commit', send('device:status-update'));
    state.on('rollback', send('device:status-update'));
    this.devices.set(deviceId, state);
    return state;
  }

  state(deviceId) {
    const state = this.devices.get(deviceId);
    if (!state) throw new Error(`unknown device ${deviceId}`);
    return state;
  }

  /**
   * Applies `mergePatch` to the device at once (clients see it now), then writes it behind.
   * Resolves to { committed: true, version } or { committed: false, error } once the database
   * answered; the in-memory state is consistent with the database either way.
   */
  async update(deviceId, mergePatch) {
    const state = this.state(deviceId);
    const id = `w${this.nextMutation++}`;
    state.apply(id, { mergePatch }); // throws (nothing changed) if the patch is invalid
    let version;
    try {
      version = await this.db.save(deviceId, mergePatch);
    } catch (error) {
      undo(state, id);
      return { committed: false, error };
    }
    try {
      state.commit(id, { version });
    } catch (err) {
      // Rolled back meanwhile (timed out, or dropped by a rebase), yet the database has it:
      // bring it back as a confirmed change to the base.
      if (err.code !== 'ERR_RT_UNKNOWN_ID') throw err;
      state.rebase({ mergePatch }, { version });
    }
    return { committed: true, version };
  }

  close() {
    for (const state of this.devices.values()) state.close();
  }
}
Inject(DEVICE_DB)(DevicesService, undefined, 0);
Inject(BROADCAST)(DevicesService, undefined, 1);
Inject(REALTIME)(DevicesService, undefined, 2);
Injectable()(DevicesService);

module.exports = { DevicesService, DEVICE_DB, BROADCAST, REALTIME };
