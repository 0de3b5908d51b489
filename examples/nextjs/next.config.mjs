import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// This directory is the app's root, also inside the realtime-core repository (whose own
// package-lock.json Next would otherwise pick as the workspace root, with a warning).
const root = dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  // realtime-core is a native addon: node-gyp-build loads a .node file from the package's own
  // directory. Next bundles server code; a bundled realtime-core neither finds its prebuilt
  // binary (`next build` fails with ERR_RT_ADDON_LOAD) nor can a .node file be bundled. Kept
  // external, the server output imports 'realtime-core' and Node loads it from node_modules.
  serverExternalPackages: ['realtime-core'],
  turbopack: { root },
  outputFileTracingRoot: root,
};

export default nextConfig;
