'use strict';

// A real redis-server for a test: started on a free loopback port with no persistence, stopped
// (and restartable on the same port, to test an outage) by the test. CI starts none itself.
const { spawn } = require('node:child_process');
const net = require('node:net');

const READY = /Ready to accept connections/;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function launch(port) {
  return new Promise((resolve, reject) => {
    const proc = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--protected-mode', 'no', '--loglevel', 'notice',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      if (READY.test(out)) {
        proc.stdout.off('data', onData);
        proc.stdout.resume();
        resolve(proc);
      }
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (chunk) => { out += chunk; });
    proc.once('error', reject);
    proc.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${out}`)));
  });
}

function stopProc(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

// -> { port, url, stop(), start() }: start() (re)starts it on the same port after a stop()
async function startRedis() {
  const port = await freePort();
  let proc = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() { return proc !== null; },
    async stop() {
      await stopProc(proc);
      proc = null;
    },
    async start() {
      if (proc) return;
      proc = await launch(port);
    },
  };
}

module.exports = { startRedis, freePort };
