'use strict';

// RealtimeIoAdapter: Nest's IoAdapter whose Socket.io servers run on realtime-core/socket.io with
// connection-state recovery, configured from RealtimeCoreModule's options, on the module's
// FanoutHub for the main namespace.

const { IoAdapter } = require('@nestjs/platform-socket.io');
const { checkOptions } = require('../api/options');
const { invalidArgument } = require('../common/errors');
const { createAdapter } = require('../socket.io');
const { parseModuleOptions } = require('./options');
const { REALTIME_CORE_OPTIONS, FANOUT_HUB } = require('./tokens');
const { MutationProtocol } = require('./mutation-protocol');

const OVERRIDES = ['implementation', 'socketio', 'recovery', 'hub', 'protocol'];

// app.get without throwing when the module is not imported
function lookup(app, token) {
  if (!app || typeof app.get !== 'function') return undefined;
  try {
    return app.get(token, { strict: false });
  } catch {
    return undefined;
  }
}

class RealtimeIoAdapter extends IoAdapter {
  /**
   * @param appOrHttpServer the Nest application (its module options, hub and protocol are used)
   * @param overrides { implementation, socketio, recovery } replace the module's options (the
   *   module's hub is then not used: the adapter makes its own unless `hub` is given); `hub` (a
   *   FanoutHub for '/', or null: the adapter makes its own) and `protocol` (a MutationProtocol,
   *   or null) replace the module's
   */
  constructor(appOrHttpServer, overrides) {
    super(appOrHttpServer);
    this._overrides = checkOptions(overrides, OVERRIDES, 'RealtimeIoAdapter');
    this._app = appOrHttpServer;
  }

  // -> { options, hub, protocol }, looked up when the first server is created (the module's
  // providers exist by then)
  _resolve() {
    const o = this._overrides;
    const moduleOptions = lookup(this._app, REALTIME_CORE_OPTIONS);
    const base = moduleOptions || parseModuleOptions({});
    const overridden = ['implementation', 'socketio', 'recovery'].some((k) => k in o);
    const options = overridden
      ? parseModuleOptions({
        implementation: 'implementation' in o ? o.implementation : base.implementation,
        socketio: 'socketio' in o ? o.socketio : base.socketio,
        recovery: 'recovery' in o ? o.recovery : base.recovery,
      })
      : base;
    // the module's hub was made for the module's options: with other options the adapter makes
    // its own, unless a hub is given
    const hub = 'hub' in o ? o.hub : (moduleOptions && !overridden ? lookup(this._app, FANOUT_HUB) : null);
    const protocol = 'protocol' in o ? o.protocol : (moduleOptions ? lookup(this._app, MutationProtocol) : null);
    if (protocol != null && typeof protocol.attach !== 'function') throw invalidArgument('RealtimeIoAdapter: protocol must be a MutationProtocol');
    return { options, hub: hub || null, protocol: protocol || null };
  }

  createIOServer(port, options) {
    const { options: rt, hub, protocol } = this._resolve();
    const serverOptions = { ...options };
    // the hub of '/' was made for this recovery setting: the module's setting wins over a
    // gateway's, or the adapter would refuse the hub
    if (rt.recovery) serverOptions.connectionStateRecovery = { ...rt.recovery };
    else delete serverOptions.connectionStateRecovery;
    const adapterOptions = { ...rt.socketio, implementation: rt.implementation };
    if (hub) adapterOptions.hub = hub;
    serverOptions.adapter = createAdapter(adapterOptions);
    const io = super.createIOServer(port, serverOptions);
    if (protocol) protocol.attach(io, { fromAdapter: true });
    return io;
  }
}

module.exports = { RealtimeIoAdapter };
