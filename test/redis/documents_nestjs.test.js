'use strict';

// End to end through the NestJS mutation protocol: two Nest applications (two ports) whose
// RealtimeCoreModule keeps its documents in one real redis-server (documentStore: { redis }),
// socket.io-client clients on each editing one playlist at once with rt:mutate, following rt:delta
// and catching up with rt:sync. One version history; every client converges to Redis's document.

const { startRedis } = require('../helpers/redis');
const { NestHarness, rtn } = require('../nestjs/helpers');
const {
  IMPLS, API, PLAYLIST, ioredisClient, nodeRedisClient, closeClient, prng, randomChange,
} = require('./documents_helpers');
const { ClusterDocumentStore } = require('../../lib/cluster');

jest.setTimeout(120000);

const ENTITY = 'playlist:lobby';

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

// A client's view: only what the server confirmed (a snapshot, then deltas in version order).
// A delta or an ack that skips versions makes it catch up with rt:sync.
class Follower {
  constructor(api, socket, clientId) {
    this.api = api;
    this.socket = socket;
    this.clientId = clientId;
    this.version = 0;
    this.doc = null;
    this.acks = [];
    socket.on('rt:delta', (d) => {
      if (d.entity === ENTITY) this.take(d.version, d.patch);
    });
  }

  take(version, patch) {
    if (version === this.version + 1) {
      this.doc = this.api.applyMergePatch(this.doc, patch);
      this.version = version;
    } else if (version > this.version + 1) {
      this.behind = true;
    }
  }

  async sync() {
    const ack = await this.socket.emitWithAck('rt:sync', { entities: { [ENTITY]: this.version } });
    const r = ack.entities[ENTITY];
    if (r.error) throw new Error(`rt:sync failed: ${r.error.code}`);
    if (r.snapshot !== undefined) {
      this.doc = r.snapshot;
      this.version = r.version;
    } else {
      for (const c of r.changes) this.take(c.version, c.delta);
    }
    this.behind = false;
  }

  async run(count, seed) {
    const rand = prng(seed);
    for (let i = 1; i <= count; i++) {
      if (this.behind) await this.sync();
      const change = randomChange(rand, this.doc, `${this.clientId}-${i}`);
      const body = { entity: ENTITY, id: i, base: this.version, ...change };
      const ack = await this.socket.emitWithAck('rt:mutate', body);
      this.acks.push({ body, ack });
      if (ack.delta !== undefined) this.take(ack.version, ack.delta);
      else if (ack.version > this.version) this.behind = true;
    }
  }
}

describe.each(IMPLS)('NestJS mutation protocol over a ClusterDocumentStore (%s)', (impl) => {
  const api = API[impl];
  const h = new NestHarness();
  afterEach(() => h.cleanup());

  test('two apps on one Redis: clients on each edit one playlist at once, one history, all converge', async () => {
    const keyPrefix = `nest:${impl}:`;
    const clients = [await ioredisClient(redis.url), await nodeRedisClient(redis.url)];
    opened.push(...clients);
    const apps = [];
    for (const c of clients) {
      apps.push(await h.app({
        options: { implementation: impl, documentStore: { redis: c, keyPrefix, strategy: 'server-wins', historyLimit: 1000 } },
      }));
    }
    const stores = apps.map((e) => e.app.get(rtn.DOCUMENT_STORE));
    for (const s of stores) expect(s).toBeInstanceOf(ClusterDocumentStore);
    expect(stores[0].options.strategy).toBe('server-wins');
    expect(await stores[0].put(ENTITY, PLAYLIST)).toEqual({ version: 1, delta: null });

    const followers = [];
    for (let i = 0; i < 4; i++) {
      const entry = apps[i % 2];
      const { socket } = await h.client(entry, { clientId: `tablet-${i}` });
      const f = new Follower(api, socket, `tablet-${i}`);
      await f.sync(); // joins the entity's room on its app
      expect(f.doc).toEqual(PLAYLIST);
      followers.push(f);
    }
    await Promise.all(followers.map((f, i) => f.run(20, 500 + i)));

    // one version history: every accepted version once, as Redis holds it
    const accepted = followers.flatMap((f) => f.acks).filter(({ ack }) => (ack.status === 'applied' || ack.status === 'merged') && ack.delta !== undefined);
    const finalVersion = Number(await raw.hget(`${keyPrefix}d:${ENTITY}`, 'v'));
    expect(accepted.map(({ ack }) => ack.version).sort((a, b) => a - b)).toEqual(Array.from({ length: finalVersion - 1 }, (_, i) => i + 2));
    expect(accepted.some(({ ack }) => ack.status === 'merged')).toBe(true);
    for (const { ack } of followers.flatMap((f) => f.acks)) {
      expect(['applied', 'merged', 'rejected']).toContain(ack.status);
      for (const c of ack.conflicts || []) expect(c.winner).toBe('remote');
    }
    // a replay on the other app is a duplicate with the remembered ack
    const { body, ack } = followers[0].acks[0];
    const other = await h.client(apps[1], { clientId: 'tablet-0' });
    expect(await other.socket.emitWithAck('rt:mutate', body)).toEqual({ ...ack, status: 'duplicate' });

    // every client converges (rt:sync) to Redis's document, and both apps' stores agree
    const final = JSON.parse(await raw.hget(`${keyPrefix}d:${ENTITY}`, 'doc'));
    for (const f of followers) {
      await f.sync();
      expect(f.version).toBe(finalVersion);
      expect(f.doc).toEqual(final);
    }
    for (const s of stores) {
      expect(await s.get(ENTITY)).toEqual(final);
      expect(await s.version(ENTITY)).toBe(finalVersion);
    }

    // applyServer on a cluster store: a promise of the ack, broadcast to the room on that app
    const protocol = apps[1].app.get(rtn.MutationProtocol);
    const heard = new Promise((resolve) => { followers[1].socket.once('rt:delta', resolve); });
    const serverAck = await protocol.applyServer(ENTITY, { mergePatch: { name: 'From the server' } });
    expect(serverAck).toEqual({ status: 'applied', version: finalVersion + 1, delta: { name: 'From the server' } });
    expect(await heard).toEqual({ entity: ENTITY, version: finalVersion + 1, patch: { name: 'From the server' } });
    await expect(protocol.applyServer('playlist:none', { mergePatch: { a: 1 } })).rejects.toMatchObject({ code: 'ERR_RT_NOT_FOUND' });
    // an unknown entity in rt:sync is an error for that entity only
    const sync = await followers[0].socket.emitWithAck('rt:sync', { entities: { 'playlist:none': 0 } });
    expect(sync.entities['playlist:none']).toEqual({ error: { code: 'ERR_RT_NOT_FOUND', message: 'document not found' } });
  });

  test('Redis down: rt:mutate and rt:sync ack ERR_RT_UNAVAILABLE, nothing is applied, and it works once Redis is back', async () => {
    const keyPrefix = `nest-down:${impl}:`;
    const c = await ioredisClient(redis.url);
    opened.push(c);
    const entry = await h.app({ options: { implementation: impl, documentStore: { redis: c, keyPrefix, timeoutMs: 2000 } } });
    const store = entry.app.get(rtn.DOCUMENT_STORE);
    await store.put(ENTITY, { volume: 1 });
    const { socket } = await h.client(entry, { clientId: 'tablet' });
    await redis.stop();
    try {
      const ack = await socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 2 } });
      expect(ack).toEqual({ status: 'rejected', error: { code: 'ERR_RT_UNAVAILABLE', message: expect.any(String) } });
      const sync = await socket.emitWithAck('rt:sync', { entities: { [ENTITY]: 0 } });
      expect(sync.entities[ENTITY]).toEqual({ error: { code: 'ERR_RT_UNAVAILABLE', message: expect.any(String) } });
    } finally {
      await redis.start();
    }
    if (c.status !== 'ready') await new Promise((resolve) => { c.once('ready', resolve); });
    if (raw.status !== 'ready') await new Promise((resolve) => { raw.once('ready', resolve); });
    // (this test Redis keeps nothing on disk) the server creates the document again
    await store.put(ENTITY, { volume: 1 });
    // the refused mutation was not remembered: the same id applies now
    expect(await socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 2 } }))
      .toEqual({ status: 'applied', version: 2, delta: { volume: 2 } });
  });

  test('module options: documentStore.redis makes a ClusterDocumentStore; implementation inside it is refused', async () => {
    const c = await ioredisClient(redis.url);
    opened.push(c);
    expect(() => rtn.RealtimeCoreModule.forRoot({ implementation: impl, documentStore: { redis: c, implementation: 'js' } }))
      .toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => rtn.RealtimeCoreModule.forRoot({ implementation: impl, documentStore: { redis: 'redis://x' } }))
      .toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    const entry = await h.app({ options: { implementation: impl, documentStore: { redis: c, keyPrefix: `opt:${impl}:`, strategy: 'client-wins' } } });
    const store = entry.app.get(rtn.DOCUMENT_STORE);
    expect(store).toBeInstanceOf(ClusterDocumentStore);
    expect(store.implementation).toBe(impl);
    expect(store.options.strategy).toBe('client-wins');
    expect(entry.app.get(rtn.MutationProtocol).store).toBe(store);
  });
});
