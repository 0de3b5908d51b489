import { RealtimeCoreError } from 'realtime-core';

// A JSON request body, or null when it is not a JSON object.
export async function readJsonObject(request) {
  try {
    const body = await request.json();
    return body !== null && typeof body === 'object' && !Array.isArray(body) ? body : null;
  } catch {
    return null;
  }
}

export function badRequest(code, message) {
  return Response.json({ error: { code, message } }, { status: 400 });
}

// realtime-core refuses invalid input with a RealtimeCoreError (code ERR_RT_...): a 400 with
// that code; anything else is a bug and stays a 500.
export function fromRealtimeCoreError(err) {
  if (err instanceof RealtimeCoreError) return badRequest(err.code, err.message);
  throw err;
}
