'use strict';

// Durable recovery of FanoutHub (docs/fanout.md, "Durable recovery" and "Durable recovery:
// storage"): a hub closed and reopened on the same path continues the same offsets and restores
// the sessions saved before, with the same packets; written by one implementation and opened by
// the other too.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Encoder } = require('socket.io-parser');
const { IMPLS, codeOf } = require('./helpers/impls');

const tmpDirs = [];
function tmpDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtf-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

const T0 = 1_800_000_000_000;

// Runs script in a child process until it prints "ready" (its hub has synced the log), then
// kills it with SIGKILL: no close(), no flush beyond what the script waited for.
async function runAndKill(script) {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      if (String(d).includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
const enc = (data, nsp = '/') => new Encoder().encode({ type: 2, nsp, data })[0];

function open(rt, dir, clock, options = {}) {
  return new rt.FanoutHub({
    clock: () => clock.now,
    autoFlush: false,
    recovery: { windowMs: 60_000, maxPackets: 1000 },
    durable: { path: dir, fsync: 'always' },
    ...options,
  });
}

// A history with every kind of recorded packet: rooms, everyone, except, keyed, batched items.
function history(hub, clock) {
  const a = hub.connect();
  const b = hub.connect();
  hub.join(a, ['A', 'B']);
  hub.join(b, 'B');
  const offsets = [];
  const pub = (m) => offsets.push(hub.publish({ event: 'e', ...m }).offset);
  pub({ rooms: ['A'], payload: 1 });
  pub({ rooms: ['B'], except: ['A'], payload: 2 });
  pub({ payload: { all: 'é😀' } });
  pub({ rooms: ['A'], payload: 3, key: 'k' });
  hub.publish({ rooms: ['A'], event: 'e', payload: 4, key: 'k' }); // pending
  pub({ rooms: ['B'], payload: 5, volatile: true }); // not recorded
  hub.publish({ rooms: ['B'], batch: true, event: 'b', payload: 6 });
  hub.publish({ rooms: ['B'], batch: true, event: 'b', payload: 7, recoverable: false });
  clock.now += 2000;
  hub.flush(); // the pending keyed message (srv-5), then the bulk (item 6: srv-6)
  return offsets;
}

// 300 records (maxPackets 50: the log holds more than the engine between trims) and sessions
const historyScript = `
  function run(hub) {
    const a = hub.connect();
    hub.join(a, ['A', 'B']);
    for (let i = 1; i <= 300; i++) hub.publish({ rooms: i % 3 === 0 ? [] : [i % 3 === 1 ? 'A' : 'B'], event: 'e', payload: i });
    for (const r of ['A', 'B']) hub.saveSession({ id: r, sid: r, rooms: [r] });
    hub.saveSession({ id: 'Q', sid: 'Q', rooms: ['quiet'] });
  }
`;

const pairs = [];
for (const [w, writer] of IMPLS) for (const [r, reader] of IMPLS) pairs.push([w, r, writer, reader]);

describe.each(pairs)('durable hub written by %s, reopened by %s', (_w, _r, writer, reader) => {
  test('offsets continue, sessions saved before the restart are restored with the same packets', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const h1 = open(writer, dir, clock, { offsetPrefix: 'srv-', namespace: '/n' });
    expect(h1.options.offsetPrefix).toBe('srv-');
    const offsets = history(h1, clock);
    expect(offsets).toEqual(['srv-1', 'srv-2', 'srv-3', 'srv-4', null]);
    h1.saveSession({ id: 'sa', sid: 'SA', rooms: ['A'], data: '{"u":1}' });
    h1.saveSession({ id: 'sb', sid: 'SB', rooms: ['B'] });
    h1.saveSession({ id: 'sx', sid: 'SX', rooms: [] });
    h1.saveSession({ id: 'gone', sid: 'G', rooms: [] });
    expect(h1.restore('gone', 'srv-6').status).toBe('recovered');
    // what the sessions would get before the restart (each restore consumes one, so ask a twin)
    const twinClock = { now: T0 };
    const twin = new writer.FanoutHub({ clock: () => twinClock.now, autoFlush: false, recovery: { windowMs: 60_000 }, offsetPrefix: 'srv-', namespace: '/n' });
    history(twin, twinClock);
    twin.saveSession({ id: 'sa', sid: 'SA', rooms: ['A'], data: '{"u":1}' });
    twin.saveSession({ id: 'sb', sid: 'SB', rooms: ['B'] });
    const expectA = twin.restore('sa', 'srv-0');
    const expectB = twin.restore('sb', 'srv-2');
    expect(expectA.packets).toEqual([
      enc(['e', 1, 'srv-1'], '/n'),
      enc(['e', { all: 'é😀' }, 'srv-3'], '/n'),
      enc(['e', 3, 'srv-4'], '/n'),
      enc(['e', 4, 'srv-5'], '/n'),
    ]);
    expect(expectB.packets).toEqual([enc(['e', { all: 'é😀' }, 'srv-3'], '/n'), enc(['b', 6, 'srv-6'], '/n')]);
    await h1.close();
    expect(codeOf(() => h1.connect())).toBe('ERR_RT_CLOSED');

    clock.now += 1000;
    // the log's prefix and last seq win over the options
    const h2 = open(reader, dir, clock, { offsetPrefix: 'other-', startSeq: 500, namespace: '/n' });
    expect(h2.options.offsetPrefix).toBe('srv-');
    // connections and memberships are live state: gone
    expect(Array.from(h2.connections())).toEqual([]);
    expect(h2.roomNames()).toEqual([]);
    expect(h2.stats()).toMatchObject({ sessions: 3, recoveryPackets: 6, recorded: 0 });
    expect(h2.restore('sa', 'srv-0')).toEqual(expectA);
    expect(h2.restore('sb', 'srv-2')).toEqual(expectB);
    expect(h2.restore('gone', 'srv-0')).toEqual({ status: 'unknown-session' });
    expect(h2.restore('sx', 'srv-7')).toEqual({ status: 'invalid-offset' });
    const c = h2.connect();
    expect(h2.publish({ event: 'e', payload: 8 }).offset).toBe('srv-7');
    expect(h2.publish({ event: 'e', payload: 9 }).deliveries[0]).toMatchObject({ packet: enc(['e', 9, 'srv-8'], '/n'), offset: 'srv-8' });
    expect(Array.from(h2.targets({}))).toEqual([c]);
    expect(h2.restore('sx', 'srv-2').packets).toEqual([enc(['e', { all: 'é😀' }, 'srv-3'], '/n'), enc(['e', 8, 'srv-7'], '/n'), enc(['e', 9, 'srv-8'], '/n')]);
    h2.saveSession({ id: 'later', sid: 'L', rooms: ['A'] });
    await h2.close();

    // and once more: the records written after the first restart are there too
    const h3 = open(writer, dir, clock);
    expect(h3.restore('later', 'srv-3')).toMatchObject({
      status: 'recovered',
      packets: [enc(['e', 3, 'srv-4'], '/n'), enc(['e', 4, 'srv-5'], '/n'), enc(['e', 8, 'srv-7'], '/n'), enc(['e', 9, 'srv-8'], '/n')],
    });
    h3.connect();
    expect(h3.publish({ event: 'e', args: [] }).offset).toBe('srv-9');
    await h3.close();
  });
});

describe.each(IMPLS)('durable hub (%s)', (_name, rt) => {
  test('a new log takes offsetPrefix and startSeq from the options', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const h1 = open(rt, dir, clock, { offsetPrefix: 'x', startSeq: 35 });
    h1.connect();
    expect(h1.publish({ event: 'e', payload: 1 }).offset).toBe('x10');
    await h1.close();
    const h2 = open(rt, dir, clock);
    h2.connect();
    expect(h2.publish({ event: 'e', payload: 1 }).offset).toBe('x11');
    await h2.close();
    // a random prefix is kept too
    const dir2 = tmpDir();
    const h3 = open(rt, dir2, clock);
    const prefix = h3.options.offsetPrefix;
    expect(prefix).toMatch(/^[0-9a-z]{8}-$/);
    await h3.close();
    const h4 = open(rt, dir2, clock);
    expect(h4.options.offsetPrefix).toBe(prefix);
    await h4.close();
  });

  test('evicted records: offsets continue when none is left; an offset before the stored records is too old', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 1000, maxPackets: 3 } };
    const h1 = open(rt, dir, clock, options);
    const a = h1.connect();
    h1.join(a, ['A', 'B']);
    for (let i = 1; i <= 600; i++) h1.publish({ rooms: [i % 2 ? 'A' : 'B'], event: 'e', payload: i });
    h1.saveSession({ id: 'a', sid: 'SA', rooms: ['A'] });
    h1.saveSession({ id: 'b', sid: 'SB', rooms: ['B'] });
    h1.saveSession({ id: 'q', sid: 'SQ', rooms: ['quiet'] });
    expect(h1.stats()).toMatchObject({ recoveryPackets: 3, evicted: 597 });
    await h1.close();
    // only the three live records are stored
    clock.now += 10;
    const h2 = open(rt, dir, clock, options);
    expect(h2.stats()).toMatchObject({ recoveryPackets: 3, sessions: 3 });
    const o = (n) => `p${n.toString(36)}`;
    // a quiet session that needs nothing stored still needs what was evicted before the restart
    expect(h2.restore('q', o(596))).toEqual({ status: 'too-old' });
    expect(h2.restore('a', o(596))).toEqual({ status: 'too-old' });
    expect(h2.restore('a', 'junk')).toEqual({ status: 'invalid-offset' });
    expect(h2.restore('a', o(597))).toEqual({ status: 'recovered', sid: 'SA', rooms: ['A'], data: 'null', packets: [enc(['e', 599, o(599)])] });
    expect(h2.restore('b', o(598)).packets).toEqual([enc(['e', 600, o(600)])]);
    expect(h2.restore('q', o(600))).toEqual({ status: 'recovered', sid: 'SQ', rooms: ['quiet'], data: 'null', packets: [] });
    await h2.close();
    // every record aged out: nothing stored, the offsets still continue
    clock.now += 5000;
    const h3 = open(rt, dir, clock, options);
    expect(h3.sweep()).toEqual({ evicted: 3, expired: 0 });
    h3.saveSession({ id: 'n', sid: 'N', rooms: [] });
    await h3.close();
    const h4 = open(rt, dir, clock, options);
    expect(h4.stats()).toMatchObject({ recoveryPackets: 0, sessions: 1 });
    expect(h4.restore('n', o(599))).toEqual({ status: 'too-old' });
    expect(h4.restore('n', o(600))).toEqual({ status: 'recovered', sid: 'N', rooms: [], data: 'null', packets: [] });
    h4.connect();
    expect(h4.publish({ event: 'e', payload: 1 }).offset).toBe(o(601));
    await h4.close();
  });

  test('sessions expire across a restart; replaced and evicted sessions are not stored', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 1000 }, maxSessions: 2 };
    const h1 = open(rt, dir, clock, options);
    h1.saveSession({ id: 'old', sid: 'O', rooms: [] });
    clock.now += 500;
    h1.saveSession({ id: 'x', sid: 'X1', rooms: [] });
    h1.saveSession({ id: 'y', sid: 'Y', rooms: [] });
    h1.saveSession({ id: 'x', sid: 'X2', rooms: ['r'], data: '[1]' });
    await h1.close();
    const h2 = open(rt, dir, clock, options);
    expect(h2.stats().sessions).toBe(2);
    expect(h2.restore('old', 'p0')).toEqual({ status: 'unknown-session' });
    expect(h2.restore('x', 'p0')).toEqual({ status: 'recovered', sid: 'X2', rooms: ['r'], data: '[1]', packets: [] });
    clock.now += 1001;
    expect(h2.restore('y', 'p0')).toEqual({ status: 'expired' });
    await h2.close();
    const h3 = open(rt, dir, clock, options);
    expect(h3.stats().sessions).toBe(0);
    await h3.close();
  });

  test('reopened with a smaller maxSessions: the oldest saved are dropped from the log too', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const h1 = open(rt, dir, clock, { offsetPrefix: 'p', maxSessions: 3 });
    for (const id of ['s1', 's2', 's3']) {
      clock.now += 10;
      h1.saveSession({ id, sid: id.toUpperCase(), rooms: [] });
    }
    await h1.close();
    const h2 = open(rt, dir, clock, { offsetPrefix: 'p', maxSessions: 1 });
    expect(h2.stats().sessions).toBe(1);
    await h2.close();
    const h3 = open(rt, dir, clock, { offsetPrefix: 'p', maxSessions: 3 });
    expect(h3.stats().sessions).toBe(1);
    expect(h3.restore('s1', 'p0')).toEqual({ status: 'unknown-session' });
    expect(h3.restore('s3', 'p0')).toEqual({ status: 'recovered', sid: 'S3', rooms: [], data: 'null', packets: [] });
    await h3.close();
  });

  test('a log holding more records than the engine (stored before they were evicted) reopens the same', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 100_000, maxPackets: 50, maxBytes: 100_000 } };
    const h1 = open(rt, dir, clock, options);
    const a = h1.connect();
    h1.join(a, ['A', 'B', 'C']);
    const rooms = [['A'], ['B'], [], ['C', 'A']];
    for (let i = 1; i <= 300; i++) {
      clock.now += 1;
      h1.publish({ rooms: rooms[i % 4], except: i % 7 === 0 ? ['B'] : [], event: 'e', payload: 'x'.repeat(i % 50) });
    }
    for (const r of ['A', 'B', 'C']) h1.saveSession({ id: r, sid: r, rooms: [r] });
    const before = h1.stats();
    await h1.close();
    const h2 = open(rt, dir, clock, options);
    expect(h2.stats()).toMatchObject({ recoveryPackets: before.recoveryPackets, recoveryBytes: before.recoveryBytes });
    for (const r of ['A', 'B', 'C']) {
      const twin = new rt.FanoutHub({ clock: () => clock.now, autoFlush: false, ...options });
      const b = twin.connect();
      twin.join(b, ['A', 'B', 'C']);
      const t = { now: T0 };
      for (let i = 1; i <= 300; i++) {
        t.now += 1;
        twin.publish({ rooms: rooms[i % 4], except: i % 7 === 0 ? ['B'] : [], event: 'e', payload: 'x'.repeat(i % 50) });
      }
      twin.saveSession({ id: r, sid: r, rooms: [r] });
      for (const from of [0, 250, 251, 280, 300]) {
        const got = h2.restore(r, `p${from.toString(36)}`);
        expect([r, from, got]).toEqual([r, from, twin.restore(r, `p${from.toString(36)}`)]);
        if (got.status === 'recovered') {
          h2.saveSession({ id: r, sid: r, rooms: [r] });
          twin.saveSession({ id: r, sid: r, rooms: [r] });
        }
      }
    }
    await h2.close();
  });

  test('killed without close(): the log reopens with every record and session it had written', async () => {
    const dir = tmpDir();
    const entry = path.join(__dirname, '..', 'lib', _name === 'js' ? 'js/index.js' : 'index.js');
    const script = `
      const rt = require(${JSON.stringify(entry)});
      ${historyScript}
      const hub = new rt.FanoutHub({ clock: () => ${T0}, autoFlush: false, offsetPrefix: 'p',
        recovery: { windowMs: 100000, maxPackets: 50 }, durable: { path: ${JSON.stringify(dir)}, fsync: 'always' } });
      run(hub);
      hub.sync().then(() => process.stdout.write('ready\\n'));
      setInterval(() => {}, 1000);
    `;
    await runAndKill(script);
    const clock = { now: T0 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 100000, maxPackets: 50 } };
    const h = open(rt, dir, clock, options);
    const run = new Function(`${historyScript}; return run;`)();
    const twin = new rt.FanoutHub({ clock: () => clock.now, autoFlush: false, ...options });
    run(twin);
    h.connect();
    expect(h.publish({ event: 'e', args: [] }).offset).toBe(twin.publish({ event: 'e', args: [] }).offset);
    for (const id of ['A', 'B', 'Q']) {
      for (const from of [0, 260, 280, 299, 301]) {
        const offset = `p${from.toString(36)}`;
        expect([id, from, h.restore(id, offset)]).toEqual([id, from, twin.restore(id, offset)]);
      }
    }
    await h.close();
  });

  // Tracked (live) sessions: crash-safe sessions of connected sockets (docs/fanout.md).
  const trackScript = `
    function track(hub, clock) {
      const a = hub.connect();
      hub.join(a, ['A', 'B']);
      hub.trackSession({ id: 't1', sid: 'T1', rooms: ['A'], data: '{"u":1}' });
      hub.trackSession({ id: 't2', sid: 'T2', rooms: ['B'] });
      hub.trackSession({ id: 't3', sid: 'T3', rooms: ['A'] });
      hub.trackSession({ id: 't4', sid: 'T4', rooms: ['A'] });
      hub.saveSession({ id: 't3', sid: 'T3', rooms: ['B'], data: '[3]' });
      clock.now += 90000;
      for (let i = 1; i <= 6; i++) hub.publish({ rooms: [i % 2 ? 'A' : 'B'], event: 'e', payload: i });
      hub.untrackSession('t2');
      hub.trackSession({ id: 't4', sid: 'T4', rooms: ['A', 'B'], data: '{"v":4}' });
    }
  `;

  test('tracked sessions survive a crash (SIGKILL): restored as saved at the reopen time', async () => {
    const dir = tmpDir();
    const entry = path.join(__dirname, '..', 'lib', _name === 'js' ? 'js/index.js' : 'index.js');
    const script = `
      const rt = require(${JSON.stringify(entry)});
      ${trackScript}
      const clock = { now: ${T0} };
      const hub = new rt.FanoutHub({ clock: () => clock.now, autoFlush: false, offsetPrefix: 'p',
        recovery: { windowMs: 100000, maxPackets: 50 }, durable: { path: ${JSON.stringify(dir)}, fsync: 'always' } });
      track(hub, clock);
      if (hub.stats().sessions !== 1) throw new Error('tracked sessions went into the engine');
      hub.sync().then(() => process.stdout.write('ready\\n'));
      setInterval(() => {}, 1000);
    `;
    await runAndKill(script);

    const clock = { now: T0 + 99_000 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 100000, maxPackets: 50 } };
    const h = open(rt, dir, clock, options);
    // t1 and t4 (live at the crash) and t3 (saved); t2 was untracked
    expect(h.stats().sessions).toBe(3);
    const A = [1, 3, 5].map((i) => enc(['e', i, `p${i}`]));
    expect(h.restore('t2', 'p0')).toEqual({ status: 'unknown-session' });
    clock.now = T0 + 100_500; // t3 was saved at T0; the live ones count from the reopen (T0 + 99s)
    expect(h.restore('t3', 'p0')).toEqual({ status: 'expired' });
    expect(h.restore('t1', 'p0')).toEqual({ status: 'recovered', sid: 'T1', rooms: ['A'], data: '{"u":1}', packets: A });
    // the newest tracking of t4 won
    expect(h.restore('t4', 'p4')).toEqual({
      status: 'recovered', sid: 'T4', rooms: ['A', 'B'], data: '{"v":4}', packets: [5, 6].map((i) => enc(['e', i, `p${i}`])),
    });
    expect(h.restore('t1', 'p0')).toEqual({ status: 'unknown-session' });
    h.connect();
    expect(h.publish({ event: 'e', payload: 7 }).offset).toBe('p7');
    await h.close();
    const h2 = open(rt, dir, clock, options);
    expect(h2.stats().sessions).toBe(0);
    await h2.close();

    // t3 saved after its tracking replaced it: restored like any saved session
    const dir2 = tmpDir();
    const h3 = open(rt, dir2, { now: T0 }, options);
    new Function(`${trackScript}; return track;`)()(h3, { now: T0 });
    expect(h3.restore('t3', 'p1')).toEqual({
      status: 'recovered', sid: 'T3', rooms: ['B'], data: '[3]', packets: [2, 4, 6].map((i) => enc(['e', i, `p${i}`])),
    });
    await h3.close();
  });

  test('trackSession / untrackSession: the log only, never the engine; a live session moves its time on reopen once', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 1000 }, maxSessions: 2 };
    const h1 = open(rt, dir, clock, options);
    h1.trackSession({ id: 'a', sid: 'A', rooms: ['r'] });
    expect(h1.stats().sessions).toBe(0);
    expect(h1.restore('a', 'p0')).toEqual({ status: 'unknown-session' });
    expect(h1.untrackSession('a')).toBe(true);
    expect(h1.untrackSession('a')).toBe(false);
    expect(h1.untrackSession('nobody')).toBe(false);
    // a saved session is not live: untrackSession leaves it
    h1.saveSession({ id: 's', sid: 'S', rooms: [] });
    expect(h1.untrackSession('s')).toBe(false);
    // at most maxSessions live sessions: the oldest tracked go first
    h1.trackSession({ id: 'l1', sid: 'L1', rooms: [] });
    h1.trackSession({ id: 'l2', sid: 'L2', rooms: [] });
    h1.trackSession({ id: 'l1', sid: 'L1', rooms: ['x'] });
    h1.trackSession({ id: 'l3', sid: 'L3', rooms: [] });
    expect(h1.untrackSession('l2')).toBe(false);
    // argument errors
    expect(codeOf(() => h1.trackSession({ id: 'a', sid: 'A', rooms: [], extra: 1 }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => h1.trackSession({ id: '', sid: 'A' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => h1.trackSession({ id: 'a', sid: 'A', data: {} }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => h1.trackSession(null))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => h1.untrackSession(1))).toBe('ERR_RT_INVALID_ARGUMENT');
    await h1.close();
    expect(codeOf(() => h1.trackSession({ id: 'a', sid: 'A' }))).toBe('ERR_RT_CLOSED');
    expect(codeOf(() => h1.untrackSession('a'))).toBe('ERR_RT_CLOSED');

    // reopened later: the live sessions (l1, l3, left live by close) are saved at the reopen
    // time, after the saved ones; maxSessions 2 keeps the newest two
    clock.now += 5000;
    const h2 = open(rt, dir, clock, options);
    expect(h2.stats().sessions).toBe(2);
    expect(h2.restore('s', 'p0')).toEqual({ status: 'unknown-session' });
    expect(h2.restore('l1', 'p0')).toEqual({ status: 'recovered', sid: 'L1', rooms: ['x'], data: 'null', packets: [] });
    await h2.close();
    // stored again as saved sessions: another reopen does not move their time
    clock.now += 1001;
    const h3 = open(rt, dir, clock, options);
    expect(h3.restore('l3', 'p0')).toEqual({ status: 'expired' });
    await h3.close();

    // without durable: not available
    const mem = new rt.FanoutHub({ autoFlush: false, recovery: true });
    expect(codeOf(() => mem.trackSession({ id: 'a', sid: 'A' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(codeOf(() => mem.untrackSession('a'))).toBe('ERR_RT_INVALID_ARGUMENT');
    const plain = new rt.FanoutHub({ autoFlush: false });
    expect(codeOf(() => plain.trackSession({ id: 'a', sid: 'A' }))).toBe('ERR_RT_INVALID_ARGUMENT');
    await mem.close();
    await plain.close();
  });

  test('trackSession over a saved session: the engine keeps its copy, counted until it goes', async () => {
    const dir = tmpDir();
    const clock = { now: T0 };
    const options = { offsetPrefix: 'p', recovery: { windowMs: 1000 }, maxSessions: 2 };
    const h1 = open(rt, dir, clock, options);
    h1.saveSession({ id: 'a', sid: 'A', rooms: [] });
    h1.saveSession({ id: 'b', sid: 'B', rooms: [] });
    h1.trackSession({ id: 'a', sid: 'A2', rooms: ['y'] }); // the log's item of a is now live
    expect(h1.stats().sessions).toBe(2);
    h1.saveSession({ id: 'c', sid: 'C', rooms: [] }); // the engine evicts a (the oldest saved)
    expect(h1.restore('a', 'p0')).toEqual({ status: 'unknown-session' });
    expect(h1.restore('b', 'p0')).toMatchObject({ status: 'recovered', sid: 'B' });
    await h1.close();
    clock.now += 10;
    const h2 = open(rt, dir, clock, options);
    expect(h2.stats().sessions).toBe(2); // c saved, a live
    expect(h2.restore('a', 'p0')).toEqual({ status: 'recovered', sid: 'A2', rooms: ['y'], data: 'null', packets: [] });
    expect(h2.restore('c', 'p0')).toMatchObject({ status: 'recovered', sid: 'C' });
    await h2.close();
  });

  test('a path that cannot be used: ERR_RT_DISK', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, 'x');
    expect(codeOf(() => open(rt, file, { now: T0 }))).toBe('ERR_RT_DISK');
  });
});
