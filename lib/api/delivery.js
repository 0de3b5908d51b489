'use strict';

// The delivery helper of docs/offline-queue.md: hands out due items to an async `send`, acks what
// was sent, nacks what failed (the queue schedules the retry or dead-letters it), and lets the
// queue's circuit breaker decide when nothing should be sent at all.

const { invalidArgument } = require('../common/errors');
const { checkOptions, integerOption, functionOption } = require('./options');

function createDelivery(queue, options) {
  if (!queue || typeof queue.due !== 'function' || typeof queue.ackOne !== 'function') {
    throw invalidArgument('createDelivery needs an OfflineQueue');
  }
  const o = checkOptions(options, ['send', 'concurrency', 'intervalMs'], 'createDelivery');
  const send = functionOption(o.send, 'send');
  if (!send) throw invalidArgument('createDelivery needs a send function');
  const concurrency = integerOption(o.concurrency, 'concurrency', { min: 1, max: 1e5, fallback: 16 });
  const intervalMs = integerOption(o.intervalMs, 'intervalMs', { min: 1, max: 60000, fallback: 25 });

  let inFlight = 0;
  let sent = 0;
  let failed = 0;
  let closing = null; // { promise, resolve } once close() was called
  let timer = null;
  let pumping = false;

  function schedule(delay) {
    if (closing || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      pump();
    }, delay);
    if (typeof timer.unref === 'function') timer.unref();
  }

  function settled() {
    inFlight--;
    if (closing && inFlight === 0) closing.resolve();
    else schedule(0);
  }

  function deliver(item) {
    inFlight++;
    let promise;
    try {
      promise = Promise.resolve(send(item));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      () => {
        sent++;
        queue.ackOne(item.clientId, item.offset);
      },
      (err) => {
        failed++;
        const reason = err && typeof err.message === 'string' ? err.message.slice(0, 1024) : String(err).slice(0, 1024);
        queue.nack(item.clientId, item.offset, reason);
      },
    ).catch((err) => {
      // the queue itself refused (closed, or the item was acked meanwhile by the client):
      // nothing left to settle for this item
      void err;
    }).finally(settled);
  }

  function pump() {
    if (closing || pumping) return;
    pumping = true;
    try {
      const room = concurrency - inFlight;
      if (room > 0) {
        for (const item of queue.due({ limit: room })) deliver(item);
      }
    } catch (err) {
      // a closed queue ends the delivery
      if (err && err.code === 'ERR_RT_CLOSED') {
        close();
        return;
      }
      throw err;
    } finally {
      pumping = false;
    }
    schedule(intervalMs);
  }

  function close() {
    if (!closing) {
      let resolve;
      const promise = new Promise((r) => {
        resolve = r;
      });
      closing = { promise, resolve };
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      if (inFlight === 0) resolve();
    }
    return closing.promise;
  }

  schedule(0);
  return Object.freeze({
    close,
    /** Takes due items now instead of at the next poll. */
    kick: () => {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      pump();
    },
    stats: () => ({ sent, failed, inFlight }),
  });
}

module.exports = { createDelivery };
