// Types of require('realtime-core/socket.io'): the Socket.io adapter over FanoutHub.
// See docs/socket-io-adapter.md.

import type { Adapter, BroadcastOptions, Room, SocketId } from 'socket.io-adapter';
import type { FanoutHub, FanoutMessage, FanoutPublishResult, FanoutDeliveries, FanoutStats } from './index';

/** Who is asking to join: the Socket.io socket, or (while restoreSession checks the rooms of a
 * session, before Socket.io has made the socket) a stand-in with what the session kept. */
export interface RestoringSocket {
  id: SocketId;
  pid: string;
  /** socket.data as it was saved (the previous connection's). */
  data: any;
  /** The previous connection's handshake (in-memory sessions only; undefined after a durable restart). */
  handshake: any;
  recovered: true;
  restoring: true;
  nsp: any;
  rooms: Set<Room>;
}

/** `true` allows; anything else (false, a throw, a rejection) denies. The socket's own id room is
 * always allowed without asking. */
export type AuthorizeJoin = (socket: any | RestoringSocket, room: Room) => boolean | Promise<boolean>;

/** What a throttle/batch function sees of the emit: Socket.io's broadcast options. */
export type EmitTarget = BroadcastOptions;

export interface AdapterOptions {
  /** 'native' (default) or 'js', or an API object with a FanoutHub class. */
  implementation?: 'native' | 'js' | { FanoutHub: typeof FanoutHub; implementation?: string };
  /** Per throttle key, at most one delivery per this many ms (default 1000). */
  throttleMs?: number;
  /** Coalesce and throttle: per event name a function returning the key (or null: not throttled),
   * or one function for every event. Keys are per event and per target (rooms, except). */
  throttle?:
    | Record<string, (args: unknown[], target: EmitTarget) => string | number | null | undefined>
    | ((event: string, args: unknown[], target: EmitTarget) => string | number | null | undefined);
  /** Batch single-room emits of these events into `rt:bulk` packets (default 50 items / 200 ms). */
  batch?:
    | { events?: string[] | ((event: string, args: unknown[], target: EmitTarget) => boolean); maxItems?: number; maxDelayMs?: number }
    | ((event: string, args: unknown[], target: EmitTarget) => boolean);
  /** Packets written to a socket and not yet drained before it is a slow consumer (default 1000). */
  maxBacklog?: number;
  /** What to do with a slow consumer: close its transport (default; recoverable) or disconnect the socket. */
  slowConsumer?: 'close' | 'disconnect';
  /** Outbound payload bytes; over it, emit throws ERR_RT_TOO_LARGE (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Inbound packet bytes (attachments included); over it: errorEvent, then a disconnect (default: none). */
  maxInboundBytes?: number | null;
  /** Inbound events per socket: a token bucket of `points`, refilled over `intervalMs` (default: none). */
  rateLimit?: { points: number; intervalMs: number } | null;
  /** The join hook (rooms joined by the socket, by server-side socketsJoin, and restored by recovery). */
  authorizeJoin?: AuthorizeJoin | null;
  /** The event sent before a rate-limit or size disconnect, with { code, message } (default 'rt:error'). */
  errorEvent?: string;
  /** Recovery log bounds; the window defaults to connectionStateRecovery.maxDisconnectionDuration.
   * false turns recording off even with connectionStateRecovery. */
  recovery?: boolean | { windowMs?: number; maxPackets?: number; maxBytes?: number; maxSessions?: number };
  /** Keep sessions and recorded packets on disk (one directory per namespace under `path`); the
   * sessions of connected sockets are kept too, so recovery survives a crash (SIGKILL). */
  durable?: { path: string; fsync?: 'always' | 'interval' | 'never'; fsyncIntervalMs?: number; segmentBytes?: number };
  /** Packets held for a socket being restored (default 1000). */
  pendingLimit?: number;
  /** The direct-write fast path (default true): a pre-encoded websocket frame is written with
   * ws's Sender#sendFrame when the engine.io connection buffers nothing, skipping engine.io's
   * per-packet path (no 'packetCreate', 'flush' or 'drain' events for those packets). */
  directWrite?: boolean;
  maxConnections?: number;
  maxRooms?: number;
  /** Milliseconds clock (default Date.now). */
  clock?: () => number;
  /** The FanoutHub of namespace '/', made by the caller and not closed by the adapter (other
   * namespaces get their own). It must be of the adapter's implementation, created with
   * namespace '/', with recovery exactly when the server's connectionStateRecovery is on (and
   * recovery is not false), with durable exactly when `durable` is set; else creating the
   * namespace throws ERR_RT_INVALID_ARGUMENT. One live adapter at a time may use it. */
  hub?: FanoutHub | null;
  /** Scale-out over Redis (docs/redis.md): a client of the `ioredis` or the `redis` package
   * (node-redis: connected). Node-to-node messages follow socket.io-adapter's ClusterAdapter
   * protocol; with connectionStateRecovery, sessions and packets are kept in Redis so that a
   * client recovers on any node. Not with `durable`. */
  redis?: unknown;
  /** Options of the scale-out (only with `redis`). */
  cluster?: ClusterOptions;
}

export interface ClusterOptions {
  /** Prefix of every Redis key and channel, used as a hash tag `{keyPrefix}` (default
   * 'realtime-core'). Nodes of one deployment must use the same. */
  keyPrefix?: string;
  /** A heartbeat is published every this many ms (default 5000). */
  heartbeatInterval?: number;
  /** A node not heard from for this many ms is forgotten (serverCount drops; default 10000). */
  heartbeatTimeout?: number;
  /** fetchSockets / serverSideEmitWithAck wait this long for the other nodes (default 5000). */
  requestsTimeout?: number;
  /** Deadline of one Redis command (default 5000): past it, a recordable packet is delivered
   * locally without an offset and the message goes through the outbox. */
  commandTimeout?: number;
  /** Cross-node messages that could not be published (an OfflineQueue + createDelivery). */
  outbox?: {
    /** Messages kept (default 1000); past it the oldest is dropped (counted). */
    capacity?: number;
    /** A message older than this is dropped (counted; default 30000; 0: never). */
    ttlMs?: number;
    /** Failed publishes before a message is dropped (counted; default 5). */
    maxAttempts?: number;
    /** Backoff: first delay (default 100), cap (default 5000); full jitter. */
    initialDelayMs?: number;
    maxDelayMs?: number;
    /** The queue's circuit breaker (default { failureThreshold: 5, successThreshold: 1, openMs: 1000 }). */
    breaker?: { failureThreshold?: number; successThreshold?: number; openMs?: number };
  };
}

export interface ClusterMetrics {
  /** This node's id in the cluster protocol. */
  uid: string;
  /** Nodes counted by serverCount() (this one included). */
  nodes: number;
  state: 'connected' | 'disconnected';
  /** Messages published / received on Redis pub/sub; publishes that failed. */
  published: number;
  received: number;
  publishFailures: number;
  /** Messages put in the outbox; dropped from it (overflow, TTL, attempts); sent from it. */
  queued: number;
  dropped: number;
  redelivered: number;
  /** Messages waiting in the outbox now; its circuit breaker. */
  outbox: number;
  breaker: 'closed' | 'open' | 'half-open';
  /** Recordable packets recorded in Redis / delivered without an offset (Redis unreachable). */
  recorded: number;
  unrecorded: number;
  sessionsSaved: number;
  sessionsLost: number;
  remoteBroadcasts: number;
  nodesLost: number;
}

export interface AdapterMetrics {
  namespace: string;
  implementation: string;
  /** Packets written to sockets (one per socket). */
  deliveries: number;
  /** Of the deliveries, those written by the direct-write fast path (`directWrite`). */
  directWrites: number;
  bytes: number;
  /** Packets encoded (once per delivery). */
  packets: number;
  fallbackPackets: number;
  drops: number;
  droppedVolatile: number;
  droppedPending: number;
  coalesced: number;
  backlog: number;
  maxBacklog: number;
  slowConsumers: number;
  slowDisconnects: number;
  recoveries: number;
  recoveryFailures: number;
  /** 'outage', 'unavailable', 'denied': with `redis` only (docs/redis.md). */
  recoveryFailuresByReason: Record<'unknown-session' | 'expired' | 'invalid-offset' | 'too-old' | 'error' | 'outage' | 'unavailable' | 'denied', number>;
  offsetRepairs: number;
  joinsDenied: number;
  rateLimited: number;
  oversizeInbound: number;
  oversizeOutbound: number;
  refusedConnections: number;
  sockets: number;
  rooms: number;
  hub: FanoutStats;
  /** With `redis` only. */
  cluster?: ClusterMetrics;
}

/** socket.io-adapter 2.5's Adapter API over a FanoutHub. `rooms` and `sids` are read-only views. */
export declare class RealtimeCoreAdapter extends Adapter {
  constructor(nsp: any);
  readonly implementation: string;
  /** The namespace's FanoutHub. */
  readonly hub: FanoutHub;
  /** Publishes straight to the hub (room names as given) and writes what it delivers. */
  publish(message: FanoutMessage): FanoutPublishResult;
  /** Delivers due throttled messages and batches now ({ all: true }: everything pending). */
  flush(options?: { all?: boolean }): FanoutDeliveries;
  metrics(): AdapterMetrics;
  /** With `redis`: this node's id, and a promise settled once it is subscribed (after init()). */
  readonly uid?: string;
  readonly ready?: Promise<void> | null;
  close(): Promise<void>;
  on(event: 'create-room' | 'delete-room', listener: (room: Room) => void): this;
  on(event: 'join-room' | 'leave-room' | 'join-denied', listener: (room: Room, id: SocketId) => void): this;
  on(event: 'slow-consumer', listener: (id: SocketId) => void): this;
  on(event: 'rejected', listener: (id: SocketId, code: 'ERR_RT_RATE_LIMITED' | 'ERR_RT_TOO_LARGE') => void): this;
  /** With `redis`: the Redis link went up or down, or the outbox's breaker changed. */
  on(event: 'cluster-state', listener: (s: { state: 'connected' | 'disconnected'; breaker: 'closed' | 'open' | 'half-open' }) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** An adapter class for `new Server({ adapter })` or `io.adapter(...)`. */
export declare function createAdapter(options?: AdapterOptions): typeof RealtimeCoreAdapter;

export interface MetricsCollector {
  /** The prom-client metrics, by name. */
  metrics: Record<string, unknown>;
  unregister(): void;
}

/** prom-client counters and gauges (labels: namespace, implementation) over adapter.metrics() of
 * every live adapter, or of one server's namespaces ({ io }). prom-client is an optional peer
 * dependency: loaded here, with an ERR_RT_MISSING_PEER error when it is not installed. */
export declare function createMetricsCollector(options?: {
  registry?: unknown;
  /** Default 'realtime_core_socketio_'. */
  prefix?: string;
  io?: { _nsps: Map<string, { adapter: unknown }> } | unknown;
  adapters?: () => RealtimeCoreAdapter[];
  /** prom-client itself, when it cannot be required from here. */
  promClient?: unknown;
}): MetricsCollector;
