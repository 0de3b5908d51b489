// Types for realtime-core and realtime-core/js (the same API).

import { EventEmitter } from 'events';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** JSON text (a string or UTF-8 bytes) or a JS value (serialized with JSON.stringify semantics). */
export type JsonInput = string | Uint8Array | JsonValue | { toJSON(): unknown } | object;
export type Output = 'value' | 'text';
type Out<O extends Output | undefined, T> = O extends 'text' ? string : T;

export interface Limits {
  /** Nesting depth of any document or patch result (default 100). */
  maxDepth?: number;
  /** Bytes of any JSON text input (default 16 MiB). */
  maxDocumentBytes?: number;
  /** Operations in one JSON Patch (default 10,000). */
  maxPatchOps?: number;
  /** Estimated bytes one patch may insert (default 4 MiB). */
  maxPatchGrowthBytes?: number;
}

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

export interface OutputOptions<O extends Output | undefined = undefined> {
  output?: O;
}
export interface LimitOptions<O extends Output | undefined = undefined> extends OutputOptions<O> {
  limits?: Limits;
}

export type Strategy = 'server-wins' | 'client-wins' | 'last-writer-wins' | 'custom';

export interface ConflictInput {
  path: string;
  base?: JsonValue;
  local?: JsonValue;
  remote?: JsonValue;
}
export interface Conflict extends ConflictInput {
  resolved?: JsonValue;
  winner: 'local' | 'remote' | 'custom';
}
/** Returns the resolved value; `undefined` deletes. */
export type Resolver = (conflict: ConflictInput) => unknown;

export interface Merge3Options<O extends Output | undefined = undefined> extends LimitOptions<O> {
  strategy?: Strategy;
  resolver?: Resolver;
  /** Arrays whose items all own this key merge item by item (default 'id'; null: arrays are values). */
  arrayKey?: string | null;
  localTimestamp?: string;
  remoteTimestamp?: string;
}
export interface Merge3Result<O extends Output | undefined = undefined> {
  doc: Out<O, JsonValue>;
  conflicts: Out<O, Conflict[]>;
}

export interface DiffOptions<O extends Output | undefined = undefined> extends LimitOptions<O> {
  format?: 'json-patch' | 'merge-patch';
  arrayKey?: string | null;
}

export declare function applyPatch<O extends Output | undefined = undefined>(
  doc: JsonInput,
  patch: JsonInput,
  options?: LimitOptions<O>,
): Out<O, JsonValue>;
export declare function applyMergePatch<O extends Output | undefined = undefined>(
  doc: JsonInput,
  patch: JsonInput,
  options?: LimitOptions<O>,
): Out<O, JsonValue>;
export declare function diff<O extends Output | undefined = undefined>(
  a: JsonInput,
  b: JsonInput,
  options?: DiffOptions<O>,
): Out<O, JsonPatchOperation[] | JsonValue>;
export declare function merge3<O extends Output | undefined = undefined>(
  base: JsonInput,
  local: JsonInput,
  remote: JsonInput,
  options?: Merge3Options<O>,
): Merge3Result<O>;

export interface HybridLogicalClockOptions {
  /** Breaks ties between equal clocks; default: 8 random hex digits. No ':'. */
  nodeId?: string;
  /** A remote timestamp further ahead of the wall clock than this is refused (default 60000). */
  maxDriftMs?: number;
  /** Wall clock in milliseconds (default Date.now). */
  clock?: () => number;
}
export declare class HybridLogicalClock {
  constructor(options?: HybridLogicalClockOptions);
  readonly nodeId: string;
  readonly maxDriftMs: number;
  now(): string;
  receive(timestamp: string): string;
  last(): string | null;
  compare(a: string, b: string): -1 | 0 | 1;
  static compare(a: string, b: string): -1 | 0 | 1;
}

export interface DocumentStoreOptions {
  strategy?: Strategy;
  resolver?: Resolver;
  arrayKey?: string | null;
  /** Versions of history kept per document (default 100). */
  historyLimit?: number;
  /** A base older than the history: 'reject' (default) or apply to the 'current' document. */
  staleBase?: 'reject' | 'current';
  deltaFormat?: 'merge-patch' | 'json-patch';
  limits?: Limits;
  nodeId?: string;
  maxDriftMs?: number;
  clock?: () => number;
  /** Results remembered per client for replays (default 64). */
  dedupWindow?: number;
}

export interface Mutation {
  patch?: JsonInput;
  mergePatch?: JsonInput;
  baseVersion?: number;
  clientId?: string;
  mutationId?: number;
  timestamp?: string;
}

export interface ApplyResult<O extends Output | undefined = undefined> {
  status: 'applied' | 'merged' | 'rejected' | 'duplicate';
  version: number;
  delta: Out<O, JsonValue> | null;
  conflicts: Out<O, Conflict[]>;
  error?: { code: string; message: string };
  gap?: { expected: number; received: number };
}

export type ChangesSince<O extends Output | undefined = undefined> =
  | { version: number; changes: { version: number; delta: Out<O, JsonValue>; timestamp: string }[] }
  | { version: number; snapshot: Out<O, JsonValue> };

export declare class DocumentStore {
  constructor(options?: DocumentStoreOptions);
  readonly options: Readonly<Required<Omit<DocumentStoreOptions, 'resolver' | 'clock'>>>;
  readonly size: number;
  put<O extends Output | undefined = undefined>(
    id: string,
    doc: JsonInput,
    options?: OutputOptions<O>,
  ): { version: number; delta: Out<O, JsonValue> | null };
  get<O extends Output | undefined = undefined>(id: string, options?: OutputOptions<O>): Out<O, JsonValue> | undefined;
  has(id: string): boolean;
  delete(id: string): boolean;
  version(id: string): number | undefined;
  ids(): string[];
  apply<O extends Output | undefined = undefined>(id: string, mutation: Mutation, options?: OutputOptions<O>): ApplyResult<O>;
  changesSince<O extends Output | undefined = undefined>(id: string, version: number, options?: OutputOptions<O>): ChangesSince<O>;
}

export interface OptimisticStateOptions<D extends Output = 'value'> {
  /** A change pending this long is rolled back with reason 'timeout' (default 30000). */
  timeoutMs?: number;
  /** Most pending changes (default 100). */
  maxPending?: number;
  /** At maxPending: refuse with ERR_RT_TOO_MANY_PENDING (default) or roll back the oldest. */
  overflow?: 'reject' | 'rollback-oldest';
  /** Version of the initial document (default 0). */
  baseVersion?: number;
  clock?: () => number;
  /** Expire timed-out changes on an unref'd timer (default true). */
  autoExpire?: boolean;
  /** Default form of documents and deltas in results and events. */
  output?: D;
  limits?: Limits;
}

export type PendingKind = 'patch' | 'merge-patch';
export type OptimisticChange = { patch: JsonInput; mergePatch?: undefined } | { mergePatch: JsonInput; patch?: undefined };
export type RollbackReason = 'explicit' | 'timeout' | 'conflict' | 'overflow';

export interface PendingChange<O extends Output = 'value'> {
  id: string;
  kind: PendingKind;
  change: Out<O, JsonValue>;
  createdAt: number;
  ageMs: number;
}
export interface OperationResult<O extends Output = 'value'> {
  /** Merge patch from the previous visible state to the new one; null when it did not change. */
  delta: Out<O, JsonValue> | null;
  rolledBack: { id: string; reason: RollbackReason }[];
}
export interface CommitResult<O extends Output = 'value'> extends OperationResult<O> {
  version: number;
}
export interface RebaseResult<O extends Output = 'value'> extends OperationResult<O> {
  status: 'applied' | 'duplicate';
  version: number;
  committed: string[];
}
export type BatchOp =
  | ({ op: 'apply'; id: string } & OptimisticChange)
  | { op: 'commit'; id: string; patch?: JsonInput; mergePatch?: JsonInput; version?: number }
  | { op: 'rollback'; id: string }
  | { op: 'rollbackAll' }
  | { op: 'rebase'; patch?: JsonInput; mergePatch?: JsonInput; snapshot?: JsonInput; version?: number; confirms?: string[] };

export interface OptimisticStateEvents<D extends Output = 'value'> {
  change: [{ cause: 'apply'; id: string; delta: Out<D, JsonValue> | null } | { cause: 'rebase'; version: number; delta: Out<D, JsonValue> | null }];
  commit: [{ id: string; version: number; delta: Out<D, JsonValue> | null }];
  rollback: [{ id: string; reason: RollbackReason; delta: Out<D, JsonValue> | null }];
}

export declare class OptimisticState<D extends Output = 'value'> extends EventEmitter<OptimisticStateEvents<D>> {
  constructor(initial: JsonInput, options?: OptimisticStateOptions<D>);
  readonly options: Readonly<Required<Omit<OptimisticStateOptions<D>, 'clock'>>>;
  readonly state: JsonValue;
  readonly base: JsonValue;
  readonly baseVersion: number;
  readonly pending: PendingChange<D>[];
  readonly pendingCount: number;
  stateText(): string;
  baseText(): string;
  hasPending(): boolean;
  apply<O extends Output = D>(id: string, change: OptimisticChange, options?: OutputOptions<O>): OperationResult<O>;
  commit<O extends Output = D>(
    id: string,
    canonical?: { patch?: JsonInput; mergePatch?: JsonInput; version?: number },
    options?: OutputOptions<O>,
  ): CommitResult<O>;
  rollback<O extends Output = D>(id: string, options?: OutputOptions<O>): OperationResult<O>;
  rollbackAll<O extends Output = D>(options?: OutputOptions<O>): OperationResult<O>;
  rebase<O extends Output = D>(
    change: { patch: JsonInput } | { mergePatch: JsonInput } | { snapshot: JsonInput },
    options?: { version?: number; confirms?: string[]; output?: O },
  ): RebaseResult<O>;
  expire<O extends Output = D>(now?: number, options?: OutputOptions<O>): OperationResult<O>;
  batch<O extends Output = D>(
    ops: BatchOp[],
    options?: OutputOptions<O>,
  ): { delta: Out<O, JsonValue> | null; results: (OperationResult<O> | CommitResult<O> | RebaseResult<O>)[] };
  close(): void;
}

export interface OfflineQueueOptions {
  /** Items per client (default 50). */
  capacity?: number;
  /** When a client's queue is full (default 'drop-oldest'). */
  overflow?: 'drop-oldest' | 'drop-newest' | 'reject';
  /** Items older than this expire; 0 = never (default 0). */
  ttlMs?: number;
  /** Payload bytes per item (default 1 MiB). */
  maxItemBytes?: number;
  /** Failed deliveries before an item moves to dead letters (default 3). */
  maxAttempts?: number;
  initialDelayMs?: number;
  multiplier?: number;
  maxDelayMs?: number;
  jitter?: 'full' | 'equal' | 'decorrelated' | 'none';
  /** Seed of the jitter's random sequence (default random). */
  seed?: number;
  maxDeadLetters?: number;
  /** Circuit breaker of the delivery target, or false for none. */
  breaker?: false | { failureThreshold?: number; successThreshold?: number; openMs?: number };
  clock?: () => number;
  /** A directory: durable mode. */
  path?: string;
  fsync?: 'always' | 'interval' | 'never';
  fsyncIntervalMs?: number;
  segmentBytes?: number;
}
export type QueuePayload = string | Uint8Array;
export interface QueueItemInput {
  event: string;
  payload: QueuePayload;
  key?: string;
}
export interface QueueItem {
  clientId: string;
  offset: number;
  event: string;
  /** A string when pushed as a string, else a Buffer. */
  payload: string | Buffer;
  key?: string;
  attempts: number;
  pushedAt: number;
}
export interface DeadLetter extends QueueItem {
  reason: string;
  deadAt: number;
}
export type DropReason = 'overflow' | 'coalesced' | 'expired';
export interface QueueStats {
  clients: number;
  items: number;
  payloadBytes: number;
  inFlight: number;
  deadLetters: number;
  pushed: number;
  acked: number;
  retried: number;
  deadLettered: number;
  dropped: { overflow: number; coalesced: number; expired: number; deadLetterOverflow: number };
  breaker: { state: BreakerState; failures: number; successes: number; openedAt: number | null } | null;
  durable: {
    enabled: boolean;
    path: string;
    fsync: 'always' | 'interval' | 'never';
    healthy: boolean;
    segments: number;
    bytes: number;
    lastError: string | null;
  } | null;
}
export type BreakerState = 'closed' | 'open' | 'half-open';
export interface QueueRecovery {
  segments: number;
  records: number;
  items: number;
  truncated: null | { segment: string; offset: number; bytes: number };
}
export interface OfflineQueueEvents {
  dropped: [{ clientId: string; offset: number | null; reason: DropReason }];
  'dead-letter': [{ clientId: string; offset: number; event: string; attempts: number; reason: string }];
  breaker: [{ from: BreakerState; to: BreakerState; at: number }];
  durability: [{ healthy: boolean; error?: { code: string; message: string } }];
}

export declare class OfflineQueue extends EventEmitter<OfflineQueueEvents> {
  constructor(options?: OfflineQueueOptions);
  readonly options: Readonly<Record<string, unknown>>;
  /** What the replay of a durable log found; null in memory mode. */
  readonly recovery: QueueRecovery | null;
  push(clientId: string, item: QueueItemInput): { offset: number | null; dropped: { offset: number | null; reason: DropReason }[]; durable?: Promise<void> };
  pushMany(clientId: string, items: QueueItemInput[]): { offsets: (number | null)[]; dropped: { offset: number | null; reason: DropReason }[]; durable?: Promise<void> };
  peek(clientId: string, options?: { after?: number; limit?: number }): QueueItem[];
  ack(clientId: string, upToOffset: number): number;
  ackOne(clientId: string, offset: number): boolean;
  nack(clientId: string, offset: number, reason?: string): { status: 'retry'; attempts: number; retryAt: number } | { status: 'dead'; attempts: number };
  due(options?: { limit?: number }): QueueItem[];
  release(clientId: string, offset: number): void;
  sweep(): number;
  size(clientId?: string): number;
  clients(): string[];
  deadLetters(options?: { limit?: number }): DeadLetter[];
  clearDeadLetters(): number;
  stats(): QueueStats;
  breakerState(): BreakerState;
  flush(): Promise<void>;
  compact(): Promise<void>;
  close(): Promise<void>;
}

export interface Delivery {
  close(): Promise<void>;
  kick(): void;
  stats(): { sent: number; failed: number; inFlight: number };
}
export declare function createDelivery(
  queue: OfflineQueue,
  options: { send: (item: QueueItem) => Promise<unknown> | unknown; concurrency?: number; intervalMs?: number },
): Delivery;

/** FanoutHub (docs/fanout.md): rooms, target sets, packets encoded once, throttling, batching, recovery. */
export interface FanoutHubOptions {
  /** Socket.io namespace of the packets (default '/'). */
  namespace?: string;
  /** Per key, at most one delivery per this many ms (default 1000). */
  throttleMs?: number;
  /** Room batches: delivered at maxItems items or maxDelayMs after the first (default 50, 200). */
  batch?: { maxItems?: number; maxDelayMs?: number };
  /** Packets a connection may have undrained before it is slow (default 1000). */
  maxBacklog?: number;
  /** Bytes of a message's payload/args text (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Connections at once (default 1,000,000). */
  maxConnections?: number;
  /** Rooms at once (default 2^31-1). */
  maxRooms?: number;
  /** Saved sessions kept (default 100,000). */
  maxSessions?: number;
  /** The recovery log; true = { windowMs: 120000, maxPackets: 100000, maxBytes: 64 MiB }. Off by default. */
  recovery?: boolean | null | { windowMs?: number; maxPackets?: number; maxBytes?: number };
  /** Offsets are offsetPrefix + seq in base 36 (default: 8 random base-36 characters + '-'). */
  offsetPrefix?: string;
  /** The last seq already used (default 0). */
  startSeq?: number;
  clock?: () => number;
  /** An unref'd timer flushes at nextDue() and emits 'deliver' (default true). */
  autoFlush?: boolean;
  /** Sessions and records kept on an OfflineQueue log in `path` (needs recovery). */
  durable?: { path: string; fsync?: 'always' | 'interval' | 'never'; fsyncIntervalMs?: number; segmentBytes?: number };
}
export interface FanoutMessage {
  /** Default [] = everyone. */
  rooms?: string[];
  except?: string[];
  event: string;
  /** One argument: a JS value, or its JSON text (string or UTF-8 bytes, not parsed). */
  payload?: unknown;
  /** Every argument: a JS array, or the JSON text of an array. */
  args?: unknown[] | string | Uint8Array;
  /** Throttle and coalesce under this key. */
  key?: string;
  volatile?: boolean;
  /** Into the room's next rt:bulk packet: exactly one room, no except, key or ackId. */
  batch?: boolean;
  ackId?: number;
  /** Default true when recovery is on. */
  recoverable?: boolean;
}
export interface FanoutDelivery {
  packet: string;
  handles: Uint32Array;
  offset: string | null;
  volatile: boolean;
  bulk: boolean;
}
export interface FanoutDeliveries {
  deliveries: FanoutDelivery[];
  /** Handles newly marked slow by this call, in marking order. */
  slow: number[];
}
export interface FanoutPublishResult extends FanoutDeliveries {
  status: 'delivered' | 'pending' | 'coalesced' | 'batched';
  /** The recovery offset of this message when this call recorded it. */
  offset: string | null;
}
export type FanoutRestoreResult =
  | { status: 'recovered'; sid: string; rooms: string[]; data: string; packets: string[] }
  | { status: 'unknown-session' | 'expired' | 'invalid-offset' | 'too-old' };
export interface FanoutSession {
  /** Socket.io's private id. */
  id: string;
  /** The socket id. */
  sid: string;
  rooms: string[];
  /** Opaque text, the JSON of socket.data (default 'null'). */
  data?: string;
}
export interface FanoutStats {
  connections: number;
  rooms: number;
  memberships: number;
  published: number;
  deliveries: number;
  packets: number;
  bytes: number;
  coalesced: number;
  pendingKeys: number;
  batchedItems: number;
  bulks: number;
  openBatches: number;
  droppedVolatile: number;
  slowConsumers: number;
  backlog: number;
  maxBacklog: number;
  recorded: number;
  recoveryPackets: number;
  recoveryBytes: number;
  evicted: number;
  sessions: number;
  recoveries: number;
  recoveryFailures: number;
}
export interface FanoutHubEvents {
  deliver: [FanoutDeliveries];
  durability: [{ healthy: boolean; error?: { code: string; message: string } }];
}

export declare class FanoutHub extends EventEmitter<FanoutHubEvents> {
  constructor(options?: FanoutHubOptions);
  readonly options: Readonly<Record<string, unknown>>;
  readonly connectionCount: number;
  readonly roomCount: number;
  connect(): number;
  /** The rooms it was in (join order), or null for an unknown handle. */
  disconnect(handle: number): string[] | null;
  /** The number of rooms newly joined. */
  join(handle: number, rooms: string | string[]): number;
  leave(handle: number, room: string): boolean;
  rooms(handle: number): string[];
  members(room: string): Uint32Array;
  roomSize(room: string): number;
  roomNames(): string[];
  connections(): Uint32Array;
  targets(selector?: { rooms?: string[]; except?: string[] }): Uint32Array;
  backlog(handle: number): number;
  drained(handles: number | number[] | Uint32Array): void;
  publish(message: FanoutMessage): FanoutPublishResult;
  flush(options?: { all?: boolean }): FanoutDeliveries;
  /** Resolves once everything logged so far is on disk (durable mode; at once otherwise). */
  sync(): Promise<void>;
  nextDue(): number | null;
  saveSession(session: FanoutSession): void;
  /**
   * Durable mode only: keeps the session of a connected socket on the log as a live one
   * (crash-safe; not given to the engine). After a crash it is restored as saved at the reopen time.
   */
  trackSession(session: FanoutSession): void;
  /** Durable mode only: removes the live session `id` from the log; true if it was there. */
  untrackSession(id: string): boolean;
  restore(id: string, offset: string): FanoutRestoreResult;
  sweep(): { evicted: number; expired: number };
  stats(): FanoutStats;
  close(): Promise<void>;
}

export declare class RealtimeCoreError extends Error {
  constructor(code: string, message: string, details?: unknown);
  readonly code: string;
  readonly details?: unknown;
}

export declare const implementation: 'native' | 'js';
export declare const ERROR_CODES: readonly string[];
export declare const DEFAULT_LIMITS: Readonly<Required<Limits>>;
