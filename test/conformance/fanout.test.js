'use strict';

// FanoutHub (docs/fanout.md), on both implementations: every rule with exact expected values.
// Packets are compared with what socket.io-parser's Encoder produces for the same packet, and
// target sets with socket.io-adapter's own in-memory `apply`.

const { Encoder } = require('socket.io-parser');
const { Adapter } = require('socket.io-adapter');
const { IMPLS, codeOf } = require('../helpers/impls');

const T0 = 1_800_000_000_000;

function make(rt, options = {}) {
  const clock = { now: T0 };
  const hub = new rt.FanoutHub({ clock: () => clock.now, autoFlush: false, ...options });
  return { hub, clock };
}

// socket.io-parser's encoding of an EVENT packet
function enc({ nsp = '/', id, data }) {
  const packet = { type: 2, nsp, data };
  if (id !== undefined) packet.id = id;
  const out = new Encoder().encode(packet);
  expect(out.length).toBe(1);
  return out[0];
}

// (the addon's typed arrays come from another realm than Jest's: no instanceof)
const isU32 = (v) => Object.prototype.toString.call(v) === '[object Uint32Array]';
const list = (u32) => {
  expect(isU32(u32)).toBe(true);
  return Array.from(u32);
};
// a delivery result with plain arrays for the handles
const plain = (r) => ({ ...r, deliveries: r.deliveries.map((d) => ({ ...d, handles: list(d.handles) })) });
const delivery = (packet, handles, { offset = null, volatile = false, bulk = false } = {}) => ({ packet, handles, offset, volatile, bulk });

// Everything observable, for "nothing changed" checks.
function observe(hub) {
  const conns = list(hub.connections());
  return JSON.stringify({
    conns,
    rooms: hub.roomNames().map((r) => [r, list(hub.members(r))]),
    of: conns.map((h) => [h, hub.rooms(h), hub.backlog(h)]),
    stats: hub.stats(),
    nextDue: hub.nextDue(),
    targets: list(hub.targets({})),
  });
}

function expectCode(hub, fn, code) {
  const before = observe(hub);
  expect(codeOf(fn)).toBe(code);
  expect(observe(hub)).toBe(before);
}

describe.each(IMPLS)('FanoutHub (%s)', (_name, rt) => {
  describe('connections and rooms', () => {
    test('handles: 0, 1, 2, ...; freed handles reused LIFO; connections() in connect order', () => {
      const { hub } = make(rt);
      expect([hub.connect(), hub.connect(), hub.connect(), hub.connect()]).toEqual([0, 1, 2, 3]);
      expect(hub.disconnect(1)).toEqual([]);
      expect(hub.disconnect(2)).toEqual([]);
      expect(hub.disconnect(2)).toBeNull();
      expect(hub.disconnect(99)).toBeNull();
      expect(list(hub.connections())).toEqual([0, 3]);
      expect(hub.connect()).toBe(2); // the most recently freed
      expect(hub.connect()).toBe(1);
      expect(hub.connect()).toBe(4);
      // a reused handle counts as a new connection
      expect(list(hub.connections())).toEqual([0, 3, 2, 1, 4]);
      expect(hub.connectionCount).toBe(5);
    });

    test('join/leave: counts, member order (re-join moves to the end), rooms(h) and roomNames() orders', () => {
      const { hub } = make(rt);
      const [a, b, c] = [hub.connect(), hub.connect(), hub.connect()];
      expect(hub.join(a, ['r1', 'r2'])).toBe(2);
      expect(hub.join(b, 'r2')).toBe(1);
      expect(hub.join(c, ['r2', 'r1', 'r2'])).toBe(2);
      expect(hub.join(a, ['r1', 'r3'])).toBe(1); // already in r1
      expect(list(hub.members('r1'))).toEqual([a, c]);
      expect(list(hub.members('r2'))).toEqual([a, b, c]);
      expect(hub.rooms(a)).toEqual(['r1', 'r2', 'r3']);
      expect(hub.rooms(c)).toEqual(['r2', 'r1']);
      expect(hub.roomNames()).toEqual(['r1', 'r2', 'r3']);
      // leave and re-join: to the end of the members, and of the connection's rooms
      expect(hub.leave(a, 'r2')).toBe(true);
      expect(hub.leave(a, 'r2')).toBe(false);
      expect(hub.leave(a, 'nope')).toBe(false);
      expect(hub.join(a, 'r2')).toBe(1);
      expect(list(hub.members('r2'))).toEqual([b, c, a]);
      expect(hub.rooms(a)).toEqual(['r1', 'r3', 'r2']);
      // a room exists while it has members: deleted with its last member, re-created at the end
      expect(hub.leave(a, 'r3')).toBe(true);
      expect(hub.roomNames()).toEqual(['r1', 'r2']);
      expect(hub.roomSize('r3')).toBe(0);
      expect(list(hub.members('r3'))).toEqual([]);
      hub.join(b, 'r3');
      hub.leave(a, 'r1');
      hub.leave(c, 'r1');
      hub.join(c, 'r1');
      expect(hub.roomNames()).toEqual(['r2', 'r3', 'r1']);
      expect(hub.roomSize('r2')).toBe(3);
      expect(hub.roomCount).toBe(3);
      expect(hub.stats()).toMatchObject({ connections: 3, rooms: 3, memberships: 5 });
      // disconnect: the rooms in join order; empty rooms go
      expect(hub.disconnect(b)).toEqual(['r2', 'r3']);
      expect(hub.roomNames()).toEqual(['r2', 'r1']);
      expect(hub.stats()).toMatchObject({ connections: 2, rooms: 2, memberships: 3 });
      // a reused handle starts with no rooms
      expect(hub.connect()).toBe(b);
      expect(hub.rooms(b)).toEqual([]);
    });

    test('target sets: rooms in order, then everyone in connect order; except; unknown rooms (as socket.io-adapter)', () => {
      const { hub } = make(rt);
      const nsp = { server: { encoder: null }, sockets: new Map() };
      const adapter = new Adapter(nsp);
      const ids = [];
      // Socket.io joins every socket to its own room when it connects
      const connect = () => {
        const h = hub.connect();
        const id = `s${h}`;
        ids[h] = id;
        nsp.sockets.set(id, { id });
        hub.join(h, id);
        adapter.addAll(id, new Set([id]));
        return h;
      };
      const join = (h, rooms) => {
        hub.join(h, rooms);
        adapter.addAll(ids[h], new Set(rooms));
      };
      const leave = (h, room) => {
        hub.leave(h, room);
        adapter.del(ids[h], room);
      };
      const h = Array.from({ length: 6 }, connect);
      join(h[3], ['a', 'b']);
      join(h[1], ['b', 'c']);
      join(h[0], ['a']);
      join(h[5], ['c', 'a']);
      join(h[2], ['b']);
      leave(h[3], 'a');
      join(h[3], ['a']);
      const viaAdapter = (rooms, except) => {
        const out = [];
        adapter.apply({ rooms: new Set(rooms), except: new Set(except) }, (s) => out.push(Number(s.id.slice(1))));
        return out;
      };
      const cases = [
        [[], []],
        [['a'], []],
        [['b', 'a'], []],
        [['c', 'b', 'a'], []],
        [['a', 'a', 'zzz'], []],
        [['zzz'], []],
        [[], ['a']],
        [[], ['a', 'b', 'c']],
        [['a', 'b'], ['c']],
        [['b'], ['b']],
        [['c', 'a'], ['zzz', 's5']],
        [['s4', 'a'], []],
      ];
      for (const [rooms, except] of cases) {
        expect([rooms, except, list(hub.targets({ rooms, except }))]).toEqual([rooms, except, viaAdapter(rooms, except)]);
      }
      // exact values for a few of them
      expect(list(hub.targets({ rooms: ['b', 'a'] }))).toEqual([3, 1, 2, 0, 5]);
      expect(list(hub.targets({ rooms: ['a', 'b'], except: ['c'] }))).toEqual([0, 3, 2]);
      expect(list(hub.targets({ except: ['a'] }))).toEqual([1, 2, 4]);
      expect(list(hub.targets({ rooms: ['zzz'] }))).toEqual([]);
      // connect order, with a reused handle last
      hub.disconnect(h[2]);
      adapter.delAll(ids[2]);
      nsp.sockets.delete(ids[2]);
      expect(connect()).toBe(2);
      expect(list(hub.targets({}))).toEqual([0, 1, 3, 4, 5, 2]);
      expect(list(hub.targets({}))).toEqual(viaAdapter([], []));
      expect(list(hub.targets({ rooms: ['b'] }))).toEqual(viaAdapter(['b'], []));
    });
  });

  describe('packets', () => {
    test('plain packets: payload as a value, as text, as bytes; args as an array, as text, as bytes; no args', () => {
      const { hub } = make(rt);
      const a = hub.connect();
      const pub = (m) => {
        const r = plain(hub.publish({ event: 'ev', ...m }));
        expect(r.status).toBe('delivered');
        expect(r.offset).toBeNull();
        expect(r.slow).toEqual([]);
        expect(r.deliveries.length).toBe(1);
        expect(r.deliveries[0]).toEqual(delivery(r.deliveries[0].packet, [a]));
        expect(typeof r.deliveries[0].packet).toBe('string');
        return r.deliveries[0].packet;
      };
      const value = { a: [1, 'é😀', null], b: 'quote " and \\ and \n' };
      expect(pub({ payload: value })).toBe(enc({ data: ['ev', value] }));
      expect(pub({ payload: 'text' })).toBe(enc({ data: ['ev', 'text'] }).replace('"text"', 'text'));
      expect(pub({ payload: JSON.stringify('text') })).toBe(enc({ data: ['ev', 'text'] }));
      // text is not parsed: it leaves byte for byte
      expect(pub({ payload: '{"a": 1,  "b":[ ]}' })).toBe('2["ev",{"a": 1,  "b":[ ]}]');
      expect(pub({ payload: Buffer.from('{"x":"é"}') })).toBe(enc({ data: ['ev', { x: 'é' }] }));
      expect(pub({ payload: null })).toBe(enc({ data: ['ev', null] }));
      expect(pub({ payload: 0 })).toBe(enc({ data: ['ev', 0] }));
      expect(pub({ args: [1, 'two', { three: 3 }] })).toBe(enc({ data: ['ev', 1, 'two', { three: 3 }] }));
      expect(pub({ args: [] })).toBe(enc({ data: ['ev'] }));
      expect(pub({ args: '[]' })).toBe('2["ev"]');
      expect(pub({ args: '[1, 2]' })).toBe('2["ev",1, 2]');
      expect(pub({ args: Buffer.from('["é",true]') })).toBe(enc({ data: ['ev', 'é', true] }));
      expect(pub({ args: new Uint8Array([0x5b, 0x5d]) })).toBe('2["ev"]');
      // the event name is JSON-encoded
      expect(pub({ event: 'a "quoted"\tname é', args: [1] })).toBe(enc({ data: ['a "quoted"\tname é', 1] }));
    });

    test('namespace and ack ids', () => {
      const { hub } = make(rt, { namespace: '/chat' });
      hub.connect();
      const packet = (m) => hub.publish({ event: 'ev', ...m }).deliveries[0].packet;
      expect(packet({ payload: 1 })).toBe(enc({ nsp: '/chat', data: ['ev', 1] }));
      expect(packet({ payload: 1, ackId: 0 })).toBe(enc({ nsp: '/chat', id: 0, data: ['ev', 1] }));
      expect(packet({ args: [], ackId: 2 ** 31 - 1 })).toBe(enc({ nsp: '/chat', id: 2 ** 31 - 1, data: ['ev'] }));
      const root = make(rt).hub;
      root.connect();
      expect(root.publish({ event: 'ev', payload: 1, ackId: 42 }).deliveries[0].packet).toBe(enc({ id: 42, data: ['ev', 1] }));
      expect(make(rt, { namespace: '/' }).hub.options.namespace).toBe('/');
    });

    test('recorded packets carry their offset as the last argument; ack and volatile ones are not recorded', () => {
      const { hub } = make(rt, { recovery: true, offsetPrefix: 'p-', namespace: '/n' });
      const a = hub.connect();
      hub.join(a, 'r');
      const r1 = plain(hub.publish({ rooms: ['r'], event: 'ev', payload: { v: 1 } }));
      expect(r1).toEqual({
        status: 'delivered',
        offset: 'p-1',
        deliveries: [delivery(enc({ nsp: '/n', data: ['ev', { v: 1 }, 'p-1'] }), [a], { offset: 'p-1' })],
        slow: [],
      });
      const r2 = plain(hub.publish({ event: 'ev', args: [] }));
      expect(r2.deliveries[0].packet).toBe(enc({ nsp: '/n', data: ['ev', 'p-2'] }));
      const r3 = plain(hub.publish({ event: 'ev', payload: 3, ackId: 5 }));
      expect(r3).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(enc({ nsp: '/n', id: 5, data: ['ev', 3] }), [a])], slow: [] });
      const r4 = plain(hub.publish({ event: 'ev', payload: 4, volatile: true }));
      expect(r4.deliveries).toEqual([delivery(enc({ nsp: '/n', data: ['ev', 4] }), [a], { volatile: true })]);
      expect(r4.offset).toBeNull();
      const r5 = plain(hub.publish({ event: 'ev', payload: 5, recoverable: false }));
      expect(r5.deliveries[0].packet).toBe(enc({ nsp: '/n', data: ['ev', 5] }));
      const r6 = plain(hub.publish({ event: 'ev', payload: 6, recoverable: true }));
      expect(r6.offset).toBe('p-3');
      expect(hub.stats()).toMatchObject({ recorded: 3, recoveryPackets: 3 });
    });

    test('bulk packets: one rt:bulk event holding every item, with the offset of the last recorded item', () => {
      const { hub } = make(rt, { recovery: true, offsetPrefix: 'o', namespace: '/ns', batch: { maxItems: 3 } });
      const a = hub.connect();
      hub.join(a, 'r');
      expect(plain(hub.publish({ rooms: ['r'], batch: true, event: 'a', payload: 1 }))).toEqual({ status: 'batched', offset: null, deliveries: [], slow: [] });
      expect(hub.publish({ rooms: ['r'], batch: true, event: 'b', args: [] }).status).toBe('batched');
      const r = plain(hub.publish({ rooms: ['r'], batch: true, event: 'c', args: [{ x: 1 }, 'y'], recoverable: false }));
      const bulk = enc({ nsp: '/ns', data: ['rt:bulk', [['a', 1], ['b'], ['c', { x: 1 }, 'y']], 'o2'] });
      expect(r).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(bulk, [a], { offset: 'o2', bulk: true })], slow: [] });
      // each recorded item is a plain packet of its own
      hub.saveSession({ id: 's', sid: 'S', rooms: ['r'] });
      expect(hub.restore('s', 'o0')).toEqual({
        status: 'recovered', sid: 'S', rooms: ['r'], data: 'null',
        packets: [enc({ nsp: '/ns', data: ['a', 1, 'o1'] }), enc({ nsp: '/ns', data: ['b', 'o2'] })],
      });
      // the publish that fills the batch gets its own item's offset
      hub.publish({ rooms: ['r'], batch: true, event: 'd', payload: 'x'.length, recoverable: false });
      hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 2 });
      const r2 = plain(hub.publish({ rooms: ['r'], batch: true, event: 'f', payload: 3 }));
      expect(r2.offset).toBe('o4');
      expect(r2.deliveries).toEqual([delivery(enc({ nsp: '/ns', data: ['rt:bulk', [['d', 1], ['e', 2], ['f', 3]], 'o4'] }), [a], { offset: 'o4', bulk: true })]);
      // nothing recoverable: no offset; every item volatile: a volatile bulk
      hub.publish({ rooms: ['r'], batch: true, event: 'g', payload: 1, volatile: true });
      hub.publish({ rooms: ['r'], batch: true, event: 'g', payload: 2, volatile: true });
      const r3 = plain(hub.publish({ rooms: ['r'], batch: true, event: 'g', payload: 3, volatile: true }));
      expect(r3.deliveries).toEqual([delivery(enc({ nsp: '/ns', data: ['rt:bulk', [['g', 1], ['g', 2], ['g', 3]]] }), [a], { volatile: true, bulk: true })]);
      expect(r3.offset).toBeNull();
      // without recovery, and in the root namespace
      const h2 = make(rt, { batch: { maxItems: 2 } }).hub;
      h2.connect();
      h2.publish({ rooms: ['x'], batch: true, event: 'a', payload: '"é"' });
      const r4 = plain(h2.publish({ rooms: ['x'], batch: true, event: 'b', args: [] }));
      expect(r4.deliveries).toEqual([delivery(enc({ data: ['rt:bulk', [['a', 'é'], ['b']]] }), [], { bulk: true })]);
    });
  });

  describe('keyed messages', () => {
    test('throttle and coalesce: at most one delivery per throttleMs, newest wins, the last is always delivered', () => {
      const { hub, clock } = make(rt, { throttleMs: 1000 });
      const a = hub.connect();
      hub.join(a, 'r');
      const pub = (v) => plain(hub.publish({ rooms: ['r'], event: 'pos', payload: v, key: 'k' }));
      const p = (v) => enc({ data: ['pos', v] });
      expect(pub(1)).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(p(1), [a])], slow: [] });
      expect(hub.nextDue()).toBeNull();
      clock.now = T0 + 100;
      expect(pub(2)).toEqual({ status: 'pending', offset: null, deliveries: [], slow: [] });
      expect(hub.nextDue()).toBe(T0 + 1000);
      clock.now = T0 + 200;
      expect(pub(3)).toEqual({ status: 'coalesced', offset: null, deliveries: [], slow: [] });
      expect(hub.stats()).toMatchObject({ coalesced: 1, pendingKeys: 1 });
      clock.now = T0 + 999;
      expect(plain(hub.flush())).toEqual({ deliveries: [], slow: [] });
      // the target set is computed when the pending message is delivered
      const b = hub.connect();
      hub.join(b, 'r');
      clock.now = T0 + 1000;
      expect(plain(hub.flush())).toEqual({ deliveries: [delivery(p(3), [a, b])], slow: [] });
      expect(hub.stats()).toMatchObject({ pendingKeys: 0, coalesced: 1 });
      expect(hub.nextDue()).toBeNull();
      // the last delivery is the flush's time
      clock.now = T0 + 1500;
      expect(pub(4).status).toBe('pending');
      expect(hub.nextDue()).toBe(T0 + 2000);
      clock.now = T0 + 2500;
      expect(plain(hub.flush()).deliveries).toEqual([delivery(p(4), [a, b])]);
      clock.now = T0 + 3400;
      expect(pub(5).status).toBe('pending');
      expect(hub.nextDue()).toBe(T0 + 3500);
      // an overdue pending message is still replaced by a publish (flush delivers it)
      clock.now = T0 + 3600;
      expect(pub(6).status).toBe('coalesced');
      expect(plain(hub.flush()).deliveries).toEqual([delivery(p(6), [a, b])]);
      clock.now = T0 + 4600;
      expect(pub(7).status).toBe('delivered');
      // other keys are independent; unkeyed messages are not throttled
      expect(plain(hub.publish({ rooms: ['r'], event: 'pos', payload: 8, key: 'other' })).status).toBe('delivered');
      expect(plain(hub.publish({ rooms: ['r'], event: 'pos', payload: 9 })).status).toBe('delivered');
      expect(hub.stats()).toMatchObject({ published: 9, coalesced: 2, packets: 7 });
    });

    test('the pending message keeps its own rooms, except, flags; it is recorded when delivered, coalesced ones never', () => {
      const { hub, clock } = make(rt, { throttleMs: 100, recovery: true, offsetPrefix: 'x' });
      const [a, b, c] = [hub.connect(), hub.connect(), hub.connect()];
      hub.join(a, ['r', 's']);
      hub.join(b, 'r');
      hub.join(c, 's');
      expect(hub.publish({ rooms: ['r'], event: 'e', payload: 1, key: 'k' }).offset).toBe('x1');
      clock.now = T0 + 10;
      expect(hub.publish({ rooms: ['r'], event: 'e', payload: 2, key: 'k' }).status).toBe('pending');
      expect(hub.publish({ rooms: ['s'], except: ['r'], event: 'e', payload: 3, key: 'k', volatile: true }).status).toBe('coalesced');
      clock.now = T0 + 20;
      expect(hub.publish({ rooms: ['s', 'r'], except: ['zz'], event: 'e', payload: 4, key: 'k' }).status).toBe('coalesced');
      clock.now = T0 + 150;
      const r = plain(hub.flush());
      expect(r.deliveries).toEqual([delivery(enc({ data: ['e', 4, 'x2'] }), [a, c, b], { offset: 'x2' })]);
      clock.now = T0 + 400;
      hub.publish({ rooms: ['r'], event: 'e', payload: 5, key: 'k' });
      clock.now = T0 + 410;
      hub.publish({ rooms: ['s'], except: ['r'], event: 'e', payload: 6, key: 'k', volatile: true });
      expect(plain(hub.flush({ all: true })).deliveries).toEqual([delivery(enc({ data: ['e', 6] }), [c], { volatile: true })]);
      expect(hub.stats()).toMatchObject({ recorded: 3, coalesced: 2 });
      hub.saveSession({ id: 's', sid: 'S', rooms: ['r', 's'] });
      expect(hub.restore('s', 'x0').packets).toEqual([enc({ data: ['e', 1, 'x1'] }), enc({ data: ['e', 4, 'x2'] }), enc({ data: ['e', 5, 'x3'] })]);
    });

    test('throttleMs 0: every keyed message is delivered at once', () => {
      const { hub } = make(rt, { throttleMs: 0 });
      hub.connect();
      for (let i = 0; i < 3; i++) expect(hub.publish({ event: 'e', payload: i, key: 'k' }).status).toBe('delivered');
    });
  });

  describe('batches and flush', () => {
    test('a batch is delivered when it fills, or by flush once open maxDelayMs (from its first item)', () => {
      const { hub, clock } = make(rt, { batch: { maxItems: 3, maxDelayMs: 200 } });
      const a = hub.connect();
      hub.join(a, 'r');
      hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 1 });
      expect(hub.nextDue()).toBe(T0 + 200);
      expect(hub.stats()).toMatchObject({ openBatches: 1, batchedItems: 1, bulks: 0 });
      clock.now = T0 + 150;
      hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 2 });
      expect(hub.nextDue()).toBe(T0 + 200);
      clock.now = T0 + 199;
      expect(plain(hub.flush()).deliveries).toEqual([]);
      // the target set is computed when the batch is delivered
      const b = hub.connect();
      hub.join(b, 'r');
      clock.now = T0 + 200;
      expect(plain(hub.flush())).toEqual({ deliveries: [delivery(enc({ data: ['rt:bulk', [['e', 1], ['e', 2]]] }), [a, b], { bulk: true })], slow: [] });
      expect(hub.nextDue()).toBeNull();
      expect(hub.stats()).toMatchObject({ openBatches: 0, batchedItems: 2, bulks: 1 });
      // a new batch starts with the next item
      clock.now = T0 + 300;
      expect(hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 3 }).status).toBe('batched');
      expect(hub.nextDue()).toBe(T0 + 500);
      hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 4 });
      const r = plain(hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 5 }));
      expect(r.status).toBe('delivered');
      expect(r.deliveries).toEqual([delivery(enc({ data: ['rt:bulk', [['e', 3], ['e', 4], ['e', 5]]] }), [a, b], { bulk: true })]);
      expect(hub.nextDue()).toBeNull();
      // batches of different rooms are separate
      hub.publish({ rooms: ['r'], batch: true, event: 'e', payload: 6 });
      hub.publish({ rooms: ['q'], batch: true, event: 'e', payload: 7 });
      expect(hub.stats()).toMatchObject({ openBatches: 2, batchedItems: 7, bulks: 2 });
      clock.now = T0 + 10_000;
      const f = plain(hub.flush());
      expect(f.deliveries.map((d) => [d.packet, d.handles])).toEqual([
        [enc({ data: ['rt:bulk', [['e', 6]]] }), [a, b]],
        [enc({ data: ['rt:bulk', [['e', 7]]] }), []],
      ]);
    });

    test('flush order: due keyed messages (due time, then key first seen), then due batches (first item, then room creation order)', () => {
      const { hub, clock } = make(rt, { throttleMs: 1000, batch: { maxItems: 100, maxDelayMs: 200 } });
      const a = hub.connect();
      hub.join(a, ['x', 'y']); // x created before y
      const k = (key, v) => hub.publish({ event: key, payload: v, key });
      const bt = (room, v) => hub.publish({ rooms: [room], batch: true, event: room, payload: v });
      k('A', 0); // keys first seen in order A, B, C, D
      k('B', 0);
      k('C', 0);
      clock.now = T0 + 5;
      k('D', 0);
      clock.now = T0 + 10;
      k('C', 1);
      k('D', 1); // due T0 + 1005
      k('A', 1);
      k('B', 1);
      clock.now = T0 + 50;
      bt('z', 1); // a room without members
      clock.now = T0 + 100;
      bt('y', 1);
      bt('w', 1); // another room without members
      bt('x', 1);
      expect(hub.nextDue()).toBe(T0 + 250);
      clock.now = T0 + 250;
      expect(plain(hub.flush()).deliveries.map((d) => d.packet)).toEqual([enc({ data: ['rt:bulk', [['z', 1]]] })]);
      expect(hub.nextDue()).toBe(T0 + 300);
      clock.now = T0 + 2000;
      expect(plain(hub.flush()).deliveries.map((d) => d.packet)).toEqual([
        enc({ data: ['A', 1] }),
        enc({ data: ['B', 1] }),
        enc({ data: ['C', 1] }),
        enc({ data: ['D', 1] }),
        enc({ data: ['rt:bulk', [['x', 1]]] }),
        enc({ data: ['rt:bulk', [['y', 1]]] }),
        enc({ data: ['rt:bulk', [['w', 1]]] }),
      ]);
      expect(hub.nextDue()).toBeNull();
      // re-created rooms count from their new creation
      hub.leave(a, 'x');
      hub.join(a, 'x');
      bt('x', 2);
      bt('y', 2);
      clock.now = T0 + 2200;
      expect(plain(hub.flush()).deliveries.map((d) => d.packet)).toEqual([enc({ data: ['rt:bulk', [['y', 2]]] }), enc({ data: ['rt:bulk', [['x', 2]]] })]);
    });

    test('flush({ all: true }) delivers everything pending regardless of time; nextDue is the earliest due time', () => {
      const { hub, clock } = make(rt, { throttleMs: 1000, batch: { maxDelayMs: 500 } });
      hub.connect();
      hub.publish({ event: 'k', payload: 0, key: 'k' });
      clock.now = T0 + 100;
      hub.publish({ rooms: ['r'], batch: true, event: 'b', payload: 1 });
      expect(hub.nextDue()).toBe(T0 + 600);
      hub.publish({ event: 'k', payload: 1, key: 'k' });
      expect(hub.nextDue()).toBe(T0 + 600);
      clock.now = T0 + 200;
      const r = plain(hub.flush({ all: true }));
      expect(r.deliveries.map((d) => d.packet)).toEqual([enc({ data: ['k', 1] }), enc({ data: ['rt:bulk', [['b', 1]]] })]);
      expect(hub.nextDue()).toBeNull();
      // the key's last delivery is now the flush's time
      clock.now = T0 + 1100;
      expect(hub.publish({ event: 'k', payload: 2, key: 'k' }).status).toBe('pending');
      expect(hub.nextDue()).toBe(T0 + 1200);
      expect(plain(hub.flush({ all: false })).deliveries).toEqual([]);
    });

    test('autoFlush: an unref\'d timer flushes at nextDue and emits deliver', async () => {
      const hub = new rt.FanoutHub({ throttleMs: 40, batch: { maxDelayMs: 30 } });
      const a = hub.connect();
      hub.join(a, 'r');
      const got = [];
      hub.on('deliver', (r) => got.push(plain(r)));
      hub.publish({ rooms: ['r'], event: 'e', payload: 1, key: 'k' });
      hub.publish({ rooms: ['r'], event: 'e', payload: 2, key: 'k' });
      hub.publish({ rooms: ['r'], batch: true, event: 'b', payload: 1 });
      const deadline = Date.now() + 3000;
      while (got.flatMap((r) => r.deliveries).length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // (one late timer may deliver both in one flush: keyed first then)
      const byPacket = (x, y) => (x.packet < y.packet ? -1 : 1);
      expect(got.flatMap((r) => r.deliveries).sort(byPacket)).toEqual([
        delivery(enc({ data: ['e', 2] }), [a]),
        delivery(enc({ data: ['rt:bulk', [['b', 1]]] }), [a], { bulk: true }),
      ].sort(byPacket));
      expect(hub.nextDue()).toBeNull();
      await hub.close();
    });
  });

  describe('slow consumers', () => {
    test('backlog, maxBacklog: volatile dropped, others mark slow; drained; disconnect clears the mark', () => {
      const { hub } = make(rt, { maxBacklog: 2 });
      const [a, b] = [hub.connect(), hub.connect()];
      hub.join(a, 'r');
      hub.join(b, 'r');
      const pub = (v, volatile) => plain(hub.publish({ rooms: ['r'], event: 'e', payload: v, volatile }));
      const p = (v) => enc({ data: ['e', v] });
      pub(1);
      pub(2);
      expect([hub.backlog(a), hub.backlog(b)]).toEqual([2, 2]);
      expect(hub.stats()).toMatchObject({ backlog: 4, maxBacklog: 2 });
      hub.drained([b]);
      expect(pub(3)).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(p(3), [b])], slow: [a] });
      expect(pub(4, true)).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(p(4), [b], { volatile: true })], slow: [] });
      expect(pub(5, true)).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(p(5), [], { volatile: true })], slow: [] });
      expect(hub.stats()).toMatchObject({ droppedVolatile: 1, slowConsumers: 1, backlog: 4, maxBacklog: 2 });
      expect(pub(6)).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(p(6), [])], slow: [b] });
      // drained resets the backlog but not the mark
      hub.drained(Uint32Array.of(a, b, 77));
      expect([hub.backlog(a), hub.backlog(b)]).toEqual([0, 0]);
      expect(pub(7).deliveries).toEqual([delivery(p(7), [])]);
      expect(hub.stats()).toMatchObject({ droppedVolatile: 1, slowConsumers: 2, backlog: 0, maxBacklog: 0 });
      // a reused handle is a new connection: not slow
      hub.disconnect(a);
      expect(hub.connect()).toBe(a);
      hub.join(a, 'r');
      expect(pub(8)).toEqual({ status: 'delivered', offset: null, deliveries: [delivery(p(8), [a])], slow: [] });
      expect(hub.backlog(a)).toBe(1);
    });

    test('several connections marked by one call are reported in marking order; a bulk too', () => {
      const { hub } = make(rt, { maxBacklog: 1, batch: { maxItems: 2 } });
      const h = [hub.connect(), hub.connect(), hub.connect()];
      hub.join(h[2], 'r');
      hub.join(h[0], 'r');
      hub.join(h[1], 's');
      hub.publish({ event: 'e', args: [] });
      hub.drained([h[1]]);
      const r = plain(hub.publish({ rooms: ['r', 's'], event: 'e', args: [] }));
      expect(r.slow).toEqual([h[2], h[0]]);
      expect(r.deliveries[0].handles).toEqual([h[1]]);
      hub.drained([h[1]]);
      hub.publish({ rooms: ['s'], batch: true, event: 'e', args: [] });
      const r2 = plain(hub.publish({ rooms: ['s'], batch: true, event: 'e', args: [] }));
      expect(r2.deliveries[0]).toMatchObject({ handles: [h[1]], bulk: true });
      expect(hub.backlog(h[1])).toBe(1);
    });
  });

  describe('recovery', () => {
    test('offsets: prefix + seq in base 36, from startSeq + 1', () => {
      const { hub } = make(rt, { recovery: true, offsetPrefix: 'srv7-', startSeq: 34 });
      hub.connect();
      expect(hub.publish({ event: 'e', payload: 1 }).offset).toBe('srv7-z');
      expect(hub.publish({ event: 'e', payload: 2 }).offset).toBe('srv7-10');
      expect(hub.publish({ event: 'e', payload: 3, volatile: true }).offset).toBeNull();
      expect(hub.publish({ event: 'e', payload: 4 }).deliveries[0].packet).toBe(enc({ data: ['e', 4, 'srv7-11'] }));
      // the default prefix: 8 base-36 characters and "-"
      const other = make(rt, { recovery: true }).hub;
      expect(other.options.offsetPrefix).toMatch(/^[0-9a-z]{8}-$/);
      other.connect();
      expect(other.publish({ event: 'e', args: [] }).offset).toBe(`${other.options.offsetPrefix}1`);
      // no recovery: nothing is recorded
      const none = make(rt).hub;
      none.connect();
      expect(none.publish({ event: 'e', payload: 1, recoverable: true }).offset).toBeNull();
      expect(none.stats()).toMatchObject({ recorded: 0, recoveryPackets: 0 });
    });

    test('restore: the records of the session\'s rooms and of everyone, minus except, in seq order; the session is consumed', () => {
      const { hub } = make(rt, { recovery: true, offsetPrefix: 'p' });
      hub.connect();
      const pub = (rooms, except, v) => hub.publish({ rooms, except, event: 'e', payload: v }).offset;
      expect(pub(['A'], [], 1)).toBe('p1');
      pub(['B'], [], 2);
      pub([], [], 3);
      pub(['A', 'B'], ['B'], 4);
      pub([], ['A'], 5);
      pub(['B'], ['C'], 6);
      pub(['C', 'A'], [], 7);
      const packets = (...vs) => vs.map((v) => enc({ data: ['e', v, `p${v}`] }));
      hub.saveSession({ id: 's1', sid: 'sock1', rooms: ['A', 'C'], data: '{"user":7}' });
      hub.saveSession({ id: 's2', sid: 'sock2', rooms: ['B', 'C', 'B'] });
      hub.saveSession({ id: 's3', sid: 'sock3', rooms: [] });
      expect(hub.stats().sessions).toBe(3);
      expect(hub.restore('s1', 'p0')).toEqual({ status: 'recovered', sid: 'sock1', rooms: ['A', 'C'], data: '{"user":7}', packets: packets(1, 3, 4, 7) });
      expect(hub.restore('s1', 'p0')).toEqual({ status: 'unknown-session' });
      expect(hub.restore('s2', 'p2')).toEqual({ status: 'recovered', sid: 'sock2', rooms: ['B', 'C', 'B'], data: 'null', packets: packets(3, 5, 7) });
      expect(hub.restore('s3', 'p3')).toEqual({ status: 'recovered', sid: 'sock3', rooms: [], data: 'null', packets: packets(5) });
      hub.saveSession({ id: 's4', sid: 'sock4', rooms: ['A'] });
      expect(hub.restore('s4', 'p7')).toEqual({ status: 'recovered', sid: 'sock4', rooms: ['A'], data: 'null', packets: [] });
      expect(hub.stats()).toMatchObject({ sessions: 0, recoveries: 4, recoveryFailures: 1 });
    });

    test('restore statuses: unknown-session, expired, invalid-offset and too-old (the session stays), recovered', () => {
      const { hub, clock } = make(rt, { recovery: { windowMs: 1000, maxPackets: 3 }, offsetPrefix: 'p-' });
      hub.connect();
      for (let i = 1; i <= 40; i++) hub.publish({ rooms: ['A'], event: 'e', payload: i });
      expect(hub.stats()).toMatchObject({ recorded: 40, recoveryPackets: 3, evicted: 37 });
      hub.saveSession({ id: 's', sid: 'S', rooms: ['A'] });
      expect(hub.restore('nope', 'p-1')).toEqual({ status: 'unknown-session' });
      for (const bad of ['', 'p-', 'p-15', 'p-16', 'p-100', 'p-1A', 'p-1.', 'q-1', '1', 'p-zzzzzzzzzzzzzzzzzzzzzzzzzzz', ' p-1', 'p-1 ', 'p--1']) {
        expect([bad, hub.restore('s', bad)]).toEqual([bad, { status: 'invalid-offset' }]);
      }
      // records 38..40 (p-12..p-14) are left: an offset before 37 (p-11) needs an evicted one
      expect(hub.restore('s', 'p-0')).toEqual({ status: 'too-old' });
      expect(hub.restore('s', 'p-10')).toEqual({ status: 'too-old' });
      expect(hub.stats()).toMatchObject({ sessions: 1, recoveries: 0 });
      expect(hub.restore('s', 'p-11')).toEqual({
        status: 'recovered', sid: 'S', rooms: ['A'], data: 'null',
        packets: [38, 39, 40].map((v) => enc({ data: ['e', v, `p-${v.toString(36)}`] })),
      });
      hub.saveSession({ id: 's', sid: 'S', rooms: ['A'] });
      expect(hub.restore('s', 'p-14').packets).toEqual([]);
      // expiry: saved more than windowMs ago
      hub.saveSession({ id: 'e1', sid: 'E1', rooms: [] });
      hub.saveSession({ id: 'e2', sid: 'E2', rooms: [] });
      clock.now = T0 + 1000;
      expect(hub.restore('e1', 'p-14').status).toBe('recovered');
      clock.now = T0 + 1001;
      expect(hub.restore('e2', 'p-14')).toEqual({ status: 'expired' });
      expect(hub.restore('e2', 'p-14')).toEqual({ status: 'unknown-session' });
      // unknown-session, then expired, come before invalid-offset
      hub.saveSession({ id: 'e3', sid: 'E3', rooms: [] });
      clock.now = T0 + 2002;
      expect(hub.restore('e3', 'garbage')).toEqual({ status: 'expired' });
      expect(hub.restore('e3', 'garbage')).toEqual({ status: 'unknown-session' });
      expect(hub.stats()).toMatchObject({ recoveries: 3 });
    });

    test('eviction by time (older than windowMs), by count and by bytes, oldest first; sweep', () => {
      const { hub, clock } = make(rt, { recovery: { windowMs: 1000 }, offsetPrefix: 'p' });
      hub.connect();
      hub.publish({ event: 'e', payload: 1 });
      clock.now = T0 + 500;
      hub.publish({ event: 'e', payload: 2 });
      clock.now = T0 + 1000;
      expect(hub.sweep()).toEqual({ evicted: 0, expired: 0 });
      clock.now = T0 + 1001;
      expect(hub.sweep()).toEqual({ evicted: 1, expired: 0 });
      expect(hub.stats()).toMatchObject({ recoveryPackets: 1, evicted: 1 });
      clock.now = T0 + 1501;
      hub.publish({ event: 'e', payload: 3 }); // publish evicts too
      expect(hub.stats()).toMatchObject({ recoveryPackets: 1, evicted: 2, recorded: 3 });
      // by count
      const c = make(rt, { recovery: { maxPackets: 2 }, offsetPrefix: 'p' }).hub;
      c.connect();
      for (let i = 0; i < 5; i++) c.publish({ event: 'e', payload: i });
      expect(c.stats()).toMatchObject({ recoveryPackets: 2, evicted: 3 });
      // by bytes: each packet here is 13 bytes ('2["e",1,"p1"]')
      const size = enc({ data: ['e', 1, 'p1'] }).length;
      expect(size).toBe(13);
      const b = make(rt, { recovery: { maxBytes: 2 * size + 1 }, offsetPrefix: 'p' }).hub;
      b.connect();
      for (let i = 1; i <= 3; i++) b.publish({ event: 'e', payload: i });
      expect(b.stats()).toMatchObject({ recoveryPackets: 2, recoveryBytes: 2 * size, evicted: 1 });
      // a packet larger than maxBytes is evicted at once (it was still delivered with its offset)
      const r = plain(b.publish({ event: 'e', payload: 'x'.repeat(30) }));
      expect(r.offset).toBe('p4');
      expect(b.stats()).toMatchObject({ recoveryPackets: 0, recoveryBytes: 0, evicted: 4 });
      // sessions expire in sweep
      const s = make(rt, { recovery: { windowMs: 100 } });
      s.hub.saveSession({ id: 'a', sid: 'A', rooms: [] });
      s.clock.now = T0 + 50;
      s.hub.saveSession({ id: 'b', sid: 'B', rooms: [] });
      s.clock.now = T0 + 101;
      expect(s.hub.sweep()).toEqual({ evicted: 0, expired: 1 });
      expect(s.hub.stats().sessions).toBe(1);
      expect(s.hub.restore('a', 'x')).toEqual({ status: 'unknown-session' });
    });

    test('too-old is decided per room: a quiet connection keeps its ability to recover (socket.io#5282)', () => {
      const { hub } = make(rt, { recovery: { maxPackets: 2 }, offsetPrefix: 'p' });
      const h = hub.connect();
      hub.join(h, ['quiet']); // a member: quiet's evictions are remembered
      const pub = (rooms, v) => hub.publish({ rooms, event: 'e', payload: v }).offset;
      expect(pub(['quiet'], 1)).toBe('p1');
      for (let v = 2; v <= 6; v++) pub(['busy'], v);
      expect(hub.stats()).toMatchObject({ recoveryPackets: 2, evicted: 4 });
      // the quiet session's own packet (p1) aged out, but nothing it needs was evicted
      hub.saveSession({ id: 'q', sid: 'Q', rooms: ['quiet', 'other'] });
      expect(hub.restore('q', 'p1')).toEqual({ status: 'recovered', sid: 'Q', rooms: ['quiet', 'other'], data: 'null', packets: [] });
      hub.saveSession({ id: 'q', sid: 'Q', rooms: ['quiet'] });
      expect(hub.restore('q', 'p0')).toEqual({ status: 'too-old' }); // needs p1 (remembered: quiet has a member)
      // busy has no member, but its live records (p5, p6) keep its evictions remembered
      hub.saveSession({ id: 'b', sid: 'B', rooms: ['busy'] });
      expect(hub.restore('b', 'p3')).toEqual({ status: 'too-old' }); // needs p4
      expect(hub.restore('b', 'p4').packets).toEqual([enc({ data: ['e', 5, 'p5'] }), enc({ data: ['e', 6, 'p6'] })]);
      // an evicted message to everyone is needed by every session
      pub([], 7);
      pub(['busy'], 8);
      pub(['busy'], 9);
      expect(hub.restore('q', 'p1')).toEqual({ status: 'too-old' });
      expect(hub.restore('q', 'p7')).toEqual({ status: 'recovered', sid: 'Q', rooms: ['quiet'], data: 'null', packets: [] });
    });

    test('a room\'s evictions are remembered only while a member, a live record or a saved session references it', () => {
      const make2 = () => {
        const { hub, clock } = make(rt, { recovery: { maxPackets: 2 }, offsetPrefix: 'p', batch: { maxItems: 10, maxDelayMs: 1000 } });
        const pub = (rooms, v, extra = {}) => hub.publish({ rooms, event: 'e', payload: v, ...extra }).offset;
        const packet = (v) => enc({ data: ['e', v, `p${v}`] });
        return { hub, clock, pub, packet };
      };
      // (a) a session saved before the eviction names the room: remembered
      {
        const { hub, pub } = make2();
        pub(['quiet'], 1);
        hub.saveSession({ id: 'w', sid: 'W', rooms: ['quiet'] });
        pub(['busy'], 2);
        pub(['busy'], 3); // evicts p1
        expect(hub.stats()).toMatchObject({ evicted: 1 });
        expect(hub.restore('w', 'p0')).toEqual({ status: 'too-old' });
        expect(hub.restore('w', 'p1')).toEqual({ status: 'recovered', sid: 'W', rooms: ['quiet'], data: 'null', packets: [] });
      }
      // (b) nothing references quiet when p1 is evicted: forgotten; a session saved later naming it
      // recovers with the retained packets only
      {
        const { hub, pub, packet } = make2();
        hub.connect(); // connected, in no room
        pub(['quiet'], 1);
        pub(['busy'], 2);
        pub(['busy'], 3); // evicts p1
        pub(['quiet'], 4); // evicts p2
        expect(hub.stats()).toMatchObject({ recoveryPackets: 2, evicted: 2 });
        hub.saveSession({ id: 'late', sid: 'L', rooms: ['quiet'] });
        expect(hub.restore('late', 'p0')).toEqual({ status: 'recovered', sid: 'L', rooms: ['quiet'], data: 'null', packets: [packet(4)] });
        // busy's evictions are still remembered: its live record p3 references it
        hub.saveSession({ id: 'busy', sid: 'B', rooms: ['busy'] });
        expect(hub.restore('busy', 'p0')).toEqual({ status: 'too-old' });
      }
      // a room referenced only by a saved session (and its record): once the session is consumed,
      // the record's eviction is forgotten
      {
        const { hub, pub } = make2();
        pub(['solo'], 1);
        hub.saveSession({ id: 's', sid: 'S', rooms: ['solo'] });
        expect(hub.restore('s', 'p1')).toEqual({ status: 'recovered', sid: 'S', rooms: ['solo'], data: 'null', packets: [] });
        pub(['busy'], 2);
        pub(['busy'], 3); // evicts p1: nothing references solo any more
        hub.saveSession({ id: 's', sid: 'S', rooms: ['solo'] });
        expect(hub.restore('s', 'p0')).toEqual({ status: 'recovered', sid: 'S', rooms: ['solo'], data: 'null', packets: [] });
      }
      // the same with the session expired by sweep, or replaced by one naming other rooms
      {
        const { hub, pub } = make2();
        pub(['solo'], 1);
        hub.saveSession({ id: 's', sid: 'S', rooms: ['solo'] });
        hub.saveSession({ id: 's', sid: 'S', rooms: ['elsewhere'] });
        pub(['busy'], 2);
        pub(['busy'], 3); // evicts p1
        hub.saveSession({ id: 't', sid: 'T', rooms: ['solo'] });
        expect(hub.restore('t', 'p0').status).toBe('recovered');
      }
      // members: remembered while one stays; forgotten when the last one leaves (or disconnects)
      {
        const { hub, pub } = make2();
        const [a, b] = [hub.connect(), hub.connect()];
        hub.join(a, ['r', 'x']);
        hub.join(b, ['r']);
        pub(['r'], 1);
        pub(['x'], 2);
        pub(['busy'], 3); // evicts p1
        pub(['busy'], 4); // evicts p2
        hub.leave(a, 'r');
        hub.saveSession({ id: 's', sid: 'S', rooms: ['r'] });
        expect(hub.restore('s', 'p0')).toEqual({ status: 'too-old' });
        expect(hub.restore('s', 'p1').status).toBe('recovered');
        hub.disconnect(b);
        hub.disconnect(a);
        hub.saveSession({ id: 's', sid: 'S', rooms: ['r', 'x'] });
        expect(hub.restore('s', 'p0').status).toBe('recovered');
      }
      // a room in a live record's except list keeps it remembered too
      {
        const { hub, pub } = make2();
        pub(['quiet'], 1);
        hub.publish({ rooms: ['busy'], except: ['quiet'], event: 'e', payload: 2 });
        pub(['busy'], 3); // evicts p1; p2 (except quiet) still references quiet
        hub.saveSession({ id: 's', sid: 'S', rooms: ['quiet'] });
        expect(hub.restore('s', 'p0')).toEqual({ status: 'too-old' });
      }
      // saveSession references its rooms before it evicts: the eviction of its own call is remembered
      {
        const { hub, clock, pub } = make2();
        const r = make(rt, { recovery: { windowMs: 100 }, offsetPrefix: 'p' });
        r.hub.publish({ rooms: ['quiet'], event: 'e', payload: 1 });
        r.clock.now = T0 + 101;
        r.hub.saveSession({ id: 's', sid: 'S', rooms: ['quiet'] }); // evicts p1 by time
        expect(r.hub.stats()).toMatchObject({ evicted: 1 });
        expect(r.hub.restore('s', 'p0')).toEqual({ status: 'too-old' });
        // an open batch does not keep the memory
        hub.publish({ rooms: ['quiet'], event: 'e', payload: 0, batch: true });
        pub(['quiet'], 1);
        pub(['busy'], 2);
        pub(['busy'], 3); // evicts p1 while quiet's batch is open
        expect(hub.stats()).toMatchObject({ openBatches: 1, evicted: 1 });
        clock.now = T0 + 1000;
        expect(hub.flush().deliveries).toHaveLength(1); // the batch: p4
        hub.saveSession({ id: 's', sid: 'S', rooms: ['quiet'] });
        expect(hub.restore('s', 'p0')).toEqual({ status: 'recovered', sid: 'S', rooms: ['quiet'], data: 'null', packets: [enc({ data: ['e', 0, 'p4'] })] });
      }
    });

    test('sessions: replaced by id (and then the newest), at most maxSessions (oldest saved evicted first)', () => {
      const { hub } = make(rt, { recovery: true, maxSessions: 2, offsetPrefix: 'p' });
      hub.saveSession({ id: 'a', sid: 'A', rooms: [] });
      hub.saveSession({ id: 'b', sid: 'B', rooms: [] });
      hub.saveSession({ id: 'a', sid: 'A2', rooms: ['r'], data: '1' });
      hub.saveSession({ id: 'c', sid: 'C', rooms: [] });
      expect(hub.stats().sessions).toBe(2);
      expect(hub.restore('b', 'p0')).toEqual({ status: 'unknown-session' });
      expect(hub.restore('a', 'p0')).toEqual({ status: 'recovered', sid: 'A2', rooms: ['r'], data: '1', packets: [] });
      expect(hub.restore('c', 'p0').status).toBe('recovered');
    });
  });

  test('stats after a scenario', () => {
    const { hub, clock } = make(rt, { recovery: { maxPackets: 4 }, offsetPrefix: 'p', maxBacklog: 3, throttleMs: 100, batch: { maxItems: 2 } });
    const [a, b, c] = [hub.connect(), hub.connect(), hub.connect()];
    hub.join(a, ['r', 's']);
    hub.join(b, ['r']);
    hub.join(c, ['s']);
    hub.publish({ rooms: ['r'], event: 'e', payload: 1 }); // 2 recipients, recorded
    hub.publish({ rooms: ['s'], event: 'e', payload: 2, volatile: true }); // 2, not recorded
    hub.publish({ event: 'e', payload: 3, key: 'k' }); // 3, recorded
    hub.publish({ event: 'e', payload: 4, key: 'k' }); // pending
    hub.publish({ event: 'e', payload: 5, key: 'k' }); // coalesced
    hub.publish({ rooms: ['s'], batch: true, event: 'b', payload: 1 }); // batched
    hub.publish({ rooms: ['s'], batch: true, event: 'b', payload: 2 }); // bulk: a (backlog 3) slow, c
    clock.now = T0 + 100;
    hub.flush(); // payload 5 to b; c (backlog 3) slow; p1 evicted
    hub.saveSession({ id: 'x', sid: 'X', rooms: ['r'] });
    expect(hub.restore('x', 'p0')).toEqual({ status: 'too-old' }); // the session stays
    hub.saveSession({ id: 'y', sid: 'Y', rooms: [] });
    const sizes = {
      p1: enc({ data: ['e', 1, 'p1'] }).length,
      v2: enc({ data: ['e', 2] }).length,
      p2: enc({ data: ['e', 3, 'p2'] }).length,
      bulk: enc({ data: ['rt:bulk', [['b', 1], ['b', 2]], 'p4'] }).length,
      i3: enc({ data: ['b', 1, 'p3'] }).length,
      i4: enc({ data: ['b', 2, 'p4'] }).length,
      p5: enc({ data: ['e', 5, 'p5'] }).length,
    };
    // backlogs: a: 1 (p1) + 1 (v2) + 1 (p2) = 3 -> bulk marks it slow; b: p1, p2 = 2, then p5 -> 3;
    // c: v2, p2, bulk = 3 -> p5 marks it slow
    expect([hub.backlog(a), hub.backlog(b), hub.backlog(c)]).toEqual([3, 3, 3]);
    expect(hub.stats()).toEqual({
      connections: 3,
      rooms: 2,
      memberships: 4,
      published: 7,
      deliveries: 2 + 2 + 3 + 1 + 1,
      packets: 5,
      bytes: sizes.p1 * 2 + sizes.v2 * 2 + sizes.p2 * 3 + sizes.bulk * 1 + sizes.p5 * 1,
      coalesced: 1,
      pendingKeys: 0,
      batchedItems: 2,
      bulks: 1,
      openBatches: 0,
      droppedVolatile: 0,
      slowConsumers: 2,
      backlog: 9,
      maxBacklog: 3,
      recorded: 5,
      recoveryPackets: 4,
      recoveryBytes: sizes.p2 + sizes.i3 + sizes.i4 + sizes.p5,
      evicted: 1,
      sessions: 2,
      recoveries: 0,
      recoveryFailures: 1,
    });
  });

  describe('errors: the hub is unchanged after any error', () => {
    function populated(options = {}) {
      const made = make(rt, { recovery: true, offsetPrefix: 'p', throttleMs: 100, ...options });
      const { hub } = made;
      const [a, b] = [hub.connect(), hub.connect()];
      hub.join(a, ['r', 's']);
      hub.join(b, 'r');
      hub.publish({ rooms: ['r'], event: 'e', payload: 1, key: 'k' });
      hub.publish({ rooms: ['r'], event: 'e', payload: 2, key: 'k' });
      hub.publish({ rooms: ['s'], batch: true, event: 'e', payload: 3 });
      return made;
    }

    test('ERR_RT_UNKNOWN_ID: join, leave, rooms, backlog of a handle that is not connected', () => {
      const { hub } = populated();
      hub.disconnect(hub.connect());
      for (const h of [2, 3, 1000]) {
        expectCode(hub, () => hub.join(h, ['r', 'new']), 'ERR_RT_UNKNOWN_ID');
        expectCode(hub, () => hub.leave(h, 'r'), 'ERR_RT_UNKNOWN_ID');
        expectCode(hub, () => hub.rooms(h), 'ERR_RT_UNKNOWN_ID');
        expectCode(hub, () => hub.backlog(h), 'ERR_RT_UNKNOWN_ID');
      }
      expect(hub.disconnect(2)).toBeNull();
    });

    test('ERR_RT_TOO_LARGE: payload over maxPayloadBytes, event over 256 bytes', () => {
      const { hub } = populated({ maxPayloadBytes: 10 });
      const m = (extra) => ({ rooms: ['r'], event: 'e', key: 'k', ...extra });
      // the limit is on the args text: a payload with its "[" "]"
      expectCode(hub, () => hub.publish(m({ payload: '"abcdefg"' })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ payload: 'éééé1' })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ payload: Buffer.alloc(9, 0x31) })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ payload: 'abcdefghi' })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ payload: 123456789 })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ args: '[123456789]' })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ args: ['abcdefghij'] })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ args: Buffer.from('[123456789]') })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ event: 'x'.repeat(257), payload: 1 })), 'ERR_RT_TOO_LARGE');
      expectCode(hub, () => hub.publish(m({ event: 'é'.repeat(129), payload: 1 })), 'ERR_RT_TOO_LARGE');
      // exactly at the limits
      expect(hub.publish({ event: 'x'.repeat(256), payload: 'abcdefgh' }).status).toBe('delivered');
      expect(hub.publish({ event: 'e', payload: 'ééé1' }).status).toBe('delivered');
      expect(hub.publish({ event: 'e', payload: Buffer.alloc(8, 0x31) }).status).toBe('delivered');
      expect(hub.publish({ event: 'e', payload: 12345678 }).status).toBe('delivered');
      expect(hub.publish({ event: 'é'.repeat(128), args: '[12345678]' }).status).toBe('delivered');
      expectCode(hub, () => hub.saveSession({ id: 'a', sid: 'b', rooms: [], data: '"abcdefghij"' }), 'ERR_RT_TOO_LARGE');
    });

    test('ERR_RT_INVALID_ARGUMENT: args not framed or not an array, values that are not JSON, bad messages', () => {
      const { hub } = populated();
      const big = 10n;
      const cyclic = {};
      cyclic.self = cyclic;
      const bad = [
        { event: 'e', args: '1, 2' },
        { event: 'e', args: '[1, 2' },
        { event: 'e', args: '1]' },
        { event: 'e', args: '[' },
        { event: 'e', args: '' },
        { event: 'e', args: Buffer.from('{}') },
        { event: 'e', args: { 0: 1 } },
        { event: 'e', args: 5 },
        { event: 'e', args: [big] },
        { event: 'e', payload: big },
        { event: 'e', payload: cyclic },
        { event: 'e', payload: () => 1 },
        { event: 'e', payload: Symbol('x') },
        { event: 'e', payload: Buffer.from([0xff, 0xfe]) },
        { event: 'e', payload: '\ud800' },
        { event: 'e' },
        { event: 'e', payload: 1, args: [] },
        { payload: 1 },
        { event: '', payload: 1 },
        { event: 7, payload: 1 },
        { event: '\ud800', payload: 1 },
        { event: 'e', payload: 1, extra: true },
        { event: 'e', payload: 1, rooms: 'r' },
        { event: 'e', payload: 1, rooms: [''] },
        { event: 'e', payload: 1, rooms: [1] },
        { event: 'e', payload: 1, except: [null] },
        { event: 'e', payload: 1, key: '' },
        { event: 'e', payload: 1, key: 3 },
        { event: 'e', payload: 1, volatile: 1 },
        { event: 'e', payload: 1, batch: 'yes' },
        { event: 'e', payload: 1, recoverable: null },
        { event: 'e', payload: 1, ackId: 1.5 },
        { event: 'e', payload: 1, ackId: '1' },
        { event: 'e', payload: 1, ackId: 1, key: 'k' },
        { event: 'e', payload: 1, batch: true },
        { event: 'e', payload: 1, batch: true, rooms: ['r', 's'] },
        { event: 'e', payload: 1, batch: true, rooms: ['r'], except: ['s'] },
        { event: 'e', payload: 1, batch: true, rooms: ['r'], key: 'k' },
        { event: 'e', payload: 1, batch: true, rooms: ['r'], ackId: 1 },
      ];
      for (const m of bad) expectCode(hub, () => hub.publish(m), 'ERR_RT_INVALID_ARGUMENT');
      for (const m of [null, 'x', [], new Map()]) expectCode(hub, () => hub.publish(m), 'ERR_RT_INVALID_ARGUMENT');
      // other calls
      const calls = [
        () => hub.join(0, ''),
        () => hub.join(0, ['ok', '']),
        () => hub.join(0),
        () => hub.join(0, 5),
        () => hub.join('0', 'r'),
        () => hub.join(1.5, 'r'),
        () => hub.leave(0, 3),
        () => hub.members(''),
        () => hub.roomSize(null),
        () => hub.targets({ rooms: 'r' }),
        () => hub.targets({ room: ['r'] }),
        () => hub.drained('0'),
        () => hub.drained([0, 'x']),
        () => hub.flush({ all: 1 }),
        () => hub.flush({ now: 1 }),
        () => hub.saveSession({ id: 'a', sid: 'b' , rooms: 'r' }),
        () => hub.saveSession({ id: '', sid: 'b', rooms: [] }),
        () => hub.saveSession({ id: 'a', sid: 'b', rooms: [], data: {} }),
        () => hub.saveSession({ id: 'a', sid: 'b', rooms: [], extra: 1 }),
        () => hub.saveSession(null),
        () => hub.restore('a', 1),
        () => hub.restore(1, 'p1'),
      ];
      for (const call of calls) expectCode(hub, call, 'ERR_RT_INVALID_ARGUMENT');
      // recovery is needed for sessions
      const none = make(rt).hub;
      expect(codeOf(() => none.saveSession({ id: 'a', sid: 'b', rooms: [] }))).toBe('ERR_RT_INVALID_ARGUMENT');
      expect(codeOf(() => none.restore('a', 'b'))).toBe('ERR_RT_INVALID_ARGUMENT');
    });

    test('ERR_RT_OUT_OF_RANGE: handles, room names, ackId; maxConnections and maxRooms', () => {
      const { hub } = populated({ maxConnections: 3, maxRooms: 4 });
      expectCode(hub, () => hub.join(-1, 'r'), 'ERR_RT_OUT_OF_RANGE');
      expectCode(hub, () => hub.backlog(2 ** 32), 'ERR_RT_OUT_OF_RANGE');
      expectCode(hub, () => hub.join(0, 'x'.repeat(257)), 'ERR_RT_OUT_OF_RANGE');
      expectCode(hub, () => hub.publish({ event: 'e', payload: 1, ackId: -1 }), 'ERR_RT_OUT_OF_RANGE');
      expectCode(hub, () => hub.publish({ event: 'e', payload: 1, ackId: 2 ** 31 }), 'ERR_RT_OUT_OF_RANGE');
      expectCode(hub, () => hub.publish({ event: 'e', payload: 1, rooms: ['x'.repeat(257)] }), 'ERR_RT_OUT_OF_RANGE');
      // rooms: r, s exist; two more fit
      expectCode(hub, () => hub.join(1, ['t', 'u', 'v']), 'ERR_RT_OUT_OF_RANGE');
      expect(hub.join(1, ['t', 'r', 's', 'u', 't'])).toBe(3);
      expectCode(hub, () => hub.join(0, ['t', 'w']), 'ERR_RT_OUT_OF_RANGE');
      expect(hub.join(0, ['t', 'u'])).toBe(2);
      hub.connect();
      expectCode(hub, () => hub.connect(), 'ERR_RT_OUT_OF_RANGE');
      hub.disconnect(0);
      expect(hub.connect()).toBe(0);
      // options
      for (const options of [{ throttleMs: -1 }, { batch: { maxItems: 0 } }, { maxBacklog: 0 }, { recovery: { windowMs: 0 } }, { startSeq: -1 }, { maxPayloadBytes: 0 }]) {
        expect([options, codeOf(() => new rt.FanoutHub(options))]).toEqual([options, 'ERR_RT_OUT_OF_RANGE']);
      }
      for (const options of [{ nope: 1 }, { namespace: 'chat' }, { namespace: '/a,b' }, { batch: { max: 1 } }, { recovery: 'yes' }, { offsetPrefix: 'a"b' },
        { offsetPrefix: 7 }, { autoFlush: 1 }, { clock: 5 }, { durable: { path: '/tmp/x' } }, { recovery: true, durable: { path: '' } }, { throttleMs: 1.5 }]) {
        expect([options, codeOf(() => new rt.FanoutHub(options))]).toEqual([options, 'ERR_RT_INVALID_ARGUMENT']);
      }
    });

    test('ERR_RT_CLOSED: any call after close()', async () => {
      const { hub } = populated();
      const done = hub.close();
      expect(done).toBeInstanceOf(Promise);
      await done;
      await hub.close();
      const calls = [
        () => hub.connect(), () => hub.disconnect(0), () => hub.join(0, 'r'), () => hub.leave(0, 'r'), () => hub.rooms(0),
        () => hub.members('r'), () => hub.roomSize('r'), () => hub.roomNames(), () => hub.connections(), () => hub.connectionCount,
        () => hub.roomCount, () => hub.targets({}), () => hub.backlog(0), () => hub.drained([0]),
        () => hub.publish({ event: 'e', payload: 1 }), () => hub.flush(), () => hub.nextDue(),
        () => hub.saveSession({ id: 'a', sid: 'b', rooms: [] }), () => hub.restore('a', 'p1'), () => hub.sweep(), () => hub.stats(),
      ];
      for (const call of calls) expect(codeOf(call)).toBe('ERR_RT_CLOSED');
    });
  });

  test('results are fresh objects: mutating them changes nothing inside', () => {
    const { hub } = make(rt, { recovery: true, offsetPrefix: 'p' });
    const a = hub.connect();
    hub.join(a, ['r']);
    const rooms = ['r'];
    hub.publish({ rooms, event: 'e', payload: 1 });
    rooms.push('s');
    hub.rooms(a).push('zz');
    hub.roomNames().push('zz');
    hub.members('r')[0] = 9;
    hub.connections()[0] = 9;
    const sessionRooms = ['r'];
    hub.saveSession({ id: 's', sid: 'S', rooms: sessionRooms });
    sessionRooms.push('other');
    expect(hub.rooms(a)).toEqual(['r']);
    expect(hub.roomNames()).toEqual(['r']);
    expect(list(hub.members('r'))).toEqual([a]);
    expect(list(hub.connections())).toEqual([a]);
    expect(hub.restore('s', 'p0')).toEqual({ status: 'recovered', sid: 'S', rooms: ['r'], data: 'null', packets: [enc({ data: ['e', 1, 'p1'] })] });
  });
});
