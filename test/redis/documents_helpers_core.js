'use strict';

// The workload of the cluster document store tests, without Jest or module mapping, so that a
// separate Node process (documents_child.js) runs exactly the same one.

// the project's seeded PRNG (mulberry32), as the other randomised tests use it
const { mulberry32: prng } = require('../../lib/js/prng');

const PLAYLIST = Object.freeze({
  name: 'Lobby',
  volume: 5,
  items: [
    { id: 'a', title: 'Intro', dur: 10 },
    { id: 'b', title: 'News', dur: 20 },
    { id: 'c', title: 'Weather', dur: 30 },
  ],
});

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
