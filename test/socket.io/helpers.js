'use strict';

// Real Socket.io servers and socket.io-client connections on 127.0.0.1 (port 0) for the adapter
// tests. Every wait is event-driven with a generous timeout; nothing asserts on timing.
// RT_IMPL=js or RT_IMPL=native narrows a run to one implementation (as test/helpers/impls.js).

const http = require('node:http');
const { Server } = require('socket.io');
const { io: connectClient } = require('socket.io-client');
const { createAdapter } = require('realtime-core/socket.io');

const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);
const TIMEOUT = 10000;

function timeoutError(what, ms) {
  return new Error(`timed out after ${ms} ms waiting for ${what}`);
}

// Resolves with the arguments of the next `event` on `emitter` (optionally the first whose
// arguments pass `filter`).
function once(emitter, event, { timeout = TIMEOUT, filter } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(timeoutError(`"${event}"`, timeout));
    }, timeout);
    function handler(...args) {
      if (filter && !filter(...args)) return;
      clearTimeout(timer);
      emitter.off(event, handler);
      resolve(args);
    }
    emitter.on(event, handler);
  });
}

// Everything a client receives, in order: [[event, ...args], ...], with waits on the count or
// on a predicate, woken by each arrival.
class Inbox {
  constructor(socket) {
    this.socket = socket;
    this.events = [];
    this.waiters = [];
    socket.onAny((...args) => {
      this.events.push(args);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
  }

  named(event) {
    return this.events.filter((e) => e[0] === event);
  }

  // resolves when predicate(events) is true
  until(predicate, what = 'a condition', timeout = TIMEOUT) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          if (!predicate(this.events)) return false;
          clearTimeout(w.timer);
          resolve(this.events);
          return true;
        },
      };
      if (w.check()) return;
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(timeoutError(`${what} (got ${JSON.stringify(this.events).slice(0, 400)})`, timeout));
      }, timeout);
      this.waiters.push(w);
    });
  }

  count(n, event) {
    return this.until((evs) => (event ? evs.filter((e) => e[0] === event).length : evs.length) >= n, `${n} ${event || 'events'}`);
  }

  clear() {
    this.events = [];
  }
}

// socket.io-client clients closed for good: no reconnection, transport closed
function closeClients(clients) {
  for (const c of clients) {
    c.io.opts.reconnection = false;
    c.disconnect();
    if (c.io.engine) c.io.engine.close();
  }
}

class Harness {
  constructor() {
    this.servers = [];
    this.clients = [];
  }

  // -> { io, port, httpServer }; `adapter`: adapter options (createAdapter), an adapter class,
  // or null for Socket.io's default one
  async server({ adapter = {}, port = 0, ...serverOptions } = {}) {
    const httpServer = http.createServer();
    const opts = { ...serverOptions };
    if (adapter !== null) opts.adapter = typeof adapter === 'function' ? adapter : createAdapter(adapter);
    const io = new Server(httpServer, opts);
    await new Promise((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, '127.0.0.1', resolve);
    });
    const entry = { io, httpServer, port: httpServer.address().port, closed: false };
    this.servers.push(entry);
    return entry;
  }

  async closeServer(entry) {
    if (entry.closed) return;
    entry.closed = true;
    await entry.io.close();
  }

  // a client, not yet waited for; reconnection is off unless asked for
  client(port, { nsp = '/', ...opts } = {}) {
    const socket = connectClient(`http://127.0.0.1:${port}${nsp}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      ...opts,
    });
    this.clients.push(socket);
    return socket;
  }

  // a connected client with an Inbox
  async connected(port, opts) {
    const socket = this.client(port, opts);
    const inbox = new Inbox(socket);
    await once(socket, 'connect');
    return { socket, inbox };
  }

  async cleanup() {
    closeClients(this.clients);
    this.clients = [];
    for (const s of this.servers) await this.closeServer(s);
    this.servers = [];
  }
}

// the server-side socket of a connected client
function serverSocket(io, client, nsp = '/') {
  return io.of(nsp).sockets.get(client.id);
}

// Closes the client's transport (not a Socket.io disconnect): the server sees "transport close",
// a recoverable reason. Resolves when the client has seen it.
async function dropTransport(client) {
  const gone = once(client, 'disconnect');
  client.io.engine.close();
  await gone;
}

// Reconnects a client whose transport was dropped (reconnection off). -> socket.recovered
async function reconnect(client) {
  const back = once(client, 'connect');
  client.connect();
  await back;
  return client.recovered;
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { IMPLS, TIMEOUT, Harness, Inbox, once, closeClients, serverSocket, dropTransport, reconnect, tick, sleep };
