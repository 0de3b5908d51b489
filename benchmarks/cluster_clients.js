'use strict';

// Client side of the scale-out benchmark (forked by benchmarks/cluster.js, IPC channel).
// On { type: 'connect', variants: [{ v, ports }], first, count, groupSize }: for every variant,
// `count` socket.io-client websocket connections (forceNew), the one with global index i to node
// i % ports.length, in group room g:floor(i / groupSize) (handshake auth { g }: consecutive
// indexes, so a group is spread over the nodes), connected 50 at a time. Every connection keeps
// the seqs it got: a second copy counts as a duplicate, a group message for another group as
// wrongRoom (cumulative, in 'peek' and 'rateStats' answers).
// 'tick' payloads { seq, k, t }:
//   k 'b' (a broadcast to room 'all'): counted per variant and seq; when every connection of this
//          process got it -> { type: 'got', v, seq }
//   k 'r' (rate test, to a group room): counted per variant, lag = now - t (ms, CLOCK_MONOTONIC)
//          kept; { type: 'rateStats', v } -> { count, lag quantiles } and reset
//   anything else: counted as unexpected (a check of the run)

const { io } = require('socket.io-client');

const sockets = [];
const state = new Map(); // v -> { counts: Map(seq -> n), count, rateCount, lags: [], unexpected }
let perVariant = 0;
let closing = false;

const nowMs = () => { const [s, ns] = process.hrtime(); return s * 1e3 + ns / 1e6; };

function fail(message) {
  process.send({ type: 'error', message });
  setTimeout(() => process.exit(1), 100);
}

// per connection: the seqs it got (a duplicate or a message for another group is counted)
function onTick(v, p, s) {
  const st = state.get(v);
  if (!p || typeof p !== 'object') { st.unexpected++; return; }
  if (s.seen.has(p.seq)) { st.duplicates++; return; }
  s.seen.add(p.seq);
  if (p.k === 'b') {
    const n = (st.counts.get(p.seq) || 0) + 1;
    if (n === perVariant) {
      // kept (as -1) so that a late extra copy still counts as a duplicate above
      st.counts.delete(p.seq);
      process.send({ type: 'got', v, seq: p.seq });
    } else st.counts.set(p.seq, n);
  } else if (p.k === 'r') {
    if (p.g !== s.g) st.wrongRoom++;
    st.rateCount++;
    const lag = nowMs() - p.t;
    st.lags.push(lag);
    // emitted by this connection's own node (local delivery) or by another (through Redis)
    (p.n === s.node ? st.lagsLocal : st.lagsRemote).push(lag);
  } else st.unexpected++;
}

function connectOne(v, port, g, node) {
  return new Promise((resolve, reject) => {
    const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30000, auth: { g } });
    s.g = g;
    s.node = node;
    s.seen = new Set();
    s.on('tick', (p) => onTick(v, p, s));
    s.once('connect', () => resolve(s));
    s.once('connect_error', (err) => reject(err));
    s.on('disconnect', (reason) => { if (!closing) fail(`variant ${v} port ${port}: disconnected: ${reason}`); });
    sockets.push(s);
  });
}

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function connect({ variants, first, count, groupSize }) {
  perVariant = count;
  for (const { v, ports } of variants) {
    state.set(v, { counts: new Map(), rateCount: 0, lags: [], lagsLocal: [], lagsRemote: [], unexpected: 0, duplicates: 0, wrongRoom: 0 });
    for (let i = 0; i < count; i += 50) {
      const n = Math.min(50, count - i);
      await Promise.all(Array.from({ length: n }, (_, k) => {
        const gi = first + i + k;
        // the 5 members of a group are consecutive: spread over the nodes
        return connectOne(v, ports[gi % ports.length], Math.floor(gi / groupSize), gi % ports.length);
      }));
    }
  }
  process.send({ type: 'ready' });
}

process.on('message', (m) => {
  if (m.type === 'connect') connect(m).catch((err) => fail(err.stack || String(err)));
  else if (m.type === 'rateStats') {
    const st = state.get(m.v);
    const lags = Float64Array.from(st.lags).sort();
    const local = Float64Array.from(st.lagsLocal).sort();
    const remote = Float64Array.from(st.lagsRemote).sort();
    process.send({ type: 'rateStats', v: m.v, count: st.rateCount, p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags.length ? lags[lags.length - 1] : null, unexpected: st.unexpected, duplicates: st.duplicates, wrongRoom: st.wrongRoom, local: { n: local.length, p50: quantile(local, 0.5), p99: quantile(local, 0.99) }, remote: { n: remote.length, p50: quantile(remote, 0.5), p99: quantile(remote, 0.99) } });

    st.rateCount = 0;
    st.lags = [];
    st.lagsLocal = [];
    st.lagsRemote = [];
  } else if (m.type === 'peek') {
    const st = state.get(m.v);
    process.send({ type: 'peek', v: m.v, count: st.rateCount, duplicates: st.duplicates, wrongRoom: st.wrongRoom });
  } else if (m.type === 'cpu') {
    process.send({ type: 'cpu', cpu: process.cpuUsage() });
  } else if (m.type === 'close') {
    closing = true;
    const c = process.cpuUsage();
    process.send({ type: 'stats', userMs: Math.round(c.user / 1000), systemMs: Math.round(c.system / 1000), sockets: sockets.length, unexpected: [...state.values()].reduce((a, s) => a + s.unexpected, 0), duplicates: [...state.values()].reduce((a, s) => a + s.duplicates, 0) });
    for (const s of sockets) s.close();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
