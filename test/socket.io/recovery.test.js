'use strict';

// Connection-state recovery through realtime-core/socket.io: missed events (unicasts included)
// after a transport close, volatile packets and offsets, the quiet connection (and the stock
// SessionAwareAdapter failing it), the window, durable recovery across a server restart, and
// authorisation of restored rooms. Once per implementation (RT_IMPL=js|native narrows it).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { IMPLS, Harness, Inbox, once, serverSocket, dropTransport, reconnect, tick, sleep } = require('./helpers');

jest.setTimeout(30000);

const csr = (maxDisconnectionDuration = 10000, extra = {}) => ({ connectionStateRecovery: { maxDisconnectionDuration, ...extra } });
const payloads = (inbox, event) => inbox.named(event).map((e) => e[1]);
// the recovery offset a recorded packet carries is its last argument
const lastArg = (e) => e[e.length - 1];

// resolves when the server socket's transport can take a write at once
async function whenWritable(s) {
  const t = s.conn.transport;
  if (!t.writable) await once(t, 'ready');
}

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rt-sio-recovery-'));
}

// A Socket.io server with the adapter in durable mode in a child process (crash_server_child.js),
// to be killed with SIGKILL. -> { port, next(predicate), send(command), kill() }
async function childServer(impl, dir, port = 0) {
  const child = spawn(process.execPath, [path.join(__dirname, 'crash_server_child.js'), impl, dir, String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = [];
  const waiters = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // the first line (not yet taken) that passes `predicate`
  const next = (predicate, what = 'a line from the child server') => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (got ${JSON.stringify(lines)})`)), 10000);
    const check = () => {
      const i = lines.findIndex(predicate);
      if (i < 0) {
        waiters.push(check);
        return;
      }
      clearTimeout(timer);
      resolve(lines.splice(i, 1)[0]);
    };
    check();
  });
  let sent = 0;
  const send = (command) => {
    const n = ++sent;
    child.stdin.write(`${JSON.stringify(command)}\n`);
    return next((l) => l.done === n, `command ${n}`);
  };
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  const { listening } = await Promise.race([next((l) => l.listening), exited.then((code) => { throw new Error(`child server exited with ${code}`); })]);
  return { port: listening, next, send, kill, child };
}

describe.each(IMPLS)('connection-state recovery (%s)', (impl) => {
  let h;
  const dirs = [];
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(async () => {
    await h.cleanup();
    while (dirs.length) fs.rmSync(dirs.pop(), { recursive: true, force: true });
  });

  const start = (adapterOptions = {}, serverOptions = csr()) => h.server({ adapter: { implementation: impl, ...adapterOptions }, ...serverOptions });

  // a server whose sockets join 'room' (when not recovered) and keep their auth.user in data
  async function roomServer(adapterOptions, serverOptions) {
    const s = await start(adapterOptions, serverOptions);
    s.io.on('connection', (socket) => {
      if (!socket.recovered) {
        socket.join('room');
        socket.data.user = socket.handshake.auth.user;
      }
      socket.emit('welcome', socket.recovered);
    });
    return s;
  }

  async function roomClient(port, user = 'u1') {
    const socket = h.client(port, { auth: { user } });
    const inbox = new Inbox(socket);
    await inbox.count(1, 'welcome');
    return { socket, inbox };
  }

  test('missed room broadcasts, broadcasts to everyone and unicasts reach a client that reconnects', async () => {
    const { io, port } = await roomServer();
    const { socket, inbox } = await roomClient(port);
    const other = await roomClient(port, 'u2');
    io.to('room').emit('r', 0);
    await inbox.count(1, 'r');
    // a unicast that never leaves the server: the transport is stuck when it is written
    const s = serverSocket(io, socket);
    s.conn.transport.writable = false;
    s.emit('uni', 1);
    await dropTransport(socket);
    io.to('room').emit('r', 2);
    io.emit('all', 3);
    io.except('room').emit('never', 4);
    io.to(s.id).emit('uni', 5); // a unicast through its own room, while it is away
    serverSocket(io, other.socket).emit('uni', 'not for you');
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(2, 'welcome');
    await inbox.count(2, 'uni');
    const names = inbox.events.map((e) => `${e[0]}:${e[1]}`);
    expect(names).toEqual(['welcome:false', 'r:0', 'uni:1', 'r:2', 'all:3', 'uni:5', 'welcome:true']);
    const back = serverSocket(io, socket);
    expect(back.recovered).toBe(true);
    expect(back.id).toBe(s.id);
    expect([...back.rooms]).toEqual([s.id, 'room']);
    expect(back.data).toEqual({ user: 'u1' });
    // every recorded packet carried an offset, increasing
    const offsets = inbox.events.filter((e) => e[0] !== 'welcome').map(lastArg);
    expect(new Set(offsets).size).toBe(offsets.length);
    const m = io.of('/').adapter.metrics();
    expect(m.recoveries).toBe(1);
    expect(m.recoveryFailures).toBe(0);
  });

  test('binary packets are recorded and replayed with their attachments', async () => {
    const { io, port } = await roomServer();
    const { socket, inbox } = await roomClient(port);
    await dropTransport(socket);
    io.to('room').emit('bin', Buffer.from([1, 2, 3]), { deep: [Uint8Array.of(4)], text: 't' });
    io.to('room').emit('after', 1);
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(1, 'after');
    const [ev, buf, obj, offset] = inbox.named('bin')[0];
    expect(ev).toBe('bin');
    expect([...Buffer.from(buf)]).toEqual([1, 2, 3]);
    expect([...Buffer.from(obj.deep[0])]).toEqual([4]);
    expect(obj.text).toBe('t');
    expect(typeof offset).toBe('string');
    expect(inbox.events.map((e) => e[0])).toEqual(['welcome', 'bin', 'after', 'welcome']);
  });

  test('restoreSession answers { sid, pid, rooms, data, missedPackets } with data arrays', async () => {
    const { io } = await start();
    const adapter = io.of('/').adapter;
    const first = adapter.publish({ rooms: ['a'], event: 'x', payload: 1 });
    adapter.persistSession({ sid: 'S1', pid: 'P1', rooms: ['S1', 'a'], data: { k: [1] } });
    const second = adapter.publish({ rooms: ['a'], event: 'x', args: [2, 'two'] });
    adapter.publish({ rooms: ['b'], event: 'x', payload: 3 });
    adapter.publish({ event: 'y', payload: 4 });
    const res = await adapter.restoreSession('P1', first.offset);
    expect(res).toEqual({
      sid: 'S1',
      pid: 'P1',
      rooms: ['S1', 'a'],
      data: { k: [1] },
      missedPackets: [['x', 2, 'two', second.offset], ['y', 4, expect.any(String)]],
    });
    expect(await adapter.restoreSession('P1', first.offset)).toBeNull(); // consumed
    expect(adapter.restoreSession('nope', first.offset)).toBeNull();
    expect(adapter.metrics().recoveryFailuresByReason['unknown-session']).toBe(2);
    // the restored session's socket id is held in its rooms until its socket shows up
    expect(adapter.rooms.get('a').has('S1')).toBe(true);
  });

  test('volatile packets are never recorded and never corrupt the client offset', async () => {
    const { io, port } = await roomServer();
    const { socket, inbox } = await roomClient(port);
    const s = serverSocket(io, socket);
    io.to('room').emit('rec', 1);
    await inbox.count(1, 'rec');
    // volatile packets are dropped while the transport is busy: send each when it is writable
    await whenWritable(s);
    io.to('room').volatile.emit('tick', 7); // last argument not a string: no effect on the offset
    await inbox.count(1, 'tick');
    await whenWritable(s);
    io.to('room').volatile.emit('v', 'hello'); // socket.io-client takes "hello" as its offset
    await inbox.count(1, 'v');
    await dropTransport(socket);
    io.to('room').emit('rec', 2);
    io.to('room').volatile.emit('v', 'lost');
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(2, 'rec');
    await inbox.count(2, 'welcome');
    expect(inbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['welcome:false', 'rec:1', 'tick:7', 'v:hello', 'rec:2', 'welcome:true']);
    // volatile packets carry no offset
    expect(inbox.named('tick')[0]).toEqual(['tick', 7]);
    expect(inbox.named('v')[0]).toEqual(['v', 'hello']);
    expect(io.of('/').adapter.metrics().offsetRepairs).toBe(1);
    // the client's offset is a real one again: a second round recovers too
    await dropTransport(socket);
    io.to('room').emit('rec', 3);
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(3, 'rec');
    expect(payloads(inbox, 'rec')).toEqual([1, 2, 3]);
  });

  test('a quiet connection keeps its ability to recover (its packet and others aged out)', async () => {
    const { io, port } = await roomServer({}, csr(300));
    const { socket, inbox } = await roomClient(port);
    io.to('room').emit('one', 1);
    await inbox.count(1, 'one');
    for (let i = 0; i < 3; i++) io.to('elsewhere').emit('other', i);
    const adapter = io.of('/').adapter;
    expect(adapter.metrics().hub.recoveryPackets).toBe(5); // welcome, one, 3 x other
    await sleep(700); // connected and quiet for longer than the window
    adapter.hub.sweep();
    expect(adapter.metrics().hub.recoveryPackets).toBe(0); // every packet aged out, its own too
    await dropTransport(socket);
    io.to('room').emit('missed', 2);
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(1, 'missed');
    expect(payloads(inbox, 'missed')).toEqual([2]);
  });

  test('a client back after the window is not recovered', async () => {
    const { io, port } = await roomServer({}, csr(300));
    const { socket, inbox } = await roomClient(port);
    io.to('room').emit('one', 1);
    await inbox.count(1, 'one');
    await dropTransport(socket);
    await sleep(700);
    io.to('room').emit('lost', 2);
    expect(await reconnect(socket)).toBe(false);
    await inbox.count(2, 'welcome');
    expect(inbox.named('lost')).toHaveLength(0);
    const m = io.of('/').adapter.metrics();
    expect(m.recoveries).toBe(0);
    expect(m.recoveryFailures).toBe(1);
    expect(m.recoveryFailuresByReason.expired + m.recoveryFailuresByReason['unknown-session']).toBe(1);
  });

  test('durable: a client recovers what it missed across a graceful server restart', async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const adapterOptions = { durable: { path: dir }, throttleMs: 60000, throttle: { status: () => 'k' } };
    const first = await roomServer(adapterOptions);
    const { socket, inbox } = await roomClient(first.port);
    first.io.to('room').emit('status', 'a');
    first.io.to('room').emit('status', 'b'); // pending (throttled) at shutdown: flushed and recorded by close()
    await inbox.count(1, 'status');
    const gone = once(socket, 'disconnect');
    await h.closeServer(first);
    await gone;
    const second = await roomServer(adapterOptions, { ...csr(), port: first.port });
    expect(second.port).toBe(first.port);
    second.io.to('room').emit('after', 1);
    second.io.emit('all', 2);
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(2, 'welcome');
    await inbox.count(1, 'all');
    expect(inbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['welcome:false', 'status:a', 'status:b', 'after:1', 'all:2', 'welcome:true']);
    const s = serverSocket(second.io, socket);
    expect(s.data).toEqual({ user: 'u1' });
    expect([...s.rooms]).toEqual([s.id, 'room']);
    // offsets continue the first server's
    const offs = inbox.events.filter((e) => e[0] !== 'welcome').map(lastArg);
    expect(new Set(offs.map((o) => o.split('-')[0])).size).toBe(1);
  });

  describe('durable: crash (SIGKILL) of a server with connected sockets', () => {
    const children = [];
    afterEach(async () => {
      for (const c of children.splice(0)) await c.kill();
    });
    const spawnServer = async (dir, port) => {
      const c = await childServer(impl, dir, port);
      children.push(c);
      return c;
    };

    test('a socket connected at the crash recovers what the next server recorded before it came back', async () => {
      const dir = tmpDir();
      dirs.push(dir);
      const first = await spawnServer(dir, 0);
      const socket = h.client(first.port, { auth: { user: 'u1' } });
      const inbox = new Inbox(socket);
      await once(socket, 'connect');
      const { connection } = await first.next((l) => l.connection);
      expect(connection).toMatchObject({ recovered: false, data: { user: 'u1' } });
      // later joins and leaves are tracked too
      await socket.emitWithAck('join', 'r2');
      await socket.emitWithAck('join', 'r3');
      await socket.emitWithAck('leave', 'r3');
      await first.send({ emit: ['room'], event: 'status', payload: 'a' });
      await first.send({ emit: ['r2'], event: 'status', payload: 'b' });
      await inbox.count(2, 'status');
      await first.send({ sync: true }); // the tracked session is on disk
      // the transport is still up: the server dies without persistSession
      const gone = once(socket, 'disconnect');
      await first.kill();
      const [reason] = await gone;
      expect(reason).toBe('transport close');

      const second = await spawnServer(dir, first.port);
      expect(second.port).toBe(first.port);
      await second.send({ emit: ['room'], event: 'after', payload: 1 });
      await second.send({ emit: ['r3'], event: 'after', payload: 'not a member' });
      await second.send({ emit: ['r2'], event: 'after', payload: 2 });
      await second.send({ emit: [], event: 'all', payload: 3 });
      expect(await reconnect(socket)).toBe(true);
      const back = await second.next((l) => l.connection);
      expect(back.connection).toEqual({ recovered: true, pid: connection.pid, data: { user: 'u1' }, rooms: [socket.id, 'room', 'r2'] });
      await inbox.count(1, 'all');
      expect(inbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['status:a', 'status:b', 'after:1', 'after:2', 'all:3']);
      // offsets continue the first server's
      const offs = inbox.events.map(lastArg);
      expect(new Set(offs.map((o) => o.split('-')[0])).size).toBe(1);
    });

    test('a socket that left with a non-recoverable disconnect is not recovered after the crash', async () => {
      const dir = tmpDir();
      dirs.push(dir);
      const first = await spawnServer(dir, 0);
      const stays = h.client(first.port, { auth: { user: 'stays' } });
      const leaves = h.client(first.port, { auth: { user: 'leaves' } });
      const stayInbox = new Inbox(stays);
      const leaveInbox = new Inbox(leaves);
      await Promise.all([once(stays, 'connect'), once(leaves, 'connect')]);
      await first.send({ emit: ['room'], event: 'status', payload: 'a' });
      await Promise.all([stayInbox.count(1, 'status'), leaveInbox.count(1, 'status')]);
      leaves.disconnect(); // "client namespace disconnect" on the server: no persistSession
      await first.next((l) => l.disconnect === 'client namespace disconnect');
      await first.send({ sync: true });
      await first.kill();
      const second = await spawnServer(dir, first.port);
      await second.send({ emit: ['room'], event: 'after', payload: 1 });
      expect(await reconnect(stays)).toBe(true);
      expect(await reconnect(leaves)).toBe(false);
      await stayInbox.count(1, 'after');
      expect(stayInbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['status:a', 'after:1']);
      expect(leaveInbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['status:a']);
    });
  });

  test('authorizeJoin applies to restored rooms and to their missed packets', async () => {
    const allowed = new Set(['org:1:a', 'org:1:b']);
    const seen = [];
    const authorizeJoin = (socket, room) => {
      seen.push([room, !!socket.restoring]);
      return allowed.has(room);
    };
    const { io, port } = await start({ authorizeJoin });
    io.on('connection', (s) => {
      if (!s.recovered) s.join(['org:1:a', 'org:1:b']);
    });
    const socket = h.client(port);
    const inbox = new Inbox(socket);
    await once(socket, 'connect');
    await tick();
    // a client that has received no recorded packet has no offset, so it could not recover
    io.to('org:1:a').emit('a', 0);
    await inbox.count(1, 'a');
    await dropTransport(socket);
    io.to('org:1:a').emit('a', 1);
    io.to('org:1:b').emit('b', 1);
    io.to(['org:1:a', 'org:1:b']).emit('ab', 1);
    allowed.delete('org:1:b'); // revoked while the client was away
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(1, 'ab');
    io.to('org:1:b').emit('b', 2);
    io.to('org:1:a').emit('a', 2);
    await inbox.count(3, 'a');
    expect(inbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['a:0', 'a:1', 'ab:1', 'a:2']);
    expect([...serverSocket(io, socket).rooms]).toEqual([socket.id, 'org:1:a']);
    expect(seen).toContainEqual(['org:1:b', true]);
    expect(io.of('/').adapter.metrics().joinsDenied).toBeGreaterThanOrEqual(1);
  });

  test('a slow consumer, closed by the adapter, recovers the packets that were stuck', async () => {
    const { io, port } = await roomServer({ maxBacklog: 3 });
    const healthy = await roomClient(port, 'u2');
    const { socket, inbox } = await roomClient(port);
    serverSocket(io, socket).conn.transport.writable = false;
    const gone = once(socket, 'disconnect');
    for (let i = 0; i < 5; i++) {
      io.to('room').emit('n', i);
      await healthy.inbox.count(i + 1, 'n');
    }
    expect((await gone)[0]).toBe('transport close');
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(5, 'n');
    expect(payloads(inbox, 'n')).toEqual([0, 1, 2, 3, 4]);
    expect(io.of('/').adapter.metrics().slowDisconnects).toBe(1);
  });

  test('acknowledged emits are not recorded; throttled and batched ones are, when delivered', async () => {
    const { io, port } = await roomServer({ throttleMs: 60000, throttle: { t: () => 'k' }, batch: { events: ['kpi'], maxItems: 2 } });
    const { socket, inbox } = await roomClient(port);
    socket.on('ask', (ack) => ack('ok'));
    await expect(io.to('room').timeout(5000).emitWithAck('ask')).resolves.toEqual(['ok']);
    io.to('room').emit('t', 1);
    await inbox.count(1, 't');
    await dropTransport(socket);
    io.to('room').emit('t', 2); // pending
    io.to('room').emit('t', 3); // coalesces 2
    io.to('room').emit('kpi', 'x');
    io.to('room').emit('kpi', 'y'); // fills the batch: delivered (to nobody) and recorded item by item
    io.of('/').adapter.flush({ all: true });
    expect(await reconnect(socket)).toBe(true);
    await inbox.count(2, 'kpi');
    // in recording order: the batch was delivered when it filled, t:3 by the flush
    expect(inbox.events.filter((e) => e[0] !== 'welcome' && e[0] !== 'ask').map((e) => `${e[0]}:${e[1]}`)).toEqual(['t:1', 'kpi:x', 'kpi:y', 't:3']);
  });

  test('events published while a recovered socket waits for its middlewares are held for it', async () => {
    let release;
    const gate = new Promise((r) => { release = r; });
    const { io, port } = await roomServer({}, csr(10000, { skipMiddlewares: false }));
    let entered;
    const waiting = new Promise((r) => { entered = r; });
    io.use((s, next) => {
      if (!s.recovered) return next();
      entered();
      return gate.then(() => next());
    });
    const { socket, inbox } = await roomClient(port);
    await dropTransport(socket);
    io.to('room').emit('before', 1);
    socket.connect();
    await waiting;
    io.to('room').emit('during', 2);
    release();
    await inbox.count(2, 'welcome');
    await inbox.count(1, 'during');
    expect(socket.recovered).toBe(true);
    expect(inbox.events.map((e) => `${e[0]}:${e[1]}`)).toEqual(['welcome:false', 'before:1', 'during:2', 'welcome:true']);
  });
});

describe('the stock SessionAwareAdapter', () => {
  let h;
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  test('loses the quiet connection of the same scenario (socket.io#5282)', async () => {
    // capture SessionAwareAdapter's own 60 s eviction timer, to run it now
    const realSetInterval = global.setInterval;
    let evict = null;
    global.setInterval = (fn, ms, ...rest) => {
      if (ms === 60 * 1000) evict = fn;
      return realSetInterval(fn, ms, ...rest);
    };
    let server;
    try {
      server = await h.server({ adapter: null, ...csr(300) });
    } finally {
      global.setInterval = realSetInterval;
    }
    const { io, port } = server;
    expect(io.of('/').adapter.constructor.name).toBe('SessionAwareAdapter');
    expect(typeof evict).toBe('function');
    io.on('connection', (s) => {
      if (!s.recovered) s.join('room');
    });
    const { socket, inbox } = await h.connected(port);
    await tick();
    io.to('room').emit('one', 1);
    await inbox.count(1, 'one');
    for (let i = 0; i < 3; i++) io.to('elsewhere').emit('other', i);
    await sleep(700);
    evict();
    await dropTransport(socket);
    io.to('room').emit('missed', 2);
    expect(await reconnect(socket)).toBe(false);
    await tick();
    expect(inbox.named('missed')).toHaveLength(0);
  });
});
