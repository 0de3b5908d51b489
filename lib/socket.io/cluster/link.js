'use strict';

// One namespace adapter's link to Redis: its subscriber connection, the connection state
// ('connected' | 'disconnected', from the client's own events), commands with a deadline, and
// an outbox for cross-node messages that could not be published (Redis down or failing): an
// OfflineQueue (bounded, TTL, backoff with jitter, dead letters, circuit breaker) drained by
// createDelivery while Redis is up. See docs/redis.md "When Redis is down".

const { EventEmitter } = require('events');

const OUTBOX_CLIENT = 'cluster';

function timeoutError(ms) {
  const e = new Error(`Redis did not answer within ${ms} ms`);
  e.code = 'ERR_RT_TIMEOUT';
  return e;
}

function downError() {
  const e = new Error('Redis is not connected');
  e.code = 'ERR_RT_UNAVAILABLE';
  return e;
}

class RedisLink extends EventEmitter {
  // redis: wrapRedis(client); api: the implementation (OfflineQueue, createDelivery);
  // o: the cluster options; onFrame(buffer, channel)
  constructor(redis, api, o, onFrame) {
    super();
    this.redis = redis;
    this._o = o;
    this._onFrame = onFrame;
    this._sub = null;
    this._channels = new Set();
    this._closed = false;
    this._delivery = null;
    this.counters = { published: 0, received: 0, publishFailures: 0, queued: 0, dropped: 0, redelivered: 0 };
    this.outbox = new api.OfflineQueue({
      capacity: o.outbox.capacity,
      ttlMs: o.outbox.ttlMs,
      overflow: 'drop-oldest',
      maxAttempts: o.outbox.maxAttempts,
      initialDelayMs: o.outbox.initialDelayMs,
      maxDelayMs: o.outbox.maxDelayMs,
      breaker: o.outbox.breaker,
    });
    this._createDelivery = api.createDelivery;
    // every message the outbox gives up on (overflow, expired, dead-lettered) is counted
    this.outbox.on('dropped', (d) => {
      if (d.reason !== 'coalesced') this.counters.dropped++;
    });
    this.outbox.on('dead-letter', () => {
      this.counters.dropped++;
      this.outbox.clearDeadLetters();
    });
    this.outbox.on('breaker', (t) => this.emit('breaker', t));
    // connected = the client and our subscriber connection are both up (a message published
    // while we are not subscribed would never reach us)
    this._mainReady = redis.isReady();
    this._subReady = false;
    this._offSub = null;
    this.state = 'disconnected';
    this._offState = redis.onState((s) => {
      this._mainReady = s === 'ready';
      this._update();
    });
  }

  _update() {
    this._setState(this._mainReady && this._subReady ? 'connected' : 'disconnected');
  }

  // Subscribes the channels on a connection of our own (retried until Redis answers).
  async start(channels) {
    for (const c of channels) this._channels.add(c);
    const sub = await this.redis.subscriber();
    if (this._closed) {
      await sub.close();
      return;
    }
    this._sub = sub;
    const handler = (message, channel) => {
      this.counters.received++;
      this._onFrame(message, channel);
    };
    await Promise.all([...this._channels].map((c) => sub.subscribe(c, handler)));
    if (this._closed) return;
    this._offSub = sub.onState((st) => {
      this._subReady = st === 'ready';
      this._update();
    });
    this._mainReady = this.redis.isReady();
    this._subReady = sub.isReady();
    this._update();
  }

  _setState(state) {
    if (this._closed || state === this.state) return;
    this.state = state;
    // the outbox is drained again when the adapter says the other nodes listen (resumeOutbox)
    if (state !== 'connected') this._stopDelivery();
    this.emit('state', state);
  }

  // Drains the outbox (while connected) from now on.
  resumeOutbox() {
    if (this._delivery !== null || this._closed || !this.connected) return;
    this._delivery = this._createDelivery(this.outbox, {
      send: (item) => this.publishNow(item.event, item.payload).then((n) => {
        this.counters.redelivered++;
        return n;
      }),
      concurrency: 16,
      intervalMs: 25,
    });
  }

  _stopDelivery() {
    const d = this._delivery;
    this._delivery = null;
    // what is in flight settles (fails or succeeds) and is acked or nacked by the queue
    if (d !== null) d.close().catch(() => {});
  }

  get connected() {
    return this.state === 'connected';
  }

  // A command with a deadline; refused at once while Redis is down (both clients would queue it
  // until a reconnect, and a cross-node message must not wait behind an outage unseen).
  run(promiseFn) {
    if (!this.connected) return Promise.reject(downError());
    const ms = this._o.commandTimeout;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(timeoutError(ms)), ms);
      let p;
      try {
        p = promiseFn();
      } catch (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      p.then((v) => {
        clearTimeout(timer);
        resolve(v);
      }, (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  publishNow(channel, frame) {
    return this.run(() => this.redis.publish(channel, frame)).then((n) => {
      this.counters.published++;
      return n;
    }, (err) => {
      this.counters.publishFailures++;
      throw err;
    });
  }

  // A cross-node message that must not be lost to a short outage: published now when Redis is
  // up, the outbox runs and nothing waits in it (so that order is kept), else queued.
  publishQueued(channel, frame) {
    if (this._closed) return;
    if (this.connected && this._delivery !== null && this.outbox.size() === 0) {
      this.publishNow(channel, frame).catch(() => this.enqueue(channel, frame));
      return;
    }
    this.enqueue(channel, frame);
  }

  enqueue(channel, frame) {
    if (this._closed) return;
    this.outbox.push(OUTBOX_CLIENT, { event: channel, payload: frame });
    this.counters.queued++;
    if (this._delivery !== null) this._delivery.kick();
  }

  // A message that is only useful now (heartbeats, requests, responses): dropped on failure.
  publishVolatile(channel, frame) {
    if (this._closed || !this.connected) {
      this.counters.publishFailures++;
      return;
    }
    this.publishNow(channel, frame).catch(() => {});
  }

  stats() {
    return {
      state: this.state,
      ...this.counters,
      outbox: this.outbox.size(),
      breaker: this.outbox.breakerState(),
    };
  }

  async close() {
    if (this._closed) return;
    this._closed = true;
    this._offState();
    if (this._offSub !== null) this._offSub();
    this._stopDelivery();
    const sub = this._sub;
    this._sub = null;
    if (sub !== null) await sub.close().catch(() => {});
    await this.outbox.close();
  }
}

module.exports = { RedisLink };
