'use strict';

// Room names, and the one rule the adapter enforces on every join (authorizeJoin): a socket only
// ever joins rooms of its own organisation, and only its own user room. The gateways build
// room names from validated input, so this is the second line of defence, not the first.

const MODULES = ['signage', 'analytics', 'energy'];

const rooms = {
  org: (org) => `org:${org}`,
  user: (org, sub) => `org:${org}:user:${sub}`,
  device: (org, deviceId) => `org:${org}:device:${deviceId}`,
  module: (org, module) => `org:${org}:module:${module}`,
  status: (org) => `org:${org}:status`,
};

// -> { org, kind, rest } or null
function parseRoom(room) {
  if (typeof room !== 'string') return null;
  const parts = room.split(':');
  if (parts[0] !== 'org' || parts.length < 2 || parts[1] === '') return null;
  if (parts.length === 2) return { org: parts[1], kind: 'org', rest: null };
  if (parts.length === 3 && parts[2] === 'status') return { org: parts[1], kind: 'status', rest: null };
  if (parts.length === 4 && ['user', 'device', 'module'].includes(parts[2]) && parts[3] !== '') {
    return { org: parts[1], kind: parts[2], rest: parts[3] };
  }
  return null;
}

// The stand-in socket of a recovering session has the same `data`, so this works for both.
function authorizeJoin(socket, room) {
  const data = socket && socket.data;
  if (!data || typeof data.org !== 'string') return false;
  const r = parseRoom(room);
  if (!r || r.org !== data.org) return false;
  if (r.kind === 'user') return r.rest === data.sub;
  if (r.kind === 'module') return MODULES.includes(r.rest);
  return true;
}

// `playlist:<org>:<n>` -> org, or null
function orgOfEntity(entity) {
  if (typeof entity !== 'string') return null;
  const m = /^playlist:([^:]+):[^:]+$/.exec(entity);
  return m ? m[1] : null;
}

module.exports = { rooms, MODULES, parseRoom, authorizeJoin, orgOfEntity };
