'use strict';

// require('realtime-core/js'): the pure-JavaScript twin, same API and results as the native one.
module.exports = require('../api').createApi(require('./engine'));
