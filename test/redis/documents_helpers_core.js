'use strict';

// The workload of the cluster document store tests, without Jest or module mapping, so that a
// separate Node process (documents_child.js) runs exactly the same one.

const PLAYLIST = Object.freeze({
  name: 'Lobby',
  volume: 5,
  items: [
    { id: 'a', title: 'Intro', dur: 10 },
    { id: 'b', title: 'News', dur: 20 },
    { id: 'c', title: 'Weather', dur: 30 },
  ],
});

// a small deterministic PRNG (mulberry32)
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// the next change of a client that last saw `doc`
function randomChange(rand, doc, tag) {
  const items = (doc && Array.isArray(doc.items)) ? doc.items : [];
  const pick = Math.floor(rand() * 7);
  switch (pick) {
    case 0: return { mergePatch: { name: `name-${tag}` } };
    case 1: return { mergePatch: { volume: Math.floor(rand() * 11) } };
    case 2: return { patch: [{ op: 'add', path: '/items/-', value: { id: `i-${tag}`, title: `T ${tag}`, dur: 5 } }] };
    case 3:
      if (items.length === 0) return { mergePatch: { empty: true } };
      return { patch: [{ op: 'replace', path: `/items/${Math.floor(rand() * items.length)}/title`, value: `retitled ${tag}` }] };
    case 4:
      if (items.length === 0) return { mergePatch: { empty: true } };
      return { patch: [{ op: 'remove', path: `/items/${Math.floor(rand() * items.length)}` }] };
    case 5: return { mergePatch: { meta: { [`k${Math.floor(rand() * 3)}`]: tag } } };
    default: return { patch: [{ op: 'replace', path: '/volume', value: Math.floor(rand() * 11) }, { op: 'replace', path: '/name', value: `both-${tag}` }] };
  }
}

module.exports = { PLAYLIST, prng, randomChange };
