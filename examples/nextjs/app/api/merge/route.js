import { implementation, merge3 } from 'realtime-core';
import { badRequest, fromRealtimeCoreError, readJsonObject } from '../../../lib/http';

// Native addons load on the Node.js runtime only (the Edge runtime cannot load a .node file).
export const runtime = 'nodejs';

const STRATEGIES = ['server-wins', 'client-wins', 'last-writer-wins'];

// POST { base, local, remote, strategy? } -> { doc, conflicts, implementation }
// `local` is the client's edit of `base`, `remote` what the server has now; a field changed on
// both sides is resolved by `strategy` (default 'server-wins': the remote value wins).
export async function POST(request) {
  const body = await readJsonObject(request);
  if (!body || !('base' in body) || !('local' in body) || !('remote' in body)) {
    return badRequest('ERR_BAD_REQUEST', 'expected a JSON object { base, local, remote, strategy? }');
  }
  const { base, local, remote, strategy = 'server-wins' } = body;
  if (!STRATEGIES.includes(strategy)) {
    return badRequest('ERR_BAD_REQUEST', `strategy must be one of ${STRATEGIES.join(', ')}`);
  }
  try {
    const { doc, conflicts } = merge3(base, local, remote, { strategy });
    return Response.json({ doc, conflicts, implementation });
  } catch (err) {
    return fromRealtimeCoreError(err);
  }
}
