'use client';

import { useActionState } from 'react';
import { saveEdit } from './actions';

// The form posts to the server action; `baseVersion` is the version this form was rendered
// from, so an edit made while someone else changed the playlist is merged, not lost.
export default function EditForm({ doc, version }) {
  const [state, formAction, pending] = useActionState(saveEdit, { result: null, current: null, implementation: null, error: null });
  return (
    <>
      <form action={formAction} key={version}>
        <input type="hidden" name="baseVersion" value={version} />
        <p>
          <label>
            Name <input name="name" defaultValue={doc.name} required />
          </label>
        </p>
        <p>
          <label>
            Volume <input name="volume" type="number" defaultValue={doc.volume} required />
          </label>
        </p>
        <p>
          <button type="submit" disabled={pending}>Save (editing version {version})</button>
        </p>
      </form>
      {state.error && <p role="alert">{state.error}</p>}
      {state.result && (
        <section>
          <h2>
            Result: {state.result.status}, version {state.result.version} ({state.implementation})
          </h2>
          <pre data-testid="result">{JSON.stringify(state.result)}</pre>
          <h3>Document after the merge</h3>
          <pre data-testid="merged">{JSON.stringify(state.current)}</pre>
        </section>
      )}
    </>
  );
}
