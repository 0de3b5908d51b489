'use strict';

// mulberry32: the seeded random sequence of OfflineQueue's backoff jitter (docs/offline-queue.md,
// "Backoff and jitter"), also used by the randomised tests and the benchmark data. The native
// engine implements it bit for bit: a number in [0, 1) per call.

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { mulberry32 };
