'use strict';

// The one place that emits to rooms: the gateway hands it the Socket.io server once it exists,
// so services and the simulator do not depend on gateways.

const { Injectable } = require('@nestjs/common');

class Broadcaster {
  constructor() {
    this.io = null;
  }

  attach(io) {
    this.io = io;
  }

  // rooms: a room or an array of rooms; a socket in several of them gets the event once
  emit(rooms, event, payload) {
    if (!this.io) return false;
    this.io.to(rooms).emit(event, payload);
    return true;
  }

  // -> the connected sockets of a room on this server
  socketsIn(room) {
    if (!this.io) return [];
    const nsp = this.io.of('/');
    const members = nsp.adapter.rooms.get(room);
    if (!members) return [];
    const out = [];
    for (const id of members) {
      const socket = nsp.sockets.get(id);
      if (socket) out.push(socket);
    }
    return out;
  }

  connections() {
    return this.io ? this.io.of('/').sockets.size : 0;
  }
}
Injectable()(Broadcaster);

module.exports = { Broadcaster };
