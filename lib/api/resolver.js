'use strict';

const { toJsonText } = require('../common/json-text');

// The engines call resolvers text in, text out (docs/internals.md), so the user's function is
// called identically by both implementations: a fresh conflict object in, a value out.
function wrapResolver(resolver) {
  if (!resolver) return null;
  return (conflictText) => {
    const result = resolver(JSON.parse(conflictText));
    return result === undefined ? undefined : toJsonText(result, 'resolver result');
  };
}

module.exports = { wrapResolver };
