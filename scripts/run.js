#!/usr/bin/env node
'use strict';

// One entry point for the README's commands, so they work from a clean clone:
//   node scripts/run.js test    everything: Jest on both implementations, GoogleTest plain and
//                               under ASan+UBSan, and short deterministic libFuzzer runs
//   node scripts/run.js fuzz    the libFuzzer runs only
//   node scripts/run.js gtest   GoogleTest only (plain, ASan+UBSan, and the queue log under TSan)
//   node scripts/run.js jest    Jest only
//   node scripts/run.js start   the main job: the example realtime server (examples/realtime-server)
//   node scripts/run.js bench   the benchmark
//   node scripts/run.js setup   only the set-up: system packages, npm ci, the addon build, the prebuild
// Set-up happens inside: missing system packages are installed with apt-get when running as
// root, otherwise the exact command is printed; node_modules is installed with `npm ci`;
// the addon is (re)built when its sources changed.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const SYSTEM_NEEDS = [
  { file: '/usr/include/nlohmann/json.hpp', pkg: 'nlohmann-json3-dev' },
  { file: '/usr/include/boost/lockfree/spsc_queue.hpp', pkg: 'libboost-dev' },
  { bin: 'g++', pkg: 'g++' },
  { bin: 'make', pkg: 'make' },
  { bin: 'python3', pkg: 'python3' },
];
const GTEST_NEEDS = [
  { bin: 'cmake', pkg: 'cmake' },
  { file: '/usr/include/gtest/gtest.h', pkg: 'libgtest-dev' },
];
const FUZZ_NEEDS = [
  { bin: 'clang++', pkg: 'clang' },
  { file: '/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a', pkg: 'libclang-rt-14-dev' },
];
// What Jest's end-to-end tests start: Debian's chromium (the dashboard's and the Next.js
// example's browser tests) and redis-server (the scale-out tests start their own on a free port).
const E2E_NEEDS = [{ bin: 'chromium', pkg: 'chromium' }, { bin: 'redis-server', pkg: 'redis-server' }];
// Deterministic fuzz runs (fixed seed and run count) so a CI failure can be replayed exactly.
const FUZZ_RUNS = { fuzz_json: 600000, fuzz_patch: 200000, fuzz_store: 100000, fuzz_queue_log: 80000, fuzz_optimistic: 40000, fuzz_fanout: 120000 };

function log(msg) {
  process.stdout.write(`[realtime-core] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (res.error) throw res.error;
  return res.status === null ? 1 : res.status;
}

function must(cmd, args, opts) {
  const status = run(cmd, args, opts);
  if (status !== 0) {
    log(`failed (exit ${status}): ${[cmd, ...args].join(' ')}`);
    process.exit(status);
  }
}

function hasBin(name) {
  const res = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  return res.status === 0;
}

function missingPackages(needs) {
  return needs.filter((n) => (n.file ? !fs.existsSync(n.file) : !hasBin(n.bin))).map((n) => n.pkg);
}

function ensureSystemPackages(needs) {
  const missing = missingPackages(needs);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !hasBin('apt-get')) {
    log(`missing system packages: ${missing.join(' ')}`);
    log(`run this, then try again:\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  must('apt-get', ['update'], { env });
  must('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function ensureNodeModules() {
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  if (mtime(installed) >= mtime(lock) && mtime(installed) >= mtime(path.join(ROOT, 'package.json'))) return;
  // npm ci also runs our install script, which builds the addon.
  must(NPM, ['ci', '--no-audit', '--no-fund']);
}

function newestSource() {
  const files = [path.join(ROOT, 'binding.gyp'), path.join(ROOT, 'native', 'sources.json')];
  for (const dir of ['native/core', 'native/addon']) {
    for (const f of fs.readdirSync(path.join(ROOT, dir))) files.push(path.join(ROOT, dir, f));
  }
  return Math.max(...files.map(mtime));
}

function ensureAddon() {
  const addon = path.join(ROOT, 'build', 'Release', 'realtime_core.node');
  const configured = path.join(ROOT, 'build', 'config.gypi');
  if (mtime(addon) >= newestSource()) return;
  const reconfigure =
    mtime(configured) < mtime(path.join(ROOT, 'binding.gyp')) ||
    mtime(configured) < mtime(path.join(ROOT, 'native', 'sources.json'));
  // `npm run` hands npm's own node-gyp and its nodedir setting to the build.
  must(NPM, ['run', reconfigure ? 'build' : 'build:incremental']);
}

// The stripped N-API binary `npm pack` ships (prebuilds/linux-x64/, made by prebuildify; see
// docs/releasing.md); the packaging and Next.js tests install the packed tarball. prebuildify
// rebuilds build/ and strips the binary it copies, so the local build is relinked after it.
function ensurePrebuild() {
  const dir = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const have = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (have.length > 0 && Math.min(...have.map((f) => mtime(path.join(dir, f)))) >= newestSource()) return;
  must(NPM, ['run', 'prebuild']);
  must(NPM, ['run', 'build:incremental']);
}

function setup({ gtest, fuzz = false, e2e = false, prebuild = false }) {
  ensureSystemPackages([
    ...SYSTEM_NEEDS,
    ...(gtest ? GTEST_NEEDS : []),
    ...(fuzz ? FUZZ_NEEDS : []),
    ...(e2e ? E2E_NEEDS : []),
  ]);
  ensureNodeModules();
  ensureAddon();
  if (prebuild) ensurePrebuild();
}

function runJest(summary) {
  const report = path.join(ROOT, 'build', 'jest-report.json');
  fs.mkdirSync(path.dirname(report), { recursive: true });
  const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const status = run(process.execPath, [jest, '--ci', '--json', `--outputFile=${report}`, ...process.argv.slice(3)]);
  try {
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    summary.passed += r.numPassedTests;
    summary.failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  } catch {
    summary.failed += 1;
  }
  return status;
}

function runGtest(summary, { sanitize }) {
  const dir = path.join(ROOT, sanitize ? 'build-asan' : 'build-cmake');
  const configure = [
    '-S', ROOT, '-B', dir,
    '-DCMAKE_BUILD_TYPE=' + (sanitize ? 'Debug' : 'RelWithDebInfo'),
    '-DRTC_SANITIZE=' + (sanitize ? 'ON' : 'OFF'),
  ];
  must('cmake', configure);
  must('cmake', ['--build', dir, '-j', String(Math.max(2, require('node:os').availableParallelism()))]);
  const res = spawnSync('ctest', ['--test-dir', dir, '--output-on-failure', '-j', '2'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
  });
  process.stdout.write(res.stdout || '');
  process.stderr.write(res.stderr || '');
  const m = /(\d+)% tests passed, (\d+) tests failed out of (\d+)/.exec(res.stdout || '');
  if (m) {
    summary.passed += Number(m[3]) - Number(m[2]);
    summary.failed += Number(m[2]);
  } else if (res.status !== 0) {
    summary.failed += 1;
  }
  return res.status === null ? 1 : res.status;
}

// The durable queue log's threads under ThreadSanitizer (gcc, Debug): only its own test binary
// (rtcore_queue_log_tests: queue_log.cpp + its tests), in build-tsan, so it stays short.
function runTsan(summary) {
  const dir = path.join(ROOT, 'build-tsan');
  must('cmake', ['-S', ROOT, '-B', dir, '-DCMAKE_BUILD_TYPE=Debug', '-DRTC_TSAN=ON', '-DRTC_SANITIZE=OFF']);
  must('cmake', ['--build', dir, '--target', 'rtcore_queue_log_tests', '-j',
    String(Math.max(2, require('node:os').availableParallelism()))]);
  const res = spawnSync(path.join(dir, 'rtcore_queue_log_tests'), ['--gtest_filter=QueueLog*', '--gtest_brief=1'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1' },
  });
  process.stdout.write(res.stdout || '');
  process.stderr.write(res.stderr || '');
  const passed = /\[  PASSED  \] (\d+) test/.exec(res.stdout || '');
  const failed = /\[  FAILED  \] (\d+) test/.exec(res.stdout || '');
  if (passed) summary.passed += Number(passed[1]);
  if (failed) summary.failed += Number(failed[1]);
  // A TSan report (exit 66) or a crash without a gtest summary still counts as a failure.
  if (res.status !== 0 && !failed) summary.failed += 1;
  if (res.status !== 0) log(`TSan run failed (exit ${res.status === null ? res.signal : res.status})`);
  return res.status === null ? 1 : res.status;
}

function runFuzz(summary) {
  const dir = path.join(ROOT, 'build-fuzz');
  must('cmake', ['-S', ROOT, '-B', dir, '-DCMAKE_CXX_COMPILER=clang++', '-DRTC_FUZZ=ON', '-DRTC_BUILD_TESTS=OFF',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
  must('cmake', ['--build', dir, '-j', String(Math.max(2, require('node:os').availableParallelism()))]);
  let status = 0;
  for (const [target, runs] of Object.entries(FUZZ_RUNS)) {
    const kind = target.replace('fuzz_', '');
    // libFuzzer adds what it finds to the first corpus folder: give it a scratch copy.
    const corpus = fs.mkdtempSync(path.join(require('node:os').tmpdir(), `rt-${kind}-`));
    fs.cpSync(path.join(ROOT, 'native', 'fuzz', 'corpus', kind), corpus, { recursive: true });
    const code = run(path.join(dir, target), [
      '-seed=1', `-runs=${runs}`, '-max_len=4096', '-timeout=20', '-rss_limit_mb=4096',
      `-artifact_prefix=${dir}/`, '-print_final_stats=1', corpus,
    ]);
    fs.rmSync(corpus, { recursive: true, force: true });
    if (code === 0) summary.passed += 1;
    else {
      summary.failed += 1;
      status = code;
      log(`${target} found a failing input: see ${dir}/crash-* (replay: ${path.join(dir, target)} <file>)`);
    }
  }
  return status;
}

function main() {
  const cmd = process.argv[2] || 'test';
  const summary = { passed: 0, failed: 0 };
  let status = 0;
  switch (cmd) {
    case 'setup':
      setup({ gtest: true, prebuild: true });
      return 0;
    case 'start':
      setup({ gtest: false });
      return run(process.execPath, [path.join(ROOT, 'examples', 'realtime-server', 'main.js'), ...process.argv.slice(3)]);
    case 'bench':
      setup({ gtest: false });
      return run(process.execPath, [path.join(ROOT, 'benchmarks', 'run.js'), ...process.argv.slice(3)]);
    case 'jest':
      setup({ gtest: false, e2e: true, prebuild: true });
      status = runJest(summary);
      break;
    case 'gtest':
      setup({ gtest: true });
      status = runGtest(summary, { sanitize: false }) || status;
      status = runGtest(summary, { sanitize: true }) || status;
      status = runTsan(summary) || status;
      break;
    case 'fuzz':
      setup({ gtest: true, fuzz: true });
      status = runFuzz(summary);
      break;
    case 'test':
      setup({ gtest: true, fuzz: true, e2e: true, prebuild: true });
      status = runJest(summary) || status;
      status = runGtest(summary, { sanitize: false }) || status;
      status = runGtest(summary, { sanitize: true }) || status;
      status = runTsan(summary) || status;
      status = runFuzz(summary) || status;
      break;
    default:
      log(`unknown command "${cmd}" (start, test, jest, gtest, fuzz, bench, setup)`);
      return 2;
  }
  if (status !== 0 && summary.failed === 0) summary.failed = 1;
  process.stdout.write(`\ntotal: ${summary.passed} passed, ${summary.failed} failed\n`);
  return summary.failed > 0 ? 1 : status;
}

process.exitCode = main();
