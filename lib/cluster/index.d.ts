// Types of require('realtime-core/cluster') (lib/cluster): engines that work across several Node
// processes over Redis. See docs/cluster-documents.md.

import type {
  ApplyResult,
  ChangesSince,
  DocumentStoreOptions,
  JsonInput,
  JsonValue,
  Mutation,
  Output,
  OutputOptions,
} from '../../index';

type Out<O extends Output | undefined, T> = O extends 'text' ? string : T;

export interface ClusterDocumentStoreOptions extends DocumentStoreOptions {
  /** A connected client of the `ioredis` or the `redis` (node-redis) package (or lib/redis/client.js's wrapRedis of one). It stays the caller's: close it yourself. */
  redis: unknown;
  /** The engine of this node's copies (default 'native'). */
  implementation?: 'native' | 'js';
  /** Prefix of every Redis key of the store (default 'rt:doc:'). */
  keyPrefix?: string;
  /** Compare-and-set attempts per operation before ERR_RT_UNAVAILABLE (default 32). */
  maxRetries?: number;
  /** Bound of each Redis round trip, including waiting for a connection (default 5000 ms). */
  timeoutMs?: number;
  /** Documents this node keeps a copy of, least recently used dropped (default 10000). */
  cacheLimit?: number;
}

export interface ClusterDocumentStoreStats {
  commits: number;
  casFailures: number;
  replayed: number;
  rebuilds: number;
  snapshots: number;
}

/** DocumentStore's results, asynchronous, ordered across nodes by Redis. */
export declare class ClusterDocumentStore {
  constructor(options: ClusterDocumentStoreOptions);
  readonly implementation: 'native' | 'js';
  readonly keyPrefix: string;
  readonly options: Readonly<Required<Omit<DocumentStoreOptions, 'resolver' | 'clock'>>>;
  put<O extends Output | undefined = undefined>(
    id: string,
    doc: JsonInput,
    options?: OutputOptions<O>,
  ): Promise<{ version: number; delta: Out<O, JsonValue> | null }>;
  get<O extends Output | undefined = undefined>(id: string, options?: OutputOptions<O>): Promise<Out<O, JsonValue> | undefined>;
  has(id: string): Promise<boolean>;
  version(id: string): Promise<number | undefined>;
  delete(id: string): Promise<boolean>;
  apply<O extends Output | undefined = undefined>(id: string, mutation: Mutation, options?: OutputOptions<O>): Promise<ApplyResult<O>>;
  changesSince<O extends Output | undefined = undefined>(id: string, version: number, options?: OutputOptions<O>): Promise<ChangesSince<O>>;
  /** This node's copy (diagnostics): its version and document, or undefined. */
  localCopy<O extends Output | undefined = undefined>(id: string, options?: OutputOptions<O>): { version: number; doc: Out<O, JsonValue> } | undefined;
  stats(): ClusterDocumentStoreStats;
  /** Refuses further calls (ERR_RT_CLOSED); the Redis client stays open. */
  close(): Promise<void>;
}
