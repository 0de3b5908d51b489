// Types of require('realtime-core/nestjs'): the NestJS module, the Socket.io adapter and the
// mutation protocol. See docs/nestjs.md.

import type { ConfigurableModuleAsyncOptions, DynamicModule } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import type * as RealtimeCore from './index';
import type {
  ChangesSince,
  Conflict,
  DocumentStore,
  DocumentStoreOptions,
  FanoutHub,
  JsonPatchOperation,
  JsonValue,
  OfflineQueue,
  OfflineQueueOptions,
} from './index';
import type { AdapterOptions } from './socket.io';
import type { ClusterDocumentStore, ClusterDocumentStoreOptions } from './lib/cluster/index';

/** What DOCUMENT_STORE provides: a DocumentStore, or a ClusterDocumentStore with `documentStore.redis`. */
export type AnyDocumentStore = DocumentStore | ClusterDocumentStore;

/** `documentStore` with a Redis client: the module provides a ClusterDocumentStore (docs/cluster-documents.md). */
export type ClusterDocumentStoreModuleOptions = Omit<ClusterDocumentStoreOptions, 'implementation'>;

/** require('realtime-core') or require('realtime-core/js'). */
export type RealtimeCoreApi = typeof RealtimeCore;

export interface RtError {
  code: string;
  message: string;
}

/** rt:mutate's body (untrusted: every field is checked). */
export interface MutateBody {
  entity: string;
  /** The client's mutation id: a positive integer, increasing per client. */
  id: number;
  /** The version the change was made on. */
  base: number;
  patch?: JsonPatchOperation[];
  mergePatch?: { [key: string]: JsonValue };
  /** A HybridLogicalClock timestamp (last-writer-wins). */
  ts?: string;
}

/** rt:mutate's ack (and applyServer's result). `version` is absent when the body was refused before the store saw it. */
export interface MutateAck {
  status: 'applied' | 'merged' | 'duplicate' | 'rejected';
  version?: number;
  delta?: JsonValue;
  conflicts?: Conflict[];
  error?: RtError;
  gap?: { expected: number; received: number };
}

/** rt:sync's body: the versions the client has. */
export interface SyncBody {
  entities: { [entity: string]: number };
}

export type SyncEntityResult = ChangesSince | { error: RtError };

export type SyncAck =
  | { entities: { [entity: string]: SyncEntityResult } }
  | { status: 'rejected'; error: RtError };

/** rt:delta's payload. */
export interface DeltaEvent {
  entity: string;
  version: number;
  patch: JsonValue;
}

export interface AppliedEvent {
  entity: string;
  version: number;
  delta: JsonValue;
  conflicts: Conflict[];
  status: 'applied' | 'merged';
  /** null for applyServer */
  clientId: string | null;
  /** null for applyServer */
  socket: Socket | null;
}

export interface MutationHooks {
  /** Rooms that receive rt:delta of an entity (default [`entity:${entity}`]); socket is null for applyServer. */
  rooms?: (entity: string, socket: Socket | null) => string | string[];
  /** Only `true` allows (default: allow); anything else, a throw or a rejection -> ERR_RT_FORBIDDEN. */
  authorize?: (socket: Socket, entity: string, action: 'mutate' | 'sync') => boolean | Promise<boolean>;
  /** The client whose mutation ids are deduplicated (default socket.handshake.auth.clientId, else socket.id). */
  clientId?: (socket: Socket) => string;
  /** After an applied or merged mutation that changed the document. */
  onApplied?: (event: AppliedEvent) => void | Promise<void>;
  /** Default 'rt:delta'. */
  deltaEvent?: string;
  /** An rt:sync of an entity joins the socket to rooms(entity, socket) (default true). */
  joinOnSync?: boolean;
}

export interface RecoveryOptions {
  /** Default 120000. */
  maxDisconnectionDuration?: number;
  /** Default true. */
  skipMiddlewares?: boolean;
}

export interface RealtimeCoreModuleOptions {
  /** Default 'native'. */
  implementation?: 'native' | 'js';
  /** DocumentStore options; with `redis` (a client), a ClusterDocumentStore's, its implementation the module's. */
  documentStore?: DocumentStoreOptions | ClusterDocumentStoreModuleOptions;
  /** false: no queue (OFFLINE_QUEUE provides null). */
  offlineQueue?: OfflineQueueOptions | false;
  /** createAdapter options except implementation and hub. */
  socketio?: Omit<AdapterOptions, 'implementation' | 'hub'>;
  /** Socket.io's connectionStateRecovery; false turns recovery off. */
  recovery?: RecoveryOptions | boolean;
  mutations?: MutationHooks;
}

/** What REALTIME_CORE_OPTIONS provides: the options checked, with defaults, frozen. */
export interface ResolvedRealtimeCoreOptions {
  readonly implementation: 'native' | 'js';
  readonly documentStore: DocumentStoreOptions | ClusterDocumentStoreModuleOptions;
  readonly offlineQueue: OfflineQueueOptions | false;
  readonly socketio: Omit<AdapterOptions, 'implementation' | 'hub'>;
  readonly recovery: Readonly<Required<RecoveryOptions>> | false;
  readonly mutations: Readonly<Required<Omit<MutationHooks, 'authorize' | 'onApplied'>>> & {
    readonly authorize: MutationHooks['authorize'] | null;
    readonly onApplied: MutationHooks['onApplied'] | null;
  };
}

export interface RealtimeCoreModuleExtras {
  /** Default true. */
  isGlobal?: boolean;
}

export type RealtimeCoreModuleAsyncOptions = ConfigurableModuleAsyncOptions<RealtimeCoreModuleOptions, 'create'> &
  RealtimeCoreModuleExtras;

export declare class RealtimeCoreModule {
  static forRoot(options?: RealtimeCoreModuleOptions & RealtimeCoreModuleExtras): DynamicModule;
  static forRootAsync(options: RealtimeCoreModuleAsyncOptions): DynamicModule;
}

export interface RealtimeIoAdapterOverrides {
  implementation?: 'native' | 'js';
  socketio?: Omit<AdapterOptions, 'implementation' | 'hub'>;
  recovery?: RecoveryOptions | boolean;
  /** The hub of '/'; null: the adapter makes its own. */
  hub?: FanoutHub | null;
  /** Attached to the servers created; null: none. */
  protocol?: MutationProtocol<AnyDocumentStore> | null;
}

export declare class RealtimeIoAdapter extends IoAdapter {
  constructor(appOrHttpServer?: any, overrides?: RealtimeIoAdapterOverrides);
  createIOServer(port: number, options?: ServerOptions): any;
}

export interface ServerChange {
  patch?: JsonPatchOperation[];
  mergePatch?: { [key: string]: JsonValue };
  base?: number;
  ts?: string;
}

/**
 * `S`: the module's store. With a ClusterDocumentStore (`documentStore.redis`), declare
 * `MutationProtocol<ClusterDocumentStore>`: applyServer then returns a promise.
 */
export declare class MutationProtocol<S extends AnyDocumentStore = DocumentStore> {
  constructor(options: ResolvedRealtimeCoreOptions, store: S);
  readonly options: ResolvedRealtimeCoreOptions;
  readonly store: S;
  /** Where applyServer broadcasts: the namespaces attached by gateways, else the adapter's server's main one. */
  readonly namespaces: Namespace[];
  attach(server: Server | Namespace): void;
  /** rt:mutate; never rejects. */
  mutate(socket: Socket, body: unknown): Promise<MutateAck>;
  /** rt:sync; never rejects. */
  sync(socket: Socket, body: unknown): Promise<SyncAck>;
  /**
   * A mutation made by the server, broadcast to every socket in the entity's rooms. Throws on bad
   * arguments. With a ClusterDocumentStore: a promise of the ack (rejecting with the store's errors).
   */
  applyServer(entity: string, change: ServerChange, options?: { rooms?: string | string[] }): S extends ClusterDocumentStore ? Promise<MutateAck> : MutateAck;
}

/** Subclasses decorated with @WebSocketGateway() answer rt:mutate and rt:sync. */
export declare class RealtimeGateway {
  constructor(protocol: MutationProtocol<AnyDocumentStore>);
  readonly protocol: MutationProtocol<AnyDocumentStore>;
  /** Attaches the gateway's server or namespace to the protocol; an override must call super.afterInit(server). */
  afterInit(server: any): void;
  handleMutate(socket: Socket, body: unknown): Promise<MutateAck>;
  handleSync(socket: Socket, body: unknown): Promise<SyncAck>;
}

export declare const REALTIME_CORE_OPTIONS: unique symbol;
export declare const REALTIME_CORE: unique symbol;
export declare const DOCUMENT_STORE: unique symbol;
export declare const OFFLINE_QUEUE: unique symbol;
export declare const FANOUT_HUB: unique symbol;

export declare function InjectDocumentStore(): PropertyDecorator & ParameterDecorator;
export declare function InjectOfflineQueue(): PropertyDecorator & ParameterDecorator;
export declare function InjectFanoutHub(): PropertyDecorator & ParameterDecorator;
export declare function InjectRealtimeCore(): PropertyDecorator & ParameterDecorator;

export type { DocumentStore, OfflineQueue, FanoutHub, ClusterDocumentStore, ClusterDocumentStoreOptions };
