import { createRequire } from 'node:module';

const api = createRequire(import.meta.url)('./index.js');

export default api;
export const {
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
  DEFAULT_LIMITS,
} = api;
