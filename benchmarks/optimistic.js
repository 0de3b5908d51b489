'use strict';

// OptimisticState cases (docs/optimistic-state.md): rebase under 1, 10 and 100 pending changes on
// 1 KB, 16 KB and 128 KB dashboards, and commit / rollback of the middle one of 100 pending.
// Each implementation gets its own state built the same way; one iteration is one operation,
// and what restores the state for the next iteration runs outside the timed window (afterEach).

const data = require('./data');
const { SIZES, TEXT, sameTextCheck } = require('./cases');

const PENDING_COUNTS = [1, 10, 100];

// The i-th pending change of a client: a scalar somewhere in the dashboard (settings, KPIs, a
// device's status), as JSON text the way it arrives from a socket. Only replaces of existing
// scalars, so a pending list can be re-applied forever without the document growing.
function pendingChange(doc, i) {
  const devices = doc.devices.length;
  switch (i % 4) {
    case 0:
      return { kind: 'patch', text: JSON.stringify([{ op: 'replace', path: '/settings/refreshMs', value: 1000 + i }]) };
    case 1:
      return { kind: 'mergePatch', text: JSON.stringify({ kpis: { errorsToday: i }, settings: { locale: `l${i}` } }) };
    case 2:
      return devices > 0
        ? { kind: 'patch', text: JSON.stringify([{ op: 'replace', path: `/devices/${i % devices}/status/battery`, value: i % 101 }]) }
        : { kind: 'patch', text: JSON.stringify([{ op: 'replace', path: '/kpis/uptimePct', value: 90 + (i % 10) }]) };
    default:
      return { kind: 'patch', text: JSON.stringify([{ op: 'test', path: '/id', value: doc.id }, { op: 'replace', path: '/settings/theme', value: `t${i}` }]) };
  }
}

const asChange = (c) => (c.kind === 'patch' ? { patch: c.text } : { mergePatch: c.text });

// The k-th remote change: someone else's KPI update, which every pending change survives.
const remoteChange = (k) => ({ patch: `[{"op":"replace","path":"/kpis/playsToday","value":${k}}]` });

function buildState(rt, doc, pending) {
  const state = new rt.OptimisticState(JSON.stringify(doc), { autoExpire: false, maxPending: 1000, output: 'text' });
  const ids = [];
  for (let i = 0; i < pending; i++) {
    ids.push(`m${i}`);
    state.apply(`m${i}`, asChange(pendingChange(doc, i)));
  }
  return { state, ids, next: pending, remote: 0 };
}

function optimisticCases(impls) {
  const cases = [];
  for (const size of SIZES) {
    const doc = data.makeDashboard(size.bytes, size.seed);
    const docBytes = JSON.stringify(doc).length;
    const sizeInfo = { label: size.label, docBytes };

    for (const pending of PENDING_COUNTS) {
      const run = {};
      for (const impl of impls) {
        const st = buildState(impl.mod, doc, pending);
        run[impl.name] = () => st.state.rebase(remoteChange(++st.remote));
      }
      cases.push({
        id: `OptimisticState.rebase/${size.label}/${pending}`,
        fn: 'OptimisticState.rebase',
        size: { ...sizeInfo, pending },
        form: 'text',
        what: `rebase({ patch: text }) of a remote KPI change under ${pending} pending changes (JSON Patch and merge patches of settings, KPIs, device status) on a ${docBytes}-byte dashboard: new base, every pending change re-applied, merge-patch delta text out`,
        run,
        check: (outs) => [
          ...sameTextCheck(outs),
          ...Object.entries(outs).filter(([, o]) => o.delta !== '{"kpis":{"playsToday":1}}' || o.rolledBack.length !== 0).map(([n, o]) => `${n}: unexpected result ${JSON.stringify(o).slice(0, 200)}`),
        ],
      });
    }

    // commit / rollback of the middle one of 100 pending; afterEach applies a fresh change on
    // top so every iteration starts from 100 pending.
    for (const op of ['commit', 'rollback']) {
      const run = {};
      const afterEach = {};
      for (const impl of impls) {
        const st = buildState(impl.mod, doc, 100);
        run[impl.name] = () => {
          const id = st.ids.splice(50, 1)[0];
          return op === 'commit' ? st.state.commit(id) : st.state.rollback(id);
        };
        afterEach[impl.name] = () => {
          const id = `m${st.next++}`;
          st.ids.push(id);
          st.state.apply(id, asChange(pendingChange(doc, st.next)));
        };
      }
      cases.push({
        id: `OptimisticState.${op}/${size.label}/middle-of-100`,
        fn: `OptimisticState.${op}`,
        size: { ...sizeInfo, pending: 100 },
        form: 'text',
        what: `${op}(id) of the 50th of 100 pending changes on a ${docBytes}-byte dashboard: ${op === 'commit' ? 'the change moves into the base, ' : ''}the 49 above it re-applied, delta text out (a new change is applied on top between iterations, untimed)`,
        run,
        afterEach,
        check: (outs) => sameTextCheck(outs),
      });
    }
  }
  return cases;
}

module.exports = { optimisticCases, pendingChange, asChange, buildState };
