'use strict';

// Child process of test/socket.io/recovery.test.js: a Socket.io server with the realtime-core
// adapter in durable mode, to be killed with SIGKILL (no close()).
//   node crash_server_child.js <native|js> <durable dir> <port (0: any)>
// Prints JSON lines: { listening: port }, { connection: { recovered, pid, data, rooms } },
// { disconnect: reason }, { done: n } after each command. Reads JSON line commands on stdin:
//   { emit: [rooms], event, payload }   io.to(rooms).emit(event, payload) ([] = everyone)
//   { sync: true }                      done once everything logged so far is on disk

const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { Server } = require('socket.io');
const { createAdapter } = require(path.join(__dirname, '..', '..', 'lib', 'socket.io'));

const [impl, dir, port] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const httpServer = http.createServer();
const io = new Server(httpServer, {
  adapter: createAdapter({ implementation: impl, durable: { path: dir, fsync: 'always' } }),
  connectionStateRecovery: { maxDisconnectionDuration: 60000 },
});
io.on('connection', (socket) => {
  if (!socket.recovered) {
    socket.data.user = socket.handshake.auth.user;
    socket.join('room');
  }
  socket.on('join', (room, ack) => {
    socket.join(room);
    ack();
  });
  socket.on('leave', (room, ack) => {
    socket.leave(room);
    ack();
  });
  socket.on('disconnect', (reason) => out({ disconnect: reason }));
  out({ connection: { recovered: socket.recovered, pid: socket.pid, data: socket.data, rooms: [...socket.rooms] } });
});

let n = 0;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  if (c.emit) (c.emit.length ? io.to(c.emit) : io).emit(c.event, c.payload);
  const done = c.sync ? io.of('/').adapter.hub.sync() : Promise.resolve();
  done.then(() => out({ done: ++n }));
});

httpServer.listen(Number(port), '127.0.0.1', () => out({ listening: httpServer.address().port }));
