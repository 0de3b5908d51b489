'use strict';

// require('realtime-core'): the native engine.
module.exports = require('./api').createApi(require('./native/engine'));
