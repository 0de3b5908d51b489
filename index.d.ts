// Types for realtime-core and realtime-core/js (the same API).

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

export declare class RealtimeCoreError extends Error {
  constructor(code: string, message: string, details?: unknown);
  readonly code: string;
  readonly details?: unknown;
}

export declare const implementation: 'native' | 'js';
export declare const ERROR_CODES: readonly string[];
export declare const DEFAULT_LIMITS: Readonly<Required<Limits>>;
