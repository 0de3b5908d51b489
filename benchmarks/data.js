'use strict';

// Deterministic, realistic benchmark data: dashboard documents (devices with status,
// playlists whose items have ids, schedules, nested settings, KPIs, alerts), the small patches
// a dashboard client sends, and the ~1 KB "screen" entities kept in a DocumentStore.
// Everything is generated from a seed, so every run and every implementation sees the same
// bytes. Derived documents (patched, local/remote edits) are computed with fast-json-patch on
// private clones, never with the code under test.

const jsonpatch = require('fast-json-patch');

// The same seeded PRNG as the differential tests and the queue's jitter.
const { mulberry32 } = require('../lib/js/prng');

function makeRng(seed) {
  const rnd = mulberry32(seed);
  const int = (n) => Math.floor(rnd() * n);
  const pick = (arr) => arr[int(arr.length)];
  return { rnd, int, pick, chance: (p) => rnd() < p };
}

const clone = (v) => JSON.parse(JSON.stringify(v));
const pad = (n, w) => String(n).padStart(w, '0');
const BASE_MS = Date.UTC(2026, 0, 5, 8, 0, 0);
const iso = (ms) => new Date(ms).toISOString();

const SITES = ['Lyon HQ', 'Berlin Mitte', 'Madrid Norte', 'Oslo Harbour', 'Austin East', 'Osaka Bay'];
const MODELS = ['SigPro 55', 'SigPro 65', 'TabletKiosk 10', 'LedWall 2x2', 'MiniPlayer 4K'];
const TITLES = ['Morning promo', 'Safety briefing', 'Weather loop', 'Menu board', 'KPI wall', 'Welcome reel',
  'Quarterly results', 'Spring campaign', 'Store hours', 'Live news ticker'];
const TAGS = ['lobby', 'retail', 'outdoor', 'kitchen', 'portrait', 'landscape', 'touch', 'audio', 'vip', 'staff'];
const THEMES = ['light', 'dark', 'high-contrast', 'auto'];

function device(rng, i) {
  return {
    id: `dev-${pad(i, 5)}`,
    name: `${rng.pick(SITES)} screen ${i}`,
    model: rng.pick(MODELS),
    status: {
      online: rng.chance(0.85),
      battery: rng.int(101),
      temperature: Math.round((30 + rng.rnd() * 25) * 10) / 10,
      lastSeen: iso(BASE_MS - rng.int(3600) * 1000),
      firmware: `4.${rng.int(9)}.${rng.int(20)}`,
    },
    location: { site: rng.pick(SITES), floor: rng.int(12), zone: `Z${rng.int(30)}` },
    tags: [rng.pick(TAGS), rng.pick(TAGS)],
    playlistId: null,
  };
}

function playlistItem(rng, i) {
  return {
    id: `itm-${pad(i, 6)}`,
    mediaId: `med-${pad(rng.int(100000), 6)}`,
    title: rng.pick(TITLES),
    durationMs: 5000 + rng.int(56) * 1000,
    transition: rng.pick(['cut', 'fade', 'slide']),
  };
}

function playlist(rng, i) {
  return { id: `pl-${pad(i, 4)}`, name: `${rng.pick(TITLES)} ${i}`, loop: rng.chance(0.7), items: [] };
}

function schedule(rng, i, deviceIds, playlistId) {
  const start = BASE_MS + rng.int(30) * 86400000;
  return {
    id: `sch-${pad(i, 4)}`,
    playlistId,
    deviceIds,
    cron: `0 ${rng.int(24)} * * ${rng.int(7)}`,
    startsAt: iso(start),
    endsAt: iso(start + (1 + rng.int(14)) * 86400000),
    enabled: rng.chance(0.8),
    priority: rng.int(5),
  };
}

function alert(rng, i, deviceId) {
  return {
    id: `alr-${pad(i, 5)}`,
    deviceId,
    level: rng.pick(['info', 'warning', 'critical']),
    message: rng.pick(['Temperature high', 'Offline for 5 minutes', 'Storage almost full', 'Firmware outdated']),
    at: iso(BASE_MS - rng.int(86400) * 1000),
    acknowledged: rng.chance(0.4),
  };
}

const size = (v) => JSON.stringify(v).length;

// A dashboard document of about `targetBytes` bytes of JSON text (never more).
function makeDashboard(targetBytes, seed = 1) {
  const rng = makeRng(seed);
  const doc = {
    id: `dash-${seed}`,
    name: 'Operations overview',
    updatedAt: iso(BASE_MS),
    settings: {
      theme: 'light',
      locale: 'fr-FR',
      refreshMs: 10000,
      notifications: { email: true, push: false, digest: 'daily' },
      layout: { columns: 3, density: 'comfortable', pinned: ['kpis', 'devices'] },
    },
    kpis: { activeDevices: 0, uptimePct: 99.5, playsToday: 0, errorsToday: 0 },
    devices: [],
    playlists: [],
    schedules: [],
    alerts: [],
  };
  let bytes = size(doc);
  let counters = { dev: 0, item: 0, pl: 0, sch: 0, alr: 0 };
  const tryAdd = (arr, value) => {
    const extra = size(value) + (arr.length ? 1 : 0);
    if (bytes + extra > targetBytes) return false;
    arr.push(value);
    bytes += extra;
    return true;
  };
  // round-robin growth so every size has the same shape
  for (let step = 0; ; step++) {
    let added = false;
    if (step % 2 === 0) {
      if (doc.playlists.length === 0 || doc.playlists[doc.playlists.length - 1].items.length >= 8) {
        added = tryAdd(doc.playlists, playlist(rng, counters.pl++)) || added;
      }
      const pl = doc.playlists[doc.playlists.length - 1];
      if (pl) added = tryAdd(pl.items, playlistItem(rng, counters.item++)) || added;
    } else if (step % 6 === 1 || step % 6 === 3) {
      const d = device(rng, counters.dev++);
      if (doc.playlists.length) d.playlistId = rng.pick(doc.playlists).id;
      added = tryAdd(doc.devices, d) || added;
    } else if (step % 6 === 5 && doc.devices.length >= 2) {
      const ids = [rng.pick(doc.devices).id, rng.pick(doc.devices).id];
      added = tryAdd(doc.schedules, schedule(rng, counters.sch++, ids, rng.pick(doc.playlists).id)) || added;
      if (counters.sch % 2 === 0) added = tryAdd(doc.alerts, alert(rng, counters.alr++, rng.pick(doc.devices).id)) || added;
    } else {
      added = true; // a step with nothing to do
    }
    if (!added) break;
  }
  doc.kpis.activeDevices = doc.devices.filter((d) => d.status.online).length;
  return doc;
}

// A small realistic client patch (RFC 6902): a guard `test`, a device status change, a new
// playlist item inserted in the middle of a playlist, another item removed, settings changes.
function dashboardPatch(doc, seed = 2) {
  const rng = makeRng(seed);
  const di = Math.floor(doc.devices.length / 2);
  const dev = doc.devices[di];
  const pi = Math.floor(doc.playlists.length / 2);
  const items = doc.playlists[pi].items;
  const at = Math.floor(items.length / 2);
  const ops = [
    { op: 'test', path: `/devices/${di}/id`, value: dev.id },
    { op: 'replace', path: `/devices/${di}/status/online`, value: !dev.status.online },
    { op: 'replace', path: `/devices/${di}/status/battery`, value: (dev.status.battery + 37) % 101 },
    { op: 'add', path: `/playlists/${pi}/items/${at}`, value: playlistItem(rng, 900000) },
    { op: 'remove', path: `/playlists/${pi}/items/${items.length}` }, // the last item (after the insert)
    { op: 'replace', path: '/settings/theme', value: 'dark' },
    { op: 'add', path: '/settings/notifications/quietHours', value: { from: '22:00', to: '07:00' } },
  ];
  return ops;
}

// A small RFC 7396 merge patch: settings and KPIs, a key removed, the updatedAt stamp.
function dashboardMergePatch(doc) {
  return {
    updatedAt: iso(BASE_MS + 60000),
    settings: { theme: 'dark', refreshMs: 5000, notifications: { email: null, push: true }, layout: { density: 'compact' } },
    kpis: { activeDevices: doc.kpis.activeDevices - 1, playsToday: 1234, errorsToday: 3 },
  };
}

// Concurrent edits for merge3: local (the client) and remote (the server) both edited `base`.
// They touch different devices and playlist items (clean merges, arrays merged by id), and
// both change the theme (one conflict, resolved server-wins).
function mergeTriple(base, seed = 3) {
  const rng = makeRng(seed);
  const n = base.devices.length;
  const li = Math.floor(n / 3);
  const ri = Math.floor((2 * n) / 3) === li ? Math.min(n - 1, li + 1) : Math.floor((2 * n) / 3);
  const pl = Math.floor(base.playlists.length / 2);
  const items = base.playlists[pl].items;
  const localOps = [
    { op: 'replace', path: `/devices/${li}/status/online`, value: !base.devices[li].status.online },
    { op: 'replace', path: `/devices/${li}/name`, value: 'Renamed by client' },
    { op: 'add', path: `/playlists/${pl}/items/1`, value: playlistItem(rng, 910000) },
    { op: 'replace', path: '/settings/theme', value: 'dark' },
  ];
  const remoteOps = [
    { op: 'replace', path: `/devices/${ri}/status/battery`, value: (base.devices[ri].status.battery + 11) % 101 },
    { op: 'replace', path: `/devices/${ri}/status/lastSeen`, value: iso(BASE_MS + 5000) },
    { op: 'replace', path: `/playlists/${pl}/items/${items.length - 1}/durationMs`, value: 42000 },
    { op: 'replace', path: '/settings/theme', value: 'high-contrast' },
    { op: 'replace', path: '/kpis/playsToday', value: base.kpis.playsToday + 17 },
  ];
  if (base.schedules.length) {
    const s = Math.floor(base.schedules.length / 2);
    remoteOps.push({ op: 'replace', path: `/schedules/${s}/enabled`, value: !base.schedules[s].enabled });
  }
  if (base.alerts.length) remoteOps.push({ op: 'remove', path: '/alerts/0' });
  const local = jsonpatch.applyPatch(clone(base), clone(localOps), true, true).newDocument;
  const remote = jsonpatch.applyPatch(clone(base), clone(remoteOps), true, true).newDocument;
  return { base, local, remote };
}

// One stateless data set per size: values and their JSON text.
function statelessData(targetBytes, seed) {
  const doc = makeDashboard(targetBytes, seed);
  const patch = dashboardPatch(doc, seed + 1);
  const patched = jsonpatch.applyPatch(clone(doc), clone(patch), true, true).newDocument;
  const mergePatch = dashboardMergePatch(doc);
  const triple = mergeTriple(doc, seed + 2);
  const text = (v) => JSON.stringify(v);
  return {
    targetBytes,
    doc,
    patch,
    patched,
    mergePatch,
    triple,
    text: {
      doc: text(doc),
      patch: text(patch),
      patched: text(patched),
      mergePatch: text(mergePatch),
      base: text(triple.base),
      local: text(triple.local),
      remote: text(triple.remote),
    },
    counts: {
      devices: doc.devices.length,
      playlists: doc.playlists.length,
      items: doc.playlists.reduce((s, p) => s + p.items.length, 0),
      schedules: doc.schedules.length,
      alerts: doc.alerts.length,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DocumentStore data: "screen" entities (a display with its status, settings and the playlist
// it plays), about 1 KB each by default.

function makeEntity(i, targetBytes = 1024, seed = 7) {
  const rng = makeRng(seed * 1000003 + i);
  const e = {
    id: `scr-${pad(i, 6)}`,
    name: `${rng.pick(SITES)} screen ${i}`,
    model: rng.pick(MODELS),
    status: {
      online: rng.chance(0.85),
      battery: rng.int(101),
      temperature: Math.round((30 + rng.rnd() * 25) * 10) / 10,
      lastSeen: iso(BASE_MS - rng.int(3600) * 1000),
    },
    settings: { volume: rng.int(11), brightness: 40 + rng.int(61), orientation: rng.pick(['portrait', 'landscape']) },
    playlist: { id: `pl-${pad(rng.int(5000), 4)}`, loop: true, items: [] },
    tags: [rng.pick(TAGS), rng.pick(TAGS)],
  };
  for (let s = 0; s < 8; s++) e.settings[`slot${s}`] = 0;
  let bytes = size(e);
  for (let k = 0; ; k++) {
    const item = playlistItem(rng, i * 1000 + k);
    const extra = size(item) + (k ? 1 : 0);
    if (k >= 5 && bytes + extra > targetBytes) break; // at least 5 items: the patches use items 0..4
    e.playlist.items.push(item);
    bytes += extra;
  }
  return e;
}

// Pools of store patches (JSON text). POOL is a multiple of 8 and 5, so walking the pool
// with a per-document counter touches slot k % 8 and item k % 5: consecutive mutations of one
// document always change something, and four consecutive stale writes never touch the same
// slot or item (so the stale path merges cleanly every time: comparable work per iteration).
const POOL = 120;

// Fresh-base writes: device telemetry plus one playlist item edit.
function freshPatchPool() {
  const out = [];
  for (let k = 0; k < POOL; k++) {
    out.push(JSON.stringify([
      { op: 'replace', path: '/status/online', value: k % 2 === 0 },
      { op: 'replace', path: '/status/battery', value: 100 - (k % 100) },
      { op: 'replace', path: '/status/lastSeen', value: iso(BASE_MS + k * 1000) },
      { op: 'replace', path: `/playlist/items/${k % 5}/durationMs`, value: 60000 + k },
    ]));
  }
  return out;
}

// Stale-base writes (a client that missed a few versions): a setting and an item title.
function stalePatchPool() {
  const out = [];
  for (let k = 0; k < POOL; k++) {
    out.push(JSON.stringify([
      { op: 'replace', path: `/settings/slot${k % 8}`, value: k + 1 },
      { op: 'replace', path: `/playlist/items/${k % 5}/title`, value: `Edited title ${k}` },
    ]));
  }
  return out;
}

module.exports = {
  mulberry32,
  makeRng,
  makeDashboard,
  dashboardPatch,
  dashboardMergePatch,
  mergeTriple,
  statelessData,
  makeEntity,
  freshPatchPool,
  stalePatchPool,
  POOL,
};
