import { implementation } from 'realtime-core';
import { PLAYLIST_ID, readDocument } from '../lib/store';
import EditForm from './edit-form';

// Rendered per request from the live store (never prerendered at build time).
export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export default function Page() {
  const { version, doc } = readDocument(PLAYLIST_ID);
  return (
    <main>
      <h1>Playlist {PLAYLIST_ID}</h1>
      <p>
        realtime-core implementation: <strong data-testid="implementation">{implementation}</strong>
      </p>
      <p>Current version {version}:</p>
      <pre data-testid="current">{JSON.stringify(doc)}</pre>
      <EditForm doc={doc} version={version} />
    </main>
  );
}
