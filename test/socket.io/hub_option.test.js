'use strict';

// createAdapter({ hub }): a FanoutHub made by the caller serves namespace '/' (other namespaces
// get their own), is not closed by the adapter, and must fit the server (implementation,
// namespace, recovery, durable), for both implementations.

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('realtime-core/socket.io');
const { namespaceHubOptions } = require('../../lib/socket.io/hub-options');
const { parseAdapterOptions } = require('../../lib/socket.io/options');
const { IMPLS, Harness, dropTransport, reconnect } = require('./helpers');

const APIS = { native: require('realtime-core'), js: require('realtime-core/js') };
const CSR = { maxDisconnectionDuration: 60000 };

// the hub the adapter itself would make for '/'
function hubFor(api, options, csr) {
  const settings = parseAdapterOptions({ ...options, implementation: api.implementation });
  return new api.FanoutHub(namespaceHubOptions(settings, '/', csr).hubOptions);
}

describe.each(IMPLS)('createAdapter({ hub }) (%s)', (impl) => {
  const api = APIS[impl];
  const h = new Harness();
  const hubs = [];
  afterEach(async () => {
    await h.cleanup();
    await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  });
  const track = (hub) => {
    hubs.push(hub);
    return hub;
  };

  test('the hub serves "/", delivers and recovers; another namespace has its own; close leaves it open', async () => {
    const hub = track(hubFor(api, {}, CSR));
    const s = await h.server({ adapter: { implementation: impl, hub }, connectionStateRecovery: CSR });
    expect(s.io.of('/').adapter.hub).toBe(hub);
    const other = s.io.of('/other').adapter.hub;
    expect(other).not.toBe(hub);
    expect(other).toBeInstanceOf(api.FanoutHub);

    const { socket, inbox } = await h.connected(s.port);
    expect(hub.connectionCount).toBe(1);
    s.io.emit('n', 1);
    await inbox.count(1, 'n');
    await dropTransport(socket);
    s.io.emit('n', 2);
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(2, 'n');
    expect(inbox.named('n').map((e) => e[1])).toEqual([1, 2]);

    await h.closeServer(s);
    // the caller's hub is still open (the other namespace's hub is closed)
    expect(hub.connectionCount).toBe(0);
    const handle = hub.connect();
    expect(hub.disconnect(handle)).toEqual([]);
    expect(() => other.connect()).toThrow(expect.objectContaining({ code: 'ERR_RT_CLOSED' }));

    // and it can serve a new server once the first is closed
    const again = await h.server({ adapter: { implementation: impl, hub }, connectionStateRecovery: CSR });
    expect(again.io.of('/').adapter.hub).toBe(hub);
  });

  test('without recovery on either side', async () => {
    const hub = track(hubFor(api, {}, undefined));
    expect(hub.options.recovery).toBeNull();
    const s = await h.server({ adapter: { implementation: impl, hub } });
    const { inbox } = await h.connected(s.port);
    s.io.emit('n', 1);
    await inbox.count(1, 'n');
  });

  const refused = [
    ['a hub without recovery on a server with connectionStateRecovery', () => hubFor(api, {}, undefined), {}, CSR],
    ['a hub with recovery on a server without it', () => hubFor(api, {}, CSR), {}, undefined],
    ['a hub with recovery when the adapter has recovery: false', () => hubFor(api, {}, CSR), { recovery: false }, CSR],
    ['a hub of another namespace', () => new api.FanoutHub({ namespace: '/x' }), {}, undefined],
    ['a hub of the other implementation', () => hubFor(APIS[impl === 'js' ? 'native' : 'js'], {}, undefined), {}, undefined],
  ];
  test.each(refused)('refuses %s when the namespace is created', (what, makeHub, options, csr) => {
    const hub = track(makeHub());
    const Adapter = createAdapter({ ...options, implementation: impl, hub });
    expect(() => new Server(http.createServer(), { adapter: Adapter, connectionStateRecovery: csr }))
      .toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
  });

  test('refuses a hub another live adapter uses', async () => {
    const hub = track(hubFor(api, {}, undefined));
    await h.server({ adapter: { implementation: impl, hub } });
    expect(() => new Server(http.createServer(), { adapter: createAdapter({ implementation: impl, hub }) }))
      .toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
  });

  test('refuses a hub option that is not a FanoutHub', () => {
    for (const hub of [5, 'hub', {}, { publish() {} }]) {
      expect(() => createAdapter({ implementation: impl, hub })).toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
    }
    expect(() => createAdapter({ implementation: impl, hub: null })).not.toThrow();
  });

  test('a durable adapter needs a durable hub', () => {
    const hub = track(hubFor(api, {}, CSR));
    const Adapter = createAdapter({ implementation: impl, hub, durable: { path: require('os').tmpdir() } });
    expect(() => new Server(http.createServer(), { adapter: Adapter, connectionStateRecovery: CSR }))
      .toThrow(expect.objectContaining({ code: 'ERR_RT_INVALID_ARGUMENT' }));
  });
});

