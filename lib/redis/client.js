'use strict';

// wrapRedis(client): one small interface over a client of the `ioredis` or the `redis`
// (node-redis) package, so that the code using Redis (the Socket.io cluster adapter, the cluster
// document store) is written once. Neither package is a dependency of realtime-core: the caller
// passes a client it created (and, for node-redis, connected).
//
//   {
//     kind: 'ioredis' | 'node-redis',
//     command(args)            -> Promise: the reply, bulk strings as strings
//     commandBuffer(args)      -> Promise: the reply, bulk strings as Buffers
//     evalScript(script, keys, args)        -> Promise (EVALSHA, EVAL on NOSCRIPT), strings
//     evalScriptBuffer(script, keys, args)  -> the same with Buffer replies
//     publish(channel, message: Buffer | string) -> Promise<number>
//     subscriber() -> Promise<{ subscribe(channel, (message: Buffer, channel: string) => void),
//                               unsubscribe(channel), close(),
//                               isReady(), onState(fn) -> unsubscribe }>   (a duplicate connection)
//     onState(fn: ('ready' | 'down') => void) -> unsubscribe function
//     isReady() -> boolean
//   }
//
// Both clients queue commands while disconnected (unless configured not to); a caller that must
// not wait for a reconnect uses onState/isReady, or a timeout of its own.

const crypto = require('crypto');

// node-redis RESP type codes (@redis/client RESP_TYPES): '$' bulk string, '+' simple string
const RESP_BLOB_STRING = 36;
const RESP_SIMPLE_STRING = 43;
const BUFFER_TYPES = { [RESP_BLOB_STRING]: Buffer, [RESP_SIMPLE_STRING]: Buffer };

function kindOf(client) {
  if (!client || typeof client !== 'object') return null;
  if (typeof client.callBuffer === 'function' && typeof client.duplicate === 'function') return 'ioredis';
  if (typeof client.sendCommand === 'function' && typeof client.duplicate === 'function') return 'node-redis';
  return null;
}

function sha1(text) {
  return crypto.createHash('sha1').update(text).digest('hex');
}

function isNoScript(err) {
  return !!err && typeof err.message === 'string' && err.message.startsWith('NOSCRIPT');
}

// an 'error' listener on every connection we watch: an EventEmitter 'error' without listeners
// throws, and a Redis outage must never crash the process (the state is reported instead)
function noop() {}

function ioredisAdapter(client) {
  return {
    command: (args) => client.call(...args),
    commandBuffer: (args) => client.callBuffer(...args),
    isReady: () => client.status === 'ready',
    watch(emit) {
      const ready = () => emit('ready');
      const down = () => emit('down');
      client.on('ready', ready);
      client.on('close', down);
      client.on('end', down);
      client.on('error', noop);
      return () => {
        client.off('ready', ready);
        client.off('close', down);
        client.off('end', down);
        client.off('error', noop);
      };
    },
    async subscriber() {
      // lazyConnect: we connect ourselves, so that a failure is ours to report
      const sub = client.duplicate({ lazyConnect: true });
      sub.on('error', noop);
      const handlers = new Map();
      sub.on('messageBuffer', (channel, message) => {
        const name = channel.toString();
        const fn = handlers.get(name);
        if (fn !== undefined) fn(message, name);
      });
      // the duplicate resubscribes by itself after a reconnect (ioredis autoResubscribe)
      sub.connect().catch(noop);
      const watchSub = ioredisAdapter(sub).watch;
      return {
        isReady: () => sub.status === 'ready',
        onState: (fn) => watchSub((state) => fn(state)),
        async subscribe(channel, fn) {
          handlers.set(channel, fn);
          await sub.subscribe(channel);
        },
        async unsubscribe(channel) {
          handlers.delete(channel);
          if (sub.status === 'ready') await sub.unsubscribe(channel);
        },
        async close() {
          handlers.clear();
          sub.disconnect();
        },
      };
    },
  };
}

// node-redis takes strings and Buffers only
function toArg(a) {
  return Buffer.isBuffer(a) ? a : String(a);
}

function nodeRedisAdapter(client) {
  return {
    command: (args) => client.sendCommand(args.map(toArg)),
    commandBuffer: (args) => client.sendCommand(args.map(toArg), { typeMapping: BUFFER_TYPES }),
    isReady: () => client.isReady === true,
    watch(emit) {
      const ready = () => emit('ready');
      const down = () => emit('down');
      // 'error' fires on every lost connection and failed reconnect; 'end' when closed
      const error = () => {
        if (!client.isReady) emit('down');
      };
      client.on('ready', ready);
      client.on('end', down);
      client.on('reconnecting', down);
      client.on('error', error);
      return () => {
        client.off('ready', ready);
        client.off('end', down);
        client.off('reconnecting', down);
        client.off('error', error);
      };
    },
    async subscriber() {
      const sub = client.duplicate();
      sub.on('error', noop);
      // waits through reconnect attempts until Redis answers; the subscriptions are restored
      // by node-redis after a reconnect
      await sub.connect();
      const listeners = new Map();
      const watchSub = nodeRedisAdapter(sub).watch;
      return {
        isReady: () => sub.isReady === true,
        onState: (fn) => watchSub((state) => fn(state)),
        async subscribe(channel, fn) {
          const listener = (message, name) => fn(message, String(name));
          listeners.set(channel, listener);
          await sub.subscribe(channel, listener, true);
        },
        async unsubscribe(channel) {
          const listener = listeners.get(channel);
          listeners.delete(channel);
          if (listener !== undefined && sub.isOpen) await sub.unsubscribe(channel, listener, true);
        },
        async close() {
          listeners.clear();
          if (sub.isOpen) sub.destroy();
        },
      };
    },
  };
}

function wrapRedis(client) {
  const kind = kindOf(client);
  if (kind === null) {
    const err = new TypeError('wrapRedis: expected a client of the "ioredis" or the "redis" (node-redis) package');
    err.code = 'ERR_RT_INVALID_ARGUMENT';
    throw err;
  }
  const impl = kind === 'ioredis' ? ioredisAdapter(client) : nodeRedisAdapter(client);
  const shas = new Map(); // script -> sha1

  function evalWith(run, script, keys, args) {
    let sha = shas.get(script);
    if (sha === undefined) shas.set(script, (sha = sha1(script)));
    const tail = [String(keys.length), ...keys, ...args];
    return run(['EVALSHA', sha, ...tail]).catch((err) => {
      if (!isNoScript(err)) throw err;
      return run(['EVAL', script, ...tail]);
    });
  }

  const stateListeners = new Set();
  let unwatch = null;
  let last = null;
  // one set of listeners on the client however many onState callers; repeated 'down' signals
  // (close, then every failed reconnect) are reported once
  const emit = (state) => {
    if (state === last) return;
    last = state;
    for (const fn of [...stateListeners]) fn(state);
  };

  return {
    kind,
    client,
    command: (args) => impl.command(args),
    commandBuffer: (args) => impl.commandBuffer(args),
    evalScript: (script, keys, args) => evalWith(impl.command, script, keys, args),
    evalScriptBuffer: (script, keys, args) => evalWith(impl.commandBuffer, script, keys, args),
    publish: (channel, message) => impl.command(['PUBLISH', channel, message]),
    subscriber: () => impl.subscriber(),
    isReady: () => impl.isReady(),
    onState(fn) {
      if (typeof fn !== 'function') throw new TypeError('onState expects a function');
      stateListeners.add(fn);
      if (unwatch === null) {
        last = impl.isReady() ? 'ready' : null;
        unwatch = impl.watch(emit);
      }
      return () => {
        stateListeners.delete(fn);
        if (stateListeners.size === 0 && unwatch !== null) {
          unwatch();
          unwatch = null;
        }
      };
    },
  };
}

module.exports = { wrapRedis };
