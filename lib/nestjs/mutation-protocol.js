'use strict';

// The mutation protocol of ../../docs/nestjs.md: rt:mutate (conflict-resolved, idempotent
// mutations acked and broadcast as rt:delta) and rt:sync (catch-up after being offline), over the
// module's DocumentStore (or a ClusterDocumentStore, whose methods return promises: both are
// awaited). Bodies come from clients: every field is checked, a bad one acks
// { status: 'rejected', error } and changes nothing; nothing here throws into Nest.

const { Inject, Injectable, Logger } = require('@nestjs/common');
const { RealtimeCoreError, invalidArgument } = require('../common/errors');
const { isPlainObject } = require('../api/options');
const { utf8Length } = require('../common/json-text');
const { REALTIME_CORE_OPTIONS, DOCUMENT_STORE } = require('./tokens');

const MAX_ENTITY_LENGTH = 256;
const MAX_CLIENT_ID_BYTES = 256;
const MAX_SYNC_ENTITIES = 1000;
const MUTATE_FIELDS = ['entity', 'id', 'base', 'patch', 'mergePatch', 'ts'];
const SYNC_FIELDS = ['entities'];
const SERVER_FIELDS = ['patch', 'mergePatch', 'base', 'ts'];

class BadInput extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function bad(message, code = 'ERR_RT_INVALID_ARGUMENT') {
  return new BadInput(code, message);
}

function errorOf(err) {
  if (err && typeof err.code === 'string' && err.code.startsWith('ERR_RT_')) return { code: err.code, message: String(err.message) };
  return { code: 'ERR_RT_INTERNAL', message: 'internal error' };
}

function rejected(err) {
  return { status: 'rejected', error: errorOf(err) };
}

function checkFields(body, allowed, what) {
  if (!isPlainObject(body)) throw bad(`${what} must be an object`);
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw bad(`${what}: unknown field "${key}"`);
}

function checkEntity(entity) {
  if (typeof entity !== 'string' || entity.length === 0) throw bad('entity must be a non-empty string');
  if (entity.length > MAX_ENTITY_LENGTH) throw bad(`entity must be at most ${MAX_ENTITY_LENGTH} characters`);
  if (!entity.isWellFormed()) throw bad('entity must be well-formed Unicode');
  return entity;
}

function isCount(value) {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

// { patch | mergePatch, base?, ts? } -> the DocumentStore mutation (without the client's ids).
// A patch is a JSON Patch array and a merge patch an object: a string or bytes would be taken
// as JSON text by the store, which is not what a client sending a string means.
function storeMutation(body, baseRequired) {
  const hasPatch = body.patch !== undefined;
  const hasMerge = body.mergePatch !== undefined;
  if (hasPatch === hasMerge) throw bad('exactly one of patch or mergePatch is needed');
  if (hasPatch && !Array.isArray(body.patch)) throw bad('patch must be a JSON Patch array');
  if (hasMerge && !isPlainObject(body.mergePatch)) throw bad('mergePatch must be an object');
  if (body.base === undefined ? baseRequired : !isCount(body.base)) throw bad('base must be a non-negative integer (the version the change was made on)');
  if (body.ts !== undefined && typeof body.ts !== 'string') throw bad('ts must be a string (a HybridLogicalClock timestamp)');
  const m = hasPatch ? { patch: body.patch } : { mergePatch: body.mergePatch };
  if (body.base !== undefined) m.baseVersion = body.base;
  if (body.ts !== undefined) m.timestamp = body.ts;
  return m;
}

function checkRooms(rooms) {
  const list = typeof rooms === 'string' ? [rooms] : rooms;
  if (!Array.isArray(list) || !list.every((r) => typeof r === 'string' && r.length > 0)) {
    throw new RealtimeCoreError('ERR_RT_INTERNAL', 'mutations.rooms must return a room name or an array of room names');
  }
  return list;
}

// the ack of a DocumentStore result
function ackOf(result) {
  const ack = { status: result.status, version: result.version };
  if (result.delta !== null && result.delta !== undefined) ack.delta = result.delta;
  if (result.conflicts && result.conflicts.length) ack.conflicts = result.conflicts;
  if (result.error) ack.error = result.error;
  if (result.gap) ack.gap = result.gap;
  return ack;
}

function changed(result) {
  return (result.status === 'applied' || result.status === 'merged') && result.delta !== null && result.delta !== undefined;
}

// Socket.io Server -> its main namespace; a Namespace stays as it is
function namespaceOf(server) {
  if (server && typeof server.of === 'function' && server.sockets && typeof server.sockets.to === 'function') return server.sockets;
  if (server && typeof server.to === 'function' && typeof server.name === 'string') return server;
  throw invalidArgument('attach() needs a Socket.io Server or Namespace');
}

class MutationProtocol {
  constructor(options, store) {
    this.options = options;
    this.store = store;
    this.hooks = options.mutations;
    this.logger = new Logger('MutationProtocol');
    this._gatewayNamespaces = new Set();
    this._serverNamespace = null;
  }

  /**
   * Where applyServer broadcasts: RealtimeIoAdapter attaches the Server it creates (its main
   * namespace); RealtimeGateway attaches its own server or namespace in afterInit, which takes
   * precedence (every gateway's namespace receives the broadcast).
   */
  attach(server, { fromAdapter = false } = {}) {
    const nsp = namespaceOf(server);
    if (fromAdapter) this._serverNamespace = nsp;
    else this._gatewayNamespaces.add(nsp);
  }

  get namespaces() {
    if (this._gatewayNamespaces.size) return [...this._gatewayNamespaces];
    return this._serverNamespace ? [this._serverNamespace] : [];
  }

  /** rt:mutate: { entity, id, base, patch | mergePatch, ts? } -> the ack. Never throws. */
  async mutate(socket, body) {
    try {
      return await this._mutate(socket, body);
    } catch (err) {
      const ack = rejected(err);
      if (ack.error.code === 'ERR_RT_INTERNAL') this.logger.error(`rt:mutate failed: ${err && err.stack}`);
      return ack;
    }
  }

  async _mutate(socket, body) {
    checkFields(body, MUTATE_FIELDS, 'rt:mutate');
    const entity = checkEntity(body.entity);
    if (typeof body.id !== 'number' || !Number.isSafeInteger(body.id) || body.id < 1) throw bad('id must be a positive integer (the client\'s mutation id)');
    const mutation = storeMutation(body, true);
    mutation.clientId = this._clientId(socket);
    mutation.mutationId = body.id;
    await this._authorize(socket, entity, 'mutate');
    // before the store changes: a failing hook must leave nothing half done
    const rooms = checkRooms(this.hooks.rooms(entity, socket));
    // a DocumentStore answers at once, a ClusterDocumentStore with a promise
    const result = await this.store.apply(entity, mutation);
    const ack = ackOf(result);
    if (changed(result)) {
      this._broadcast(rooms, entity, result, (r) => socket.to(r));
      this._notify({
        entity, version: result.version, delta: result.delta, conflicts: result.conflicts, status: result.status, clientId: mutation.clientId, socket,
      });
    }
    return ack;
  }

  /** rt:sync: { entities: { [entity]: knownVersion } } -> { entities: { [entity]: ... } }. Never throws. */
  async sync(socket, body) {
    try {
      checkFields(body, SYNC_FIELDS, 'rt:sync');
      const { entities } = body;
      if (!isPlainObject(entities)) throw bad('entities must be an object { [entity]: knownVersion }');
      const list = Object.entries(entities);
      if (list.length > MAX_SYNC_ENTITIES) throw bad(`at most ${MAX_SYNC_ENTITIES} entities per rt:sync`, 'ERR_RT_TOO_LARGE');
      const answers = await Promise.all(list.map(([entity, known]) => this._syncOne(socket, entity, known)));
      // no prototype: an entity may be called "__proto__"
      const out = Object.create(null);
      list.forEach(([entity], i) => {
        out[entity] = answers[i];
      });
      return { entities: out };
    } catch (err) {
      const ack = rejected(err);
      if (ack.error.code === 'ERR_RT_INTERNAL') this.logger.error(`rt:sync failed: ${err && err.stack}`);
      return ack;
    }
  }

  async _syncOne(socket, entity, known) {
    try {
      checkEntity(entity);
      if (!isCount(known)) throw bad('the known version must be a non-negative integer');
      await this._authorize(socket, entity, 'sync');
      // join before reading: a delta made in between arrives twice (the client drops the older
      // version) rather than never
      if (this.hooks.joinOnSync) await socket.join(checkRooms(this.hooks.rooms(entity, socket)));
      return await this.store.changesSince(entity, known);
    } catch (err) {
      const error = errorOf(err);
      if (error.code === 'ERR_RT_INTERNAL') this.logger.error(`rt:sync of ${entity} failed: ${err && err.stack}`);
      return { error };
    }
  }

  /**
   * A mutation made by the server itself: { patch | mergePatch, base?, ts? }, applied by the
   * store's strategy and broadcast to every room of the entity (rooms: the `rooms` option, else
   * mutations.rooms(entity, null)). Throws on bad arguments (server code, not client input).
   * With a DocumentStore it returns the ack; with an asynchronous store (ClusterDocumentStore) a
   * promise of it, which rejects with what the store throws (bad arguments still throw at once).
   */
  applyServer(entity, change, { rooms } = {}) {
    checkEntity(entity);
    checkFields(change, SERVER_FIELDS, 'applyServer change');
    const mutation = storeMutation(change, false);
    const targets = this.namespaces;
    if (targets.length === 0) {
      throw new RealtimeCoreError('ERR_RT_UNAVAILABLE', 'applyServer: no Socket.io server attached (use RealtimeIoAdapter, a RealtimeGateway, or protocol.attach(io))');
    }
    const list = checkRooms(rooms === undefined ? this.hooks.rooms(entity, null) : rooms);
    const finish = (result) => {
      if (changed(result)) {
        for (const nsp of targets) this._broadcast(list, entity, result, (r) => nsp.to(r));
        this._notify({
          entity, version: result.version, delta: result.delta, conflicts: result.conflicts, status: result.status, clientId: null, socket: null,
        });
      }
      return ackOf(result);
    };
    const result = this.store.apply(entity, mutation);
    return result && typeof result.then === 'function' ? result.then(finish) : finish(result);
  }

  _clientId(socket) {
    let id;
    try {
      id = this.hooks.clientId(socket);
    } catch (err) {
      throw new RealtimeCoreError('ERR_RT_INTERNAL', `mutations.clientId threw: ${err && err.message}`);
    }
    if (typeof id !== 'string' || id.length === 0 || !id.isWellFormed() || utf8Length(id) > MAX_CLIENT_ID_BYTES) {
      throw bad(`the client id must be a non-empty string of at most ${MAX_CLIENT_ID_BYTES} bytes`);
    }
    return id;
  }

  // only `true` allows: false, another value, a throw or a rejection deny
  async _authorize(socket, entity, action) {
    const hook = this.hooks.authorize;
    if (hook === null) return;
    let verdict;
    try {
      verdict = await hook(socket, entity, action);
    } catch {
      verdict = false;
    }
    if (verdict !== true) throw bad(`${action} of ${entity} is not allowed`, 'ERR_RT_FORBIDDEN');
  }

  _broadcast(rooms, entity, result, to) {
    if (rooms.length === 0) return; // to([]) would mean everyone
    try {
      to(rooms).emit(this.hooks.deltaEvent, { entity, version: result.version, patch: result.delta });
    } catch (err) {
      // applied and acked; a delta too large for the adapter reaches others by rt:sync
      this.logger.error(`${this.hooks.deltaEvent} broadcast of ${entity} v${result.version} failed: ${err && err.message}`);
    }
  }

  _notify(event) {
    const hook = this.hooks.onApplied;
    if (hook === null) return;
    try {
      const r = hook(event);
      if (r && typeof r.then === 'function') r.then(undefined, (err) => this.logger.error(`mutations.onApplied failed: ${err && err.message}`));
    } catch (err) {
      this.logger.error(`mutations.onApplied failed: ${err && err.message}`);
    }
  }
}
Inject(REALTIME_CORE_OPTIONS)(MutationProtocol, undefined, 0);
Inject(DOCUMENT_STORE)(MutationProtocol, undefined, 1);
Injectable()(MutationProtocol);

module.exports = { MutationProtocol };
