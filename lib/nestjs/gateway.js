'use strict';

// RealtimeGateway: a base class for gateways. A subclass decorated with @WebSocketGateway()
// answers rt:mutate and rt:sync through the module's MutationProtocol (the handler's return value
// is the ack), and attaches its server (or namespace) to the protocol for applyServer.
//
// Nest finds the handlers on the base class: its explorer walks the prototype chain for methods
// whose function carries the message metadata, and reads parameter metadata with
// Reflect.getMetadata on the subclass, which falls back to this class. A subclass that overrides
// handleMutate/handleSync must decorate its override again (the metadata is on the function).

require('reflect-metadata');
const { SubscribeMessage, MessageBody, ConnectedSocket } = require('@nestjs/websockets');
const { MutationProtocol } = require('./mutation-protocol');

class RealtimeGateway {
  constructor(protocol) {
    this.protocol = protocol;
  }

  // Nest's OnGatewayInit hook: an override must call super.afterInit(server)
  afterInit(server) {
    this.protocol.attach(server);
  }

  handleMutate(socket, body) {
    return this.protocol.mutate(socket, body);
  }

  handleSync(socket, body) {
    return this.protocol.sync(socket, body);
  }
}

function handler(proto, method, event) {
  SubscribeMessage(event)(proto, method, Object.getOwnPropertyDescriptor(proto, method));
  ConnectedSocket()(proto, method, 0);
  MessageBody()(proto, method, 1);
}
handler(RealtimeGateway.prototype, 'handleMutate', 'rt:mutate');
handler(RealtimeGateway.prototype, 'handleSync', 'rt:sync');
// what TypeScript's emitDecoratorMetadata would record; a subclass without a constructor of its
// own inherits it (a subclass with one declares its own parameters)
Reflect.defineMetadata('design:paramtypes', [MutationProtocol], RealtimeGateway);

module.exports = { RealtimeGateway };
