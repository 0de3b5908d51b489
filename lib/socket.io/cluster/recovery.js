'use strict';

// Connection-state recovery across nodes (mixed into the cluster adapter class): sessions and
// recorded packets live in Redis (cluster/scripts.js), so a client that disconnected from one
// node recovers on any other. See docs/redis.md "Recovery across nodes".
//
// The restore reads, in one script, the session and the packets it missed (by room, after its
// offset), consumes the session and publishes a RESTORE_SYNC message to the restoring node's own
// channel. That node's subscriber receives every broadcast numbered before the script ahead of
// the sync message and every one numbered after it behind: the restored socket's rooms are
// joined exactly when the sync message arrives, so it gets each packet once, either in
// missedPackets or live, never both and never neither.

const crypto = require('crypto');
const { safeJson } = require('../adapter');
const { authorizeRooms } = require('../security');
const { RESTORE, GAP } = require('./scripts');

const OFFSET = /^([0-9a-z]{1,16})-([0-9]{1,16})$/;
const RESTORE_ATTACH_MS = 60000; // a restored session's socket must show up within this time

function parseData(text) {
  try {
    const v = JSON.parse(text);
    return v === null || v === undefined ? {} : v;
  } catch {
    return {};
  }
}

class ClusterRecoveryMethods {
  persistSession(session) {
    if (!this._cRecovery || this._closed || !session || typeof session.pid !== 'string') return;
    const rooms = [];
    for (const r of session.rooms || []) rooms.push(String(r));
    const value = JSON.stringify({ sid: session.sid, r: rooms, d: safeJson(session.data) });
    const key = this._names.session(session.pid);
    const { redis } = this._link;
    // lost when Redis is down: the client then gets a fresh session (counted)
    this._link.run(() => redis.command(['SET', key, value, 'PX', String(this._cWindowMs)])).then(
      () => { this._cc.sessionsSaved++; },
      () => { this._cc.sessionsLost++; },
    );
  }

  restoreSession(pid, offset) {
    if (!this._cRecovery || this._closed || typeof pid !== 'string' || typeof offset !== 'string') return null;
    const m = OFFSET.exec(offset);
    if (m === null) {
      this._failRecovery('invalid-offset');
      return null;
    }
    if (!this._link.connected) {
      this._failRecovery('unavailable');
      return null;
    }
    return this._clusterRestore(pid, m[1], m[2]).catch(() => {
      this._failRecovery('error');
      return null;
    });
  }

  async _clusterRestore(pid, epoch, seq) {
    const token = crypto.randomBytes(8).toString('hex');
    let settle;
    const r = { sid: null, joined: false, synced: new Promise((resolve) => { settle = resolve; }) };
    r.resolve = () => settle(true);
    r.fail = () => settle(false);
    this._restores.set(token, r);
    const n = this._names;
    const { redis } = this._link;
    try {
      const reply = await this._link.run(() => redis.evalScriptBuffer(
        RESTORE,
        [n.session(pid), n.seq, n.epoch, n.gap],
        [n.base, epoch, seq, this._myChannel, token, String(this._cMaxPackets)],
      ));
      const status = reply[0].toString();
      if (status !== 'recovered') {
        this._failRecovery(status);
        return null;
      }
      const session = JSON.parse(reply[1].toString());
      const ep = reply[2].toString();
      const { msgpack } = this._codec;
      const missedPackets = [];
      for (let i = 3; i + 1 < reply.length; i += 2) {
        const data = msgpack.decode(reply[i + 1]);
        data.push(`${ep}-${reply[i].toString()}`);
        missedPackets.push(data);
      }
      // our subscriber has passed the point of the restore: rooms joined (see _onRestoreSync)
      const timer = setTimeout(r.fail, this._settings.cluster.commandTimeout);
      const synced = await r.synced;
      clearTimeout(timer);
      if (!synced || this._closed) {
        this._undoRestore(session.sid);
        this._failRecovery('error');
        return null;
      }
      const data = parseData(session.d);
      const rooms = session.r;
      const hook = this._settings.authorizeJoin;
      if (hook !== null) {
        const subject = {
          id: session.sid, pid, data, handshake: undefined, recovered: true, restoring: true, nsp: this.nsp, rooms: new Set(rooms),
        };
        const v = authorizeRooms(hook, subject, rooms, session.sid);
        const verdicts = Array.isArray(v) ? v : await v;
        let denied = false;
        for (let i = 0; i < rooms.length; i++) {
          if (!verdicts[i]) {
            denied = true;
            this._denied(rooms[i], session.sid);
          }
        }
        // a replay without the denied rooms' packets would be partial: not recovered
        if (denied || this._closed) {
          this._undoRestore(session.sid);
          this._failRecovery('denied');
          return null;
        }
      }
      this._counters.recoveries++;
      return { sid: session.sid, pid, rooms, data, missedPackets };
    } finally {
      this._restores.delete(token);
    }
  }

  // The restore script's sync message, in our subscriber's order: join the session's rooms now.
  _onRestoreSync(m) {
    const r = this._restores.get(m.token);
    if (r === undefined || r.joined) return;
    let session;
    try {
      session = JSON.parse(m.s);
    } catch {
      r.fail();
      return;
    }
    const sid = session.sid;
    let h = this._handleById.get(sid);
    if (h === undefined) h = this._connect(sid);
    const prev = this._restoring.get(sid);
    if (prev !== undefined) clearTimeout(prev.timer);
    const timer = setTimeout(() => {
      const x = this._restoring.get(sid);
      if (x !== undefined && x.timer === timer && this._socketByHandle[x.handle] === undefined) this.delAll(sid);
    }, RESTORE_ATTACH_MS);
    if (typeof timer.unref === 'function') timer.unref();
    // packets for a socket in _restoring that is not there yet are held (delivery.js _hold)
    this._restoring.set(sid, { handle: h, timer, rooms: new Set(session.r) });
    this._join(h, sid, session.r);
    r.sid = sid;
    r.joined = true;
    r.resolve();
  }

  _undoRestore(sid) {
    if (typeof sid !== 'string' || this._closed) return;
    const h = this._handleById.get(sid);
    if (h !== undefined && this._socketByHandle[h] === undefined) this.delAll(sid);
  }

  // After an outage in which packets went unrecorded: no offset up to now can be recovered.
  _markGap() {
    const n = this._names;
    const { redis } = this._link;
    this._gapPending = false;
    this._link.run(() => redis.evalScript(GAP, [n.seq, n.gap], [String(this._cWindowMs || 1)])).catch(() => {
      this._gapPending = true;
    });
  }
}

module.exports = { ClusterRecoveryMethods };
