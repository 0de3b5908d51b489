'use strict';

// GET /realtime-core.js: the JS twin bundled for the browser by browser/bundle.js, built on the
// first request and kept (a failed build is retried on the next request). The dashboard files
// of public/ are served by express.static (server.js).

const fs = require('node:fs');
const path = require('node:path');
const { Controller, Get, Res, Logger } = require('@nestjs/common');
const { method } = require('./decorate');

const BUNDLER = path.join(__dirname, '..', 'browser', 'bundle.js');

class StaticController {
  constructor() {
    this.bundle = null; // Promise<string>
    this.log = new Logger('Bundle');
  }

  async realtimeCore(res) {
    if (!fs.existsSync(BUNDLER)) {
      res.status(404).type('text/plain').send('realtime-core.js is not available: examples/realtime-server/browser/bundle.js is missing\n');
      return;
    }
    if (!this.bundle) {
      this.bundle = Promise.resolve().then(() => require(BUNDLER).buildBrowserBundle());
      this.bundle.catch(() => {
        this.bundle = null;
      });
    }
    let code;
    try {
      code = await this.bundle;
    } catch (err) {
      this.log.error(`building the browser bundle failed: ${err.stack || err.message}`);
      res.status(500).type('text/plain').send(`building realtime-core.js failed: ${err.message}\n`);
      return;
    }
    res.status(200).type('application/javascript').set('Cache-Control', 'no-cache').send(code);
  }
}
method(StaticController, 'realtimeCore', [Get('realtime-core.js')], [Res()]);
Controller()(StaticController);

module.exports = { StaticController };
