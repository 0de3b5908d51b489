'use strict';

// The server's settings from the environment and the command line (flags win over variables).
// Every value is checked here, so a typo stops the start with a clear message instead of running
// with a default nobody asked for.

const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const DEV_SECRET = 'realtime-server-development-secret';

const DEFAULTS = {
  port: 3000,
  host: '127.0.0.1',
  devices: 12,
  simIntervalMs: 1000,
  jwtSecret: null,
  dataDir: path.join(REPO, '.data', 'realtime-server'),
  implementation: 'native',
  demoLogin: true,
  seed: null,
};

// flag -> [option, environment variable]
const FLAGS = {
  '--port': ['port', 'PORT'],
  '--host': ['host', 'HOST'],
  '--devices': ['devices', 'DEVICES'],
  '--sim-interval-ms': ['simIntervalMs', 'SIM_INTERVAL_MS'],
  '--data-dir': ['dataDir', 'DATA_DIR'],
  '--implementation': ['implementation', 'RT_IMPLEMENTATION'],
  '--seed': ['seed', 'SIM_SEED'],
};
const ENV_ONLY = { jwtSecret: 'JWT_SECRET', demoLogin: 'DEMO_LOGIN' };

class ConfigError extends Error {}

function integer(value, name, min, max) {
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) throw new ConfigError(`${name} must be an integer, got "${value}"`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function flag(value, name) {
  const text = String(value).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(`${name} must be 1 or 0, got "${value}"`);
}

// Raw strings (or values given to startServer) -> checked settings.
function normalize(raw) {
  const o = { ...DEFAULTS };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null && v !== '') o[k] = v;
  const out = {
    port: integer(o.port, 'PORT', 0, 65535),
    host: String(o.host),
    devices: integer(o.devices, 'DEVICES', 0, 100000),
    simIntervalMs: integer(o.simIntervalMs, 'SIM_INTERVAL_MS', 0, 3600000),
    jwtSecret: o.jwtSecret === null ? null : String(o.jwtSecret),
    dataDir: path.resolve(String(o.dataDir)),
    implementation: String(o.implementation),
    demoLogin: typeof o.demoLogin === 'boolean' ? o.demoLogin : flag(o.demoLogin, 'DEMO_LOGIN'),
    seed: o.seed === null ? null : integer(o.seed, 'SIM_SEED', 0, 2 ** 32 - 1),
  };
  if (out.host.length === 0) throw new ConfigError('HOST must not be empty');
  if (!['native', 'js'].includes(out.implementation)) {
    throw new ConfigError(`RT_IMPLEMENTATION must be "native" or "js", got "${out.implementation}"`);
  }
  if (out.jwtSecret !== null && out.jwtSecret.length < 8) throw new ConfigError('JWT_SECRET must have at least 8 characters');
  return out;
}

// argv (without node and the script) + env -> settings; `--flag value` and `--flag=value`.
function parseConfig(argv = process.argv.slice(2), env = process.env) {
  const raw = {};
  for (const [option, name] of Object.entries({ ...Object.fromEntries(Object.values(FLAGS)), ...ENV_ONLY })) {
    if (env[name] !== undefined) raw[option] = env[name];
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name === '--help' || name === '-h') return { help: true };
    const entry = FLAGS[name];
    if (!entry) throw new ConfigError(`unknown argument "${arg}" (try --help)`);
    let value;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else throw new ConfigError(`${name} needs a value`);
    raw[entry[0]] = value;
  }
  return normalize(raw);
}

const USAGE = `usage: node examples/realtime-server/main.js [options]
  --port N             PORT             (default 3000; 0 picks a free port)
  --host ADDR          HOST             (default 127.0.0.1)
  --devices N          DEVICES          simulated devices (default 12; 0 turns the simulator off)
  --sim-interval-ms N  SIM_INTERVAL_MS  simulator tick (default 1000; 0 pauses it)
  --data-dir DIR       DATA_DIR         durable offline queue and recovery log (default .data/realtime-server)
  --implementation X   RT_IMPLEMENTATION native | js (default native)
  --seed N             SIM_SEED         the simulator's random seed (default: random)
                       JWT_SECRET       HS256 secret of the tokens (default: a development secret)
                       DEMO_LOGIN       1 | 0: GET /api/demo-token (default 1)`;

module.exports = { parseConfig, normalize, ConfigError, DEFAULTS, DEV_SECRET, USAGE, REPO };
