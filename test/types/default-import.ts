// ESM consumers only: the default export is the whole API object, as with require().
import rt from 'realtime-core';
import twin from 'realtime-core/js';

const impl: 'native' | 'js' = rt.implementation;
const store = new rt.DocumentStore();
const twinStore = new twin.DocumentStore({ strategy: 'client-wins' });
export const used = [impl, store.size, twinStore.size];
