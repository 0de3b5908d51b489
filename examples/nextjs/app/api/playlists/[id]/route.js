import { getStore, readDocument } from '../../../../lib/store';
import { badRequest, fromRealtimeCoreError, readJsonObject } from '../../../../lib/http';

export const runtime = 'nodejs';

// GET /api/playlists/42 -> { id, version, doc }
export async function GET(request, { params }) {
  const { id } = await params;
  const current = readDocument(`playlist:${id}`);
  if (!current) return Response.json({ error: { code: 'ERR_NOT_FOUND', message: `no playlist ${id}` } }, { status: 404 });
  return Response.json(current);
}

// POST /api/playlists/42 { baseVersion, patch | mergePatch, clientId, mutationId }
// -> the store's apply result { status, version, delta, conflicts, error?, gap? }
// (409 when the store rejected the mutation; broadcast `delta` to the playlist's viewers).
export async function POST(request, { params }) {
  const { id } = await params;
  const docId = `playlist:${id}`;
  const store = getStore();
  if (!store.has(docId)) return Response.json({ error: { code: 'ERR_NOT_FOUND', message: `no playlist ${id}` } }, { status: 404 });
  const body = await readJsonObject(request);
  if (!body || ('patch' in body) === ('mergePatch' in body)) {
    return badRequest('ERR_BAD_REQUEST', 'expected a JSON object { baseVersion, patch | mergePatch, clientId, mutationId }');
  }
  const { baseVersion, patch, mergePatch, clientId, mutationId } = body;
  try {
    const result = store.apply(docId, { baseVersion, clientId, mutationId, ...(patch !== undefined ? { patch } : { mergePatch }) });
    return Response.json(result, { status: result.status === 'rejected' ? 409 : 200 });
  } catch (err) {
    return fromRealtimeCoreError(err);
  }
}
