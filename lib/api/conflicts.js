'use strict';

const { asJsonText } = require('../common/json-text');
const { normalizeLimits } = require('../common/limits');
const { invalidArgument } = require('../common/errors');
const { checkOptions, oneOf, outputOption, arrayKeyOption, strategyOptions } = require('./options');
const { wrapResolver } = require('./resolver');

function timestampOption(value, name) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string`);
  return value;
}

function createConflictFunctions(engine) {
  function applyPatch(doc, patch, options) {
    const o = checkOptions(options, ['limits', 'output'], 'applyPatch');
    const limits = normalizeLimits(o.limits);
    const output = outputOption(o.output);
    return engine.applyPatch(asJsonText(doc, 'document'), asJsonText(patch, 'patch'), limits, output);
  }

  function applyMergePatch(doc, patch, options) {
    const o = checkOptions(options, ['limits', 'output'], 'applyMergePatch');
    const limits = normalizeLimits(o.limits);
    const output = outputOption(o.output);
    return engine.applyMergePatch(asJsonText(doc, 'document'), asJsonText(patch, 'merge patch'), limits, output);
  }

  function diff(a, b, options) {
    const o = checkOptions(options, ['format', 'arrayKey', 'limits', 'output'], 'diff');
    const format = oneOf(o.format, ['json-patch', 'merge-patch'], 'diff: format', 'json-patch');
    const arrayKey = arrayKeyOption(o.arrayKey, null);
    const limits = normalizeLimits(o.limits);
    const output = outputOption(o.output);
    return engine.diff(asJsonText(a, 'document'), asJsonText(b, 'document'), format, arrayKey, limits, output);
  }

  function merge3(base, local, remote, options) {
    const o = checkOptions(
      options,
      ['strategy', 'resolver', 'arrayKey', 'localTimestamp', 'remoteTimestamp', 'limits', 'output'],
      'merge3',
    );
    const { strategy, resolver } = strategyOptions(o, 'merge3');
    const localTimestamp = timestampOption(o.localTimestamp, 'merge3: localTimestamp');
    const remoteTimestamp = timestampOption(o.remoteTimestamp, 'merge3: remoteTimestamp');
    if (strategy === 'last-writer-wins' && (localTimestamp === null || remoteTimestamp === null)) {
      throw invalidArgument("merge3: strategy 'last-writer-wins' needs localTimestamp and remoteTimestamp");
    }
    const opts = {
      strategy,
      arrayKey: arrayKeyOption(o.arrayKey, 'id'),
      localTimestamp,
      remoteTimestamp,
      resolver: wrapResolver(resolver),
    };
    const limits = normalizeLimits(o.limits);
    const output = outputOption(o.output);
    return engine.merge3(
      asJsonText(base, 'base'),
      asJsonText(local, 'local'),
      asJsonText(remote, 'remote'),
      opts,
      limits,
      output,
    );
  }

  return { applyPatch, applyMergePatch, diff, merge3 };
}

module.exports = { createConflictFunctions };
