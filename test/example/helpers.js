'use strict';

// Runs the example server (examples/realtime-server/main.js) as a child process for tests:
// PORT=0, a fresh temporary DATA_DIR, a known JWT_SECRET; resolves once it printed its listening
// line. Every wait is event-driven with a generous timeout; nothing asserts on timing.
//
//   const ex = await startExample({ env: { RT_IMPLEMENTATION: 'js' }, args: ['--devices', '0'] });
//   const token = ex.token({ sub: 'alice', org: 'acme', role: 'editor' });
//   ...
//   await ex.stop();
//
// Also: connect(url, { token, clientId, ...socket.io-client options }) -> a connected socket with
// an Inbox (socket.inbox), request(url, { method, token, body }) -> { status, body, headers },
// waitUntil(predicate) for conditions no event announces.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');

const REPO = path.resolve(__dirname, '..', '..');
const MAIN = path.join(REPO, 'examples', 'realtime-server', 'main.js');
const JWT_SECRET = 'example-test-secret-0123456789';
const START_TIMEOUT = 30000;
const STOP_TIMEOUT = 15000;
const LISTENING = /realtime-server listening on (http:\/\/\S+)/;
const EXAMPLE_VARIABLES = ['PORT', 'HOST', 'DEVICES', 'SIM_INTERVAL_MS', 'SIM_SEED', 'JWT_SECRET', 'DATA_DIR', 'RT_IMPLEMENTATION', 'DEMO_LOGIN'];

/**
 * options:
 * - env: extra environment variables (they win over the defaults below)
 * - args: command-line arguments
 * - dataDir: use this DATA_DIR and keep it on stop (to restart on the same data); default: a
 *   fresh temporary directory, removed on stop
 * -> { url, port, dataDir, child, exited (Promise of { code, signal }), secret, output() (what it
 *   printed so far), token(claims, options), stop({ signal }) }
 */
async function startExample({ env = {}, args = [], dataDir } = {}) {
  const ownDir = dataDir === undefined;
  const dir = ownDir ? fs.mkdtempSync(path.join(os.tmpdir(), 'rt-example-')) : dataDir;
  // the example's own variables of this shell never leak into a test
  const inherited = { ...process.env };
  for (const name of EXAMPLE_VARIABLES) delete inherited[name];
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: REPO,
    env: { ...inherited, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, JWT_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s) => {
    stderr += s;
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const output = () => `--- stdout\n${stdout}--- stderr\n${stderr}`;

  let url;
  try {
    url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`example did not start within ${START_TIMEOUT} ms\n${output()}`)), START_TIMEOUT);
      const check = () => {
        const m = LISTENING.exec(stdout);
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', check);
      check();
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`example exited (code ${code}, signal ${signal}) before listening\n${output()}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = null;
  return {
    url,
    port: Number(new URL(url).port),
    dataDir: dir,
    child,
    exited,
    output,
    secret: JWT_SECRET,
    // an HS256 token of the test secret; claims default to alice, editor of acme
    token(claims = {}, options = {}) {
      return jwt.sign({ sub: 'alice', org: 'acme', role: 'editor', ...claims }, JWT_SECRET, { algorithm: 'HS256', expiresIn: '1h', ...options });
    },
    // SIGTERM (graceful shutdown), SIGKILL if it does not exit in time; -> { code, signal }
    stop({ signal = 'SIGTERM' } = {}) {
      if (!stopped) {
        stopped = (async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT);
          const result = await exited;
          clearTimeout(timer);
          if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
          return result;
        })();
      }
      return stopped;
    },
  };
}

const WAIT_TIMEOUT = 15000;

// Resolves once `predicate()` is truthy (checked every `intervalMs`); rejects after `timeout`
// with what was waited for. For conditions that no event announces.
async function waitUntil(predicate, what = 'a condition', { timeout = WAIT_TIMEOUT, intervalMs = 10 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Everything a socket.io-client socket receives, in order: [[event, ...args], ...] (an
// acknowledgement callback of the server stays in the list as the last argument), with waits
// woken by each arrival.
class Inbox {
  constructor(socket) {
    this.socket = socket;
    this.events = [];
    this.waiters = new Set();
    socket.onAny((...args) => {
      this.events.push(args);
      for (const w of [...this.waiters]) w();
    });
  }

  // payloads (first argument) of one event, in arrival order
  named(event) {
    return this.events.filter((e) => e[0] === event).map((e) => e[1]);
  }

  // resolves with predicate(events)'s truthy result
  until(predicate, what = 'a condition', timeout = WAIT_TIMEOUT) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let value;
        try {
          value = predicate(this.events);
        } catch (err) {
          done();
          reject(err);
          return;
        }
        if (value) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; got ${JSON.stringify(this.events).slice(0, 600)}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  // resolves with the first payload of `event` that passes `filter`
  next(event, filter = () => true, timeout) {
    return this.until((evs) => {
      const hit = evs.find((e) => e[0] === event && filter(e[1]));
      return hit ? { value: hit[1], args: hit.slice(1) } : null;
    }, `"${event}"`, timeout).then((r) => r.value);
  }

  clear() {
    this.events = [];
  }
}

// A socket.io-client socket on the example (websocket only, no automatic reconnection unless
// asked), with an Inbox as `socket.inbox`; resolves once connected, rejects with the
// connect_error. `token` null sends no token.
function connect(url, { token, clientId, auth, ...options } = {}) {
  const { io } = require('socket.io-client');
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: auth || { ...(token === null || token === undefined ? {} : { token }), ...(clientId ? { clientId } : {}) },
    ...options,
  });
  socket.inbox = new Inbox(socket);
  return new Promise((resolve, reject) => {
    // only the first connection is waited for: later reconnections are the caller's
    const done = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    const onConnect = () => {
      done();
      resolve(socket);
    };
    const onError = (err) => {
      done();
      socket.close();
      reject(err);
    };
    const timer = setTimeout(() => {
      done();
      socket.close();
      reject(new Error('timed out connecting'));
    }, WAIT_TIMEOUT);
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

// HTTP with an optional Bearer token and JSON body -> { status, body } (body parsed when JSON)
async function request(url, { method = 'GET', token, body, rawBody, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    h['content-type'] = h['content-type'] || 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed = text;
  if ((res.headers.get('content-type') || '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, body: parsed, headers: res.headers };
}

module.exports = { startExample, waitUntil, Inbox, connect, request, JWT_SECRET, MAIN, REPO };
