'use strict';

// The example server (examples/realtime-server, docs/example-server.md) end to end, as a child
// process, on both implementations: socket.io-client clients of two organisations against the
// real server. The simulator is paused (--sim-interval-ms 0) so that only the tests make traffic;
// every wait is for an event or a condition, never a fixed sleep.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { applyMergePatch } = require('realtime-core/js');
const { startExample, connect, request, waitUntil } = require('./helpers');

jest.setTimeout(60000);

const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);

const ALICE = { sub: 'alice', org: 'acme', role: 'editor' };
const CAROL = { sub: 'carol', org: 'acme', role: 'editor' };
const VICTOR = { sub: 'victor', org: 'acme', role: 'viewer' };
const ADMIN = { sub: 'root', org: 'acme', role: 'admin' };
const BOB = { sub: 'bob', org: 'globex', role: 'editor' };

describe.each(IMPLS)('example server (%s)', (impl) => {
  let ex;
  let sockets = [];

  beforeAll(async () => {
    ex = await startExample({ env: { RT_IMPLEMENTATION: impl }, args: ['--devices', '6', '--sim-interval-ms', '0'] });
  });

  afterEach(() => {
    for (const s of sockets) s.close();
    sockets = [];
  });

  afterAll(async () => {
    if (ex) {
      const { code } = await ex.stop();
      expect(code).toBe(0); // graceful shutdown on SIGTERM
    }
  });

  async function client(claims, options = {}) {
    const socket = await connect(ex.url, { token: ex.token(claims), ...options });
    sockets.push(socket);
    return socket;
  }

  const api = (path, options) => request(`${ex.url}${path}`, options);
  const setStatus = (deviceId, status, claims = ADMIN) =>
    api(`/api/devices/${deviceId}/status`, { method: 'POST', token: ex.token(claims), body: { status } });
  const playlist = async (entity, claims = ALICE) => (await api(`/api/playlists/${entity}`, { token: ex.token(claims) })).body;

  test('health names the implementation', async () => {
    const { status, body } = await api('/health');
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok', implementation: impl, connections: expect.any(Number) });
  });

  test('bad tokens are refused', async () => {
    const claims = { sub: 'alice', org: 'acme', role: 'editor' };
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const bad = [
      null,
      '',
      'not-a-token',
      42,
      jwt.sign(claims, 'another-secret-of-someone-else', { algorithm: 'HS256' }),
      `${header}.${body}.`,
      jwt.sign(claims, ex.secret, { algorithm: 'HS512' }),
      jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, ex.secret, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, role: 'root' }, ex.secret, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, org: 'acme:status' }, ex.secret, { algorithm: 'HS256' }),
      jwt.sign({ org: 'acme', role: 'editor' }, ex.secret, { algorithm: 'HS256' }),
      'x'.repeat(5000),
    ];
    for (const token of bad) {
      await expect(connect(ex.url, { auth: token === null ? {} : { token } })).rejects.toThrow('unauthorized');
    }
    // a good token with a bad clientId
    await expect(connect(ex.url, { auth: { token: ex.token(ALICE), clientId: { id: 1 } } })).rejects.toThrow('unauthorized');

    for (const token of [undefined, 'garbage', jwt.sign(claims, 'another-secret-of-someone-else')]) {
      const res = await api('/api/playlists/playlist:acme:1', { token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('ERR_RT_UNAUTHORIZED');
    }
    const res = await api('/api/playlists/playlist:acme:1', { headers: { authorization: 'Basic abc' } });
    expect(res.status).toBe(401);

    const ok = await client(ALICE);
    expect(ok.connected).toBe(true);
  });

  test('dashboard:init gives the organisation\'s own state', async () => {
    const a = await client(ALICE);
    const init = await a.emitWithAck('dashboard:init');
    expect(init).toMatchObject({ user: 'alice', org: 'acme', role: 'editor' });
    expect(init.devices.map((d) => d.deviceId)).toEqual(['acme-001', 'acme-002', 'acme-003']);
    expect(init.playlists.map((p) => p.entity)).toEqual(['playlist:acme:1', 'playlist:acme:2', 'playlist:acme:3']);
    for (const p of init.playlists) expect(p.doc).toEqual({ name: expect.any(String), loop: expect.any(Boolean), items: expect.any(Array) });
    expect(Array.isArray(init.alerts)).toBe(true);
    const b = await client(BOB);
    const initB = await b.emitWithAck('dashboard:init');
    expect(initB.devices.map((d) => d.deviceId)).toEqual(['globex-001', 'globex-002', 'globex-003']);
    expect(initB.playlists.every((p) => p.entity.startsWith('playlist:globex:'))).toBe(true);
  });

  test('no delivery across organisations, and no access to the other organisation\'s rooms or documents', async () => {
    const a = await client(ALICE);
    const c = await client(CAROL);
    const b = await client(BOB);
    expect(await a.emitWithAck('subscribe:device', { deviceId: 'acme-001' })).toEqual({ ok: true, room: 'org:acme:device:acme-001' });

    // refused: another organisation's device (answered exactly like an unknown device, so its
    // existence does not leak), its playlists
    const unknown = await a.emitWithAck('subscribe:device', { deviceId: 'nope-001' });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'ERR_RT_NOT_FOUND' } });
    const other = await a.emitWithAck('subscribe:device', { deviceId: 'globex-001' });
    expect(other).toEqual({ ok: false, error: { code: 'ERR_RT_NOT_FOUND', message: 'no device "globex-001"' } });
    expect(await a.emitWithAck('unsubscribe:device', { deviceId: 'globex-001' })).toMatchObject({ ok: false, error: { code: 'ERR_RT_NOT_FOUND' } });
    expect(await a.emitWithAck('unsubscribe:device', { deviceId: 'acme-002' })).toEqual({ ok: true, room: 'org:acme:device:acme-002' });
    const globexBefore = await playlist('playlist:globex:1', BOB);
    const mutate = await a.emitWithAck('rt:mutate', { entity: 'playlist:globex:1', id: 1, base: globexBefore.version, mergePatch: { name: 'Hijacked' } });
    expect(mutate).toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_FORBIDDEN' } });
    const sync = await a.emitWithAck('rt:sync', { entities: { 'playlist:globex:1': 0 } });
    expect(sync.entities['playlist:globex:1']).toEqual({ error: { code: 'ERR_RT_FORBIDDEN', message: expect.any(String) } });
    expect((await api('/api/playlists/playlist:globex:1', { token: ex.token(ALICE) })).status).toBe(404);
    expect((await setStatus('globex-001', 'error', ADMIN)).status).toBe(404);
    expect(await playlist('playlist:globex:1', BOB)).toEqual(globexBefore);

    // acme's events reach acme only: once bob has globex's later event, acme's would have come first
    expect((await setStatus('acme-001', 'playing')).status).toBe(200);
    await a.inbox.next('device:status-update', (u) => u.deviceId === 'acme-001' && u.status === 'playing');
    await c.inbox.next('device:status-update', (u) => u.deviceId === 'acme-001' && u.status === 'playing');
    const acmeMutation = await c.emitWithAck('rt:mutate', { entity: 'playlist:acme:1', id: 1, base: (await playlist('playlist:acme:1')).version, mergePatch: { loop: false } });
    expect(acmeMutation.status).toBe('applied');
    await a.inbox.next('rt:delta', (d) => d.entity === 'playlist:acme:1' && d.version === acmeMutation.version);
    expect((await setStatus('globex-002', 'offline', { sub: 'boss', org: 'globex', role: 'admin' })).status).toBe(200);
    await b.inbox.next('device:status-update', (u) => u.deviceId === 'globex-002');
    await a.inbox.next('dashboard:update'); // acme's, already there
    const leaked = b.inbox.events.filter((e) => JSON.stringify(e.slice(0, 2)).includes('acme'));
    expect(leaked).toEqual([]);
    expect(a.inbox.events.filter((e) => JSON.stringify(e.slice(0, 2)).includes('globex'))).toEqual([]);
    // the device room got it once, although alice is in both rooms of that emit
    expect(a.inbox.named('device:status-update').filter((u) => u.deviceId === 'acme-001' && u.status === 'playing')).toHaveLength(1);
  });

  test('a viewer may read but not edit', async () => {
    const v = await client(VICTOR);
    const p = await playlist('playlist:acme:1');
    const ack = await v.emitWithAck('rt:mutate', { entity: 'playlist:acme:1', id: 1, base: p.version, mergePatch: { name: 'Viewer edit' } });
    expect(ack).toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_FORBIDDEN' } });
    const sync = await v.emitWithAck('rt:sync', { entities: { 'playlist:acme:1': p.version } });
    expect(sync.entities['playlist:acme:1']).toEqual({ version: p.version, changes: [] });
    const res = await setStatus('acme-003', 'error', VICTOR);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('ERR_RT_FORBIDDEN');
    expect(await playlist('playlist:acme:1')).toEqual(p);
  });

  test('a concurrent edit on the same base is resolved by the strategy and both clients converge', async () => {
    const a = await client(ALICE, { clientId: 'tab-conc-a' });
    const c = await client(CAROL, { clientId: 'tab-conc-c' });
    const entity = 'playlist:acme:2';
    const init = await a.emitWithAck('dashboard:init');
    const { version: base, doc: base0 } = init.playlists.find((p) => p.entity === entity);

    const changeA = { name: 'Lunch (alice)', loop: false };
    const changeC = { name: 'Lunch (carol)', items: [...base0.items, { id: 'coffee', title: 'Coffee', durationS: 12 }] };
    const [ackA, ackC] = await Promise.all([
      a.emitWithAck('rt:mutate', { entity, id: 1, base, mergePatch: changeA }),
      c.emitWithAck('rt:mutate', { entity, id: 1, base, mergePatch: changeC }),
    ]);
    expect([ackA.status, ackC.status].sort()).toEqual(['applied', 'merged']);
    expect([ackA.version, ackC.version].sort()).toEqual([base + 1, base + 2]);
    const first = ackA.version < ackC.version ? changeA : changeC;
    const merged = ackA.status === 'merged' ? ackA : ackC;
    // server-wins: the field both changed keeps the value of the one applied first
    expect(merged.conflicts).toEqual([expect.objectContaining({ path: '/name', resolved: first.name })]);

    // each gets the other's change as rt:delta, and both get playlist:updated for both versions
    const deltaForA = await a.inbox.next('rt:delta', (d) => d.entity === entity && d.version === ackC.version);
    const deltaForC = await c.inbox.next('rt:delta', (d) => d.entity === entity && d.version === ackA.version);
    for (const s of [a, c]) {
      await s.inbox.until((evs) => evs.filter((e) => e[0] === 'playlist:updated' && e[1].entity === entity).length >= 2, 'two playlist:updated');
      expect(s.inbox.named('playlist:updated').filter((u) => u.entity === entity).map((u) => u.version)).toEqual([base + 1, base + 2]);
    }
    const replay = (changes) => changes.sort((x, y) => x.version - y.version).reduce((doc, ch) => applyMergePatch(doc, ch.patch), base0);
    const docA = replay([{ version: ackA.version, patch: ackA.delta }, deltaForA]);
    const docC = replay([{ version: ackC.version, patch: ackC.delta }, deltaForC]);
    const server = await playlist(entity);
    expect(server.version).toBe(base + 2);
    expect(docA).toEqual(server.doc);
    expect(docC).toEqual(server.doc);
    expect(server.doc.name).toBe(first.name);
    expect(server.doc.loop).toBe(false);
    expect(server.doc.items.map((i) => i.id)).toContain('coffee');
  });

  test('a replayed mutation is applied once and broadcast once, also after a reconnect', async () => {
    const entity = 'playlist:acme:3';
    const observer = await client(CAROL);
    let a = await client(ALICE, { clientId: 'tab-replay' });
    const { version: base } = await playlist(entity);
    const m = { entity, id: 7, base, mergePatch: { name: 'Replayed' } };
    const first = await a.emitWithAck('rt:mutate', m);
    expect(first).toMatchObject({ status: 'applied', version: base + 1 });
    expect(await a.emitWithAck('rt:mutate', m)).toMatchObject({ status: 'duplicate', version: base + 1 });
    a.close();
    a = await client(ALICE, { clientId: 'tab-replay' });
    expect(await a.emitWithAck('rt:mutate', m)).toMatchObject({ status: 'duplicate', version: base + 1 });
    const next = await a.emitWithAck('rt:mutate', { entity, id: 8, base: base + 1, mergePatch: { loop: true } });
    expect(next).toMatchObject({ status: 'applied', version: base + 2 });
    await observer.inbox.next('rt:delta', (d) => d.entity === entity && d.version === base + 2);
    await observer.inbox.next('playlist:updated', (u) => u.entity === entity && u.version === base + 2);
    expect(observer.inbox.named('rt:delta').filter((d) => d.entity === entity).map((d) => d.version)).toEqual([base + 1, base + 2]);
    expect(observer.inbox.named('playlist:updated').filter((u) => u.entity === entity).map((u) => u.version)).toEqual([base + 1, base + 2]);
    expect((await playlist(entity)).version).toBe(base + 2);
  });

  test('a client that was offline recovers every missed event once, in order, and catches up documents by rt:sync', async () => {
    const entity = 'playlist:acme:3';
    const r = await client(ALICE, { clientId: 'tab-offline' });
    const editor = await client(CAROL, { clientId: 'tab-editor' });
    expect((await r.emitWithAck('subscribe:device', { deviceId: 'acme-002' })).ok).toBe(true);
    // a first recorded event gives the client its recovery offset
    expect((await setStatus('acme-002', 'online')).status).toBe(200);
    await r.inbox.next('device:status-update', (u) => u.deviceId === 'acme-002' && u.status === 'online');
    const { version: known } = await playlist(entity);

    const connections = (await api('/health')).body.connections;
    const disconnected = new Promise((resolve) => r.once('disconnect', resolve));
    r.io.engine.close();
    expect(await disconnected).toBe('forced close'); // recoverable, as a lost network
    // the server has seen it go (and saved its session) before it comes back
    await waitUntil(async () => (await api('/health')).body.connections === connections - 1, 'the server to see the disconnect');
    const seen = r.inbox.events.length;

    const missed = ['playing', 'error', 'offline', 'online', 'playing'];
    for (const status of missed) expect((await setStatus('acme-002', status)).status).toBe(200);
    const edit = await editor.emitWithAck('rt:mutate', { entity, id: 1, base: known, mergePatch: { name: 'Edited while away' } });
    expect(edit.status).toBe('applied');

    const reconnected = new Promise((resolve) => r.once('connect', resolve));
    r.connect();
    await reconnected;
    expect(r.recovered).toBe(true);
    const after = () => r.inbox.events.slice(seen);
    await r.inbox.until(() => after().filter((e) => e[0] === 'device:status-update').length >= missed.length
      && after().some((e) => e[0] === 'rt:delta'), 'the missed events');
    // a marker after the recovery: anything replayed twice would have arrived before it
    expect((await setStatus('acme-003', 'online')).status).toBe(200);
    await r.inbox.until(() => after().some((e) => e[0] === 'device:status-update' && e[1].deviceId === 'acme-003'), 'the marker');
    const updates = after().filter((e) => e[0] === 'device:status-update' && e[1].deviceId === 'acme-002').map((e) => e[1].status);
    expect(updates).toEqual(missed);
    const deltas = after().filter((e) => e[0] === 'rt:delta').map((e) => e[1]);
    expect(deltas).toEqual([{ entity, version: edit.version, patch: { name: 'Edited while away' } }]);

    // documents: rt:sync from the version the client knew gives what changed since
    const sync = await r.emitWithAck('rt:sync', { entities: { [entity]: known } });
    expect(sync.entities[entity]).toEqual({ version: edit.version, changes: [expect.objectContaining({ version: edit.version, delta: { name: 'Edited while away' } })] });

    // a client that left for good (no recovery) catches up by rt:sync alone
    r.disconnect();
    const edit2 = await editor.emitWithAck('rt:mutate', { entity, id: 2, base: edit.version, mergePatch: { loop: false } });
    expect(edit2.status).toBe('applied');
    const fresh = await client(ALICE, { clientId: 'tab-offline' });
    expect(fresh.recovered).toBe(false);
    const sync2 = await fresh.emitWithAck('rt:sync', { entities: { [entity]: known } });
    expect(sync2.entities[entity].version).toBe(edit2.version);
    expect(sync2.entities[entity].changes.map((ch) => ch.version)).toEqual([edit.version, edit2.version]);
  });

  test('a notification to an offline user is delivered on the next connect and acked once', async () => {
    const to = 'dave';
    const res = await api('/api/notifications', { method: 'POST', token: ex.token(ADMIN), body: { to, title: 'While you were away', body: 'hello' } });
    expect(res.status).toBe(200);
    const { notification } = res.body;
    expect(notification).toEqual({ id: expect.any(String), title: 'While you were away', body: 'hello', at: expect.any(String) });

    let d = await client({ sub: to, org: 'acme', role: 'viewer' });
    await d.inbox.next('notification:new', (n) => n.id === notification.id);
    const [[, payload, ack]] = d.inbox.events.filter((e) => e[0] === 'notification:new');
    expect(payload).toEqual(notification);
    expect(typeof ack).toBe('function');
    ack();
    d.disconnect();

    // acked: not delivered again; a later one arrives live (with an ack) and nothing before it
    d = await client({ sub: to, org: 'acme', role: 'viewer' });
    const other = await client({ sub: 'erin', org: 'acme', role: 'viewer' });
    const res2 = await api('/api/notifications', { method: 'POST', token: ex.token(ADMIN), body: { to, title: 'Live' } });
    expect(res2.status).toBe(200);
    const live = await d.inbox.next('notification:new');
    expect(live.title).toBe('Live');
    expect(d.inbox.named('notification:new')).toHaveLength(1);
    // only the user's own sockets get it, and another organisation cannot notify acme's users
    const res3 = await api('/api/notifications', { method: 'POST', token: ex.token({ sub: 'boss', org: 'globex', role: 'admin' }), body: { to, title: 'From globex' } });
    expect(res3.status).toBe(200); // it goes to globex's "dave"
    expect(other.inbox.named('notification:new')).toEqual([]);
    const again = await client({ sub: to, org: 'acme', role: 'viewer' });
    // "Live" was not acked by d (its ack was not called), so a new socket of dave gets it again
    const redelivered = await again.inbox.next('notification:new');
    expect(redelivered.title).toBe('Live');
    expect(again.inbox.named('notification:new').map((n) => n.title)).toEqual(['Live']);
  });

  test('service:status is coalesced to at most one per second per service, newest wins', async () => {
    const s = await client(ALICE);
    expect(await s.emitWithAck('subscribe:status')).toEqual({ ok: true, room: 'org:acme:status' });
    const other = await client(BOB);
    await other.emitWithAck('subscribe:status');
    const post = (service, latencyMs, claims = ADMIN) =>
      api(`/api/services/${service}/status`, { method: 'POST', token: ex.token(claims), body: { status: 'up', latencyMs } });
    const started = Date.now();
    const N = 12;
    for (let i = 1; i <= N; i++) {
      expect((await post('api', i)).status).toBe(200);
      if (i === 6) expect((await post('database', 500)).status).toBe(200);
    }
    await s.inbox.next('service:status', (x) => x.service === 'api' && x.latencyMs === N);
    await s.inbox.next('service:bulk-update', (b) => b.services.some((x) => x.service === 'api' && x.latencyMs === N));
    const elapsed = Date.now() - started;
    const api1 = s.inbox.named('service:status').filter((x) => x.service === 'api').map((x) => x.latencyMs);
    // newest wins, in order, far fewer than sent: the first at once, then one per second at most
    expect(api1[api1.length - 1]).toBe(N);
    expect([...api1].sort((x, y) => x - y)).toEqual(api1);
    expect(new Set(api1).size).toBe(api1.length);
    expect(api1.length).toBeLessThan(N);
    expect(api1.length).toBeLessThanOrEqual(2 + Math.floor(elapsed / 1000));
    // another service has its own key: its update is not hidden by api's
    expect(s.inbox.named('service:status').filter((x) => x.service === 'database').map((x) => x.latencyMs)).toEqual([500]);
    const bulks = s.inbox.named('service:bulk-update');
    expect(bulks.length).toBeLessThan(N + 1);
    expect(bulks.length).toBeLessThanOrEqual(2 + Math.floor(elapsed / 1000));
    expect(bulks[bulks.length - 1].services).toEqual(expect.arrayContaining([
      { service: 'api', status: 'up', latencyMs: N },
      { service: 'database', status: 'up', latencyMs: 500 },
    ]));
    // a globex subscriber saw none of acme's
    expect(other.inbox.named('service:status')).toEqual([]);
    // only admins report service statuses
    expect((await post('api', 1, ALICE)).status).toBe(403);
  });

  test('malformed payloads are rejected with stable codes and change nothing', async () => {
    const s = await client(ALICE, { clientId: 'tab-malformed' });
    const entity = 'playlist:acme:1';
    const before = await playlist(entity);
    const base = before.version;
    const invalid = [
      null, 5, 'text', [], {},
      { entity },
      { entity, id: 1, base },
      { entity, id: 1, base, patch: [], mergePatch: {} },
      { entity, id: '1', base, mergePatch: { name: 'x' } },
      { entity, id: 0, base, mergePatch: { name: 'x' } },
      { entity, id: 1, base: -1, mergePatch: { name: 'x' } },
      { entity, id: 1, base, patch: 'text' },
      { entity, id: 1, base, mergePatch: { name: 'x' }, extra: true },
      { entity: '', id: 1, base, mergePatch: { name: 'x' } },
      // the playlist's schema
      { entity, id: 1, base, mergePatch: { name: 42 } },
      { entity, id: 1, base, mergePatch: { name: null } },
      { entity, id: 1, base, mergePatch: { __proto__: null, constructor: { polluted: true } } },
      { entity, id: 1, base, mergePatch: JSON.parse('{"__proto__":{"polluted":true}}') },
      { entity, id: 1, base, mergePatch: { items: 'none' } },
      { entity, id: 1, base, mergePatch: { items: [{ id: 'a', title: 'A' }] } },
      { entity, id: 1, base, mergePatch: { items: [{ id: 'a', title: 'A', durationS: 5 }, { id: 'a', title: 'B', durationS: 5 }] } },
      { entity, id: 1, base, patch: [{ op: 'remove', path: '/name' }] },
      { entity, id: 1, base, patch: [{ op: 'add', path: '/extra', value: 1 }] },
      { entity, id: 1, base, patch: [{ op: 'replace', path: '/items/0/durationS', value: -5 }] },
      { entity, id: 1, base, patch: [{ op: 'copy', from: '/items/0', path: '/items/-' }] },
    ];
    for (const body of invalid) {
      const ack = await s.emitWithAck('rt:mutate', body);
      expect({ body, ack }).toEqual({ body, ack: { status: 'rejected', error: { code: 'ERR_RT_INVALID_ARGUMENT', message: expect.any(String) } } });
    }
    expect(await s.emitWithAck('rt:mutate', { entity: 'playlist:acme:99', id: 1, base: 1, mergePatch: { name: 'x' } }))
      .toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_NOT_FOUND' } });
    expect(await s.emitWithAck('rt:mutate', { entity, id: 2, base, patch: [{ op: 'replace', path: '/items/99/title', value: 'x' }] }))
      .toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_PATH_NOT_FOUND' } });
    expect(await s.emitWithAck('rt:mutate', { entity, id: 3, base: base + 50, mergePatch: { name: 'x' } }))
      .toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_OUT_OF_RANGE' } });
    for (const body of [null, 5, { entities: 5 }, { entities: {}, more: 1 }]) {
      expect(await s.emitWithAck('rt:sync', body)).toMatchObject({ status: 'rejected', error: { code: 'ERR_RT_INVALID_ARGUMENT' } });
    }
    expect((await s.emitWithAck('rt:sync', { entities: { [entity]: -1 } })).entities[entity]).toMatchObject({ error: { code: 'ERR_RT_INVALID_ARGUMENT' } });
    for (const [event, body] of [
      ['subscribe:module', undefined], ['subscribe:module', 5], ['subscribe:module', { module: 'weather' }],
      ['subscribe:module', { module: { $ne: 1 } }], ['unsubscribe:module', null],
      ['subscribe:device', {}], ['subscribe:device', { deviceId: '' }], ['subscribe:device', { deviceId: 'x'.repeat(500) }],
    ]) {
      const ack = body === undefined ? await s.emitWithAck(event) : await s.emitWithAck(event, body);
      expect({ event, body, ack }).toEqual({ event, body, ack: { ok: false, error: { code: 'ERR_RT_INVALID_ARGUMENT', message: expect.any(String) } } });
    }
    expect(await s.emitWithAck('subscribe:device', { deviceId: 'nope-001' })).toMatchObject({ ok: false, error: { code: 'ERR_RT_NOT_FOUND' } });
    // without an acknowledgement, or unknown events: nothing happens, nothing breaks
    s.emit('rt:mutate', { entity, id: 4, base, mergePatch: { name: 'no ack' } });
    s.emit('rt:mutate', 'garbage');
    s.emit('subscribe:device');
    s.emit('no-such-event', { a: 1 });
    expect((await s.emitWithAck('dashboard:init')).org).toBe('acme');
    const after = await playlist(entity);
    // the one well-formed mutation without an ack was applied; nothing else changed the document
    expect(after.version).toBe(base + 1);
    expect(after.doc).toEqual({ ...before.doc, name: 'no ack' });

    // an oversized packet: an error event, then the server disconnects the socket
    const big = await client(ALICE);
    const gone = new Promise((resolve) => big.once('disconnect', resolve));
    big.emit('rt:mutate', { entity, id: 1, base, mergePatch: { name: 'x'.repeat(70 * 1024) } });
    expect(await big.inbox.next('rt:error')).toMatchObject({ code: 'ERR_RT_TOO_LARGE' });
    expect(await gone).toBe('io server disconnect');

    // a flood of events: the rate limit answers, then disconnects
    const flood = await client(ALICE);
    const floodGone = new Promise((resolve) => flood.once('disconnect', resolve));
    for (let i = 0; i < 400; i++) flood.emit('dashboard:init');
    expect(await flood.inbox.next('rt:error')).toMatchObject({ code: 'ERR_RT_RATE_LIMITED' });
    expect(await floodGone).toBe('io server disconnect');

    // HTTP
    const admin = ex.token(ADMIN);
    const post = (path, options) => api(path, { method: 'POST', token: admin, ...options });
    const cases = [
      [post('/api/devices/acme-001/status', { rawBody: '{"status":' }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [post('/api/devices/acme-001/status', { body: { status: 'exploded' } }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [post('/api/devices/acme-001/status', { body: ['online'] }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [post('/api/devices/acme-001/status', { body: { status: 'x'.repeat(20000) } }), 413, 'ERR_RT_TOO_LARGE'],
      [post('/api/devices/nope-001/status', { body: { status: 'online' } }), 404, 'ERR_RT_NOT_FOUND'],
      [post('/api/services/teleport/status', { body: { status: 'up' } }), 404, 'ERR_RT_NOT_FOUND'],
      [post('/api/services/api/status', { body: { status: 'sideways' } }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [post('/api/services/api/status', { body: { status: 'up', latencyMs: '5' } }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [post('/api/notifications', { body: { to: 'dave' } }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [post('/api/notifications', { body: { to: 'acme:dave', title: 'x' } }), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [api('/api/playlists/playlist:acme:99', { token: admin }), 404, 'ERR_RT_NOT_FOUND'],
      [api('/api/demo-token?role=root'), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [api('/api/demo-token?org=a:b'), 400, 'ERR_RT_INVALID_ARGUMENT'],
      [api('/api/no-such-route'), 404, 'ERR_RT_NOT_FOUND'],
    ];
    for (const [promise, status, code] of cases) {
      const res = await promise;
      expect({ status: res.status, code: res.body.error && res.body.error.code }).toEqual({ status, code });
    }
    expect(await playlist(entity)).toEqual(after);
    expect((await api('/health')).body.status).toBe('ok');
  });

  test('HTTP: demo token, playlists, device status, the dashboard files', async () => {
    const { status, body } = await api('/api/demo-token?org=globex&user=bob&role=admin');
    expect(status).toBe(200);
    expect(body).toMatchObject({ token: expect.any(String), org: 'globex', sub: 'bob', role: 'admin' });
    const b = await connect(ex.url, { token: body.token });
    sockets.push(b);
    expect((await b.emitWithAck('dashboard:init')).org).toBe('globex');
    const list = await api('/api/playlists', { token: body.token });
    expect(list.body.playlists.map((p) => p.entity)).toEqual(['playlist:globex:1', 'playlist:globex:2', 'playlist:globex:3']);
    const devices = await api('/api/devices', { token: body.token });
    expect(devices.body.devices.map((d) => d.deviceId)).toEqual(['globex-001', 'globex-002', 'globex-003']);
    const res = await api('/api/devices/globex-003/status', { method: 'POST', token: body.token, body: { status: 'error' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ deviceId: 'globex-003', name: expect.any(String), status: 'error', at: expect.any(String) });
    expect(await b.inbox.next('device:status-update', (u) => u.deviceId === 'globex-003')).toEqual(res.body);
    const summary = await b.inbox.next('dashboard:update');
    expect(summary).toEqual({ devicesOnline: expect.any(Number), devicesTotal: 3, alertsOpen: 0, at: expect.any(String) });

    // public/ and browser/ are served as they are on disk
    const dir = path.join(__dirname, '..', '..', 'examples', 'realtime-server');
    const exists = (file) => fs.existsSync(path.join(dir, file));
    for (const [route, file, type] of [['/', 'public/index.html', /text\/html/], ['/app.js', 'public/app.js', /javascript/], ['/styles.css', 'public/styles.css', /text\/css/]]) {
      const res = await api(route);
      expect({ route, status: res.status }).toEqual({ route, status: exists(file) ? 200 : 404 });
      if (res.status === 200) expect(res.headers.get('content-type')).toMatch(type);
    }
    const bundle = await api('/realtime-core.js');
    if (exists('browser/bundle.js')) {
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('content-type')).toMatch(/^application\/javascript/);
      expect((await api('/realtime-core.js')).body).toBe(bundle.body); // built once, kept
    } else {
      expect(bundle.status).toBe(404);
      expect(bundle.body).toMatch(/browser\/bundle\.js is missing/);
    }
  });
});

describe('example server settings and restarts', () => {
  test('a queued notification survives a restart on the same DATA_DIR', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-example-restart-'));
    let ex;
    try {
      ex = await startExample({ dataDir, args: ['--devices', '0'] });
      const admin = ex.token({ sub: 'root', org: 'acme', role: 'admin' });
      const res = await request(`${ex.url}/api/notifications`, { method: 'POST', token: admin, body: { to: 'frank', title: 'Kept on disk' } });
      expect(res.status).toBe(200);
      expect((await ex.stop()).code).toBe(0);
      ex = await startExample({ dataDir, env: { RT_IMPLEMENTATION: IMPLS[IMPLS.length - 1] }, args: ['--devices', '0'] });
      const f = await connect(ex.url, { token: ex.token({ sub: 'frank', org: 'acme', role: 'viewer' }) });
      const n = await f.inbox.next('notification:new');
      expect(n).toEqual(res.body.notification);
      f.close();
    } finally {
      if (ex) await ex.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a connected client recovers its session across a graceful restart on the same DATA_DIR', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-example-recover-'));
    let ex;
    let s;
    try {
      ex = await startExample({ dataDir, env: { RT_IMPLEMENTATION: IMPLS[0] }, args: ['--devices', '4', '--sim-interval-ms', '0'] });
      const admin = ex.token({ sub: 'root', org: 'acme', role: 'admin' });
      s = await connect(ex.url, { token: ex.token(ALICE), clientId: 'tab-restart', reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
      const post = (status) => request(`${ex.url}/api/devices/acme-001/status`, { method: 'POST', token: admin, body: { status } });
      expect((await post('playing')).status).toBe(200);
      await s.inbox.next('device:status-update', (u) => u.status === 'playing');
      const disconnected = new Promise((resolve) => s.once('disconnect', resolve));
      expect((await ex.stop()).code).toBe(0);
      expect(await disconnected).toBe('transport close'); // recoverable: the client reconnects by itself
      const port = ex.port;
      ex = await startExample({ dataDir, env: { RT_IMPLEMENTATION: IMPLS[IMPLS.length - 1] }, args: ['--port', String(port), '--devices', '4', '--sim-interval-ms', '0'] });
      if (!s.connected) await new Promise((resolve) => s.once('connect', resolve));
      expect(s.recovered).toBe(true);
      // its rooms came back with the session, and nothing was replayed twice
      expect((await post('error')).status).toBe(200);
      await s.inbox.next('device:status-update', (u) => u.status === 'error');
      expect(s.inbox.named('device:status-update').map((u) => u.status)).toEqual(['playing', 'error']);
    } finally {
      if (s) s.close();
      if (ex) await ex.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('DEMO_LOGIN=0 removes the demo token route; bad settings stop the start with a message', async () => {
    const ex = await startExample({ env: { DEMO_LOGIN: '0' }, args: ['--devices', '0'] });
    try {
      expect((await request(`${ex.url}/api/demo-token`)).status).toBe(404);
      expect((await request(`${ex.url}/health`)).status).toBe(200);
    } finally {
      await ex.stop();
    }
    await expect(startExample({ env: { RT_IMPLEMENTATION: 'wasm' } })).rejects.toThrow(/RT_IMPLEMENTATION must be "native" or "js"/);
    await expect(startExample({ args: ['--devices', 'many'] })).rejects.toThrow(/DEVICES must be an integer/);
  });

  test('the simulator\'s traffic stays inside each organisation', async () => {
    const ex = await startExample({ args: ['--devices', '20', '--sim-interval-ms', '20', '--seed', '7'] });
    const sockets = [];
    try {
      const a = await connect(ex.url, { token: ex.token({ sub: 'alice', org: 'acme', role: 'editor' }) });
      const b = await connect(ex.url, { token: ex.token({ sub: 'bob', org: 'globex', role: 'editor' }) });
      sockets.push(a, b);
      for (const s of [a, b]) {
        for (const module of ['signage', 'analytics', 'energy']) expect((await s.emitWithAck('subscribe:module', { module })).ok).toBe(true);
        expect((await s.emitWithAck('subscribe:status')).ok).toBe(true);
      }
      const init = await a.emitWithAck('dashboard:init');
      expect(init.devices).toHaveLength(10);
      const kinds = ['kpi:update:signage', 'kpi:update:analytics', 'kpi:update:energy', 'service:status', 'service:bulk-update', 'device:status-update'];
      for (const s of [a, b]) await s.inbox.until((evs) => kinds.every((k) => evs.some((e) => e[0] === k)), 'every kind of simulated event');
      const mine = (s, org) => s.inbox.events.filter((e) => e[0] === 'device:status-update').every((e) => e[1].deviceId.startsWith(`${org}-`));
      expect(mine(a, 'acme')).toBe(true);
      expect(mine(b, 'globex')).toBe(true);
      expect(a.inbox.events.filter((e) => JSON.stringify(e.slice(0, 2)).includes('globex'))).toEqual([]);
      expect(b.inbox.events.filter((e) => JSON.stringify(e.slice(0, 2)).includes('acme'))).toEqual([]);
      await waitUntil(async () => (await request(`${ex.url}/health`)).body.connections === 2, 'two connections');
    } finally {
      for (const s of sockets) s.close();
      await ex.stop();
    }
  });
});
