'use strict';

// OfflineQueue cases (docs/offline-queue.md): push, pushMany and peek+ack in memory with
// 200-byte payloads, for 1 client and for 10,000 clients. One iteration is one call; what keeps
// the queue in a steady state (acking what was pushed, refilling what was acked) runs untimed
// in afterEach. Throughput in items/s is items per call / median time per call.

const { sameTextCheck } = require('./cases');
const { mulberry32 } = require('../lib/js/prng');

const PAYLOAD_BYTES = 200;
const BATCH = 1000; // items per pushMany call
const MANY_CLIENTS = 10000;
const PER_CLIENT = 50; // items per pushMany call with many clients (= default capacity)

// Status-update payloads of exactly PAYLOAD_BYTES bytes of JSON text, deterministic.
function payloads(count, seed = 5) {
  const rnd = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
    const head = `{"device":"dev-${i % 5000}","online":${rnd() < 0.8},"battery":${Math.floor(rnd() * 100)},"note":"`;
    return `${head}${'x'.repeat(PAYLOAD_BYTES - head.length - 2)}"}`;
  });
}

const items = (texts, event = 'device:status-update') => texts.map((payload) => ({ event, payload }));

function newQueue(rt, capacity) {
  return new rt.OfflineQueue({ capacity, seed: 1, breaker: false });
}

function queueCases(impls) {
  const cases = [];
  const batch = items(payloads(BATCH));
  const perClient = items(payloads(PER_CLIENT, 6));
  const single = batch[0];
  const clientIds = Array.from({ length: MANY_CLIENTS }, (_, i) => `user-${i}`);

  // --- 1 client: push / pushMany, the queue acked empty between iterations
  for (const op of ['push', 'pushMany']) {
    const run = {};
    const afterEach = {};
    for (const impl of impls) {
      const q = newQueue(impl.mod, 100000);
      let last = 0;
      run[impl.name] = op === 'push'
        ? () => { const r = q.push('c', single); last = r.offset; return r; }
        : () => { const r = q.pushMany('c', batch); last = r.offsets[r.offsets.length - 1]; return r; };
      afterEach[impl.name] = () => q.ack('c', last);
    }
    cases.push({
      id: `OfflineQueue.${op}/1-client`,
      fn: `OfflineQueue.${op}`,
      size: { label: '1-client', items: op === 'push' ? 1 : BATCH, payloadBytes: PAYLOAD_BYTES },
      form: 'text',
      what: op === 'push'
        ? `push(client, { event, payload }) of one ${PAYLOAD_BYTES}-byte JSON text payload into one client's queue (acked between iterations, untimed)`
        : `pushMany(client, items) of ${BATCH} items with ${PAYLOAD_BYTES}-byte payloads into one client's queue (acked between iterations, untimed)`,
      run,
      afterEach,
      check: (outs) => sameTextCheck(outs),
    });
  }

  // --- 10,000 clients, each at its capacity of 50: pushMany of 50 to the next client replaces
  // its 50 (drop-oldest), so the queue holds 500,000 items throughout
  {
    const run = {};
    for (const impl of impls) {
      const q = newQueue(impl.mod, PER_CLIENT);
      for (const id of clientIds) q.pushMany(id, perClient);
      let next = 0;
      run[impl.name] = () => {
        const id = clientIds[next];
        next = next + 1 === MANY_CLIENTS ? 0 : next + 1;
        return q.pushMany(id, perClient);
      };
    }
    cases.push({
      id: `OfflineQueue.pushMany/${MANY_CLIENTS}-clients`,
      fn: 'OfflineQueue.pushMany',
      size: { label: `${MANY_CLIENTS}-clients`, items: PER_CLIENT, payloadBytes: PAYLOAD_BYTES },
      form: 'text',
      what: `pushMany of ${PER_CLIENT} items (${PAYLOAD_BYTES}-byte payloads) to the next of ${MANY_CLIENTS} clients, round robin, each client full (capacity ${PER_CLIENT}, drop-oldest): ${MANY_CLIENTS * PER_CLIENT} items queued throughout`,
      run,
      check: (outs) => sameTextCheck(outs),
    });
  }

  // --- peek + ack: a reconnecting client reads 50 items and acks them; refilled untimed
  for (const clients of [1, MANY_CLIENTS]) {
    const run = {};
    const afterEach = {};
    for (const impl of impls) {
      const q = newQueue(impl.mod, PER_CLIENT);
      const ids = clients === 1 ? ['c'] : clientIds;
      for (const id of ids) q.pushMany(id, perClient);
      let next = 0;
      let current = ids[0];
      run[impl.name] = () => {
        current = ids[next];
        next = next + 1 === ids.length ? 0 : next + 1;
        const got = q.peek(current, { limit: PER_CLIENT });
        q.ack(current, got[got.length - 1].offset);
        return got.length;
      };
      afterEach[impl.name] = () => q.pushMany(current, perClient);
    }
    cases.push({
      id: `OfflineQueue.peek+ack/${clients === 1 ? '1-client' : `${clients}-clients`}`,
      fn: 'OfflineQueue.peek+ack',
      size: { label: clients === 1 ? '1-client' : `${clients}-clients`, items: PER_CLIENT, payloadBytes: PAYLOAD_BYTES },
      form: 'text',
      what: `peek(client, { limit: ${PER_CLIENT} }) then ack(client, last offset): a client catching up on ${PER_CLIENT} items of ${PAYLOAD_BYTES} bytes${clients === 1 ? '' : `, round robin over ${clients} full clients`} (refilled between iterations, untimed)`,
      run,
      afterEach,
      check: (outs) => sameTextCheck(outs),
    });
  }
  return cases;
}

module.exports = { queueCases, payloads, items, PAYLOAD_BYTES };
