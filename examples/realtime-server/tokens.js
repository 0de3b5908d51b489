'use strict';

// Injection tokens of the example's own providers.
module.exports = {
  SETTINGS: Symbol('SETTINGS'), // the checked settings (config.js)
  CLOCK: Symbol('CLOCK'), // () => ms; tests and the simulator can pass their own
};
