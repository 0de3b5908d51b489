'use strict';

const { asJsonText } = require('../common/json-text');
const { normalizeLimits } = require('../common/limits');
const { invalidArgument, outOfRange } = require('../common/errors');
const {
  isPlainObject,
  checkOptions,
  oneOf,
  outputOption,
  arrayKeyOption,
  integerOption,
  stringArg,
  strategyOptions,
  nodeIdOption,
  clockOption,
} = require('./options');
const { wrapResolver } = require('./resolver');

const STORE_OPTIONS = [
  'strategy',
  'resolver',
  'arrayKey',
  'historyLimit',
  'staleBase',
  'deltaFormat',
  'limits',
  'nodeId',
  'maxDriftMs',
  'clock',
  'dedupWindow',
];

const MUTATION_FIELDS = ['patch', 'mergePatch', 'baseVersion', 'clientId', 'mutationId', 'timestamp'];

function docId(id) {
  return stringArg(id, 'document id', { maxBytes: 1024 });
}

function outputOf(options, what) {
  return outputOption(checkOptions(options, ['output'], what).output);
}

function parseMutation(mutation) {
  if (!isPlainObject(mutation)) throw invalidArgument('mutation must be a plain object');
  for (const key of Object.keys(mutation)) {
    if (!MUTATION_FIELDS.includes(key)) throw invalidArgument(`mutation: unknown field "${key}"`);
  }
  const hasPatch = mutation.patch !== undefined;
  const hasMerge = mutation.mergePatch !== undefined;
  if (hasPatch === hasMerge) throw invalidArgument('mutation needs exactly one of patch or mergePatch');
  const baseVersion = integerOption(mutation.baseVersion, 'baseVersion', {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: null,
  });
  const hasClient = mutation.clientId !== undefined;
  const hasMutationId = mutation.mutationId !== undefined;
  if (hasClient !== hasMutationId) throw invalidArgument('clientId and mutationId go together');
  const clientId = hasClient ? stringArg(mutation.clientId, 'clientId', { maxBytes: 256 }) : null;
  const mutationId = integerOption(mutation.mutationId, 'mutationId', {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: null,
  });
  let timestamp = null;
  if (mutation.timestamp !== undefined) {
    if (typeof mutation.timestamp !== 'string') throw invalidArgument('timestamp must be a string');
    timestamp = mutation.timestamp;
  }
  return {
    kind: hasPatch ? 'patch' : 'merge-patch',
    patch: asJsonText(hasPatch ? mutation.patch : mutation.mergePatch, hasPatch ? 'patch' : 'merge patch'),
    baseVersion,
    clientId,
    mutationId,
    timestamp,
  };
}

function createDocumentStoreClass(engine) {
  class DocumentStore {
    #store;
    #wall;

    constructor(options) {
      const o = checkOptions(options, STORE_OPTIONS, 'DocumentStore');
      const { strategy, resolver } = strategyOptions(o, 'DocumentStore');
      const settings = {
        strategy,
        arrayKey: arrayKeyOption(o.arrayKey, 'id'),
        historyLimit: integerOption(o.historyLimit, 'historyLimit', { min: 0, max: 1e6, fallback: 100 }),
        staleBase: oneOf(o.staleBase, ['reject', 'current'], 'staleBase', 'reject'),
        deltaFormat: oneOf(o.deltaFormat, ['merge-patch', 'json-patch'], 'deltaFormat', 'merge-patch'),
        limits: normalizeLimits(o.limits),
        nodeId: nodeIdOption(o.nodeId),
        maxDriftMs: integerOption(o.maxDriftMs, 'maxDriftMs', { min: 0, max: 2 ** 31 - 1, fallback: 60000 }),
        dedupWindow: integerOption(o.dedupWindow, 'dedupWindow', { min: 0, max: 1e6, fallback: 64 }),
      };
      this.#wall = clockOption(o.clock);
      this.#store = new engine.Store({ ...settings, resolver: wrapResolver(resolver) });
      this.options = Object.freeze(settings);
      Object.freeze(this);
    }

    /** Creates or replaces a document; returns `{ version, delta }`. */
    put(id, doc, options) {
      const output = outputOf(options, 'put');
      return this.#store.put(docId(id), asJsonText(doc, 'document'), this.#wall(), output);
    }

    get(id, options) {
      const output = outputOf(options, 'get');
      return this.#store.get(docId(id), output);
    }

    has(id) {
      return this.#store.has(docId(id));
    }

    delete(id) {
      return this.#store.delete(docId(id));
    }

    version(id) {
      return this.#store.version(docId(id));
    }

    ids() {
      return this.#store.ids();
    }

    get size() {
      return this.#store.size();
    }

    /**
     * Applies a client mutation: `{ patch | mergePatch, baseVersion?, clientId?, mutationId?,
     * timestamp? }` -> `{ status, version, delta, conflicts, error?, gap? }`.
     */
    apply(id, mutation, options) {
      const output = outputOf(options, 'apply');
      const key = docId(id);
      return this.#store.apply(key, parseMutation(mutation), this.#wall(), output);
    }

    /** What changed after `version`: `{ version, changes }`, or `{ version, snapshot }`. */
    changesSince(id, version, options) {
      const output = outputOf(options, 'changesSince');
      const key = docId(id);
      if (typeof version !== 'number' || !Number.isInteger(version)) throw invalidArgument('version must be an integer');
      if (version < 0 || version > Number.MAX_SAFE_INTEGER) throw outOfRange('version must be a non-negative integer');
      return this.#store.changesSince(key, version, output);
    }
  }
  return DocumentStore;
}

module.exports = { createDocumentStoreClass };
