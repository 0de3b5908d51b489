'use strict';

// node examples/realtime-server/main.js [--port N] [--devices N] ...  (npm start -- ...)
// Prints `realtime-server listening on http://HOST:PORT` once it accepts connections; SIGINT or
// SIGTERM shut it down gracefully (a second signal exits at once).

const { parseConfig, ConfigError, USAGE } = require('./config');
const { startServer } = require('./server');

async function main() {
  let config;
  try {
    config = parseConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`realtime-server: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (config.help) {
    console.log(USAGE);
    return;
  }
  const server = await startServer(config);
  const { settings } = server;
  console.log(`realtime-server listening on ${server.url}`);
  console.error(
    `  implementation ${settings.implementation}, ${settings.devices} devices` +
      `${settings.devices > 0 && settings.simIntervalMs > 0 ? ` (tick ${settings.simIntervalMs} ms)` : ''}, data in ${settings.dataDir}` +
      `${settings.demoLogin ? `\n  dashboard: ${server.url}/?org=acme&user=alice` : ''}`,
  );

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) {
      console.error(`realtime-server: ${signal} again, exiting now`);
      process.exit(130);
    }
    stopping = true;
    console.error(`realtime-server: ${signal}, shutting down`);
    try {
      await server.close();
      process.exit(0);
    } catch (err) {
      console.error(`realtime-server: shutdown failed: ${err.stack || err.message}`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error(`realtime-server: ${err.stack || err.message}`);
  process.exit(1);
});
