'use strict';

// Renders benchmarks/results/REPORT.md from the raw results of one run (latest.json).
// Every number in it comes from that run; the "Where the time goes" section is the text of
// benchmarks/profile/FINDINGS.md (written from profiling runs, which it dates itself).

function fmtNs(ns) {
  if (ns == null) return '-';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(ns >= 1e5 ? 0 : 1)} µs`;
  return `${ns} ns`;
}
const fmtX = (x) => (x == null ? '-' : `${x.toFixed(2)}x`);
const bytes = (b) => (b == null ? '-' : b < 0 ? `≈0 (${b} B)` : b >= 1024 * 1024 ? `${(b / 1048576).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);

function verdict(ratio, goal, medNative, medOther) {
  if (ratio == null) return 'not measured';
  if (ratio >= goal) return `**met** (${fmtX(ratio)})`;
  // to reach the goal native's median must drop to medOther / goal
  const target = medOther / goal;
  const cut = Math.round((1 - target / medNative) * 100);
  return `**not met**: ${fmtX(ratio)}, short by ${fmtX(goal / ratio)}; native must go from ${fmtNs(medNative)} to ${fmtNs(Math.round(target))} (${cut}% less time)`;
}

const rate = (x) => (x == null ? '-' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M items/s` : `${Math.round(x / 1000)} k items/s`);

// OfflineQueue goals that are absolute numbers or ratios of child-process measurements.
function queueGoalRows(cases, q) {
  const rows = [];
  for (const c of cases.filter((c) => c.fn === 'OfflineQueue.pushMany')) {
    const n = c.results.native;
    const perSec = n ? (c.size.items * 1e9) / n.medianNs : null;
    const verdictText = perSec == null ? 'not measured' : perSec >= 2e6 ? `**met** (${rate(perSec)})` : `**not met**: ${rate(perSec)}, short by ${fmtX(2e6 / perSec)}`;
    rows.push(['native `pushMany` ≥ 2,000,000 items/s in memory', c.id, rate(perSec), rate(c.results.js ? (c.size.items * 1e9) / c.results.js.medianNs : null), verdictText]);
  }
  if (q) {
    const di = q.durableInterval || {};
    const ni = di.native && di.native.itemsPerSec;
    rows.push(['native durable `interval` ≥ 300,000 items/s', 'queue_child --what=durable --fsync=interval', rate(ni), rate(di.js && di.js.itemsPerSec), ni == null ? 'not measured' : ni >= 3e5 ? `**met** (${rate(ni)})` : `**not met**: ${rate(ni)}, short by ${fmtX(3e5 / ni)}`]);
    const mem = q.memory || {};
    const nm = mem.native && mem.native.rssPerItem;
    rows.push(['native memory per item ≤ payload + 64 B (200 + 64 = 264 B)', 'queue_child --what=memory', nm == null ? '-' : `${nm} B RSS`, mem.js ? `${mem.js.heapPerItem} B heap, ${mem.js.rssPerItem} B RSS` : '-', nm == null ? 'not measured' : nm <= 264 ? `**met** (${nm} B)` : `**not met**: ${nm} B, ${nm - 264} B over`]);
    const el = q.eventLoop || {};
    const np = el.native && el.native.p99Ms;
    const jp = el.js && el.js.p99Ms;
    rows.push(['event-loop delay p99 with 1,000,000 queued ≤ 1/5 of the JS twin\'s', 'queue_child --what=event-loop', np == null ? '-' : `${np.toFixed(2)} ms`, jp == null ? '-' : `${jp.toFixed(2)} ms`, np == null || jp == null ? 'not measured' : np * 5 <= jp ? `**met** (${fmtX(jp / np)} lower)` : `**not met**: ${fmtX(jp / np)} lower, 5x wanted`]);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// fan-out (benchmarks/fanout.js): our Socket.io adapter (native, JS twin) vs socket.io-adapter's

const PEER = 'socket.io';
const fmtT = (x) => (x == null ? '-' : `${x.toFixed(2)}x`);
const us = (x) => (x == null ? '-' : `${x.toFixed(2)} µs`);
const ms = (x) => (x == null ? '-' : `${x.toFixed(2)} ms`);
const perRcpt = (res) => (res && res.perRecipientNs != null ? ` (${res.perRecipientNs} ns/rcpt)` : '');

// "time of ours / time of Socket.io's <= goal"
function timeVerdict(ratio, goal, ours, peer, unit = fmtNs) {
  if (ratio == null) return 'not measured';
  if (ratio <= goal) return `**met** (${fmtT(ratio)})`;
  const target = peer * goal;
  return `**not met**: ${fmtT(ratio)} of Socket.io's, ${goal}x wanted; must go from ${unit(ours)} to ${unit(target)} (${Math.round((1 - target / ours) * 100)}% less)`;
}
// "ours at least `goal` times faster"
function speedVerdict(speedup, goal, ours, peer) {
  if (speedup == null) return 'not measured';
  if (speedup >= goal) return `**met** (${fmtX(speedup)} faster)`;
  return `**not met**: ${fmtX(speedup)} faster, ${goal}x wanted; must go from ${fmtNs(ours)} to ${fmtNs(Math.round(peer / goal))}`;
}

function fanoutGoalRows(f) {
  const rows = [];
  if (!f) return rows;
  const cases = f.cases || [];
  for (const c of cases.filter((c) => c.fn === 'adapter.broadcast' && (c.size.recipients >= 10000))) {
    const n = c.results.native;
    const p = c.results[PEER];
    rows.push(['native `adapter.broadcast` time ≤ 0.5x Socket.io\'s Adapter, rooms of 10,000 and more', c.id, n ? `${fmtNs(n.medianNs)}${perRcpt(n)}` : '-', p ? `${fmtNs(p.medianNs)}${perRcpt(p)}` : '-', timeVerdict(c.ratios.nativeTimeVsPeer, 0.5, n && n.medianNs, p && p.medianNs)]);
  }
  for (const c of cases.filter((c) => c.fn === 'adapter.restoreSession')) {
    const p = c.results[PEER];
    for (const name of ['native', 'js']) {
      const o = c.results[name];
      rows.push([`${name === 'native' ? 'native' : 'JS twin'} \`restoreSession\` ≥ 10x faster than SessionAwareAdapter`, c.id, o ? fmtNs(o.medianNs) : '-', p ? fmtNs(p.medianNs) : '-', speedVerdict(c.ratios[`${name}VsPeer`], 10, o && o.medianNs, p && p.medianNs)]);
    }
  }
  const e = f.e2e && f.e2e.variants;
  if (f.e2e) {
    const n = e && e.native;
    const p = e && e[PEER];
    const ok = n && p && !n.error && !p.error;
    const ratio = ok ? n.cpuUsPerDelivery / p.cpuUsPerDelivery : null;
    rows.push(['native server CPU per delivered message ≤ 0.7x the default adapter (1,000 websocket clients)', 'fanout_child --what=e2e', n && !n.error ? us(n.cpuUsPerDelivery) : '-', p && !p.error ? us(p.cpuUsPerDelivery) : '-', timeVerdict(ratio, 0.7, ok ? n.cpuUsPerDelivery : null, ok ? p.cpuUsPerDelivery : null, us)]);
  }
  return rows;
}

function fanoutSection(f) {
  if (!f) return '_Not measured in this run._';
  const out = [];
  if (f.command) out.push(`Measured by \`${f.command}\` on ${f.date} (${f.durationSec} s; load average at the end ${(f.loadavgAtEnd || []).join(' / ')}). Adapters: ${(f.implementations || []).map((i) => `${i.name} = ${i.error ? `**not loaded** (${i.error})` : `\`${i.adapter}\``}`).join('; ')}. "native" and "js" are \`createAdapter({ implementation })\` of \`realtime-core/socket.io\`; "socket.io" is socket.io-adapter's own in-memory \`Adapter\` (\`SessionAwareAdapter\` for recovery).`);
  out.push('');
  const goals = fanoutGoalRows(f);
  const missed = goals.filter((g) => !g[4].startsWith('**met**'));
  out.push(`Goals of this section: ${goals.length - missed.length} of ${goals.length} met in this run.${missed.length ? ` **Not met:** ${missed.map((g) => `${g[0]} on \`${g[1]}\` (${g[4].replace(/^\*\*not met\*\*: /, '')})`).join('; ')}.` : ''}`);
  out.push('');
  const cases = f.cases || [];
  const problems = cases.filter((c) => !c.check.ok);
  const bc = cases.filter((c) => c.fn === 'adapter.broadcast');
  out.push('### Broadcast through the adapter API');
  out.push('');
  if (bc.length) {
    out.push('| case | recipients | native median | JS twin median | Socket.io median | native p99 | Socket.io p99 | native / Socket.io time | JS / Socket.io time | samples n / js / sio |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const c of bc) {
      const r = c.results;
      const cell = (x) => (x ? `${fmtNs(x.medianNs)}${perRcpt(x)}` : '-');
      out.push(`| \`${c.id}\` | ${c.size.recipients} | ${cell(r.native)} | ${cell(r.js)} | ${cell(r[PEER])} | ${fmtNs(r.native && r.native.p99Ns)} | ${fmtNs(r[PEER] && r[PEER].p99Ns)} | ${fmtT(c.ratios.nativeTimeVsPeer)} | ${fmtT(c.ratios.jsTimeVsPeer)} | ${['native', 'js', PEER].map((n) => (r[n] ? r[n].samples : '-')).join(' / ')} |`);
    }
    out.push('');
    const setup = bc[0].results;
    const names = Object.keys(setup).filter((n) => setup[n].setupMs != null);
    if (names.length) out.push(`Set-up, untimed: ${bc[0].size.sockets} fake sockets joining their own room and their rooms through \`socket.join\` → the adapter (${bc[0].size.memberships} memberships): ${names.map((n) => `${n} ${(setup[n].setupMs / 1000).toFixed(1)} s`).join(', ')}.`);
    out.push('');
    out.push('![speed-up over Socket.io\'s adapter on broadcast](fanout-broadcast.svg)');
  } else out.push('_Not measured in this run._');
  out.push('');
  out.push('### restoreSession with 100,000 stored packets');
  out.push('');
  const rc = cases.filter((c) => c.fn === 'adapter.restoreSession');
  if (rc.length) {
    out.push('| case | packets after the offset | missed packets returned | native median | JS twin median | SessionAwareAdapter median | native speed-up | JS speed-up |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const c of rc) {
      const r = c.results;
      out.push(`| \`${c.id}\` | ${c.size.after} | ${c.size.missed} | ${fmtNs(r.native && r.native.medianNs)} | ${fmtNs(r.js && r.js.medianNs)} | ${fmtNs(r[PEER] && r[PEER].medianNs)} | ${fmtX(c.ratios.nativeVsPeer)} | ${fmtX(c.ratios.jsVsPeer)} |`);
    }
    out.push('');
    out.push('![speed-up over SessionAwareAdapter on restoreSession](fanout-restore.svg)');
  } else out.push('_Not measured in this run._');
  out.push('');
  out.push('### End to end: a real Socket.io server and websocket clients');
  out.push('');
  const e = f.e2e;
  if (e && e.error) out.push(`error: ${e.error} (\`${e.command}\`)`);
  else if (e) {
    const p = e.variants[PEER];
    out.push('| adapter | server CPU per delivered message | of which user / system | server CPU per broadcast | vs default adapter | delivery time p50 / p90 / p99 (broadcast → last client) | emit call p50 | broadcasts x clients |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, v] of Object.entries(e.variants)) {
      if (v.error) {
        out.push(`| ${name} | error: ${v.error} | | | | | | |`);
        continue;
      }
      const ratio = p && !p.error ? fmtT(v.cpuUsPerDelivery / p.cpuUsPerDelivery) : '-';
      out.push(`| ${name} (\`${v.adapter}\`) | ${us(v.cpuUsPerDelivery)} | ${us(v.userUsPerDelivery)} / ${us(v.systemUsPerDelivery)} | ${ms(v.cpuMsPerBroadcast)} | ${ratio} | ${ms(v.deliveryMs.p50)} / ${ms(v.deliveryMs.p90)} / ${ms(v.deliveryMs.p99)} | ${ms(v.emitMs.p50)} | ${v.broadcasts} x ${e.clients} |`);
    }
    out.push('');
    const ccpu = (e.clientCpu || []).map((c) => `${c.userMs + c.systemMs} ms`).join(' and ');
    out.push(`\`${e.command}\`: one server per adapter in one process (http on 127.0.0.1, port 0, \`transports: ['websocket']\`, no connection-state recovery), ${e.clients} socket.io-client connections to each, split over ${e.clientProcesses} client processes (their CPU, ${ccpu} in all, is not counted), every socket in room \`all\`. ${e.rounds} rounds x ${e.batch} broadcasts per adapter (adapters in rotating order each round, after ${e.warmup} warm-up broadcasts each) of \`io.to('all').emit('tick', ~${e.payloadBytes}-byte object)\`, one at a time: the next starts when every client has received the previous one. Server CPU = \`process.cpuUsage()\` (user + system, all threads of the server process) over those batches, divided by broadcasts x clients; it includes the engine.io/ws writes, which are the same work for every adapter. Connecting took ${e.connectSec} s.`);
  } else out.push('_Not measured in this run._');
  out.push('');
  out.push('### Memory per membership and per stored recovery packet');
  out.push('');
  const m = f.memory;
  if (m) {
    out.push('| adapter | memberships | heap per membership | RSS per membership | join time per membership | stored packets | heap per packet | RSS per packet |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const name of Object.keys({ ...m.memberships, ...m.packets })) {
      const a = m.memberships[name] || {};
      const b = m.packets[name] || {};
      const c1 = a.error ? `error: ${a.error}` : a.memberships != null ? `${a.sockets} sockets x ${a.roomsPerSocket} rooms` : '-';
      const c2 = b.error ? `error: ${b.error}` : b.packets != null ? `${b.packets} (~${b.avgPayloadBytes} B payloads)` : '-';
      out.push(`| ${name} | ${c1} | ${bytes(a.heapPerMembership)} | ${bytes(a.rssPerMembership)} | ${a.joinNsPerMembership != null ? `${a.joinNsPerMembership} ns` : '-'} | ${c2} | ${bytes(b.heapPerPacket)} | ${bytes(b.rssPerPacket)} |`);
    }
    out.push('');
    const cmds = [...Object.values(m.memberships), ...Object.values(m.packets)].filter((x) => x.command).map((x) => `\`${x.command}\``);
    out.push(`Each in its own process (${cmds.join(', ')}). Memberships: the fake sockets exist before the baseline; each joins its own id room (as Socket.io does on connect) and 9 shared rooms of 100,000 down to 2 members, through \`socket.join\` → the adapter. Packets: broadcasts with connection-state recovery on, distinct ~200-byte payload objects made inside the measured window (Socket.io's SessionAwareAdapter keeps the packet's \`data\` array with the payload object and the broadcast options; ours keeps the encoded text, so the objects become garbage). Growth after forced GCs. The JS implementations keep everything on the V8 heap (RSS includes it); the native engine keeps it in C++ memory, which only RSS shows; RSS is coarse (±10%).`);
  } else out.push('_Not measured in this run (`--no-memory`)._');
  out.push('');
  if (problems.length) {
    out.push('### Fan-out check problems');
    out.push('');
    out.push('Before timing, every adapter runs the case once: the same recipients in the same order and the same packet text as Socket.io\'s adapter (broadcast), the same missed packets (restore). These did not:');
    out.push('');
    for (const c of problems) out.push(`- \`${c.id}\`: ${c.check.problems.join('; ')}`);
    out.push('');
  }
  out.push('What each case measures:');
  out.push('');
  for (const c of cases) out.push(`- \`${c.id}\`: ${c.what}.`);
  return out.join('\n');
}


// ---------------------------------------------------------------------------------------------
// scale-out over Redis (benchmarks/cluster.js): ours vs @socket.io/redis-streams-adapter

const C_OURS = 'ours';
const C_PEER = 'redis-streams';
const C_PEER2 = 'redis-pubsub';
const C_LABEL = { [C_OURS]: 'ours (realtime-core)', [C_PEER]: 'redis-streams-adapter', [C_PEER2]: 'redis-adapter (pub/sub)' };
const B = (b) => (b == null ? '-' : b >= 1048576 ? `${(b / 1048576).toFixed(2)} MiB` : b >= 10240 ? `${(b / 1024).toFixed(1)} KiB` : `${Math.round(b)} B`);
const sp = (s, f) => (s ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : '-');
const num = (x, d = 2) => (x == null ? '-' : x.toFixed(d));

// "ours / theirs <= goal" (cost, time, bytes)
const fmtR = (x) => (x == null ? '-' : x < 0.1 ? `${x.toPrecision(2)}x: ${Math.round(1 / x)}x less` : fmtT(x));
function ratioVerdict(ratio, goal, what) {
  if (ratio == null) return 'not measured';
  if (ratio <= goal) return `**met** (${fmtR(ratio)})`;
  return `**not met**: ${fmtT(ratio)} of the streams adapter's ${what}, ${goal}x wanted (${Math.round((1 - goal / ratio) * 100)}% less needed)`;
}

function clusterOurs(c) {
  const v = c && c.variants && c.variants[C_OURS];
  return v && !v.error;
}

function clusterGoalRows(c) {
  const rows = [];
  if (!c || c.error) return rows;
  const unavailable = !clusterOurs(c);
  const na = unavailable ? `**not measured**: ours unavailable (${((c.variants && c.variants[C_OURS]) || {}).error || 'not run'})` : null;
  const b = c.broadcast || {};
  const o = b[C_OURS];
  const p = b[C_PEER];
  const r = { ...(c.ratios || {}) };
  // from the values themselves (latest.json's ratios are rounded)
  if (o && p && !o.error && !p.error) {
    r[`broadcastCpuVs_${C_PEER}`] = o.cpuUsPerDelivery / p.cpuUsPerDelivery;
    r[`broadcastRedisBytesVs_${C_PEER}`] = (o.redis.bytesInPerBroadcast + o.redis.bytesOutPerBroadcast) / (p.redis.bytesInPerBroadcast + p.redis.bytesOutPerBroadcast);
  }
  for (const st of (c.recovery && c.recovery.stages) || []) {
    const so = st.variants[C_OURS];
    const spp = st.variants[C_PEER];
    if (so && spp && so.timeMs && spp.timeMs) {
      r[`restoreTimeVs_${C_PEER}_M${st.M}`] = so.timeMs.median / spp.timeMs.median;
      r[`restoreBytesVs_${C_PEER}_M${st.M}`] = so.redisBytesOutPerRestore.median / spp.redisBytesOutPerRestore.median;
    }
  }
  const q = c.quick ? ' (quick run: no goal claimed)' : '';
  const v = (x) => (q ? `${x.replace(/^\*\*(met|not met)\*\*/, '$1')}${q}` : x);
  rows.push(['ours: server CPU per delivered message (all nodes) ≤ 1.0x redis-streams-adapter\'s', 'cluster/broadcast', o && !o.error ? us(o.cpuUsPerDelivery) : '-', p && !p.error ? us(p.cpuUsPerDelivery) : '-', na || v(ratioVerdict(r[`broadcastCpuVs_${C_PEER}`], 1, 'CPU'))]);
  const bytes = (x) => (x && !x.error ? B(x.redis.bytesInPerBroadcast + x.redis.bytesOutPerBroadcast) : '-');
  rows.push(['ours: Redis bytes (in + out) per broadcast ≤ 1.0x redis-streams-adapter\'s', 'cluster/broadcast', bytes(o), bytes(p), na || v(ratioVerdict(r[`broadcastRedisBytesVs_${C_PEER}`], 1, 'bytes'))]);
  for (const st of (c.recovery && c.recovery.stages) || []) {
    const so = st.variants[C_OURS];
    const spp = st.variants[C_PEER];
    rows.push([`ours: cross-node restore ≥ 10x faster than redis-streams-adapter (log of ${st.M})`, `cluster/recovery/${st.M}`, so && so.timeMs ? ms(so.timeMs.median) : '-', spp && spp.timeMs ? ms(spp.timeMs.median) : '-', na || v(ratioVerdict(r[`restoreTimeVs_${C_PEER}_M${st.M}`], 0.1, 'time'))]);
    rows.push([`ours: Redis bytes read per restore ≤ 0.1x redis-streams-adapter's (log of ${st.M})`, `cluster/recovery/${st.M}`, so && so.redisBytesOutPerRestore ? B(so.redisBytesOutPerRestore.median) : '-', spp && spp.redisBytesOutPerRestore ? B(spp.redisBytesOutPerRestore.median) : '-', na || v(ratioVerdict(r[`restoreBytesVs_${C_PEER}_M${st.M}`], 0.1, 'bytes'))]);
  }
  const t = c.throughput || {};
  const to = t[C_OURS];
  const tp = t[C_PEER];
  const tr = r[`throughputVs_${C_PEER}`];
  const lastRate = (c.config && c.config.rates) ? c.config.rates[c.config.rates.length - 1] : null;
  const tv = tr == null ? (to && tp && !to.error && to.maxSustained == null && tp.maxSustained != null ? `**not met**: ours sustained none of the steps (${tp.maxSustained}/s for the streams adapter)` : 'not measured') : tr >= 1 ? `**met** (${fmtX(tr)}${to.maxSustained === lastRate ? ', both at the top step' : ''})` : `**not met**: ${fmtX(tr)}`;
  rows.push(['ours: emits/s to rooms sustained ≥ 1.0x redis-streams-adapter\'s', 'cluster/throughput', to && to.maxSustained != null ? `${to.maxSustained}/s` : '-', tp && tp.maxSustained != null ? `${tp.maxSustained}/s` : '-', na || v(tv)]);
  return rows;
}

function clusterSection(c) {
  if (!c) return '_Not measured in this run._';
  if (c.error) return `error: ${c.error} (\`${c.command}\`)`;
  const out = [];
  const cfg = c.config || {};
  const names = Object.keys(c.variants || {});
  out.push(`Measured by \`${c.command}\` on ${c.date} (${c.durationSec} s; load average at the end ${(c.loadavgAtEnd || []).join(' / ')}${c.quick ? '; **quick smoke run: small sizes, no goal is claimed from it**' : ''}); ${c.redisVersion || 'redis-server'}. Variants: ${names.map((n) => { const x = c.variants[n]; return `${C_LABEL[n] || n} = ${x.error ? `**unavailable** (${x.error})` : `\`${x.adapterClass}\` (${x.info})`}`; }).join('; ')}.`);
  out.push('');
  out.push(`Set-up: per variant one redis-server (started by the benchmark on a free loopback port, no persistence) shared by ${cfg.nodes} Socket.io server processes (\`benchmarks/cluster_server.js\`: websocket only, ioredis clients${cfg.nodes ? '' : ''}; connection-state recovery on for ours and the streams adapter, off for the pub/sub adapter, which has none); ${cfg.clients} socket.io-client websocket connections per variant (\`benchmarks/cluster_clients.js\`, ${cfg.clientProcesses} processes, their CPU not counted), spread round robin over the nodes, each in room \`all\` and in one group room of ${cfg.groupSize}. All variants are up at once and every measurement rotates over them; each has its own redis-server, so INFO stats / cpu / commandstats / memory deltas are that variant's alone (minus the INFO calls themselves). Connecting took ${c.connectSec} s. Ratios are ours / theirs: below 1x ours costs less.`);
  out.push('');
  const goals = clusterGoalRows(c);
  if (!clusterOurs(c)) out.push(`**Ours was not measured in this run**: ${((c.variants || {})[C_OURS] || {}).error || 'not run'}. The tables hold the reference adapters only.`);
  else {
    const missed = goals.filter((g) => !g[4].startsWith('**met**'));
    out.push(`Goals of this section: ${goals.length - missed.length} of ${goals.length} met in this run${c.quick ? ' (quick run: none claimed)' : ''}.`);
  }
  out.push('');
  if (!c.quick && clusterOurs(c)) {
    out.push('![ours vs the streams adapter](cluster.svg)');
    out.push('');
  }
  out.push('### Broadcast across nodes');
  out.push('');
  const b = c.broadcast || {};
  out.push('| adapter | server CPU per delivered message, all nodes | median batch (min-max) | by node (0 = emitter) | vs streams | Redis commands per broadcast | Redis bytes in / out per broadcast | redis-server CPU per broadcast | delivery p50 / p99 |');
  out.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
  for (const n of names) {
    const x = b[n];
    if (!x) { out.push(`| ${C_LABEL[n] || n} | ${c.variants[n].error ? 'unavailable' : '-'} | | | | | | | |`); continue; }
    if (x.error) { out.push(`| ${C_LABEL[n] || n} | error: ${x.error} | | | | | | | |`); continue; }
    const ratio = n !== C_PEER && b[C_PEER] && !b[C_PEER].error ? fmtT(x.cpuUsPerDelivery / b[C_PEER].cpuUsPerDelivery) : '-';
    const cmds = Object.entries(x.redis.commands).sort((a1, a2) => a2[1] - a1[1]).map(([k, y]) => `${k} ${num(y, 2)}`).join(', ');
    out.push(`| ${C_LABEL[n] || n} | ${us(x.cpuUsPerDelivery)} | ${sp(x.spread.cpuUsPerDelivery, (y) => num(y, 2))} µs | ${x.cpuUsPerDeliveryByNode.map((y) => num(y, 2)).join(' / ')} µs | ${ratio} | ${num(x.redis.commandsPerBroadcast, 2)} (${cmds}) | ${B(x.redis.bytesInPerBroadcast)} / ${B(x.redis.bytesOutPerBroadcast)} | ${us(x.redis.cpuUsPerBroadcast)} | ${ms(x.deliveryMs.p50)} / ${ms(x.deliveryMs.p99)} |`);
  }
  out.push('');
  out.push(`\`io.to('all').emit('tick', ~200-byte object)\` on node 0, one broadcast at a time (the next when every client has it; each client process reports when all of its connections got it, so a number never comes from a run that lost a message): ${cfg.rounds} rounds x ${cfg.batch} broadcasts per adapter after ${cfg.warmup} warm-up ones. Server CPU = \`process.cpuUsage()\` deltas of the ${cfg.nodes} node processes over a batch (user + system: the websocket writes, the adapter, the Redis client, the harness's IPC), divided by broadcasts x clients; spread over the ${cfg.rounds} batches. Redis figures are per broadcast: commands from commandstats (which also counts the commands a Lua script runs: ours records a broadcast with one EVALSHA whose script runs INCR, HSET, PEXPIRE, ZADD, ... and PUBLISH), bytes from \`total_net_input_bytes\` / \`total_net_output_bytes\`, CPU from \`used_cpu_user + used_cpu_sys\` of the variant's redis-server.`);
  out.push('');
  out.push('### Cross-node recovery');
  out.push('');
  const rec = c.recovery || {};
  if (rec.unsupported) out.push(`Not measured: ${Object.entries(rec.unsupported).map(([k, y]) => `${C_LABEL[k] || k}: ${y}`).join('; ')}.`);
  out.push('');
  out.push('| packets logged (M) | adapter | restores | time per restore median (min-max), p90 | vs streams | Redis bytes sent to the node per restore median (min-max) | vs streams | Redis commands per restore | redis-server CPU per restore | Redis memory per logged packet | check |');
  out.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |');
  for (const st of rec.stages || []) {
    for (const [n, x] of Object.entries(st.variants)) {
      if (x.error) { out.push(`| ${st.M} | ${C_LABEL[n] || n} | error: ${x.error} | | | | | | | | |`); continue; }
      const p = st.variants[C_PEER];
      const rt = n !== C_PEER && p && p.timeMs ? fmtR(x.timeMs.median / p.timeMs.median) : '-';
      const rb = n !== C_PEER && p && p.redisBytesOutPerRestore ? fmtR(x.redisBytesOutPerRestore.median / p.redisBytesOutPerRestore.median) : '-';
      const cmds = Object.entries(x.redisCommands || {}).filter(([, y]) => y >= 0.05).sort((a1, a2) => a2[1] - a1[1]).map(([k, y]) => `${k} ${num(y, 1)}`).join(', ');
      out.push(`| ${st.M} | ${C_LABEL[n] || n} | ${x.restores} | ${ms(x.timeMs.median)} (${ms(x.timeMs.min)}-${ms(x.timeMs.max)}), ${ms(x.timeMs.p90)} | ${rt} | ${B(x.redisBytesOutPerRestore.median)} (${B(x.redisBytesOutPerRestore.min)}-${B(x.redisBytesOutPerRestore.max)}) | ${rb} | ${num(x.redisCommandsPerRestore, 1)} (${cmds}) | ${us(x.redisCpuUsPerRestore)} | ${B(x.redisMemoryGrowthPerPacket)} | ${x.problemCount ? `**${x.problemCount} problems**: ${x.problems.join('; ')}` : `ok (${st.missed} missed packets each)`} |`);
    }
  }
  out.push('');
  const st0 = (rec.stages || [])[0];
  if (st0) out.push(`Node 0 broadcasts the log through \`adapter.broadcast\` (~200-byte payloads, round robin to ${cfg.logRooms} rooms that have no member); when the log holds half of its packets it persists N sessions (\`adapter.persistSession\`: own room + ${(cfg.sessionRooms || []).join(', ')}), the offset being the one the adapter appended to the last packet; then the second half. Node 1 restores each session once (\`adapter.restoreSession(pid, offset)\`, one after another; the stages follow each other on the same log, so the log of ${(rec.stages || []).map((s) => s.M).join(' then ')} packets; it also holds the packets of the earlier phases, broadcast and throughput, since recovery is on for them too, all older than the offsets). Each restore must return exactly the packets of the session's rooms after the offset (${(rec.stages || []).map((s) => `${s.missed} of ${s.after} for the log of ${s.M}`).join(', ')}), the first one checked by sequence number. Bytes are what the variant's redis-server sent (\`total_net_output_bytes\`) during a round of restores, per restore; memory is \`used_memory\` growth per logged packet.`);
  out.push('');
  out.push('### Throughput of emits to rooms');
  out.push('');
  const t = c.throughput || {};
  out.push('| adapter | highest sustained rate | steps: target emits/s → delivered in time / expected, lag p50 / p99 / max, server CPU per emit (all nodes), Redis bytes per emit, redis-server CPU per emit |');
  out.push('| --- | ---: | --- |');
  for (const n of names) {
    const x = t[n];
    if (!x) continue;
    const steps = x.steps.map((s) => `${s.rate}/s${s.attempt > 1 ? ' (again)' : ''} → ${s.deliveredInTime}/${s.expectedDeliveries}, ${num(s.lagMs.p50, 1)} / ${num(s.lagMs.p99, 1)} / ${num(s.lagMs.max, 0)} ms${s.localLagMs ? ` (p50 on the emitting node ${num(s.localLagMs.p50, 1)}, on the others ${num(s.remoteLagMs.p50, 1)})` : ''}${s.nodeEventLoopDelayMs ? `, node event-loop delay p99 ${s.nodeEventLoopDelayMs.map((e) => num(e.p99, 0)).join('/')} ms` : ''}, ${num(s.serverCpuUsPerEmit, 0)} µs, ${Math.round(s.redisBytesPerEmit)} B, ${num(s.redisCpuUsPerEmit, 0)} µs${s.sustained ? '' : s.correct === false ? ` **wrong: ${s.deliveredTotal} delivered, ${s.duplicates} duplicates, ${s.wrongRoom} to another room**` : ' **lags**'}`).join('<br>');
    out.push(`| ${C_LABEL[n] || n} | ${x.maxSustained != null ? `${x.maxSustained}/s` : 'none'}${x.error ? ` (error: ${x.error})` : ''} | ${steps} |`);
  }
  out.push('');
  out.push(`Every node emits \`io.to('g:<k>').emit(...)\` to group rooms of ${cfg.groupSize} clients (spread over the nodes), open loop (a 5 ms timer catches up with the target rate), ${cfg.stepSeconds} s per step, the target rate split evenly over the ${cfg.nodes} nodes; steps ${(cfg.rates || []).join(', ')} emits/s, adapters rotating within a step. A step is sustained if the nodes kept the rate (≥ 97%), every message reached its room within ${c.config.graceMs / 1000} s after the step ended (and no message came twice or to the wrong client) and the p99 lag emit → receipt (shared monotonic clock) stayed under ${c.config.lagLimitMs} ms; a step that lags is run once more (a hiccup of this shared machine is not an adapter's ceiling: both attempts are listed) and an adapter stops at a step that lagged twice, or at once if a message was lost, duplicated or misrouted; 1 s at the lowest rate first, per adapter, unrecorded. The clients share the 2 cores with the servers and redis-servers: the ceiling is the machine's as much as the adapter's. Server CPU per emit at low rates is mostly fixed per-second costs (timers, read loops) spread over few emits. Lag p50 is also given for the receivers on the emitting node and on the others, and each node's event-loop delay p99 over the step (\`monitorEventLoopDelay\`), when the run recorded them.`);
  return out.join('\n');
}

function goalsSection(cases, queueMeasurements, fanoutResult, clusterResult) {
  const rows = [];
  const by = (pred) => cases.filter(pred);
  for (const c of by((c) => c.fn === 'DocumentStore.apply')) {
    rows.push(['native ≥ 2x JS twin on `DocumentStore.apply`', c.id, c.results.native, c.results.js, verdict(c.ratios.nativeVsJs, 2, c.results.native && c.results.native.medianNs, c.results.js && c.results.js.medianNs)]);
  }
  for (const c of by((c) => c.fn === 'OptimisticState.rebase' && c.size.pending === 100 && c.size.label !== '1KB')) {
    rows.push(['native ≥ 3x JS twin on `OptimisticState.rebase`, 100 pending, 16 KB and above', c.id, c.results.native, c.results.js, verdict(c.ratios.nativeVsJs, 3, c.results.native && c.results.native.medianNs, c.results.js && c.results.js.medianNs)]);
  }
  for (const c of by((c) => c.fn === 'merge3')) {
    rows.push(['native ≥ 2x JS twin on `merge3`', c.id, c.results.native, c.results.js, verdict(c.ratios.nativeVsJs, 2, c.results.native && c.results.native.medianNs, c.results.js && c.results.js.medianNs)]);
  }
  for (const c of by((c) => (c.fn === 'applyPatch' || c.fn === 'diff') && c.size.label === '128KB')) {
    const p = c.results['fast-json-patch'];
    rows.push([`native ahead of fast-json-patch on \`${c.fn}\` at 128 KB`, c.id, c.results.native, p, verdict(c.ratios.nativeVsPeer, 1, c.results.native && c.results.native.medianNs, p && p.medianNs)]);
  }
  const lines = [
    '| goal | case | native | other | result |',
    '| --- | --- | ---: | ---: | --- |',
    ...rows.map(([g, id, n, o, v]) => `| ${g} | \`${id}\` | ${fmtNs(n && n.medianNs)} | ${fmtNs(o && o.medianNs)} | ${v} |`),
    ...queueGoalRows(cases, queueMeasurements).map(([g, id, n, o, v]) => { rows.push([g, id, n, o, v]); return `| ${g} | \`${id}\` | ${n} | ${o} | ${v} |`; }),
    ...fanoutGoalRows(fanoutResult).map(([g, id, n, o, v]) => { rows.push([g, id, n, o, v]); return `| ${g} | \`${id}\` | ${n} | ${o} | ${v} |`; }),
    ...clusterGoalRows(clusterResult).map(([g, id, n, o, v]) => { rows.push([g, id, n, o, v]); return `| ${g} | \`${id}\` | ${n} | ${o} | ${v} |`; }),
  ];
  const met = rows.filter((r) => r[4].startsWith('**met**')).length;
  return { table: lines.join('\n'), met, total: rows.length };
}

// one sentence: range and geometric mean of a ratio over the cases that have it
function spread(cases, key, other) {
  const xs = cases.filter((c) => c.ratios[key] != null).map((c) => ({ id: c.id, x: c.ratios[key] }));
  if (!xs.length) return '';
  xs.sort((a, b) => a.x - b.x);
  const geo = Math.exp(xs.reduce((acc, e) => acc + Math.log(e.x), 0) / xs.length);
  const faster = xs.filter((e) => e.x > 1).length;
  return `- Native vs ${other}: faster in ${faster} of ${xs.length} cases; speed-up from ${fmtX(xs[0].x)} (\`${xs[0].id}\`) to ${fmtX(xs[xs.length - 1].x)} (\`${xs[xs.length - 1].id}\`), geometric mean ${fmtX(geo)}.`;
}

function resultsTable(cases) {
  const head = [
    '| case | native median | native p99 | JS median | JS p99 | fast-json-patch median | fjp p99 | native vs JS | native vs fjp | samples n / js / fjp | check |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const rows = cases.map((c) => {
    const n = c.results.native;
    const j = c.results.js;
    const p = c.results['fast-json-patch'];
    const samples = [n, j, p].map((x) => (x ? x.samples : '-')).join(' / ');
    return `| \`${c.id}\` | ${fmtNs(n && n.medianNs)} | ${fmtNs(n && n.p99Ns)} | ${fmtNs(j && j.medianNs)} | ${fmtNs(j && j.p99Ns)} | ${fmtNs(p && p.medianNs)} | ${fmtNs(p && p.p99Ns)} | ${fmtX(c.ratios.nativeVsJs)} | ${fmtX(c.ratios.nativeVsPeer)} | ${samples} | ${c.check.ok ? 'ok' : '**see below**'} |`;
  });
  return head.concat(rows).join('\n');
}

function memorySection(memory) {
  if (!memory) return '_Not measured in this run (`--no-memory`)._';
  const lines = [
    '| implementation | documents | avg JSON text per doc | heap per doc after put | RSS per doc after put | heap per doc with 10 writes of history | RSS per doc with 10 writes of history |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, m] of Object.entries(memory)) {
    if (m.error) {
      lines.push(`| ${name} | error: ${m.error} | | | | | |`);
      continue;
    }
    lines.push(`| ${name} | ${m.docs} | ${bytes(m.avgTextBytes)} | ${bytes(m.put.heapPerDoc)} | ${bytes(m.put.rssPerDoc)} | ${bytes(m.history.heapPerDoc)} | ${bytes(m.history.rssPerDoc)} |`);
  }
  const cmds = Object.values(memory).filter((m) => m.command).map((m) => `\`${m.command}\``);
  lines.push('');
  lines.push(`Each implementation in its own process (${cmds.join(', ')}); growth over a baseline taken after the input texts were built and after forced GCs. The JS twin keeps documents on the V8 heap (so heap ≈ its cost and RSS includes it); the native engine keeps them in C++ memory, which only RSS shows. RSS growth is coarse (allocator arenas, pages), so treat it as ±10%.`);
  return lines.join('\n');
}

function pendingMemorySection(memory) {
  if (!memory) return '_Not measured in this run (`--no-memory`)._';
  const lines = [
    '| implementation | pending changes | avg change text | heap per pending change | RSS per pending change |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, m] of Object.entries(memory)) {
    lines.push(m.error ? `| ${name} | error: ${m.error} | | | |` : `| ${name} | ${m.pending} | ${bytes(m.avgChangeTextBytes)} | ${bytes(m.heapPerPending)} | ${bytes(m.rssPerPending)} |`);
  }
  const cmds = Object.values(memory).filter((m) => m.command).map((m) => `\`${m.command}\``);
  lines.push('');
  lines.push(`One OptimisticState on a 1 KB dashboard with that many pending changes (the changes of the rebase cases), each implementation in its own process (${cmds.join(', ')}); growth over a baseline taken after the change texts were built. A pending change keeps its text (returned by \`pending\`) and its parsed form.`);
  return lines.join('\n');
}

function queueSection(q) {
  if (!q) return '_Not measured in this run._';
  const lines = ['| measurement | native | JS twin |', '| --- | --- | --- |'];
  const cell = (m, f) => (!m ? '-' : m.error ? `error: ${m.error}` : f(m));
  const row = (label, key, f) => lines.push(`| ${label} | ${cell(q[key] && q[key].native, f)} | ${cell(q[key] && q[key].js, f)} |`);
  row('memory per queued item (200-byte payloads)', 'memory', (m) => `${m.rssPerItem} B RSS, ${m.heapPerItem} B heap (${m.items} items)`);
  row('event-loop delay with the queue full and traffic flowing', 'eventLoop', (m) => `p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, max ${m.maxMs.toFixed(1)} ms; ${m.gcs} GCs, ${m.gcPauseMs} ms in GC (${m.items} items)`);
  row('durable, fsync interval (100 ms)', 'durableInterval', (m) => `${rate(m.itemsPerSec)} (${m.items} items in ${m.seconds} s, ${bytes(m.logBytes)} of log)`);
  row('durable, fsync always (group commit)', 'durableAlways', (m) => `${rate(m.itemsPerSec)} (${m.items} items in ${m.seconds} s)`);
  const cmds = [];
  for (const k of Object.keys(q)) for (const m of Object.values(q[k])) if (m.command) cmds.push(`\`${m.command}\``);
  lines.push('');
  lines.push(`Each measurement in its own process: ${cmds.join(', ')}. Memory: RSS and V8 heap growth after forced GCs, divided by the items queued (10,000 clients). Event loop: \`perf_hooks.monitorEventLoopDelay\` while a 1 ms interval pushes 200 items to one client and peeks + acks another. Durable: pushMany in batches of 1000 from the first call until everything is fsynced.`);
  return lines.join('\n');
}

function renderReport(r, { findings } = {}) {
  const m = r.machine;
  const impl = r.implementations.map((i) => `${i.name} = \`${i.file}\`${i.error ? ` (**not loaded**: ${i.error})` : ''}`).join('; ');
  const goals = goalsSection(r.cases, r.queueMeasurements, r.fanout, r.cluster);
  const problems = r.cases.filter((c) => !c.check.ok);
  const out = [];
  out.push('# realtime-core benchmark report');
  out.push('');
  out.push(`Produced by \`${r.command}\` on ${r.date} (${r.durationSec} s${r.quick ? ', **quick smoke run: tiny time budget, numbers are noisy**' : ''}). Every number below comes from that run (raw data: \`latest.json\` beside this file).`);
  out.push('');
  out.push(`Machine: ${m.cpu}, ${m.cores} cores (shared), ${m.totalMemMiB} MiB, ${m.platform}; Node ${m.node} (V8 ${m.v8}); tinybench ${m.tinybench}; fast-json-patch ${m.fastJsonPatch}; load average at start ${m.loadavg.join(' / ')}.`);
  out.push('');
  const carried = Object.entries(r.suiteRuns || {}).filter(([, v]) => v && v.command !== r.command);
  if (carried.length) {
    out.push(`**Assembled with \`--only\`:** these suites were not re-run and come from earlier runs: ${carried.map(([s, v]) => `${s} (\`${v.command}\` on ${v.date})`).join('; ')}. The machine line, budget and load averages below are this run's.`);
    out.push('');
  }
  out.push(`Implementations: ${impl}; peer: fast-json-patch (and socket.io-adapter in the fan-out section).`);
  out.push(`Budget per case and implementation: ${r.budget.time} ms measured (plus ${r.budget.warmupTime} ms warm-up, at least ${r.budget.iterations} iterations), split into ${r.budget.rounds} interleaved round(s) (implementations in rotating order, a forced GC before each, samples pooled), one call per sample, hrtime clock. Load average at the end: ${(r.loadavgAtEnd || []).join(' / ')}.`);
  out.push('');
  out.push('**Ratios** are speed-ups of native: median time of the other implementation / median time of native. Above 1x native is faster; below 1x it is slower.');
  out.push('');
  out.push('## Goals');
  out.push('');
  out.push(`${goals.met} of ${goals.total} goal checks met in this run. These are measurements, not tests: nothing fails on speed.`);
  out.push('');
  out.push(spread(r.cases, 'nativeVsJs', 'the JS twin'));
  out.push(spread(r.cases, 'nativeVsPeer', 'fast-json-patch'));
  out.push('');
  out.push(goals.table);
  out.push('');
  out.push('![native speed-up over the JS twin per case](ratios.svg)');
  out.push('');
  out.push('![native speed-up over fast-json-patch](ratios-peer.svg)');
  out.push('');
  out.push('## Results (medians and p99 per call)');
  out.push('');
  out.push(resultsTable(r.cases));
  out.push('');
  if (problems.length) {
    out.push('### Check problems');
    out.push('');
    out.push('Before timing, each case runs every implementation once and checks they computed the same thing. These did not:');
    out.push('');
    for (const c of problems) out.push(`- \`${c.id}\`: ${c.check.problems.join('; ')}`);
    out.push('');
  }
  out.push('## Memory: DocumentStore, per stored document');
  out.push('');
  out.push(memorySection(r.memory));
  out.push('');
  out.push('## OfflineQueue: memory, event-loop delay, durable throughput');
  out.push('');
  out.push(queueSection(r.queueMeasurements));
  out.push('');
  out.push('## Memory: OptimisticState, per pending change');
  out.push('');
  out.push(pendingMemorySection(r.pendingMemory));
  out.push('');
  out.push('## Fan-out: Socket.io adapter (FanoutHub) vs socket.io-adapter');
  out.push('');
  out.push(fanoutSection(r.fanout));
  out.push('');
  out.push('## Scale-out over Redis: ours vs @socket.io/redis-streams-adapter');
  out.push('');
  out.push(clusterSection(r.cluster));
  out.push('');
  out.push('## Where the time goes');
  out.push('');
  out.push(findings ? findings.replace(/^#+ Where the time goes\s*\n/, '').replace(/^(#{2,}) /gm, '#$1 ').trim() : '_No profiling findings recorded yet (benchmarks/profile/FINDINGS.md)._');
  out.push('');
  out.push('## What each case measures');
  out.push('');
  out.push('Data is generated from fixed seeds by `benchmarks/data.js`: dashboard documents (devices with status, playlists whose items have ids, schedules, nested settings, KPIs, alerts) of about 1 KB, 16 KB and 128 KB, and ~1 KB (or 16 KB) "screen" entities for the store. `value` = JS values in, JS value out; `text` = JSON text in, JSON text out (`{ output: \'text\' }`); every implementation in a case gets the same inputs and returns the same form.');
  out.push('');
  const seen = new Set();
  for (const c of r.cases) {
    const key = `${c.fn}/${c.size.label}`;
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    const notes = c.check.notes && Object.keys(c.check.notes).length ? ` (${Object.entries(c.check.notes).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ')})` : '';
    out.push(`- \`${c.id}\`: ${c.what}${notes}.`);
    void key;
  }
  out.push('');
  out.push('Fairness notes:');
  out.push('');
  out.push('- fast-json-patch, value form: `applyPatch(doc, ops, true /* validate */, false /* do not mutate: it deep-clones the document */).newDocument` and `compare(a, b)`; text form: `JSON.parse` both inputs (a private copy, so it may mutate it), apply or compare, `JSON.stringify` the result. Our API never mutates its inputs either and returns fresh values.');
  out.push('- fast-json-patch inserts patch values into the result by reference (ours copies), and its `compare` replaces array items by index where ours computes a Myers edit script (so the patches differ in size: see the op counts in the diff notes above). Both patches are checked to turn `a` into `b`.');
  out.push('- Our public API turns a JS value into JSON text (`JSON.stringify`) before either engine sees it (docs/internals.md), so the value form includes that cost for both native and the twin.');
  out.push('- `DocumentStore.apply` cases cycle round-robin over the stored documents; each iteration changes its document (the patch pools never repeat a value on one document), so every iteration does comparable work. The stale cases run the merge path on every iteration (statuses are counted during the run and listed in the notes).');
  out.push('');
  return out.join('\n') + '\n';
}

module.exports = { renderReport };
