import { DocumentStore } from 'realtime-core';

// One DocumentStore per server process, kept on globalThis: in `next dev` a hot reload
// re-evaluates this module (a module-level `new DocumentStore()` would start over, empty, on
// every edit), and in production each route is its own bundle, so the route handlers and the
// server action would otherwise each get their own store. realtime-core itself is external
// (next.config.mjs), so its addon is loaded once by Node's require.
const KEY = Symbol.for('realtime-core-nextjs-example.store');

export const PLAYLIST_ID = 'playlist:42';

function createStore() {
  const store = new DocumentStore({ strategy: 'server-wins' });
  store.put(PLAYLIST_ID, { name: 'Lobby', volume: 5, items: [{ id: 1, title: 'Intro' }] });
  return store;
}

export function getStore() {
  globalThis[KEY] ??= createStore();
  return globalThis[KEY];
}

// The current document and its version.
export function readDocument(id) {
  const store = getStore();
  if (!store.has(id)) return null;
  return { id, version: store.version(id), doc: store.get(id) };
}
