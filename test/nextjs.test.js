'use strict';

// examples/nextjs as a user builds it: `npm pack` of this checkout installed (with next, react
// and react-dom) into a copy of the example, with no compiler on PATH so the prebuilt binary is
// what loads; `next build`, then `next start`. Over HTTP: the merge3 route handler and the
// DocumentStore route; in Chromium: the page's form and its server action merging an edit made
// on an old version. And the build kept the addon external: no .node file in .next/, the server
// output imports realtime-core from node_modules, and the running server mapped the binary from
// node_modules/realtime-core/prebuilds/.
//
// No timing assertions, no sleeps: each step waits for a condition (a log line, a DOM state);
// the timeouts are generous bounds for a cold npm install and build on a 2-core machine.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { ROOT, npm, packPackage, noCompilerPath, tempProject } = require('./helpers/pack');

const EXAMPLE = path.join(ROOT, 'examples', 'nextjs');
const CHROMIUM = '/usr/bin/chromium';
const SETUP_TIMEOUT = 10 * 60 * 1000;
const WAIT = { timeout: 60000 };

jest.setTimeout(5 * 60 * 1000);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Runs `next <args>` in `cwd`; resolves with its output when it exits with 0.
function runNext(cwd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(cwd, 'node_modules', 'next', 'dist', 'bin', 'next'), ...args], { cwd, env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`next ${args.join(' ')} exited with ${code ?? signal}:\n${out}`));
    });
  });
}

// Starts `next start` and resolves once it says it is ready (or rejects if it exits first).
function startNext(cwd, port, env) {
  const child = spawn(
    process.execPath,
    [path.join(cwd, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', String(port), '-H', '127.0.0.1'],
    { cwd, env },
  );
  const server = { child, output: '', exited: null };
  server.exitedPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      server.exited = { code, signal };
      resolve(server.exited);
    });
  });
  server.ready = new Promise((resolve, reject) => {
    const onData = (d) => {
      server.output += d;
      if (/Ready in/.test(server.output)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    server.exitedPromise.then(({ code, signal }) => reject(new Error(`next start exited with ${code ?? signal} before it was ready:\n${server.output}`)));
  });
  return server;
}

async function stopNext(server) {
  if (!server || server.exited) return;
  server.child.kill('SIGTERM');
  await server.exitedPromise;
}

// Every file under `dir`, not following symbolic links (Turbopack links .next/node_modules/<pkg>-<hash>
// to the installed package; what the build itself wrote is what is checked here).
function walk(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

// The process and its descendants (Linux /proc), to find the one that mapped the addon.
function processTree(pid) {
  const children = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]) || []));
  return all;
}

async function http(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('examples/nextjs: realtime-core in a Next.js app (packed tarball, next build + next start)', () => {
  const examplePkg = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'package.json'), 'utf8'));
  let dir;
  let server;
  let base;
  let browser;
  let buildOutput;

  beforeAll(async () => {
    // the example as a project of its own, without its in-repo `file:../..` link (the tarball replaces it)
    const deps = { ...examplePkg.dependencies };
    delete deps['realtime-core'];
    dir = tempProject('rt-nextjs-', { ...examplePkg, dependencies: {} });
    fs.cpSync(EXAMPLE, dir, {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(EXAMPLE, src);
        return rel !== 'package.json' && rel !== 'package-lock.json' && !/^(node_modules|\.next)(\/|$)/.test(rel);
      },
    });
    const { tarball } = packPackage(dir);
    const nodeOnly = noCompilerPath(dir);
    npm(['install', '--no-audit', '--no-fund', ...Object.entries(deps).map(([n, v]) => `${n}@${v}`), tarball], {
      cwd: dir,
      env: { PATH: nodeOnly },
    });
    // nothing was compiled: the package has no build/ directory, only its prebuilt binary
    expect(fs.existsSync(path.join(dir, 'node_modules', 'realtime-core', 'build'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'node_modules', 'realtime-core', 'prebuilds', `${process.platform}-${process.arch}`))
      .some((f) => f.endsWith('.node'))).toBe(true);

    const env = { ...process.env, PATH: nodeOnly, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' };
    delete env.REALTIME_CORE_IMPLEMENTATION;
    buildOutput = await runNext(dir, ['build'], env);
    const port = await freePort();
    server = startNext(dir, port, env);
    await server.ready;
    base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    if (browser) await browser.close();
    await stopNext(server);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60000);

  test('it built with the installed next and react versions', () => {
    const next = require(path.join(dir, 'node_modules', 'next', 'package.json'));
    const react = require(path.join(dir, 'node_modules', 'react', 'package.json'));
    expect(next.version).toMatch(/^16\./);
    expect(react.version).toMatch(/^19\./);
    expect(buildOutput).toContain(`Next.js ${next.version}`);
    expect(buildOutput).toMatch(/ƒ \/api\/merge/);
  });

  test('POST /api/merge: merge3 on the native addon', async () => {
    const res = await http(base, 'POST', '/api/merge', {
      base: { name: 'Lobby', volume: 5, tags: ['a'] },
      local: { name: 'Hall', volume: 3, tags: ['a'] },
      remote: { name: 'Lobby', volume: 9, tags: ['a', 'b'] },
    });
    expect(res).toEqual({
      status: 200,
      body: {
        doc: { name: 'Hall', volume: 9, tags: ['a', 'b'] },
        conflicts: [{ path: '/volume', base: 5, local: 3, remote: 9, resolved: 9, winner: 'remote' }],
        implementation: 'native',
      },
    });
    const clientWins = await http(base, 'POST', '/api/merge', {
      base: { volume: 5 }, local: { volume: 3 }, remote: { volume: 9 }, strategy: 'client-wins',
    });
    expect(clientWins.body).toEqual({
      doc: { volume: 3 },
      conflicts: [{ path: '/volume', base: 5, local: 3, remote: 9, resolved: 3, winner: 'local' }],
      implementation: 'native',
    });
    const bad = await http(base, 'POST', '/api/merge', { base: {}, local: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('ERR_BAD_REQUEST');
  });

  test('the DocumentStore route and the page\'s server action share one store; an edit of an old version is merged', async () => {
    const initial = { name: 'Lobby', volume: 5, items: [{ id: 1, title: 'Intro' }] };
    expect(await http(base, 'GET', '/api/playlists/42')).toEqual({ status: 200, body: { id: 'playlist:42', version: 1, doc: initial } });

    // the page renders version 1 and hydrates
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err));
    await page.goto(`${base}/`);
    expect(await page.locator('[data-testid="implementation"]').textContent()).toBe('native');
    expect(JSON.parse(await page.locator('[data-testid="current"]').textContent())).toEqual(initial);
    await page.waitForFunction(() => {
      const form = document.querySelector('form');
      return form && Object.keys(form).some((k) => k.startsWith('__reactFiber$'));
    }, null, WAIT);

    // meanwhile another client changes the volume through the route handler: version 2
    expect(await http(base, 'POST', '/api/playlists/42', {
      baseVersion: 1, patch: [{ op: 'replace', path: '/volume', value: 9 }], clientId: 'tablet-1', mutationId: 1,
    })).toEqual({ status: 200, body: { status: 'applied', version: 2, delta: { volume: 9 }, conflicts: [] } });
    // a replay of the same mutation is recognised
    expect((await http(base, 'POST', '/api/playlists/42', {
      baseVersion: 1, patch: [{ op: 'replace', path: '/volume', value: 9 }], clientId: 'tablet-1', mutationId: 1,
    })).body.status).toBe('duplicate');

    // the form, still on version 1, renames and sets the volume: the server action merges it
    await page.getByLabel('Name').fill('Hall');
    await page.getByLabel('Volume').fill('3');
    const actionCall = page.waitForResponse((r) => r.request().method() === 'POST' && r.request().headers()['next-action'] !== undefined, WAIT);
    await page.getByRole('button', { name: /Save/ }).click();
    expect((await actionCall).status()).toBe(200);
    await page.waitForSelector('[data-testid="result"]', WAIT);
    expect(JSON.parse(await page.locator('[data-testid="result"]').textContent())).toEqual({
      status: 'merged',
      version: 3,
      delta: { name: 'Hall' },
      conflicts: [{ path: '/volume', base: 5, local: 3, remote: 9, resolved: 9, winner: 'remote' }],
    });
    const merged = { name: 'Hall', volume: 9, items: [{ id: 1, title: 'Intro' }] };
    expect(JSON.parse(await page.locator('[data-testid="merged"]').textContent())).toEqual({ id: 'playlist:42', version: 3, doc: merged });
    expect(await page.locator('h2').textContent()).toContain('(native)');
    // revalidatePath('/') re-rendered the page from the store
    await page.waitForFunction((doc) => document.querySelector('[data-testid="current"]').textContent === doc, JSON.stringify(merged), WAIT);
    expect(await http(base, 'GET', '/api/playlists/42')).toEqual({ status: 200, body: { id: 'playlist:42', version: 3, doc: merged } });
    expect(pageErrors).toEqual([]);
    await page.close();

    // a stale mutation the store cannot apply: 409 with the store's result
    const rejected = await http(base, 'POST', '/api/playlists/42', { baseVersion: 3, patch: [{ op: 'remove', path: '/nope' }], clientId: 'tablet-1', mutationId: 2 });
    expect(rejected.status).toBe(409);
    expect(rejected.body.status).toBe('rejected');
  });

  test('the addon was not bundled: no .node in .next/, the server imports realtime-core from node_modules and maps its prebuilt binary', () => {
    const built = walk(path.join(dir, '.next'));
    expect(built.filter((f) => f.endsWith('.node'))).toEqual([]);

    // the server chunks load realtime-core as an external module (by name, or by Turbopack's
    // hashed alias in .next/node_modules, a link to node_modules/realtime-core), and none holds
    // the package's own loader code
    const serverJs = built.filter((f) => f.startsWith(path.join(dir, '.next', 'server')) && f.endsWith('.js'));
    const sources = serverJs.map((f) => fs.readFileSync(f, 'utf8'));
    const externalRefs = new Set();
    for (const src of sources) {
      for (const m of src.matchAll(/(?:require|import|\.y|\.x)\(\s*["'](realtime-core(?:-[0-9a-f]+)?)["']/g)) externalRefs.add(m[1]);
    }
    expect(externalRefs.size).toBeGreaterThan(0);
    for (const ref of externalRefs) {
      const resolved = ref === 'realtime-core'
        ? require.resolve('realtime-core/package.json', { paths: [dir] })
        : path.join(fs.realpathSync(path.join(dir, '.next', 'node_modules', ref)), 'package.json');
      expect(fs.realpathSync(resolved)).toBe(fs.realpathSync(path.join(dir, 'node_modules', 'realtime-core', 'package.json')));
    }
    expect(sources.some((s) => s.includes('ERR_RT_ADDON_LOAD') || s.includes('node-gyp-build'))).toBe(false);

    // the running server loaded the prebuilt binary from the installed package
    const binary = fs.realpathSync(path.join(dir, 'node_modules', 'realtime-core', 'prebuilds', `${process.platform}-${process.arch}`));
    const mapped = processTree(server.child.pid).flatMap((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith('.node')).map((l) => l.split(/\s+/).pop());
      } catch {
        return [];
      }
    });
    expect(mapped.some((f) => path.dirname(f) === binary)).toBe(true);
    expect(mapped.every((f) => !f.startsWith(path.join(dir, '.next')))).toBe(true);
  });
});
