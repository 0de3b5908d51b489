'use strict';

// The dashboard of the example server (docs/example-server.md, "Dashboard").
//
// Playlists are edited optimistically: each one is an OptimisticState of the JS twin
// (window.RealtimeCore, served as /realtime-core.js). An edit is applied locally at once, put in
// the outbox (memory + localStorage) and sent as rt:mutate, one at a time, in order; the ack
// commits it (with the server's delta and version) or rolls it back. Remote rt:delta rebases.
// After a reconnect that did not recover the connection state, rt:sync brings the known
// playlists up to date before the outbox is replayed with the same mutation ids.

(() => {
  const { OptimisticState } = window.RealtimeCore;

  const params = new URLSearchParams(location.search);
  const org = params.get('org') || 'acme';
  const user = params.get('user') || 'alice';
  const role = params.get('role') || 'editor';
  const MODULES = ['signage', 'analytics', 'energy'];
  const REQUEST_TIMEOUT_MS = 20000;
  const MAX_LOG_ITEMS = 30;

  const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
  const byRole = (root, r) => root.querySelector(`[data-role="${r}"]`);

  // ---- persistence: the client id, the next mutation id and the outbox survive reloads -----
  //
  // The server remembers the last mutation id of each client id, so two tabs must not share one:
  // each tab holds a Web Lock on a numbered slot for its lifetime (a reload gets the same slot
  // back, a second tab takes the next one), and the slot keys the stored state.

  let slot = 0;
  const storageKey = (name) => `rt-demo:${org}:${user}:${slot}:${name}`;

  async function claimSlot() {
    if (!navigator.locks) return 0; // not a secure context: one slot for every tab
    for (let n = 0; ; n++) {
      const held = await new Promise((resolve) => {
        navigator.locks.request(`rt-demo:${org}:${user}:${n}`, { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          return lock === null ? undefined : new Promise(() => {}); // held until the tab goes
        });
      });
      if (held) return n;
    }
  }

  function load(name, fallback) {
    try {
      const text = localStorage.getItem(storageKey(name));
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  function save(name, value) {
    try {
      localStorage.setItem(storageKey(name), JSON.stringify(value));
    } catch {
      // storage full or disabled: the outbox still lives in memory
    }
  }

  function randomId() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  // The server deduplicates (clientId, mutation id) and expects increasing integer ids.
  let clientId = null;
  let nextMutationId = 1;
  let outbox = []; // [{ entity, id, base, patch | mergePatch }], oldest first

  async function loadClientState() {
    slot = await claimSlot();
    clientId = load('clientId', null) || randomId();
    save('clientId', clientId);
    nextMutationId = load('nextMutationId', 1);
    outbox = load('outbox', []);
  }

  function takeMutationId() {
    const id = nextMutationId++;
    save('nextMutationId', nextMutationId);
    return id;
  }

  const saveOutbox = () => save('outbox', outbox);

  // ---- connection state and the badge ------------------------------------------------------

  let socket = null;
  let everConnected = false;
  let connected = false;
  let syncing = false; // dashboard:init / rt:sync in progress after a connect
  let generation = 0; // bumps on every connect and disconnect
  let flushing = false;

  function renderBadge() {
    const badge = byTestId('connection');
    const n = outbox.length;
    let state;
    let text;
    if (!connected) {
      state = everConnected || !navigator.onLine ? 'offline' : 'connecting';
      text = n > 0 ? `${state} (${n} pending)` : state;
    } else if (syncing || n > 0) {
      state = 'syncing';
      text = `syncing (${n} pending)`;
    } else {
      state = 'live';
      text = 'live';
    }
    badge.dataset.state = state;
    badge.dataset.pending = String(n);
    badge.textContent = text;
  }

  // One visible error at a time (click to dismiss). `source` lets the connection code clear
  // its own errors once it recovers without hiding, say, a rejected edit.
  function showError(message, source = 'edit') {
    const el = byTestId('error');
    el.textContent = message;
    el.dataset.source = source;
    el.hidden = false;
  }

  function clearError(source) {
    const el = byTestId('error');
    if (el.dataset.source === source) el.hidden = true;
  }

  // emit with an ack; rejects when not connected, on disconnect and on timeout
  function request(event, ...args) {
    return new Promise((resolve, reject) => {
      if (!socket || !socket.connected) {
        reject(new Error('not connected'));
        return;
      }
      socket.timeout(REQUEST_TIMEOUT_MS).emit(event, ...args, (err, reply) => (err ? reject(err) : resolve(reply)));
    });
  }

  // ---- playlists ---------------------------------------------------------------------------

  const playlists = new Map(); // entity -> { entity, state: OptimisticState, card, updatedBy }
  const ownVersions = new Map(); // entity -> Set of versions our own mutations produced

  function isPending(doc, id) {
    return doc.state.pending.some((p) => p.id === id);
  }

  function addPlaylist({ entity, version, doc: initial }) {
    const state = new OptimisticState(initial, { baseVersion: version, autoExpire: false });
    const doc = { entity, state, card: createCard(entity), updatedBy: null };
    playlists.set(entity, doc);
    state.on('change', () => renderPlaylist(doc));
    state.on('commit', () => renderPlaylist(doc));
    state.on('rollback', ({ id, reason }) => {
      if (reason === 'conflict') {
        addConflict(entity, `your pending change #${id} no longer applies on the server's version ${state.baseVersion}`);
      }
      renderPlaylist(doc);
    });
    // Changes still in the outbox (from before a reload) are visible again at once.
    for (const m of outbox) {
      if (m.entity !== entity) continue;
      try {
        state.apply(String(m.id), changeOf(m));
      } catch (err) {
        addConflict(entity, `your pending change #${m.id} no longer applies: ${err.message}`);
      }
    }
    renderPlaylist(doc);
  }

  const changeOf = (m) => (m.patch !== undefined ? { patch: m.patch } : { mergePatch: m.mergePatch });

  // A local edit: visible now, sent when connected.
  function edit(entity, change) {
    const doc = playlists.get(entity);
    const id = takeMutationId();
    try {
      doc.state.apply(String(id), change);
    } catch (err) {
      showError(`Edit not applied: ${err.message}`);
      return;
    }
    outbox.push({ entity, id, base: doc.state.baseVersion, ...change });
    saveOutbox();
    renderBadge();
    if (connected && !syncing) flush();
  }

  // A remote change of the base, version by version; a gap is filled by rt:sync.
  function rebase(doc, change, version) {
    const { state } = doc;
    if (version <= state.baseVersion) return true; // already have it
    if (version !== state.baseVersion + 1) return false;
    try {
      state.rebase(change, { version });
      return true;
    } catch (err) {
      showError(`Could not apply the server's change to ${doc.entity}: ${err.message}`);
      return false;
    }
  }

  function onDelta({ entity, version, patch }) {
    const doc = playlists.get(entity);
    if (!doc) return;
    if (!rebase(doc, { mergePatch: patch }, version)) sync([entity]).catch(() => {});
  }

  // rt:sync of the versions we know; applies the changes or snapshots it returns.
  async function sync(entities) {
    if (entities.length === 0) return;
    const known = {};
    for (const entity of entities) known[entity] = playlists.get(entity).state.baseVersion;
    const reply = await request('rt:sync', { entities: known });
    if (reply && reply.status === 'rejected') throw new Error(`rt:sync refused: ${reply.error && reply.error.message}`);
    for (const [entity, result] of Object.entries((reply && reply.entities) || {})) {
      const doc = playlists.get(entity);
      if (!doc) continue;
      if (result.error) {
        showError(`Sync of ${entity} failed: ${result.error.message || result.error.code}`);
      } else if (result.snapshot !== undefined) {
        if (result.version > doc.state.baseVersion) doc.state.rebase({ snapshot: result.snapshot }, { version: result.version });
      } else {
        for (const c of result.changes || []) rebase(doc, { mergePatch: c.delta }, c.version);
      }
    }
  }

  // The server applied (or had already applied) our mutation `id` as `version`.
  async function confirm(doc, id, version, delta) {
    const { state } = doc;
    const key = String(id);
    if (version > state.baseVersion + 1 || (version === state.baseVersion + 1 && delta == null)) {
      await sync([doc.entity]); // we missed someone else's change first
    }
    const pending = isPending(doc, key);
    if (version <= state.baseVersion) {
      if (pending) state.commit(key, { version }); // already in the base (rt:delta / rt:sync)
    } else if (delta != null) {
      if (pending) state.commit(key, { mergePatch: delta, version });
      else state.rebase({ mergePatch: delta }, { version });
    }
  }

  async function settle(m, ack) {
    const doc = playlists.get(m.entity);
    const status = ack && ack.status;
    const rejected = status === 'rejected' || (status === 'duplicate' && ack.error) || !status;
    if (rejected) {
      if (doc && isPending(doc, String(m.id))) doc.state.rollback(String(m.id));
      const why = (ack && ack.error && (ack.error.message || ack.error.code)) || 'no reply';
      showError(`Your change #${m.id} to ${playlistName(m.entity)} was rejected and undone: ${why}`);
      return;
    }
    for (const c of ack.conflicts || []) addConflict(m.entity, describeConflict(m.id, c));
    if (ack.delta !== undefined && ack.delta !== null) {
      // this version is our change (without a delta the document did not move)
      if (!ownVersions.has(m.entity)) ownVersions.set(m.entity, new Set());
      ownVersions.get(m.entity).add(ack.version);
    }
    if (doc) await confirm(doc, m.id, ack.version, ack.delta);
  }

  // Our own earlier mutations are not a conflict: skip the versions they produced.
  function baseFor(m) {
    const own = ownVersions.get(m.entity);
    let base = m.base;
    while (own && own.has(base + 1)) base++;
    return base;
  }

  // Sends the outbox, oldest first, one mutation at a time. Each keeps its id across replays.
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      while (connected && !syncing && outbox.length > 0) {
        const m = outbox[0];
        m.base = baseFor(m);
        saveOutbox();
        let ack;
        try {
          ack = await request('rt:mutate', m);
        } catch (err) {
          if (connected) continue; // timed out: send it again (the server deduplicates)
          break; // disconnected: replayed after the next connect
        }
        try {
          await settle(m, ack);
        } catch (err) {
          // lost the connection while catching up: the replay gets the same answer again
          if (!connected) break;
          showError(`Could not apply the server's answer to #${m.id}: ${err.message}`);
        }
        outbox.shift();
        saveOutbox();
        renderBadge();
      }
    } finally {
      flushing = false;
      renderBadge();
    }
    // a new connection finished syncing while this loop was still waiting for an old one
    if (connected && !syncing && outbox.length > 0) flush();
  }

  // ---- connecting ----------------------------------------------------------------------

  let token = null;

  async function getToken() {
    if (token === null) {
      const res = await fetch(`/api/demo-token?${new URLSearchParams({ org, user, role })}`);
      if (!res.ok) throw new Error(`GET /api/demo-token answered HTTP ${res.status}`);
      token = (await res.json()).token;
    }
    return token;
  }

  async function onConnect() {
    const gen = ++generation;
    connected = true;
    everConnected = true;
    syncing = true;
    renderBadge();
    try {
      if (!socket.recovered) {
        // The server lost our rooms and we may have missed events: start over, keeping the
        // optimistic state of the playlists we know.
        const known = [...playlists.keys()];
        const init = await request('dashboard:init');
        if (gen !== generation) return;
        if (!init || init.ok === false) throw new Error((init && init.error && init.error.message) || 'dashboard:init failed');
        applyInit(init);
        await subscribeAll();
        await sync(known);
        if (gen !== generation) return;
      }
      clearError('connection');
    } catch (err) {
      if (gen !== generation) return;
      showError(`Could not load the dashboard: ${err.message}`, 'connection');
    } finally {
      if (gen === generation) syncing = false;
      renderBadge();
    }
    if (gen === generation) flush();
  }

  function onDisconnect() {
    generation++;
    connected = false;
    syncing = false;
    renderBadge();
  }

  function applyInit(init) {
    byTestId('who').textContent = `${init.user || user} @ ${init.org || org} (${init.role || role})`;
    devices.clear();
    byTestId('devices').replaceChildren();
    for (const d of init.devices || []) upsertDevice(d);
    for (const p of init.playlists || []) if (!playlists.has(p.entity)) addPlaylist(p);
    if (Array.isArray(init.alerts)) {
      byTestId('alerts').replaceChildren();
      for (const a of init.alerts) addAlert(a); // oldest first: the newest ends on top
    }
    for (const s of init.services || []) upsertService(s);
    if (init.summary) handlers['dashboard:update'](init.summary);
  }

  async function subscribeAll() {
    const replies = await Promise.all([
      request('subscribe:status'),
      ...MODULES.map((module) => request('subscribe:module', { module })),
    ]);
    const refused = replies.filter((r) => r && r.ok === false);
    if (refused.length > 0) console.warn('subscriptions refused', refused);
  }

  function connect() {
    socket = io({
      autoConnect: false,
      // called before every (re)connection: a fresh token when the last one was refused
      auth: (cb) =>
        getToken().then(
          (t) => cb({ token: t, clientId }),
          (err) => {
            showError(`No token: ${err.message}`, 'connection');
            cb({ clientId }); // refused as unauthorized, then retried
          },
        ),
    });
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.on('connect_error', (err) => {
      if (err.message !== 'unauthorized') return; // transport errors: socket.io retries
      const noToken = token === null;
      token = null;
      if (!noToken) showError('The server refused the token; retrying with a new one', 'connection');
      // refused by the server's middleware: socket.io does not retry by itself
      setTimeout(() => navigator.onLine && !socket.connected && socket.connect(), 2000);
    });
    for (const [event, handler] of Object.entries(handlers)) socket.on(event, handler);
    // a batched flush: one rt:bulk whose items are [event, ...args] (docs/fanout.md)
    socket.on('rt:bulk', (items) => {
      for (const [event, data] of items || []) if (handlers[event]) handlers[event](data);
    });
    socket.on('notification:new', (n, ack) => {
      addNotification(n);
      if (typeof ack === 'function') ack({ ok: true }); // it leaves the server's offline queue
    });
    if (navigator.onLine) socket.connect();
  }

  // The browser says the network is gone: stop pretending to be connected, keep editing.
  window.addEventListener('offline', () => {
    if (socket) socket.disconnect();
    renderBadge();
  });
  window.addEventListener('online', () => {
    if (socket && !socket.connected) socket.connect();
    renderBadge();
  });

  // ---- the other panels ------------------------------------------------------------------

  const devices = new Map(); // deviceId -> <li>

  function upsertDevice({ deviceId, name, status }) {
    let li = devices.get(deviceId);
    if (!li) {
      li = document.createElement('li');
      li.dataset.testid = 'device';
      li.dataset.deviceId = deviceId;
      const label = document.createElement('span');
      const badge = document.createElement('span');
      badge.className = 'status';
      badge.dataset.testid = 'device-status';
      li.append(label, badge);
      devices.set(deviceId, li);
      byTestId('devices').append(li);
    }
    li.dataset.status = status;
    li.firstChild.textContent = name || deviceId;
    li.lastChild.dataset.status = status;
    li.lastChild.textContent = status;
  }

  function timeOf(at) {
    const t = document.createElement('time');
    const d = at ? new Date(at) : new Date();
    t.textContent = d.toLocaleTimeString();
    return t;
  }

  function prepend(listId, li) {
    const list = byTestId(listId);
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    list.prepend(li);
    while (list.children.length > MAX_LOG_ITEMS) list.lastChild.remove();
  }

  function addAlert(a) {
    const li = document.createElement('li');
    li.dataset.testid = 'alert';
    if (a.severity) {
      li.className = `sev-${a.severity}`;
      li.append(timeOf(a.at), `${a.severity}: ${a.deviceId} ${a.metric} = ${a.value}`);
    } else {
      li.className = `level-${a.level}`;
      li.append(timeOf(a.at), `${a.level || 'info'}: ${a.message}`);
    }
    prepend('alerts', li);
  }

  function addConflict(entity, text) {
    const li = document.createElement('li');
    li.dataset.testid = 'conflict';
    li.append(timeOf(), `${playlistName(entity)}: ${text}`);
    prepend('conflicts', li);
  }

  function describeConflict(id, c) {
    const show = (v) => (v === undefined ? '(absent)' : JSON.stringify(v));
    return `change #${id} at ${c.path || '/'}: yours ${show(c.local)}, theirs ${show(c.remote)}; ${c.winner || 'server'} won -> ${show(c.resolved)}`;
  }

  function addNotification(n) {
    const li = document.createElement('li');
    li.dataset.testid = 'notification';
    const title = document.createElement('strong');
    title.textContent = n.title;
    li.append(timeOf(n.at), title, ` ${n.body || ''}`);
    prepend('notifications', li);
  }

  function upsertService({ service, status, latencyMs }) {
    const list = byTestId('services');
    let li = list.querySelector(`[data-service="${CSS.escape(service)}"]`);
    if (!li) {
      li = document.createElement('li');
      li.dataset.testid = 'service';
      li.dataset.service = service;
      list.append(li);
    }
    li.replaceChildren(`${service} `);
    const s = document.createElement('span');
    s.className = 'status';
    s.dataset.status = status;
    s.textContent = latencyMs === undefined ? status : `${status} (${latencyMs} ms)`;
    li.append(s);
  }

  function setKpis({ module, metrics }) {
    const dl = byTestId('kpis');
    for (const [metric, value] of Object.entries(metrics || {})) {
      const key = `${module}.${metric}`;
      let dd = dl.querySelector(`dd[data-kpi="${CSS.escape(key)}"]`);
      if (!dd) {
        const dt = document.createElement('dt');
        dt.textContent = key;
        dd = document.createElement('dd');
        dd.dataset.kpi = key;
        dl.append(dt, dd);
      }
      dd.textContent = typeof value === 'number' ? String(Math.round(value * 100) / 100) : String(value);
    }
  }

  const handlers = {
    'device:status-update': upsertDevice,
    'health:alert': addAlert,
    'alert:system': addAlert,
    'rt:delta': onDelta,
    'playlist:updated': ({ entity, updatedBy }) => {
      const doc = playlists.get(entity);
      if (!doc) return;
      doc.updatedBy = updatedBy;
      renderPlaylist(doc);
    },
    'service:status': upsertService,
    'service:bulk-update': ({ services }) => (services || []).forEach(upsertService),
    'dashboard:update': ({ devicesOnline, devicesTotal, alertsOpen }) => {
      byTestId('devices-online').textContent = `${devicesOnline} / ${devicesTotal}`;
      byTestId('alerts-open').textContent = String(alertsOpen);
    },
    ...Object.fromEntries(MODULES.map((m) => [`kpi:update:${m}`, setKpis])),
  };

  // ---- the playlist editor -------------------------------------------------------------

  function playlistName(entity) {
    const doc = playlists.get(entity);
    const name = doc && doc.state.state && doc.state.state.name;
    return name ? `"${name}"` : entity;
  }

  function createCard(entity) {
    const card = document.getElementById('playlist-template').content.firstElementChild.cloneNode(true);
    card.dataset.entity = entity;
    const items = () => playlists.get(entity).state.state.items || [];

    byRole(card, 'name-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = byRole(card, 'name').value.trim();
      if (name && name !== playlists.get(entity).state.state.name) edit(entity, { mergePatch: { name } });
    });
    byRole(card, 'loop').addEventListener('change', (e) => edit(entity, { mergePatch: { loop: e.target.checked } }));
    byRole(card, 'add-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const title = byRole(card, 'add-title').value.trim();
      const durationS = Number(byRole(card, 'add-duration').value) || 10;
      if (!title) return;
      const item = { id: `${clientId.slice(0, 8)}-${nextMutationId}`, title, durationS };
      edit(entity, { patch: [{ op: 'add', path: '/items/-', value: item }] });
      byRole(card, 'add-title').value = '';
    });
    // item edits are JSON patches guarded by a test of the item's id (it may have moved)
    const tbody = byRole(card, 'items');
    tbody.addEventListener('change', (e) => {
      const row = e.target.closest('tr');
      const i = items().findIndex((it) => it.id === row.dataset.itemId);
      if (i < 0 || !e.target.dataset.field) return;
      const field = e.target.dataset.field;
      const value = field === 'durationS' ? Number(e.target.value) : e.target.value;
      edit(entity, {
        patch: [
          { op: 'test', path: `/items/${i}/id`, value: row.dataset.itemId },
          { op: 'replace', path: `/items/${i}/${field}`, value },
        ],
      });
    });
    tbody.addEventListener('click', (e) => {
      if (!e.target.matches('button[data-action="remove"]')) return;
      const row = e.target.closest('tr');
      const i = items().findIndex((it) => it.id === row.dataset.itemId);
      if (i < 0) return;
      edit(entity, {
        patch: [
          { op: 'test', path: `/items/${i}/id`, value: row.dataset.itemId },
          { op: 'remove', path: `/items/${i}` },
        ],
      });
    });
    byTestId('playlists').append(card);
    return card;
  }

  // Sets an input's value unless the user is typing in it.
  function setInput(input, value) {
    const typing = document.activeElement === input && input.value !== input.dataset.rendered;
    input.dataset.rendered = value;
    if (!typing) input.value = value;
  }

  function renderPlaylist(doc) {
    const { card, state } = doc;
    const value = state.state || {};
    card.dataset.version = String(state.baseVersion);
    card.dataset.pending = String(state.pendingCount);
    setInput(byRole(card, 'name'), value.name || '');
    byRole(card, 'loop').checked = Boolean(value.loop);
    byRole(card, 'version').textContent = String(state.baseVersion);
    byRole(card, 'pending').textContent = String(state.pendingCount);
    byRole(card, 'updated-by').textContent = doc.updatedBy ? `last change by ${doc.updatedBy}` : '';
    byRole(card, 'doc').textContent = JSON.stringify(value, null, 2);

    const itemsKey = JSON.stringify(value.items || []);
    if (card.dataset.items !== itemsKey) {
      card.dataset.items = itemsKey;
      byRole(card, 'items').replaceChildren(...(value.items || []).map(itemRow));
    }
  }

  function itemRow(item) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'playlist-item';
    tr.dataset.itemId = item.id;
    const cell = (field, type) => {
      const td = document.createElement('td');
      const input = document.createElement('input');
      input.type = type;
      input.dataset.field = field;
      input.value = String(item[field] ?? '');
      input.setAttribute('aria-label', field);
      td.append(input);
      return td;
    };
    const remove = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.action = 'remove';
    button.textContent = 'remove';
    remove.append(button);
    tr.append(cell('title', 'text'), cell('durationS', 'number'), remove);
    return tr;
  }

  // For debugging from the console (and for tests): the visible documents and the outbox.
  window.dashboard = {
    get clientId() {
      return clientId;
    },
    get outbox() {
      return outbox.map((m) => ({ ...m }));
    },
    playlist: (entity) => {
      const doc = playlists.get(entity);
      return doc ? { version: doc.state.baseVersion, pending: doc.state.pendingCount, doc: doc.state.state } : null;
    },
    get socket() {
      return socket;
    },
  };

  byTestId('error').addEventListener('click', (e) => {
    e.currentTarget.hidden = true;
  });
  byTestId('engine').textContent = `${window.RealtimeCore.implementation} twin`;
  byTestId('who').textContent = `${user} @ ${org} (${role})`;
  renderBadge();
  loadClientState().then(() => {
    renderBadge();
    connect();
  });
})();
