'use strict';

// Helpers of the test/redis tests: server processes (cluster_server.js) over a real
// redis-server, a TCP front (a load balancer in miniature) that can send a client's next
// connection to another node, and condition waits. Every wait is event-driven or a polled
// condition with a generous timeout; nothing asserts on timing.

const net = require('node:net');
const path = require('node:path');
const { fork } = require('node:child_process');
const { EventEmitter } = require('node:events');

const TIMEOUT = 20000;
const SERVER = path.join(__dirname, 'cluster_server.js');

// Resolves when `check()` (sync or async) returns a truthy value; re-checked every `everyMs`.
async function waitFor(check, what, timeout = TIMEOUT, everyMs = 20) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await check();
    } catch (err) {
      last = err;
    }
    if (last && !(last instanceof Error)) return last;
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

class Node extends EventEmitter {
  constructor(name, child) {
    super();
    this.name = name;
    this.child = child;
    this.port = null;
    this.states = [];
    this._id = 0;
    this._calls = new Map();
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.on('message', (m) => {
      if (m.listening) {
        this.port = m.listening;
        this.emit('listening');
      } else if (m.event === 'cluster-state') {
        this.states.push(m.state);
        this.emit('cluster-state', m.state);
      } else if (m.id !== undefined) {
        const c = this._calls.get(m.id);
        if (!c) return;
        this._calls.delete(m.id);
        if (m.error !== undefined) c.reject(new Error(`${this.name}: ${m.error}`));
        else c.resolve(m.result);
      }
    });
    child.once('exit', () => {
      for (const c of this._calls.values()) c.reject(new Error(`${this.name} exited`));
      this._calls.clear();
    });
  }

  call(op, args = {}) {
    const id = ++this._id;
    return new Promise((resolve, reject) => {
      this._calls.set(id, { resolve, reject });
      this.child.send({ ...args, id, op });
    });
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  async close() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    let timer;
    try {
      await Promise.race([this.call('close'), new Promise((r) => { timer = setTimeout(r, 5000); })]);
    } catch {
      // gone already
    } finally {
      clearTimeout(timer);
    }
    await this.kill();
  }
}

// -> a Node whose server listens
async function startNode(name, { redisUrl, impl = 'native', client = 'ioredis', env = {} }) {
  const child = fork(SERVER, [name], {
    env: { ...process.env, RT_IMPL: impl, RT_CLIENT: client, RT_REDIS_URL: redisUrl, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const node = new Node(name, child);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), TIMEOUT);
    node.once('listening', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)));
  });
  return node;
}

// Waits until every node counts `n` servers.
function serverCounts(nodes, n, nsp) {
  return waitFor(async () => {
    const counts = await Promise.all(nodes.map((x) => x.call('serverCount', { nsp })));
    return counts.every((c) => c === n);
  }, `serverCount ${n} on ${nodes.map((x) => x.name)}`);
}

// A TCP front: every new connection goes to the current target port; dropAll() closes the
// connections it carries (the client sees its transport close, as when a node goes away).
async function startFront(targetPort) {
  let target = targetPort;
  let refusing = false;
  const pairs = new Set();
  const server = net.createServer((inbound) => {
    if (refusing) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(target, '127.0.0.1');
    const pair = [inbound, outbound];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    setTarget(port) {
      target = port;
    },
    dropAll() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    // drop every connection and refuse new ones (the target is unreachable) until resume()
    pause() {
      refusing = true;
      this.dropAll();
    },
    resume() {
      refusing = false;
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startNode, startFront, serverCounts, waitFor, TIMEOUT };
