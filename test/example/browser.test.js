'use strict';

// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against the example server (native implementation; the page runs the JS twin itself).
// - the bundled twin gives the same results in Chromium as in Node;
// - live device updates, then an optimistic playlist edit made offline (context.setOffline), a
//   concurrent edit of the same playlist by another client, and the replay after reconnecting
//   (a new connection: rt:sync, then the outbox);
// - a dropped transport, recovered by Socket.io's connection-state recovery (the missed delta
//   comes with the recovery), and the outbox replayed.
//
// No timing assertions, no sleeps: every step waits for a DOM state with a generous timeout.

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const { startExample, connect, request } = require('./helpers');
const { buildBrowserBundle } = require('../../examples/realtime-server/browser/bundle');
const twin = require('realtime-core/js');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '../../artifacts');
const WAIT = { timeout: 30000 };

jest.setTimeout(180000);

// HTTP on the example; anything but 200 fails the test with the answer
async function api(server, method, route, { token, body } = {}) {
  const res = await request(`${server.url}${route}`, { method, token, body });
  if (res.status !== 200) throw new Error(`${method} ${route}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const emitWithAck = (socket, event, body) => socket.timeout(30000).emitWithAck(event, body);

// One script, run by the bundled twin in Chromium and by require('realtime-core/js') in Node:
// the results and events must be the same.
function optimisticScript(api) {
  const out = [];
  const record = (what, fn) => {
    try {
      out.push([what, fn()]);
    } catch (err) {
      out.push([what, 'throws', err.name, err.code]);
    }
  };
  const s = new api.OptimisticState({ name: 'Lobby', loop: false, items: [{ id: 'a', title: 'A' }] }, { baseVersion: 4, autoExpire: false, clock: () => 1000 });
  for (const e of ['change', 'commit', 'rollback']) s.on(e, (ev) => out.push([`event ${e}`, ev]));
  record('apply 1', () => s.apply('1', { mergePatch: { name: 'Hall' } }));
  record('apply 2', () => s.apply('2', { patch: [{ op: 'test', path: '/items/0/id', value: 'a' }, { op: 'replace', path: '/items/0/title', value: 'A2' }] }));
  record('apply bad', () => s.apply('3', { patch: [{ op: 'remove', path: '/nope' }] }));
  record('rebase', () => s.rebase({ patch: [{ op: 'remove', path: '/items/0' }] }, { version: 5 }));
  record('commit 1', () => s.commit('1', { mergePatch: { name: 'Hall' }, version: 6 }));
  record('rollback unknown', () => s.rollback('2'));
  record('state', () => ({ state: s.state, base: s.base, version: s.baseVersion, pending: s.pending }));
  record('applyPatch', () => api.applyPatch({ a: [1] }, [{ op: 'add', path: '/a/-', value: 2 }]));
  record('applyMergePatch', () => api.applyMergePatch({ a: 1, b: 2 }, { b: null, c: 3 }));
  record('diff', () => api.diff({ a: 1, b: 2 }, { a: 1, b: 3 }));
  return out;
}

describe('the dashboard page in Chromium', () => {
  let server;
  let browser;
  let context;
  let page;
  let other;
  const pageErrors = [];

  const badge = () => page.locator('[data-testid="connection"]');
  const badgeIn = (state) => page.waitForSelector(`[data-testid="connection"][data-state="${state}"]`, WAIT);

  // runs a test's steps; on failure, a screenshot and the server's output go with the error
  async function onFailureScreenshot(steps) {
    try {
      await steps();
    } catch (err) {
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-failure.png'), fullPage: true }).catch(() => {});
      err.message += `\n(screenshot: artifacts/dashboard-failure.png)\n${server.output()}`;
      throw err;
    }
  }

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // a paused simulator: the only changes are the ones this test makes
    server = await startExample({ env: { RT_IMPLEMENTATION: 'native' }, args: ['--devices', '4', '--sim-interval-ms', '0'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    // another client of the same organisation, editing the same playlists as the page
    other = await connect(server.url, { token: server.token({ sub: 'carol', org: 'acme', role: 'editor' }), clientId: 'browser-test-other' });
  });

  afterAll(async () => {
    if (other) other.close();
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true }).catch(() => {});
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  test('the bundled JS twin runs in Chromium with the same results as in Node', async () => {
    const bundle = await buildBrowserBundle();
    const probe = await context.newPage();
    try {
      await probe.setContent('<!doctype html><title>bundle</title>');
      await probe.addScriptTag({ content: bundle });
      expect(await probe.evaluate(() => window.RealtimeCore.implementation)).toBe('js');
      const inBrowser = await probe.evaluate(`(${optimisticScript})(window.RealtimeCore)`);
      expect(inBrowser).toEqual(JSON.parse(JSON.stringify(optimisticScript(twin))));
    } finally {
      await probe.close();
    }
  });

  test('live updates, an offline optimistic edit, a concurrent edit, and the replay', async () => {
    await onFailureScreenshot(async () => {
      await page.goto(`${server.url}/?org=acme&user=alice&role=editor`);
      await badgeIn('live');
      expect(await page.evaluate(() => window.RealtimeCore.implementation)).toBe('js');

      // a device changes state on the server: the page shows it
      const device = page.locator('[data-testid="device"]').first();
      const deviceId = await device.getAttribute('data-device-id');
      const before = await device.getAttribute('data-status');
      const next = before === 'error' ? 'online' : 'error';
      const adminToken = server.token({ sub: 'ops', org: 'acme', role: 'admin' });
      await api(server, 'POST', `/api/devices/${encodeURIComponent(deviceId)}/status`, { token: adminToken, body: { status: next } });
      await page.waitForSelector(`[data-testid="device"][data-device-id="${deviceId}"][data-status="${next}"]`, WAIT);

      // the first playlist, as the server has it
      const card = page.locator('[data-testid="playlist"]').first();
      const entity = await card.getAttribute('data-entity');
      const initial = await api(server, 'GET', `/api/playlists/${encodeURIComponent(entity)}`, { token: adminToken });
      expect(await card.getAttribute('data-version')).toBe(String(initial.version));

      // offline: the badge says so
      await context.setOffline(true);
      await badgeIn('offline');

      // an optimistic edit: visible at once, one mutation pending
      const name = `${initial.doc.name} (edited offline)`;
      await card.locator('[data-testid="playlist-name"]').fill(name);
      await card.locator('[data-testid="playlist-name"]').press('Enter');
      await page.waitForSelector('[data-testid="connection"][data-state="offline"][data-pending="1"]', WAIT);
      expect(await badge().textContent()).toBe('offline (1 pending)');
      expect(JSON.parse(await card.locator('[data-testid="playlist-doc"]').textContent()).name).toBe(name);
      expect(await card.getAttribute('data-pending')).toBe('1');

      // meanwhile another client edits another field of the same playlist
      const loop = !initial.doc.loop;
      const ack = await emitWithAck(other, 'rt:mutate', { entity, id: 1, base: initial.version, mergePatch: { loop } });
      expect(ack).toMatchObject({ status: 'applied', version: initial.version + 1 });

      // back online: the edit is replayed and confirmed; both edits are there
      await context.setOffline(false);
      await page.waitForSelector('[data-testid="connection"][data-state="live"][data-pending="0"]', WAIT);
      expect(await badge().textContent()).toBe('live');
      const final = await api(server, 'GET', `/api/playlists/${encodeURIComponent(entity)}`, { token: adminToken });
      expect(final.doc).toEqual({ ...initial.doc, name, loop });
      expect(final.version).toBe(initial.version + 2);
      await page.waitForSelector(`[data-testid="playlist"][data-entity="${entity}"][data-version="${final.version}"][data-pending="0"]`, WAIT);
      expect(JSON.parse(await card.locator('[data-testid="playlist-doc"]').textContent())).toEqual(final.doc);
      expect(await card.locator('[data-testid="playlist-loop"]').isChecked()).toBe(loop);
      await expect(card.locator('[data-testid="playlist-name"]').inputValue()).resolves.toBe(name);
      expect(await page.locator('[data-testid="error"]').isHidden()).toBe(true);
      expect(pageErrors).toEqual([]);
    });
  });

  test('a dropped transport is recovered: the missed delta arrives through recovery, the outbox replays', async () => {
    await onFailureScreenshot(async () => {
      await page.waitForSelector('[data-testid="connection"][data-state="live"][data-pending="0"]', WAIT);
      const card = page.locator('[data-testid="playlist"]').nth(1);
      const entity = await card.getAttribute('data-entity');
      const token = server.token({ sub: 'ops', org: 'acme', role: 'admin' });
      const initial = await api(server, 'GET', `/api/playlists/${encodeURIComponent(entity)}`, { token });

      // a broadcast gives the page's socket a recovery offset
      const device = page.locator('[data-testid="device"]').last();
      const deviceId = await device.getAttribute('data-device-id');
      const status = (await device.getAttribute('data-status')) === 'playing' ? 'online' : 'playing';
      await api(server, 'POST', `/api/devices/${encodeURIComponent(deviceId)}/status`, { token, body: { status } });
      await page.waitForSelector(`[data-testid="device"][data-device-id="${deviceId}"][data-status="${status}"]`, WAIT);

      // the transport dies without a goodbye (as on a network drop); no automatic reconnection yet
      await page.evaluate(() => {
        const { socket } = window.dashboard;
        socket.io.reconnection(false);
        socket.io.engine.close();
      });
      await badgeIn('offline');

      const name = `${initial.doc.name} (edited while dropped)`;
      await card.locator('[data-testid="playlist-name"]').fill(name);
      await card.locator('[data-testid="playlist-name"]').press('Enter');
      await page.waitForSelector('[data-testid="connection"][data-state="offline"][data-pending="1"]', WAIT);
      const items = initial.doc.items.slice(1);
      const ack = await emitWithAck(other, 'rt:mutate', { entity, id: 2, base: initial.version, patch: [{ op: 'remove', path: '/items/0' }] });
      expect(ack).toMatchObject({ status: 'applied', version: initial.version + 1 });

      await page.evaluate(() => {
        const { socket } = window.dashboard;
        socket.io.reconnection(true);
        socket.connect();
      });
      await page.waitForSelector('[data-testid="connection"][data-state="live"][data-pending="0"]', WAIT);
      expect(await page.evaluate(() => window.dashboard.socket.recovered)).toBe(true);
      const final = await api(server, 'GET', `/api/playlists/${encodeURIComponent(entity)}`, { token });
      expect(final.doc).toEqual({ ...initial.doc, name, items });
      await page.waitForSelector(`[data-testid="playlist"][data-entity="${entity}"][data-version="${final.version}"][data-pending="0"]`, WAIT);
      expect(JSON.parse(await card.locator('[data-testid="playlist-doc"]').textContent())).toEqual(final.doc);
      expect(await card.locator('[data-testid="playlist-item"]').count()).toBe(items.length);
      expect(await page.locator('[data-testid="error"]').isHidden()).toBe(true);
      expect(pageErrors).toEqual([]);
    });
  });
});
