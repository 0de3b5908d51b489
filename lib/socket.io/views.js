'use strict';

// Read-only Map/Set views over the hub's membership, standing in for the in-memory adapter's
// `rooms: Map<Room, Set<SocketId>>` and `sids: Map<SocketId, Set<Room>>`. Nothing is copied
// until it is read: `adapter.rooms.get(room)?.size` is one hub call. Writes throw a TypeError
// (membership changes go through join/leave, so the hub stays the single source of truth).

function readOnly(what) {
  const err = new TypeError(`${what} is a read-only view of the adapter's membership; use socket.join()/socket.leave()`);
  err.code = 'ERR_RT_READ_ONLY';
  return err;
}

// Common Map-like surface over `keys()` and `get(key)`.
class MapView {
  get [Symbol.toStringTag]() { return 'Map'; }

  * entries() {
    for (const key of this.keys()) {
      const value = this.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  * values() {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator]() { return this.entries(); }

  forEach(fn, thisArg) {
    for (const [key, value] of this.entries()) fn.call(thisArg, value, key, this);
  }

  set() { throw readOnly(this.constructor.name); }

  delete() { throw readOnly(this.constructor.name); }

  clear() { throw readOnly(this.constructor.name); }
}

// adapter.rooms.get(room): the members of one room, live (each read asks the hub).
class RoomMembersView {
  constructor(core, room) {
    this._core = core;
    this._room = room;
  }

  get [Symbol.toStringTag]() { return 'Set'; }

  get size() { return this._core.roomSize(this._room); }

  has(id) { return this._core.isMember(id, this._room); }

  * values() { yield* this._core.memberIds(this._room); }

  keys() { return this.values(); }

  * entries() {
    for (const id of this.values()) yield [id, id];
  }

  [Symbol.iterator]() { return this.values(); }

  forEach(fn, thisArg) {
    for (const id of this.values()) fn.call(thisArg, id, id, this);
  }

  add() { throw readOnly('RoomMembersView'); }

  delete() { throw readOnly('RoomMembersView'); }

  clear() { throw readOnly('RoomMembersView'); }
}

// adapter.rooms: Room -> members (in room creation order)
class RoomsView extends MapView {
  constructor(core) {
    super();
    this._core = core;
  }

  get size() { return this._core.roomCount(); }

  has(room) { return this._core.roomSize(room) > 0; }

  get(room) { return this._core.roomSize(room) > 0 ? new RoomMembersView(this._core, room) : undefined; }

  * keys() { yield* this._core.roomNames(); }
}

// adapter.sids: SocketId -> Set of its rooms (a new Set per read, in join order)
class SidsView extends MapView {
  constructor(core) {
    super();
    this._core = core;
  }

  get size() { return this._core.socketCount(); }

  has(id) { return this._core.hasSocket(id); }

  get(id) { return this._core.socketRooms(id); }

  * keys() { yield* this._core.socketIds(); }
}

module.exports = { RoomsView, SidsView, RoomMembersView };
