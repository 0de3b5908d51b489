'use strict';

// startServer(options) -> { url, port, app, settings, close() }: the example server in this
// process. main.js is its command line; tests can call it directly.

require('reflect-metadata');
const path = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { RealtimeIoAdapter } = require('realtime-core/nestjs');
const { normalize, DEV_SECRET } = require('./config');
const { createAppModule } = require('./app.module');
const { HttpErrorFilter } = require('./http/errors.filter');
const { SimulatorService } = require('./simulator');
const { NotificationsService } = require('./notifications.service');

const PUBLIC_DIR = path.join(__dirname, 'public');

/**
 * options: the settings of config.js (port, host, devices, simIntervalMs, jwtSecret, dataDir,
 * implementation, demoLogin, seed), plus `clock` (() => ms) and `logger` (Nest's logger option;
 * default errors and warnings).
 */
async function startServer(options = {}) {
  const { clock, logger = ['error', 'warn'], ...raw } = options;
  const settings = normalize(raw);
  if (settings.jwtSecret === null) {
    process.emitWarning('JWT_SECRET is not set: using a development secret; set JWT_SECRET outside development', { code: 'RT_EXAMPLE_DEV_SECRET' });
    settings.jwtSecret = DEV_SECRET;
  }
  const app = await NestFactory.create(createAppModule(settings, { clock }), { logger });
  app.useWebSocketAdapter(new RealtimeIoAdapter(app));
  app.useGlobalFilters(new HttpErrorFilter());
  app.useBodyParser('json', { limit: '16kb' });
  app.useStaticAssets(PUBLIC_DIR, { index: 'index.html' });
  try {
    await app.listen(settings.port, settings.host);
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  const { port } = app.getHttpServer().address();
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  let closing = null;
  return {
    url: `http://${host}:${port}`,
    port,
    app,
    settings,
    // Stops the traffic first, then Nest closes the gateways' server (sockets get a recoverable
    // close, pending throttled messages are flushed and recorded) and the module's engines
    // (the durable queue and log are flushed).
    close() {
      if (!closing) {
        closing = (async () => {
          app.get(SimulatorService).beforeApplicationShutdown();
          app.get(NotificationsService).beforeApplicationShutdown();
          await app.close();
        })();
      }
      return closing;
    },
  };
}

module.exports = { startServer };
