'use strict';

// rt:mutate and rt:sync on realtime-core/nestjs's RealtimeGateway. Who may edit what, where
// deltas go and playlist:updated are the module's `mutations` options (app.module.js); this
// gateway adds the playlist's schema: a change that would break a playlist's shape is rejected
// before the store sees it.

const { WebSocketGateway, SubscribeMessage, MessageBody, ConnectedSocket } = require('@nestjs/websockets');
const { RealtimeGateway } = require('realtime-core/nestjs');
const { playlistChangeError } = require('./playlist.schema');

class PlaylistGateway extends RealtimeGateway {
  handleMutate(socket, body) {
    const error = playlistChangeError(body);
    if (error) return { status: 'rejected', error: { code: 'ERR_RT_INVALID_ARGUMENT', message: error } };
    return super.handleMutate(socket, body);
  }
}
// the handler metadata is on the function, so an override is decorated again
SubscribeMessage('rt:mutate')(PlaylistGateway.prototype, 'handleMutate', Object.getOwnPropertyDescriptor(PlaylistGateway.prototype, 'handleMutate'));
ConnectedSocket()(PlaylistGateway.prototype, 'handleMutate', 0);
MessageBody()(PlaylistGateway.prototype, 'handleMutate', 1);
WebSocketGateway()(PlaylistGateway);

module.exports = { PlaylistGateway };
