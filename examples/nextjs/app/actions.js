'use server';

import { revalidatePath } from 'next/cache';
import { implementation, RealtimeCoreError } from 'realtime-core';
import { getStore, PLAYLIST_ID, readDocument } from '../lib/store';

// The form's server action (used with useActionState in app/edit-form.js): the edit is a merge
// patch on the version the form was rendered from (`baseVersion`). If the playlist changed
// since, the store merges the edit with what changed (three-way, server-wins on a field both
// sides changed) and reports the conflicts.
export async function saveEdit(previous, formData) {
  const baseVersion = Number(formData.get('baseVersion'));
  const name = String(formData.get('name') ?? '').trim();
  const volume = Number(formData.get('volume'));
  if (!Number.isInteger(baseVersion) || !name || !Number.isInteger(volume)) {
    return { ...previous, error: 'name must not be empty and volume must be a whole number' };
  }
  let result;
  try {
    result = getStore().apply(PLAYLIST_ID, { baseVersion, mergePatch: { name, volume } });
  } catch (err) {
    if (err instanceof RealtimeCoreError) return { ...previous, error: `${err.code}: ${err.message}` };
    throw err;
  }
  revalidatePath('/');
  return { result, current: readDocument(PLAYLIST_ID), implementation, error: null };
}
