// A typed consumer of realtime-core, compiled with `tsc --strict` by test/packaging.test.js
// twice: as a CommonJS project and as an ESM one ("type": "module"), against the packed tarball.
import {
  implementation,
  applyPatch,
  applyMergePatch,
  diff,
  merge3,
  HybridLogicalClock,
  DocumentStore,
  OptimisticState,
  OfflineQueue,
  FanoutHub,
  createDelivery,
  RealtimeCoreError,
  ERROR_CODES,
  type ApplyResult,
  type JsonValue,
  type QueueItem,
  type FanoutPublishResult,
} from 'realtime-core';
import * as twin from 'realtime-core/js';
import { createAdapter, createMetricsCollector, type AdapterOptions } from 'realtime-core/socket.io';
import { ClusterDocumentStore, type ClusterDocumentStoreOptions } from 'realtime-core/cluster';

const impl: 'native' | 'js' = implementation;
const twinImpl: 'native' | 'js' = twin.implementation;

const patched: JsonValue = applyPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }]);
const patchedText: string = applyPatch('{"a":1}', [{ op: 'add', path: '/b', value: true }], { output: 'text' });
const merged: JsonValue = applyMergePatch({ a: 1, b: 2 }, { b: null });
const delta = diff({ a: 1 }, { a: 2 }, { format: 'merge-patch' });
const m3 = merge3({ v: 1 }, { v: 2 }, { v: 3 }, { strategy: 'server-wins' });
const conflictsCount: number = m3.conflicts.length;

const clock = new HybridLogicalClock({ nodeId: 'n1' });
const ts: string = clock.now();

const store = new DocumentStore({ strategy: 'last-writer-wins', historyLimit: 50 });
store.put('playlist:1', { name: 'Lobby', items: [] });
const res: ApplyResult = store.apply('playlist:1', { mergePatch: { name: 'Hall' }, baseVersion: 1, clientId: 'c1', mutationId: 1, timestamp: ts });
const status: 'applied' | 'merged' | 'rejected' | 'duplicate' = res.status;
const textRes = store.apply('playlist:1', { patch: [{ op: 'add', path: '/items/-', value: 1 }] }, { output: 'text' });
const deltaText: string | null = textRes.delta;
const since = store.changesSince('playlist:1', 0);
const sinceVersion: number = since.version;

const state = new OptimisticState({ count: 0 }, { timeoutMs: 30_000, maxPending: 100 });
state.on('rollback', (e) => { const reason: string = e.reason; void reason; });
state.apply('m1', { mergePatch: { count: 1 } });
const commit = state.commit('m1', { mergePatch: { count: 1 }, version: 2 });
const committedVersion: number = commit.version;
state.close();

const queue = new OfflineQueue({ capacity: 1000, overflow: 'drop-oldest' });
const pushed = queue.push('client-1', { event: 'n', payload: '{"n":1}' });
const offset: number | null = pushed.offset;
const items: QueueItem[] = queue.peek('client-1');
const delivery = createDelivery(queue, { send: async (item: QueueItem) => item.offset });

const hub = new FanoutHub({ throttleMs: 1000, recovery: { windowMs: 120_000 } });
const h: number = hub.connect();
hub.join(h, ['org:acme']);
const published: FanoutPublishResult = hub.publish({ rooms: ['org:acme'], event: 'device:status-update', payload: { id: 1 } });
const handles: Uint32Array = published.deliveries[0]?.handles ?? new Uint32Array();

const adapterOptions: AdapterOptions = {
  implementation: 'native',
  throttle: { 'service:status': (args: unknown[]) => String(args.length) },
  batch: { events: ['kpi:update'], maxItems: 50, maxDelayMs: 200 },
  rateLimit: { points: 50, intervalMs: 10_000 },
};
const AdapterClass = createAdapter(adapterOptions);
const collector = createMetricsCollector;

const clusterAdapterOptions: AdapterOptions = { redis: {}, cluster: { keyPrefix: 'rt', heartbeatInterval: 5000 } };
const clusterOptions: ClusterDocumentStoreOptions = { redis: {}, implementation: 'js', strategy: 'server-wins', keyPrefix: 'rt:doc:' };
async function clusterApply(store: ClusterDocumentStore): Promise<number> {
  const r = await store.apply('playlist:1', { mergePatch: { name: 'Hall' }, baseVersion: 1, clientId: 'c', mutationId: 2 });
  const s: 'applied' | 'merged' | 'rejected' | 'duplicate' = r.status;
  void s;
  return r.version;
}

function isRealtimeError(e: unknown): string | null {
  return e instanceof RealtimeCoreError ? e.code : null;
}
const codes: readonly string[] = ERROR_CODES;

export const used = [
  impl, twinImpl, patched, patchedText, merged, delta, conflictsCount, status, deltaText, sinceVersion,
  committedVersion, offset, items, delivery, handles, AdapterClass, collector, isRealtimeError, codes,
  clusterAdapterOptions, clusterOptions, clusterApply,
];
