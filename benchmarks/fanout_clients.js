'use strict';

// Client side of the end-to-end fan-out benchmark (forked by benchmarks/fanout_child.js
// --what=e2e, with an IPC channel): `count` socket.io-client websocket connections to each
// server port (one Manager per connection: forceNew), connected 50 at a time. Every `tick`
// event is counted per server and sequence number; when all `count` connections of this process
// received one, the parent gets { type: 'got', v, seq, t } with t = process.hrtime.bigint() of
// the last receipt (CLOCK_MONOTONIC: comparable with the parent's clock).
//   node benchmarks/fanout_clients.js --ports=40001,40002 --count=500   (only under fork)

const { io } = require('socket.io-client');

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const ports = String(args.ports).split(',').map(Number);
const count = Number(args.count || 500);
const sockets = [];
const counts = ports.map(() => new Map()); // seq -> received

function fail(message) {
  process.send({ type: 'error', message });
  setTimeout(() => process.exit(1), 100);
}

function onTick(v, payload) {
  const seq = payload && payload.seq;
  const m = counts[v];
  const n = (m.get(seq) || 0) + 1;
  if (n === count) {
    m.delete(seq);
    process.send({ type: 'got', v, seq, t: process.hrtime.bigint().toString() });
  } else {
    m.set(seq, n);
  }
}

function connectOne(v, port) {
  return new Promise((resolve, reject) => {
    const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30000 });
    s.on('tick', (payload) => onTick(v, payload));
    s.once('connect', () => resolve(s));
    s.once('connect_error', (err) => reject(err));
    s.on('disconnect', (reason) => { if (!closing) fail(`port ${port}: disconnected: ${reason}`); });
    sockets.push(s);
  });
}

let closing = false;
async function main() {
  for (let v = 0; v < ports.length; v++) {
    for (let i = 0; i < count; i += 50) {
      const n = Math.min(50, count - i);
      await Promise.all(Array.from({ length: n }, () => connectOne(v, ports[v])));
    }
  }
  process.send({ type: 'ready' });
}

process.on('message', (m) => {
  if (m.type === 'close') {
    closing = true;
    const c = process.cpuUsage();
    process.send({ type: 'stats', userMs: Math.round(c.user / 1000), systemMs: Math.round(c.system / 1000), sockets: sockets.length });
    for (const s of sockets) s.close();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));

main().catch((err) => fail(err.stack || String(err)));
