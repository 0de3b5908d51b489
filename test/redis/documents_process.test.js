'use strict';

// Two separate Node processes (test/redis/documents_child.js), each a ClusterDocumentStore node,
// and this process as a third node, mutating one entity at once over one real redis-server: one
// version history, the same results as one DocumentStore in the committed order, every node
// converged to Redis's document.

const { spawn } = require('node:child_process');
const path = require('node:path');
const { startRedis } = require('../helpers/redis');
const {
  IMPLS, PLAYLIST, ioredisClient, closeClient, runClient, checkRun, makeStores,
} = require('./documents_helpers');

jest.setTimeout(120000);

let redis;
let raw;
const opened = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = await ioredisClient(redis.url);
  opened.push(raw);
});

afterAll(async () => {
  for (const c of opened) closeClient(c);
  if (redis) await redis.stop();
});

// -> { proc, exited, next(): Promise<the next JSON line>, finish(): Promise<{ final, copy }> }
function child(args) {
  const proc = spawn(process.execPath, [path.join(__dirname, 'documents_child.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lines = [];
  const waiting = [];
  const exited = new Promise((resolve) => { proc.once('exit', resolve); });
  proc.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  proc.stdin.on('error', () => {}); // a killed child's pipe
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(out.slice(0, i)));
      out = out.slice(i + 1);
      if (waiting.length) waiting.shift().resolve(lines.shift());
    }
  });
  exited.then((code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`child exited with ${code}: ${err}`));
  });
  const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve, reject) => { waiting.push({ resolve, reject }); }));
  return {
    proc,
    exited,
    next,
    async finish() {
      proc.stdin.end('sync\n');
      const last = await next();
      const code = await exited;
      if (code !== 0) throw new Error(`child exited with ${code}: ${err}`);
      return last;
    },
  };
}

describe.each(IMPLS)('ClusterDocumentStore across processes (%s)', (impl) => {
  test.each(['server-wins', 'client-wins'])('two child processes and this one on one entity (%s)', async (strategy) => {
    const prefix = `proc:${impl}:${strategy}:`;
    const id = 'playlist:procs';
    const storeOptions = { strategy, historyLimit: 1000 };
    const c = await ioredisClient(redis.url);
    opened.push(c);
    const [local] = makeStores(1, [c], { implementation: impl, keyPrefix: prefix, ...storeOptions });
    await local.put(id, PLAYLIST);
    const children = [
      child([redis.url, impl, prefix, id, 'proc-1', '40', '11', strategy]),
      child([redis.url, impl, prefix, id, 'proc-2', '40', '22', strategy]),
    ];
    const [p1, p2, mine] = await Promise.all([children[0].next(), children[1].next(), runClient(local, id, { clientId: 'parent', count: 40, seed: 33 })]);
    const runs = [...p1.runs, ...p2.runs, ...mine];
    const { finalVersion, finalText } = await checkRun({ impl, runs, redis: raw, prefix, id, initial: PLAYLIST, storeOptions, stores: [local] });
    for (const p of [p1, p2]) expect(p.stats.commits).toBe(40);
    // every process converges: caught up, its copy is Redis's final version and text
    for (const ch of children) {
      const { final, copy } = await ch.finish();
      expect(final).toEqual({ status: 'applied', version: finalVersion, delta: null, conflicts: [] });
      expect(copy).toEqual({ version: finalVersion, doc: finalText });
    }
  });

  test('a node killed in the middle of its mutations: every committed one is answered duplicate on another node, the in-flight one is applied once, one history', async () => {
    const prefix = `crash:${impl}:`;
    const id = 'playlist:crash';
    const storeOptions = { strategy: 'server-wins', historyLimit: 1000 };
    const c = await ioredisClient(redis.url);
    opened.push(c);
    const [local] = makeStores(1, [c], { implementation: impl, keyPrefix: prefix, ...storeOptions });
    await local.put(id, PLAYLIST);
    const victim = child([redis.url, impl, prefix, id, 'victim', '200', '44', 'server-wins', 'verbose']);
    const sent = [];
    const answered = [];
    // the parent's client works meanwhile; the victim is killed after its 15th answer, while its
    // 16th mutation is on its way (sent, maybe merged, maybe committed)
    const mine = runClient(local, id, { clientId: 'survivor', count: 30, seed: 55 });
    for (;;) {
      const line = await victim.next();
      if (line.sent) sent.push(line.sent);
      if (line.result) answered.push(line.result);
      if (answered.length === 15 && sent.length === 16) break;
      // the victim waits for this after each answer: it never gets past the 16th mutation
      if (line.result) victim.proc.stdin.write('go\n');
    }
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const survivorRuns = await mine;
    // the victim's client reconnects to the surviving node and replays what it had not seen acked
    const runs = [...survivorRuns];
    for (let i = 0; i < sent.length; i++) {
      const replay = await local.apply(id, sent[i]);
      if (i < answered.length) {
        expect(replay).toEqual({ ...answered[i], status: 'duplicate' });
        runs.push({ mutation: sent[i], result: answered[i] });
      } else if (replay.status === 'duplicate') {
        // committed just before the crash: Redis remembers the original result
        const remembered = JSON.parse(await raw.hget(`${prefix}c:victim`, `r:${sent[i].mutationId}`));
        expect(replay.version).toBe(remembered.version);
        runs.push({ mutation: sent[i], result: { ...replay, status: remembered.status } });
      } else {
        runs.push({ mutation: sent[i], result: replay });
      }
    }
    expect(await raw.hget(`${prefix}c:victim`, 'last')).toBe('16');
    await checkRun({ impl, runs, redis: raw, prefix, id, initial: PLAYLIST, storeOptions, stores: [local] });
  });
});
