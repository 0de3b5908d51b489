'use strict';

// Durable OfflineQueue (docs/offline-queue.md, "Durable mode"): round trips, crash safety with
// SIGKILL, torn and corrupt tails, logs opened by the other implementation, compaction, and a
// disk that fails while the queue runs.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { IMPLS, native, js, codeOf } = require('./helpers/impls');

const tmpDirs = [];
function tmpDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtq-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

// What a reopened queue must reproduce (in-flight marks do not survive a restart by design).
function observe(queue) {
  return JSON.stringify({
    clients: queue.clients(),
    items: queue.clients().map((c) => queue.peek(c, { limit: 1e6 })),
    dead: queue.deadLetters(),
  });
}

function segments(dir) {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.rtq')).sort();
}

const T0 = 1_800_000_000_000;

// A short history touching every record type.
function scenario(queue) {
  queue.push('a', { event: 'e', payload: 'one' });
  queue.push('a', { event: 'e', payload: Buffer.from([0, 1, 2, 255]), key: 'k' });
  queue.push('b', { event: 'f', payload: 'é😀' });
  queue.push('a', { event: 'e', payload: 'two', key: 'k' }); // coalesces offset 2
  queue.push('b', { event: 'f', payload: 'gone' });
  queue.nack('b', 1, 'busy');
  queue.nack('b', 2, 'bad');
  queue.nack('b', 2, 'bad');
  queue.nack('b', 2, 'still bad'); // dead
  queue.ack('a', 1);
  for (let i = 0; i < 5; i++) queue.push('c', { event: 'g', payload: `n${i}` });
  queue.ack('c', 5); // c empty, last offset 5
}

const pairs = [];
for (const [w, writer] of IMPLS) for (const [r, reader] of IMPLS) pairs.push([w, writer, r, reader]);

describe.each(pairs)('durable log written by %s, opened by %s', (_w, writer, _r, reader) => {
  test('every record type survives close and reopen', async () => {
    const dir = tmpDir();
    const opts = { path: dir, fsync: 'always', clock: () => T0, seed: 9, jitter: 'none' };
    const q1 = new writer.OfflineQueue(opts);
    expect(q1.recovery).toEqual({ segments: 0, records: 0, items: 0, truncated: null });
    scenario(q1);
    const r = q1.push('a', { event: 'e', payload: 'last' });
    await r.durable;
    const before = observe(q1);
    await q1.close();
    const q2 = new reader.OfflineQueue(opts);
    expect(observe(q2)).toBe(before);
    expect(q2.recovery).toMatchObject({ items: 3, truncated: null });
    // offsets continue where they were, also for a client whose queue is empty
    expect(q2.push('c', { event: 'g', payload: 'n5' }).offset).toBe(6);
    expect(q2.push('a', { event: 'e', payload: 'next' }).offset).toBe(5);
    await q2.close();
  });
});

describe.each(IMPLS)('durable OfflineQueue (%s)', (_name, rt) => {
  test('fsync always: durable resolves; flush and close resolve; stats say durable', async () => {
    const dir = tmpDir();
    const q = new rt.OfflineQueue({ path: dir, fsync: 'always' });
    const results = [];
    for (let i = 0; i < 50; i++) results.push(q.push(`c${i % 5}`, { event: 'e', payload: `p${i}` }));
    await Promise.all(results.map((r) => r.durable));
    const m = q.pushMany('c0', [{ event: 'e', payload: 'x' }, { event: 'e', payload: 'y' }]);
    await m.durable;
    await q.flush();
    const s = q.stats();
    expect(s.durable).toMatchObject({ enabled: true, path: dir, fsync: 'always', healthy: true });
    expect(s.durable.segments).toBeGreaterThanOrEqual(1);
    await q.close();
    expect(segments(dir).length).toBeGreaterThanOrEqual(1);
  });

  test('interval and never modes: flush makes it durable', async () => {
    for (const fsync of ['interval', 'never']) {
      const dir = tmpDir();
      const q = new rt.OfflineQueue({ path: dir, fsync, fsyncIntervalMs: 5 });
      const r = q.push('c', { event: 'e', payload: 'x' });
      expect(r.durable).toBeUndefined();
      await q.flush();
      await q.close();
      expect(new rt.OfflineQueue({ path: dir }).size()).toBe(1);
    }
  });

  test('a torn last record is cut and reported; a flipped byte likewise', async () => {
    for (const damage of ['cut', 'flip']) {
      const dir = tmpDir();
      const q = new rt.OfflineQueue({ path: dir, fsync: 'always' });
      for (let i = 1; i <= 10; i++) q.push('c', { event: 'e', payload: `item-${i}` });
      await q.close();
      const seg = segments(dir).pop();
      const file = path.join(dir, seg);
      const size = fs.statSync(file).size;
      if (damage === 'cut') {
        fs.truncateSync(file, size - 3);
      } else {
        const buf = fs.readFileSync(file);
        buf[size - 2] ^= 0x55; // inside the last record's payload: its checksum fails
        fs.writeFileSync(file, buf);
      }
      const q2 = new rt.OfflineQueue({ path: dir });
      expect(q2.peek('c', { limit: 100 }).map((i) => i.payload)).toEqual(Array.from({ length: 9 }, (_, i) => `item-${i + 1}`));
      expect(q2.recovery.truncated).toMatchObject({ segment: seg });
      expect(q2.recovery.truncated.bytes).toBeGreaterThan(0);
      // the cut is permanent: a second open finds a clean log
      await q2.close();
      const q3 = new rt.OfflineQueue({ path: dir });
      expect(q3.recovery.truncated).toBeNull();
      expect(q3.size()).toBe(9);
      await q3.close();
    }
  });

  test('compaction keeps only the live state', async () => {
    const dir = tmpDir();
    const q = new rt.OfflineQueue({ path: dir, fsync: 'never', segmentBytes: 4096, capacity: 1000 });
    for (let i = 1; i <= 400; i++) {
      q.push('c', { event: 'e', payload: `payload-${i}`.padEnd(40, '.') });
      if (i % 10 !== 0) q.ackOne('c', i);
    }
    await q.compact();
    const before = observe(q);
    const bytes = q.stats().durable.bytes;
    await q.close();
    const total = segments(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    expect(total).toBeLessThan(400 * 40);
    expect(bytes).toBeLessThan(400 * 40);
    const q2 = new rt.OfflineQueue({ path: dir, capacity: 1000 });
    expect(observe(q2)).toBe(before);
    expect(q2.size()).toBe(40);
    expect(q2.push('c', { event: 'e', payload: 'x' }).offset).toBe(401);
    await q2.close();
  });

  test('a path that is a file: ERR_RT_DISK', () => {
    const file = path.join(tmpDir(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    expect(codeOf(() => new rt.OfflineQueue({ path: file }))).toBe('ERR_RT_DISK');
  });

  test('the disk fails while running: the queue goes on in memory and says so', async () => {
    const dir = tmpDir();
    const q = new rt.OfflineQueue({ path: dir, fsync: 'always', segmentBytes: 4096, capacity: 1000 });
    const events = [];
    q.on('durability', (e) => events.push(e));
    await q.push('c', { event: 'e', payload: 'before' }).durable;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.writeFileSync(dir, 'now a file'); // new segments cannot be created
    const results = [];
    for (let i = 0; i < 200; i++) results.push(q.push('c', { event: 'e', payload: 'x'.repeat(100) }));
    const outcomes = await Promise.allSettled(results.map((r) => r.durable));
    expect(outcomes.some((o) => o.status === 'rejected' && o.reason.code === 'ERR_RT_DISK')).toBe(true);
    expect(events[0]).toMatchObject({ healthy: false, error: { code: 'ERR_RT_DISK' } });
    expect(q.stats().durable.healthy).toBe(false);
    expect(q.size('c')).toBe(201);
    expect(q.peek('c', { after: 200 })).toHaveLength(1);
    q.ack('c', 10);
    // the disk comes back: the log is brought up to date with the whole state
    fs.rmSync(dir, { force: true });
    fs.mkdirSync(dir);
    const recovered = new Promise((resolve) => q.on('durability', (e) => e.healthy && resolve()));
    for (let i = 0; i < 50 && !q.stats().durable.healthy; i++) {
      await q.push('d', { event: 'e', payload: `after-${i}` }).durable.catch(() => {});
    }
    await recovered;
    await q.push('d', { event: 'e', payload: 'last' }).durable;
    const before = observe(q);
    await q.close();
    const q2 = new rt.OfflineQueue({ path: dir, capacity: 1000 });
    expect(observe(q2)).toBe(before);
    expect(q2.size('c')).toBe(191);
    await q2.close();
  });
});

function runChildUntil(implName, dir, lines) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'helpers', 'queue_crash_child.js'), implName, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const reported = [];
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [client, offset, n] = line.split(' ');
        reported.push({ client, offset: Number(offset), n: Number(n) });
        if (reported.length === lines) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(reported);
      else reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
    });
  });
}

const crashPairs = pairs.map(([w, , r, reader]) => [w, r, reader]);

describe.each(crashPairs)('SIGKILL while pushing with fsync always (written by %s, reopened by %s)', (writerName, _r, reader) => {
  test('every reported push is there, in order', async () => {
    const dir = tmpDir();
    const reported = await runChildUntil(writerName, dir, 300);
    expect(reported.length).toBeGreaterThanOrEqual(300);
    const q = new reader.OfflineQueue({ path: dir, capacity: 1e6 });
    const byClient = new Map(q.clients().map((c) => [c, q.peek(c, { limit: 1e6 })]));
    for (const { client, offset, n } of reported) {
      const items = byClient.get(client) || [];
      const found = items.find((i) => i.offset === offset);
      expect([client, offset, found && found.payload]).toEqual([client, offset, `payload-${n}-${'x'.repeat(n % 50)}`]);
    }
    for (const items of byClient.values()) {
      // offsets are 1..k with no hole: what reached the disk is a prefix of what was pushed
      expect(items.map((i) => i.offset)).toEqual(items.map((_, i) => i + 1));
    }
    await q.close();
  }, 30000);
});

void native;
void js;
