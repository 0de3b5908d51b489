'use strict';

// GET /api/demo-token: a token for whoever asks. Development only; DEMO_LOGIN=0 leaves this
// controller out of the application, so the route does not exist at all.

const { Controller, Get, Query, Inject } = require('@nestjs/common');
const { SETTINGS } = require('../tokens');
const { createAuth, AuthError } = require('../auth');
const { invalid } = require('../errors');
const { method } = require('./decorate');

class DemoController {
  constructor(settings) {
    this.auth = createAuth(settings.jwtSecret);
  }

  token(query) {
    const q = query || {};
    const one = (v, fallback) => (v === undefined ? fallback : typeof v === 'string' ? v : null);
    const claims = { org: one(q.org, 'acme'), sub: one(q.user, 'alice'), role: one(q.role, 'editor') };
    try {
      return { token: this.auth.sign(claims), ...claims };
    } catch (err) {
      if (err instanceof AuthError) throw invalid(err.message.replace('token claim "sub"', 'user').replace('token claim ', ''));
      throw err;
    }
  }
}
method(DemoController, 'token', [Get('demo-token')], [Query()]);
Inject(SETTINGS)(DemoController, undefined, 0);
Controller('api')(DemoController);

module.exports = { DemoController };
