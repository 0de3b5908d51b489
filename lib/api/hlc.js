'use strict';

const { invalidArgument } = require('../common/errors');
const { checkOptions, integerOption, nodeIdOption, clockOption } = require('./options');

function createClockClass(engine) {
  class HybridLogicalClock {
    #clock;
    #wall;

    constructor(options) {
      const o = checkOptions(options, ['nodeId', 'maxDriftMs', 'clock'], 'HybridLogicalClock');
      this.nodeId = nodeIdOption(o.nodeId);
      this.maxDriftMs = integerOption(o.maxDriftMs, 'maxDriftMs', { min: 0, max: 2 ** 31 - 1, fallback: 60000 });
      this.#wall = clockOption(o.clock);
      this.#clock = new engine.Clock(this.nodeId, this.maxDriftMs);
      Object.freeze(this);
    }

    /** A new timestamp for a local event. */
    now() {
      return this.#clock.now(this.#wall());
    }

    /** Merges a remote timestamp into this clock; returns the timestamp of the receive event. */
    receive(timestamp) {
      if (typeof timestamp !== 'string') throw invalidArgument('timestamp must be a string');
      return this.#clock.receive(timestamp, this.#wall());
    }

    /** The last timestamp this clock issued, or null. */
    last() {
      return this.#clock.last();
    }

    compare(a, b) {
      return HybridLogicalClock.compare(a, b);
    }

    static compare(a, b) {
      if (typeof a !== 'string' || typeof b !== 'string') throw invalidArgument('timestamps must be strings');
      return engine.Clock.compare(a, b);
    }
  }
  return HybridLogicalClock;
}

module.exports = { createClockClass };
