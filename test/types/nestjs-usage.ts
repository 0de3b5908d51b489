// A typed consumer of realtime-core/nestjs (TypeScript decorators), compiled with `tsc --strict`
// by test/packaging.test.js against the packed tarball, as a CommonJS and as an ESM project.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import {
  RealtimeCoreModule, RealtimeIoAdapter, MutationProtocol, RealtimeGateway,
  REALTIME_CORE_OPTIONS, REALTIME_CORE, DOCUMENT_STORE, OFFLINE_QUEUE, FANOUT_HUB,
  InjectDocumentStore, InjectOfflineQueue, InjectFanoutHub, InjectRealtimeCore,
  type MutateAck, type SyncAck, type RealtimeCoreApi, type ResolvedRealtimeCoreOptions, type DeltaEvent,
  type DocumentStore, type OfflineQueue, type FanoutHub,
} from 'realtime-core/nestjs';

@WebSocketGateway({ namespace: '/rt' })
export class PlaylistGateway extends RealtimeGateway {}

@WebSocketGateway()
export class CustomGateway extends RealtimeGateway {
  constructor(protocol: MutationProtocol) {
    super(protocol);
  }
  afterInit(server: any): void {
    super.afterInit(server);
  }
}

@Injectable()
export class PlaylistService {
  constructor(
    @InjectDocumentStore() private readonly store: DocumentStore,
    @InjectOfflineQueue() private readonly queue: OfflineQueue | null,
    @InjectFanoutHub() private readonly hub: FanoutHub,
    @InjectRealtimeCore() private readonly rt: RealtimeCoreApi,
    private readonly protocol: MutationProtocol,
  ) {}

  rename(id: string, name: string): MutateAck {
    this.store.put(id, { name });
    const impl: 'native' | 'js' = this.rt.implementation;
    void impl;
    void this.queue;
    void this.hub.connectionCount;
    return this.protocol.applyServer(id, { mergePatch: { name } }, { rooms: [`entity:${id}`] });
  }

  async handle(socket: Socket): Promise<void> {
    const ack: MutateAck = await this.protocol.mutate(socket, { entity: 'x', id: 1, base: 0, mergePatch: { a: 1 } });
    const s: SyncAck = await this.protocol.sync(socket, { entities: { x: 0 } });
    if ('entities' in s) {
      const r = s.entities.x;
      if ('error' in r) console.log(r.error.code);
      else if ('changes' in r) console.log(r.changes.length);
      else console.log(r.snapshot);
    }
    console.log(ack.status, ack.version, ack.conflicts?.[0]?.path);
  }
}

class ConfigService { get(key: string): string { return key; } }

@Module({
  imports: [
    RealtimeCoreModule.forRoot({
      implementation: 'native',
      documentStore: { strategy: 'server-wins' },
      offlineQueue: false,
      socketio: { throttle: { 'service:status': ([s]) => String((s as { service: string }).service) }, maxInboundBytes: 65536 },
      recovery: { maxDisconnectionDuration: 120_000 },
      mutations: {
        rooms: (entity, socket) => [`org:${socket ? socket.data.org : entity}`],
        authorize: async (socket, entity, action) => action === 'sync' || entity.startsWith(`playlist:${socket.data.org}:`),
        clientId: (socket) => String(socket.handshake.auth.clientId),
        onApplied: (e) => console.log(e.entity, e.version, e.delta, e.clientId),
        deltaEvent: 'rt:delta',
        joinOnSync: true,
      },
    }),
  ],
  providers: [PlaylistGateway, CustomGateway, PlaylistService],
})
export class AppModule {}

@Module({
  imports: [
    RealtimeCoreModule.forRootAsync({
      isGlobal: false,
      useFactory: (config: ConfigService) => ({ implementation: config.get('impl') === 'js' ? 'js' : 'native', recovery: false }),
      inject: [ConfigService],
    }),
  ],
})
export class AsyncModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.useWebSocketAdapter(new RealtimeIoAdapter(app));
  app.useWebSocketAdapter(new RealtimeIoAdapter(app, { hub: null, protocol: null, recovery: false }));
  const options: ResolvedRealtimeCoreOptions = app.get(REALTIME_CORE_OPTIONS);
  const hub: FanoutHub = app.get(FANOUT_HUB);
  const store: DocumentStore = app.get(DOCUMENT_STORE);
  const queue: OfflineQueue | null = app.get(OFFLINE_QUEUE);
  const api: RealtimeCoreApi = app.get(REALTIME_CORE);
  const d: DeltaEvent = { entity: 'x', version: 1, patch: { a: 1 } };
  console.log(options.mutations.deltaEvent, hub, store, queue, api.implementation, d);
  await app.listen(3000);
}
void main;

// @ts-expect-error: unknown option
RealtimeCoreModule.forRoot({ implementaton: 'js' });
// @ts-expect-error: the module sets the implementation of the adapter
RealtimeCoreModule.forRoot({ socketio: { implementation: 'js' } });
