'use strict';

// require('realtime-core'): the native engine; REALTIME_CORE_IMPLEMENTATION=js is the explicit,
// documented opt-in to the pure-JS twin (for platforms without the addon). Anything else than
// '', 'native' or 'js' is refused rather than guessed.
const choice = process.env.REALTIME_CORE_IMPLEMENTATION || 'native';
if (choice !== 'native' && choice !== 'js') {
  const { invalidArgument } = require('./common/errors');
  throw invalidArgument(`REALTIME_CORE_IMPLEMENTATION must be "native" or "js", not "${choice}"`);
}
module.exports = choice === 'js' ? require('./js') : require('./api').createApi(require('./native/engine'));
