'use strict';

// The adapter's recovery methods (mixed into the adapter class, see adapter.js): restoring a
// session through the hub (with authorizeJoin on its rooms), holding the restored socket's
// rooms until it arrives, and repairing client offsets taken from unrecorded packets.

const { authorizeRooms } = require('./security');
const { packetData } = require('./encoding');

const RESTORE_ATTACH_MS = 60000; // a restored session's socket must show up within this time
const STRAY_EPOCHS = 8;
const STRAY_STRINGS = 16;

function parseJson(text) {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

class RecoveryMethods {
  // ------------------------------------------------------------------------------------------
  // recovery

  _failRecovery(reason) {
    const c = this._counters;
    c.recoveryFailures++;
    c.recoveryFailuresByReason[reason] = (c.recoveryFailuresByReason[reason] || 0) + 1;
  }

  _sweepSessions(now) {
    for (const [pid, s] of this._sessions) {
      if (s.savedAt + this._windowMs >= now) break;
      this._sessions.delete(pid);
    }
  }

  _restore(pid, offset) {
    this._syncDrained();
    const hub = this._hub;
    const extra = this._sessions.get(pid);
    let used = offset;
    // an offset the hub cannot even take (a long or broken string) is not one of its offsets
    const takeable = offset.length <= 256 && offset.isWellFormed();
    let res = takeable ? hub.restore(pid, offset) : { status: 'invalid-offset' };
    if (res.status === 'invalid-offset' && extra !== undefined) {
      const repaired = this._repairOffset(extra, offset);
      if (repaired !== null) {
        const again = hub.restore(pid, repaired);
        if (again.status === 'recovered') {
          this._counters.offsetRepairs++;
          used = repaired;
        }
        res = again;
      }
    }
    if (res.status !== 'recovered') {
      this._failRecovery(res.status);
      if (res.status === 'unknown-session' || res.status === 'expired') this._sessions.delete(pid);
      return null;
    }
    this._sessions.delete(pid);
    let data;
    if (extra !== undefined) data = extra.data;
    else {
      data = parseJson(res.data);
      if (data === undefined || data === null) data = {};
    }
    const hook = this._settings.authorizeJoin;
    if (hook === null) return this._completeRestore(pid, res, data);
    const sid = res.sid;
    const rooms = res.rooms.map((k) => this._roomOf(k));
    const subject = {
      id: sid,
      pid,
      data,
      handshake: extra !== undefined ? extra.handshake : undefined,
      recovered: true,
      restoring: true,
      nsp: this.nsp,
      rooms: new Set(rooms),
    };
    const apply = (verdicts, sync) => {
      if (this._closed) return null;
      const allowed = [];
      let denied = 0;
      for (let i = 0; i < rooms.length; i++) {
        if (verdicts[i]) allowed.push(res.rooms[i]);
        else {
          denied++;
          this._denied(rooms[i], sid);
        }
      }
      if (denied === 0 && sync) return this._completeRestore(pid, res, data);
      // again with the authorised rooms only (and, after an asynchronous hook, with what was
      // recorded meanwhile): the hub filters the packets by the session's rooms
      hub.saveSession({ id: pid, sid, rooms: allowed, data: res.data });
      const again = hub.restore(pid, used);
      if (again.status !== 'recovered') {
        this._failRecovery(again.status);
        return null;
      }
      return this._completeRestore(pid, again, data);
    };
    const verdicts = authorizeRooms(hook, subject, rooms, sid);
    return Array.isArray(verdicts) ? apply(verdicts, true) : verdicts.then((v) => apply(v, false));
  }

  _completeRestore(pid, res, data) {
    const sid = res.sid;
    const rooms = res.rooms.map((k) => this._roomOf(k));
    const missedPackets = new Array(res.packets.length);
    for (let i = 0; i < res.packets.length; i++) missedPackets[i] = packetData(res.packets[i], this._prefixLength);
    // join now, so that nothing published before the socket shows up is lost (it is held)
    let h = this._handleById.get(sid);
    if (h === undefined) h = this._connect(sid);
    const prev = this._restoring.get(sid);
    if (prev !== undefined) clearTimeout(prev.timer);
    const timer = setTimeout(() => {
      const r = this._restoring.get(sid);
      if (r !== undefined && r.timer === timer && this._socketByHandle[r.handle] === undefined) this.delAll(sid);
    }, RESTORE_ATTACH_MS);
    if (typeof timer.unref === 'function') timer.unref();
    this._restoring.set(sid, { handle: h, timer, rooms: new Set(rooms) });
    if (missedPackets.length) {
      const last = missedPackets[missedPackets.length - 1];
      const off = last[last.length - 1];
      if (typeof off === 'string') this._lastOffByHandle[h] = off;
    }
    this._join(h, sid, rooms);
    this._counters.recoveries++;
    return { sid, pid, rooms, data, missedPackets };
  }

  // A recovered socket arrived: stop holding, and ask authorizeJoin again, now with the real
  // socket, about the rooms it got back (future deliveries only).
  _finishRestore(id, h, socket) {
    const r = this._restoring.get(id);
    clearTimeout(r.timer);
    this._restoring.delete(id);
    const hook = this._settings.authorizeJoin;
    if (hook === null || !socket.recovered) return undefined;
    const rooms = this._hub.rooms(h).map((k) => this._roomOf(k));
    const verdicts = authorizeRooms(hook, socket, rooms, id);
    const apply = (v) => {
      if (this._closed || this._handleById.get(id) !== h) return;
      for (let i = 0; i < rooms.length; i++) {
        if (v[i]) continue;
        this._denied(rooms[i], id);
        this.del(id, rooms[i]);
      }
    };
    if (Array.isArray(verdicts)) {
      apply(verdicts);
      return undefined;
    }
    return verdicts.then(apply);
  }

  // socket.io-client takes the last string argument of any event as its offset, also of an
  // unrecorded packet (volatile, recoverable: false, fallback). We remember, per socket, the
  // strings such packets ended with, grouped by the last recorded offset written before them
  // (an epoch). A client offset that is one of those strings is repaired to the oldest
  // matching epoch's offset: what the client has certainly received (duplicates over loss).
  _noteStray(h, str) {
    const before = this._lastOffByHandle[h];
    let epochs = this._straysByHandle[h];
    if (epochs === undefined) this._straysByHandle[h] = (epochs = []);
    let cur = epochs[epochs.length - 1];
    if (cur === undefined || cur.before !== before) {
      cur = { before, strings: [] };
      epochs.push(cur);
      if (epochs.length > STRAY_EPOCHS) epochs.shift();
    }
    if (cur.strings.length < STRAY_STRINGS && !cur.strings.includes(str)) cur.strings.push(str);
  }

  _repairOffset(extra, offset) {
    const epochs = extra.epochs;
    if (!epochs) return null;
    for (const e of epochs) {
      if (!e.strings.includes(offset)) continue;
      if (typeof e.before === 'string') return e.before;
      return this._offsetPrefix !== null ? `${this._offsetPrefix}0` : null;
    }
    return null;
  }
}

module.exports = { RecoveryMethods };
