'use strict';

// The mutation protocol through a RealtimeGateway on real Nest applications and real clients:
// rt:mutate (applied, merged with conflicts, duplicate replays, malformed input, authorize),
// rt:sync (changes, snapshots), applyServer, and recovery of missed deltas after a forced
// transport close, for both implementations.

const { IMPLS, NestHarness, ioOf, once } = require('./helpers');
const rtn = require('realtime-core/nestjs');

jest.setTimeout(30000);

const ENTITY = 'playlist:1';

function deltas(inbox, entity = ENTITY) {
  return inbox.named('rt:delta').map(([, d]) => d).filter((d) => d.entity === entity);
}

describe.each(IMPLS)('MutationProtocol (%s)', (impl) => {
  const h = new NestHarness();
  afterEach(() => h.cleanup());

  // an app with one document and two synced clients (A and B, in the entity's room)
  async function setup(options = {}, gateway = {}) {
    const applied = [];
    const entry = await h.app({
      options: {
        implementation: impl,
        ...options,
        mutations: { onApplied: (e) => applied.push(e), ...options.mutations },
      },
      gateway,
    });
    const store = entry.app.get(rtn.DOCUMENT_STORE);
    store.put(ENTITY, { name: 'Lobby', volume: 5, items: [] });
    const nsp = gateway.namespace || '/';
    const a = await h.client(entry, { clientId: 'tablet-a', nsp });
    const b = await h.client(entry, { clientId: 'tablet-b', nsp });
    for (const c of [a, b]) {
      const ack = await c.socket.emitWithAck('rt:sync', { entities: { [ENTITY]: 1 } });
      expect(ack).toEqual({ entities: { [ENTITY]: { version: 1, changes: [] } } });
    }
    return { entry, store, a, b, applied, protocol: entry.app.get(rtn.MutationProtocol) };
  }

  test('rt:mutate applied: acked to the sender, rt:delta to the others in the rooms, not to the sender', async () => {
    const { store, a, b, applied } = await setup();
    const c = await h.client(h.apps[0]); // connected, not synced: not in the room
    const ack = await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 7 } });
    expect(ack).toEqual({ status: 'applied', version: 2, delta: { volume: 7 } });
    await b.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta'), 'the delta');
    expect(deltas(b.inbox)).toEqual([{ entity: ENTITY, version: 2, patch: { volume: 7 } }]);
    // a broadcast to A would have been written before its ack
    expect(a.inbox.named('rt:delta')).toEqual([]);
    // C is not in the room; a round trip after the broadcast shows it got nothing
    await c.socket.emitWithAck('rt:sync', { entities: {} });
    expect(c.inbox.named('rt:delta')).toEqual([]);
    expect(store.get(ENTITY)).toEqual({ name: 'Lobby', volume: 7, items: [] });
    expect(applied).toHaveLength(1);
    expect(applied[0]).toMatchObject({ entity: ENTITY, version: 2, delta: { volume: 7 }, status: 'applied', clientId: 'tablet-a', conflicts: [] });
    expect(applied[0].socket.id).toBe(a.socket.id);
  });

  test('rt:mutate on a stale base: merged by the strategy, with the conflicts in the ack and the delta broadcast', async () => {
    const { a, b, store } = await setup();
    const first = await b.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, patch: [{ op: 'replace', path: '/volume', value: 9 }] });
    expect(first).toEqual({ status: 'applied', version: 2, delta: { volume: 9 } });
    const ack = await a.socket.emitWithAck('rt:mutate', {
      entity: ENTITY, id: 1, base: 1, patch: [{ op: 'replace', path: '/volume', value: 3 }, { op: 'replace', path: '/name', value: 'Hall' }],
    });
    expect(ack).toEqual({
      status: 'merged',
      version: 3,
      delta: { name: 'Hall' },
      conflicts: [{ path: '/volume', base: 5, local: 3, remote: 9, resolved: 9, winner: 'remote' }],
    });
    await b.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta' && e[1].version === 3), 'the merged delta');
    expect(deltas(b.inbox)).toEqual([{ entity: ENTITY, version: 3, patch: { name: 'Hall' } }]);
    expect(deltas(a.inbox)).toEqual([{ entity: ENTITY, version: 2, patch: { volume: 9 } }]);
    expect(store.get(ENTITY)).toEqual({ name: 'Hall', volume: 9, items: [] });
  });

  test('a replayed mutation (same client id, same id, also after a reconnect) is applied once and broadcast once', async () => {
    const { entry, a, b, store } = await setup();
    const body = { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 8 } };
    const ack = await a.socket.emitWithAck('rt:mutate', body);
    expect(ack).toEqual({ status: 'applied', version: 2, delta: { volume: 8 } });
    expect(await a.socket.emitWithAck('rt:mutate', body)).toEqual({ status: 'duplicate', version: 2, delta: { volume: 8 } });
    // the offline queue's replay from a new connection of the same client
    const again = await h.client(entry, { clientId: 'tablet-a' });
    expect(await again.socket.emitWithAck('rt:mutate', body)).toEqual({ status: 'duplicate', version: 2, delta: { volume: 8 } });
    // an older id is a duplicate too
    expect(await a.socket.emitWithAck('rt:mutate', { ...body, id: 2, base: 2, mergePatch: { volume: 1 } })).toMatchObject({ status: 'applied', version: 3 });
    expect(await a.socket.emitWithAck('rt:mutate', { ...body, id: 1, mergePatch: { volume: 2 } })).toMatchObject({ status: 'duplicate' });
    await b.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta' && e[1].version === 3), 'the second delta');
    expect(deltas(b.inbox).map((d) => d.version)).toEqual([2, 3]);
    expect(store.version(ENTITY)).toBe(3);
    expect(store.get(ENTITY).volume).toBe(1);
    // the same id from another client is its own mutation
    expect(await b.socket.emitWithAck('rt:mutate', { ...body, base: 3 })).toMatchObject({ status: 'applied', version: 4 });
  });

  test('a skipped id is applied and reported as a gap', async () => {
    const { a } = await setup();
    await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 1 } });
    const ack = await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 5, base: 2, mergePatch: { volume: 2 } });
    expect(ack).toEqual({ status: 'applied', version: 3, delta: { volume: 2 }, gap: { expected: 2, received: 5 } });
  });

  const deep = () => {
    let v = { x: 1 };
    for (let i = 0; i < 200; i++) v = { x: v };
    return v;
  };
  const good = { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 6 } };
  const malformed = [
    ['no body', [], 'ERR_RT_INVALID_ARGUMENT'],
    ['null', [null], 'ERR_RT_INVALID_ARGUMENT'],
    ['a string', ['{"entity":"playlist:1"}'], 'ERR_RT_INVALID_ARGUMENT'],
    ['an array', [[good]], 'ERR_RT_INVALID_ARGUMENT'],
    ['two arguments', [good, good], 'ERR_RT_INVALID_ARGUMENT'],
    ['binary', [Buffer.from(JSON.stringify(good))], 'ERR_RT_INVALID_ARGUMENT'],
    ['an unknown field', [{ ...good, clientId: 'someone-else' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['no entity', [{ ...good, entity: undefined }], 'ERR_RT_INVALID_ARGUMENT'],
    ['an empty entity', [{ ...good, entity: '' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a numeric entity', [{ ...good, entity: 1 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['an entity of 257 characters', [{ ...good, entity: 'e'.repeat(257) }], 'ERR_RT_INVALID_ARGUMENT'],
    ['an entity with a lone surrogate', [{ ...good, entity: 'playlist:\ud800' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['no id', [{ ...good, id: undefined }], 'ERR_RT_INVALID_ARGUMENT'],
    ['id 0', [{ ...good, id: 0 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a negative id', [{ ...good, id: -1 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a fractional id', [{ ...good, id: 1.5 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a string id', [{ ...good, id: '1' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['an id over 2^53', [{ ...good, id: 2 ** 53 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['no base', [{ ...good, base: undefined }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a negative base', [{ ...good, base: -1 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a string base', [{ ...good, base: '1' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a fractional base', [{ ...good, base: 0.5 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['both patch and mergePatch', [{ ...good, patch: [] }], 'ERR_RT_INVALID_ARGUMENT'],
    ['neither patch nor mergePatch', [{ ...good, mergePatch: undefined }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a patch that is not an array', [{ ...good, mergePatch: undefined, patch: { op: 'add' } }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a patch as JSON text', [{ ...good, mergePatch: undefined, patch: '[]' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a mergePatch array', [{ ...good, mergePatch: [1] }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a mergePatch string', [{ ...good, mergePatch: '{"volume":1}' }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a mergePatch null', [{ ...good, mergePatch: null }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a numeric ts', [{ ...good, ts: 5 }], 'ERR_RT_INVALID_ARGUMENT'],
    ['a ts that is not a clock timestamp', [{ ...good, ts: 'yesterday' }], 'ERR_RT_INVALID_TIMESTAMP'],
    ['an unknown entity', [{ ...good, entity: 'playlist:nope' }], 'ERR_RT_NOT_FOUND'],
    ['a base above the current version', [{ ...good, base: 9 }], 'ERR_RT_OUT_OF_RANGE'],
    ['an invalid patch operation', [{ ...good, mergePatch: undefined, patch: [{ op: 'jump', path: '/x' }] }], 'ERR_RT_INVALID_PATCH'],
    ['a patch on a missing path', [{ ...good, mergePatch: undefined, patch: [{ op: 'remove', path: '/nope' }] }], 'ERR_RT_PATH_NOT_FOUND'],
    ['a too deep merge patch', [{ ...good, mergePatch: deep() }], 'ERR_RT_TOO_DEEP'],
  ];

  test('malformed rt:mutate bodies are rejected with a stable code and change nothing', async () => {
    const { a, b, store, applied } = await setup({ documentStore: { limits: { maxDepth: 100 } } });
    const before = store.get(ENTITY);
    for (const [what, args, code] of malformed) {
      // eslint-disable-next-line no-await-in-loop
      const ack = await a.socket.emitWithAck('rt:mutate', ...args);
      expect({ what, status: ack.status, code: ack.error && ack.error.code }).toEqual({ what, status: 'rejected', code });
      expect(typeof ack.error.message).toBe('string');
      expect(store.version(ENTITY)).toBe(1);
    }
    expect(store.get(ENTITY)).toEqual(before);
    expect(applied).toEqual([]);
    // a store rejection is remembered per (client, id): a rejected id stays rejected
    const replay = await a.socket.emitWithAck('rt:mutate', { ...good, mergePatch: undefined, patch: [{ op: 'remove', path: '/nope' }] });
    expect(replay).toMatchObject({ status: 'duplicate', error: { code: 'ERR_RT_PATH_NOT_FOUND' } });
    // nothing was broadcast: the first delta B gets is that of the next good mutation
    expect(await a.socket.emitWithAck('rt:mutate', { ...good, id: 2 })).toMatchObject({ status: 'applied', version: 2 });
    await b.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta'), 'the delta');
    expect(deltas(b.inbox)).toEqual([{ entity: ENTITY, version: 2, patch: { volume: 6 } }]);
    // the connection is fine after all of it
    expect(a.socket.connected).toBe(true);
  });

  test('the client id: from handshake.auth.clientId, else socket.id; a bad one rejects the mutation', async () => {
    const { entry, store } = await setup();
    const anonymous = await h.client(entry);
    const ack = await anonymous.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 2 } });
    expect(ack).toMatchObject({ status: 'applied', version: 2 });
    for (const clientId of [42, '', 'x'.repeat(257), { id: 'a' }]) {
      // eslint-disable-next-line no-await-in-loop
      const c = await h.client(entry, { clientId });
      // eslint-disable-next-line no-await-in-loop
      const r = await c.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 2, mergePatch: { volume: 3 } });
      expect(r).toEqual({ status: 'rejected', error: { code: 'ERR_RT_INVALID_ARGUMENT', message: expect.any(String) } });
    }
    expect(store.version(ENTITY)).toBe(2);
  });

  test('a hook that throws acks ERR_RT_INTERNAL and changes nothing', async () => {
    let broken = false;
    const rooms = (entity) => {
      if (broken) throw new Error('boom');
      return [`entity:${entity}`];
    };
    const { a, store } = await setup({ mutations: { rooms } });
    broken = true;
    const ack = await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 2 } });
    expect(ack).toEqual({ status: 'rejected', error: { code: 'ERR_RT_INTERNAL', message: 'internal error' } });
    expect(store.version(ENTITY)).toBe(1);
  });

  test('authorize: a refusal (false, a throw, a rejection) is ERR_RT_FORBIDDEN and changes nothing; sync is refused per entity', async () => {
    const calls = [];
    const { entry, a, b, store } = await setup({
      mutations: {
        authorize: async (socket, entity, action) => {
          calls.push([socket.handshake.auth.clientId, entity, action]);
          if (entity === 'secret:throws') throw new Error('boom');
          if (entity === 'secret:rejects') return Promise.reject(new Error('no'));
          if (entity === 'secret:truthy') return 1;
          return !entity.startsWith('secret:') || socket.handshake.auth.clientId === 'tablet-b';
        },
      },
    });
    store.put('secret:1', { v: 1 });
    for (const entity of ['secret:1', 'secret:throws', 'secret:rejects', 'secret:truthy']) {
      // eslint-disable-next-line no-await-in-loop
      const ack = await a.socket.emitWithAck('rt:mutate', { entity, id: 1, base: 1, mergePatch: { v: 2 } });
      expect(ack).toEqual({ status: 'rejected', error: { code: 'ERR_RT_FORBIDDEN', message: expect.any(String) } });
    }
    expect(store.get('secret:1')).toEqual({ v: 1 });
    expect(calls).toContainEqual(['tablet-a', 'secret:1', 'mutate']);

    const sync = await a.socket.emitWithAck('rt:sync', { entities: { 'secret:1': 0, [ENTITY]: 1 } });
    expect(sync.entities['secret:1']).toEqual({ error: { code: 'ERR_RT_FORBIDDEN', message: expect.any(String) } });
    expect(sync.entities[ENTITY]).toEqual({ version: 1, changes: [] });
    expect(calls).toContainEqual(['tablet-a', 'secret:1', 'sync']);
    const io = ioOf(entry);
    // not joined to the refused entity's room
    expect([...io.of('/').sockets.get(a.socket.id).rooms]).not.toContain('entity:secret:1');

    // B may: its mutation is applied, and A (refused at sync) does not receive it
    const ok = await b.socket.emitWithAck('rt:mutate', { entity: 'secret:1', id: 1, base: 1, mergePatch: { v: 3 } });
    expect(ok).toEqual({ status: 'applied', version: 2, delta: { v: 3 } });
    await a.socket.emitWithAck('rt:sync', { entities: {} });
    expect(deltas(a.inbox, 'secret:1')).toEqual([]);
  });

  test('rt:sync: changes since a known version, a snapshot when the history does not reach it, errors per entity', async () => {
    const { entry, a, store } = await setup({ documentStore: { historyLimit: 2 } });
    const late = await h.client(entry, { clientId: 'late' });
    for (let i = 1; i <= 3; i++) {
      // eslint-disable-next-line no-await-in-loop
      await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: i, base: i, mergePatch: { volume: 10 + i } });
    }
    expect(store.version(ENTITY)).toBe(4);
    store.put('other', { n: 1 });
    const ack = await late.socket.emitWithAck('rt:sync', {
      entities: { [ENTITY]: 2, other: 0, 'playlist:nope': 0, 'bad-version': -1, [`x${'y'.repeat(300)}`]: 0 },
    });
    const e = ack.entities;
    expect(e[ENTITY]).toEqual({
      version: 4,
      changes: [
        { version: 3, delta: { volume: 12 }, timestamp: expect.any(String) },
        { version: 4, delta: { volume: 13 }, timestamp: expect.any(String) },
      ],
    });
    expect(e.other).toEqual({ version: 1, snapshot: { n: 1 } });
    expect(e['playlist:nope']).toEqual({ error: { code: 'ERR_RT_NOT_FOUND', message: expect.any(String) } });
    expect(e['bad-version'].error.code).toBe('ERR_RT_INVALID_ARGUMENT');
    expect(e[`x${'y'.repeat(300)}`].error.code).toBe('ERR_RT_INVALID_ARGUMENT');
    const snap = await late.socket.emitWithAck('rt:sync', { entities: { [ENTITY]: 1 } });
    expect(snap.entities[ENTITY]).toEqual({ version: 4, snapshot: { name: 'Lobby', volume: 13, items: [] } });
    // an entity named __proto__ is just a name
    const proto = await late.socket.emitWithAck('rt:sync', JSON.parse('{"entities":{"__proto__":0}}'));
    expect(proto.entities.__proto__).toEqual({ error: { code: 'ERR_RT_NOT_FOUND', message: expect.any(String) } });

    // the sync joined the rooms: the next delta reaches the late client
    await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 4, base: 4, mergePatch: { volume: 1 } });
    await late.inbox.until((evs) => evs.some((x) => x[0] === 'rt:delta'), 'the delta');
    expect(deltas(late.inbox)).toEqual([{ entity: ENTITY, version: 5, patch: { volume: 1 } }]);

    for (const body of [undefined, null, {}, { entities: [] }, { entities: 'x' }, { entities: {}, more: 1 }]) {
      // eslint-disable-next-line no-await-in-loop
      const r = await late.socket.emitWithAck('rt:sync', body);
      expect(r).toEqual({ status: 'rejected', error: { code: 'ERR_RT_INVALID_ARGUMENT', message: expect.any(String) } });
    }
    const many = {};
    for (let i = 0; i < 1001; i++) many[`e${i}`] = 0;
    expect(await late.socket.emitWithAck('rt:sync', { entities: many })).toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_TOO_LARGE' } });
  });

  test('applyServer: applied by the store and broadcast to every socket in the rooms', async () => {
    const { a, b, protocol, applied, store } = await setup();
    const result = protocol.applyServer(ENTITY, { mergePatch: { name: 'Foyer' } });
    expect(result).toEqual({ status: 'applied', version: 2, delta: { name: 'Foyer' } });
    for (const c of [a, b]) {
      // eslint-disable-next-line no-await-in-loop
      await c.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta'), 'the delta');
      expect(deltas(c.inbox)).toEqual([{ entity: ENTITY, version: 2, patch: { name: 'Foyer' } }]);
    }
    expect(applied).toEqual([expect.objectContaining({ entity: ENTITY, version: 2, clientId: null, socket: null, status: 'applied' })]);
    // explicit rooms; a stale base merges by the strategy
    const merged = protocol.applyServer(ENTITY, { patch: [{ op: 'replace', path: '/name', value: 'Old' }, { op: 'replace', path: '/volume', value: 0 }], base: 1 }, { rooms: [`entity:${ENTITY}`] });
    expect(merged).toMatchObject({ status: 'merged', version: 3, delta: { volume: 0 } });
    await b.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta' && e[1].version === 3), 'the merged delta');
    expect(() => protocol.applyServer(ENTITY, { mergePatch: { a: 1 }, id: 3 })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => protocol.applyServer('', { mergePatch: { a: 1 } })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    expect(() => protocol.applyServer('nope', { mergePatch: { a: 1 } })).toThrow(expect.objectContaining({ code: 'ERR_RT_NOT_FOUND' }));
    expect(store.version(ENTITY)).toBe(3);
  });

  test('a gateway in a namespace: mutations and applyServer broadcast in that namespace', async () => {
    const { entry, a, b, protocol } = await setup({}, { namespace: '/rt' });
    expect(entry.gateway.server.name).toBe('/rt');
    expect(protocol.namespaces).toEqual([entry.gateway.server]);
    const ack = await a.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 2 } });
    expect(ack).toMatchObject({ status: 'applied', version: 2 });
    protocol.applyServer(ENTITY, { mergePatch: { volume: 3 } });
    await b.inbox.until((evs) => evs.filter((e) => e[0] === 'rt:delta').length === 2, 'two deltas');
    expect(deltas(b.inbox).map((d) => d.version)).toEqual([2, 3]);
    await a.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta'), 'the server delta');
    expect(deltas(a.inbox).map((d) => d.version)).toEqual([3]);
  });

  test('recovery: after a forced transport close, the client recovers and gets the deltas it missed', async () => {
    const { entry, a, b } = await setup();
    // A has received a recorded packet (it carries the offset it will recover from)
    await b.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 1, base: 1, mergePatch: { volume: 1 } });
    await a.inbox.until((evs) => evs.some((e) => e[0] === 'rt:delta'), 'the first delta');
    const io = ioOf(entry);
    const gone = once(a.socket, 'disconnect');
    io.of('/').sockets.get(a.socket.id).conn.close(); // server side: "forced close"
    expect((await gone)[0]).toBe('transport close');
    const ack = await b.socket.emitWithAck('rt:mutate', { entity: ENTITY, id: 2, base: 2, mergePatch: { volume: 2 } });
    expect(ack).toMatchObject({ status: 'applied', version: 3 });
    const back = once(a.socket, 'connect');
    a.socket.connect();
    await back;
    expect(a.socket.recovered).toBe(true);
    await a.inbox.until((evs) => evs.filter((e) => e[0] === 'rt:delta').length === 2, 'the missed delta');
    expect(deltas(a.inbox)).toEqual([
      { entity: ENTITY, version: 2, patch: { volume: 1 } },
      { entity: ENTITY, version: 3, patch: { volume: 2 } },
    ]);
    expect(io.of('/').adapter.metrics().recoveries).toBe(1);
  });
});
