'use strict';

// notification:new with at-least-once delivery: every notification is first pushed to the
// module's durable OfflineQueue (client id `<org>:<sub>`), then sent with an acknowledgement to
// each connected socket of the user; the queue item is removed only when a socket acked it. A user
// with no socket (offline, or whose sockets did not ack) gets the queued items on the next
// connect. Acknowledged emits are not part of connection-state recovery, which is why the queue,
// not the recovery log, carries them.

const { Inject, Injectable, Logger } = require('@nestjs/common');
const { InjectOfflineQueue } = require('realtime-core/nestjs');
const { CLOCK } = require('./tokens');
const { Broadcaster } = require('./broadcaster');
const { rooms } = require('./rooms');
const { invalid } = require('./errors');
const { isId } = require('./auth');

const MAX_TITLE = 200;
const MAX_BODY = 2000;
const MAX_KNOWN_USERS = 1000;
// users a simulated notification may go to before anyone connected (the dashboard's defaults)
const DEMO_USERS = { acme: ['alice'], globex: ['bob'] };

class NotificationsService {
  constructor(queue, broadcaster, clock) {
    this.queue = queue;
    this.broadcaster = broadcaster;
    this.clock = clock;
    this.log = new Logger('Notifications');
    this.sent = new WeakMap(); // socket -> Set of offsets sent to it and not answered yet
    this.users = new Map(Object.entries(DEMO_USERS).map(([org, list]) => [org, new Set(list)]));
    this.nextId = 1;
    this.closed = false;
  }

  static queueId(org, sub) {
    return `${org}:${sub}`;
  }

  knownUsers(org) {
    return [...(this.users.get(org) || [])];
  }

  // -> the notification; throws ERR_RT_INVALID_ARGUMENT for bad input (nothing queued)
  notify(org, sub, { title, body }) {
    if (!isId(org) || !isId(sub)) throw invalid('org and user must be ids ([A-Za-z0-9._-], at most 64)');
    if (typeof title !== 'string' || title.length === 0 || title.length > MAX_TITLE) {
      throw invalid(`title must be a string of 1 to ${MAX_TITLE} characters`);
    }
    if (typeof body !== 'string' || body.length > MAX_BODY) throw invalid(`body must be a string of at most ${MAX_BODY} characters`);
    const notification = { id: `n-${this.clock()}-${this.nextId++}`, title, body, at: new Date(this.clock()).toISOString() };
    const queueId = NotificationsService.queueId(org, sub);
    const { offset } = this.queue.push(queueId, {
      event: 'notification:new',
      payload: JSON.stringify(notification),
      key: `notif:${notification.id}`,
    });
    const item = { offset, notification };
    for (const socket of this.broadcaster.socketsIn(rooms.user(org, sub))) this.send(socket, queueId, item);
    return notification;
  }

  // A socket of the user connected (or recovered): it gets everything still queued for the user.
  connected(socket) {
    const { org, sub } = socket.data;
    if (!this.users.has(org)) this.users.set(org, new Set());
    const users = this.users.get(org);
    if (users.size < MAX_KNOWN_USERS) users.add(sub); // only the simulator's pick list: bounded
    if (this.closed) return;
    const queueId = NotificationsService.queueId(org, sub);
    let items;
    try {
      items = this.queue.peek(queueId);
    } catch (err) {
      this.log.error(`peek ${queueId}: ${err.message}`);
      return;
    }
    for (const it of items) this.send(socket, queueId, { offset: it.offset, notification: JSON.parse(it.payload) });
  }

  send(socket, queueId, { offset, notification }) {
    let pending = this.sent.get(socket);
    if (!pending) this.sent.set(socket, (pending = new Set()));
    if (pending.has(offset)) return;
    pending.add(offset);
    // No timeout: an item a socket never acks stays queued and goes to the user's next socket
    // (a timer per notification would only re-send it to a client that ignored it once).
    socket.emit('notification:new', notification, () => {
      pending.delete(offset);
      if (this.closed) return;
      try {
        this.queue.ackOne(queueId, offset);
      } catch (e) {
        if (e.code !== 'ERR_RT_CLOSED') this.log.error(`ack ${queueId}#${offset}: ${e.message}`);
      }
    });
  }

  // Before the module closes the queue (its own shutdown hook flushes the log to disk).
  beforeApplicationShutdown() {
    this.closed = true;
  }
}
InjectOfflineQueue()(NotificationsService, undefined, 0);
Inject(Broadcaster)(NotificationsService, undefined, 1);
Inject(CLOCK)(NotificationsService, undefined, 2);
Injectable()(NotificationsService);

module.exports = { NotificationsService };
