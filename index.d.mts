// Types of `import ... from 'realtime-core'` (and 'realtime-core/js'): the named exports of
// index.d.ts, and the whole API object as the default export, as lib/index.mjs gives them.
import * as api from './index.js';

export * from './index.js';
export default api;
