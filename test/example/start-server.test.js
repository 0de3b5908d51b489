'use strict';

// startServer() in this process, and the simulator driven step by step: a fixed seed and clock,
// the timer paused (simIntervalMs 0), tick() called by the test.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { startServer } = require('../../examples/realtime-server/server');
const { SimulatorService, mulberry32 } = require('../../examples/realtime-server/simulator');
const { parseConfig } = require('../../examples/realtime-server/config');
const { Broadcaster } = require('../../examples/realtime-server/broadcaster');
const { connect, request, waitUntil } = require('./helpers');

jest.setTimeout(60000);

const SECRET = 'in-process-test-secret';
const IMPLS = ['native', 'js'].filter((name) => !process.env.RT_IMPL || process.env.RT_IMPL === name);

describe('configuration', () => {
  test('flags win over variables; defaults as documented', () => {
    const env = { PORT: '4000', DEVICES: '3', RT_IMPLEMENTATION: 'js', DEMO_LOGIN: '0', JWT_SECRET: 'long-enough' };
    const c = parseConfig(['--port', '0', '--devices=7', '--sim-interval-ms', '250'], env);
    expect(c).toMatchObject({ port: 0, host: '127.0.0.1', devices: 7, simIntervalMs: 250, implementation: 'js', demoLogin: false, jwtSecret: 'long-enough', seed: null });
    const d = parseConfig([], {});
    expect(d).toMatchObject({ port: 3000, devices: 12, simIntervalMs: 1000, implementation: 'native', demoLogin: true, jwtSecret: null });
    expect(d.dataDir).toBe(path.resolve(__dirname, '..', '..', '.data', 'realtime-server'));
    expect(() => parseConfig(['--devices', '-1'], {})).toThrow(/DEVICES must be an integer/);
    expect(() => parseConfig(['--bogus'], {})).toThrow(/unknown argument/);
    expect(() => parseConfig([], { JWT_SECRET: 'short' })).toThrow(/at least 8/);
    expect(() => parseConfig([], { PORT: '70000' })).toThrow(/PORT must be between/);
  });
});

describe.each(IMPLS)('startServer (%s)', (impl) => {
  let server;
  let dataDir;
  let now = Date.parse('2030-01-01T00:00:00Z');

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-example-inproc-'));
    server = await startServer({
      port: 0, devices: 8, simIntervalMs: 0, seed: 11, jwtSecret: SECRET, dataDir, implementation: impl, clock: () => now,
    });
  });

  afterAll(async () => {
    if (server) await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('serves health and sockets in-process', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await request(`${server.url}/health`);
    expect(res.body).toEqual({ status: 'ok', implementation: impl, connections: 0 });
  });

  test('the simulator, driven tick by tick with a fixed seed and clock, makes the seeds\' traffic', async () => {
    const token = jwt.sign({ sub: 'alice', org: 'acme', role: 'editor' }, SECRET);
    const s = await connect(server.url, { token });
    try {
      for (const module of ['signage', 'analytics', 'energy']) await s.emitWithAck('subscribe:module', { module });
      await s.emitWithAck('subscribe:status');
      const { simulator } = server.app.get(SimulatorService);
      expect(simulator.timer).toBe(null); // paused: only tick() moves it
      for (let i = 0; i < 400; i++) {
        now += 1000;
        simulator.tick();
      }
      const kinds = ['kpi:update:signage', 'kpi:update:analytics', 'kpi:update:energy', 'service:status', 'service:bulk-update',
        'device:status-update', 'dashboard:update', 'health:alert', 'schedule:executed', 'playlist:updated', 'rt:delta'];
      await s.inbox.until((evs) => kinds.every((k) => evs.some((e) => e[0] === k)), 'every kind of simulated event');
      const kpi = s.inbox.named('kpi:update:energy');
      expect(kpi[kpi.length - 1]).toEqual({ module: 'energy', metrics: expect.any(Object), at: expect.any(String) });
      expect(kpi.every((k) => k.at.startsWith('2030-'))).toBe(true); // the injected clock
      const updated = s.inbox.named('playlist:updated');
      expect(updated.every((u) => u.updatedBy === 'server' && u.entity.startsWith('playlist:acme:'))).toBe(true);
      expect(s.inbox.named('device:status-update').every((u) => u.deviceId.startsWith('acme-'))).toBe(true);
    } finally {
      s.close();
    }
  });

  test('the adapter\'s authorizeJoin keeps a socket inside its organisation, even for server-side joins', async () => {
    const token = jwt.sign({ sub: 'alice', org: 'acme', role: 'editor' }, SECRET);
    const s = await connect(server.url, { token });
    try {
      const { io } = server.app.get(Broadcaster);
      const [socket] = await io.in('org:acme:user:alice').fetchSockets();
      const target = io.of('/').sockets.get(socket.id);
      for (const room of ['org:globex', 'org:globex:device:globex-001', 'org:acme-evil', 'org:acme:bogus:x', 'lobby']) {
        await target.join(room);
        expect(target.rooms.has(room)).toBe(false);
      }
      io.in(socket.id).socketsJoin(['org:globex:status', 'org:acme:status']);
      await waitUntil(() => target.rooms.has('org:acme:status'), 'the allowed server-side join');
      expect(target.rooms.has('org:globex:status')).toBe(false);
    } finally {
      s.close();
    }
  });

  test('the same seed gives the same random sequence', () => {
    const a = mulberry32(11);
    const b = mulberry32(11);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });
});
