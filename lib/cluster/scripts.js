'use strict';

// The Lua scripts of the cluster document store (docs/cluster-documents.md). Each runs atomically
// in Redis. Versions and mutation ids travel as canonical decimal strings written by JS and are
// compared as strings, so Lua's doubles (and their %.14g formatting) never touch them.
//
// Keys of one entity: KEYS[1] the hash { gen, v, doc }, KEYS[2] the history list (JSON entries,
// oldest first, versions v-LLEN+1 .. v). Keys of one client: KEYS[3] the hash { last, r:<id> },
// KEYS[4] the list of remembered mutation ids (oldest first).

// READ: the entity's state, the client's dedup state, and what this node needs to catch up.
// ARGV: mirrorGen ('' = none), mirrorVersion, mutationId ('' = no client)
// -> {0} (no such entity)
//  | {1, gen, v, last|'', remembered|'', mode, doc|'', entries}
//    mode: 'dup' (mutationId <= last), 'same', 'delta' (entries after mirrorVersion), 'full'
//    (doc and every entry: rebuild)
const READ = `
local h = redis.call('HMGET', KEYS[1], 'gen', 'v')
if not h[1] then return {0} end
local gen, vs = h[1], h[2]
local v = tonumber(vs)
local last, rec = '', ''
if ARGV[3] ~= '' then
  last = redis.call('HGET', KEYS[3], 'last') or ''
  if last ~= '' and tonumber(ARGV[3]) <= tonumber(last) then
    rec = redis.call('HGET', KEYS[3], 'r:' .. ARGV[3]) or ''
    return {1, gen, vs, last, rec, 'dup', '', {}}
  end
end
local mv = tonumber(ARGV[2])
if ARGV[1] == gen and mv == v then return {1, gen, vs, last, rec, 'same', '', {}} end
local len = redis.call('LLEN', KEYS[2])
if ARGV[1] == gen and mv < v and mv + 1 >= v - len + 1 then
  return {1, gen, vs, last, rec, 'delta', '', redis.call('LRANGE', KEYS[2], mv - (v - len), -1)}
end
return {1, gen, vs, last, rec, 'full', redis.call('HGET', KEYS[1], 'doc'), redis.call('LRANGE', KEYS[2], 0, -1)}
`;

// COMMIT: the compare-and-set. Succeeds only if the entity is still the same incarnation (gen)
// at the version the node merged on, and the client's last mutation id is still the one the
// node read; then writes the document, version+1 and the history entry (trimmed to the limit)
// when the document changed, and the client's dedup state, all at once.
// ARGV: gen, expectedV, changed ('1'|'0'), newV, doc, entry, historyLimit,
//       mutationId ('' = no client), expectedLast ('' = the client had none), result, dedupWindow
// -> {'ok', version} | {'gone'} | {'stale', v} | {'client'}
const COMMIT = `
local h = redis.call('HMGET', KEYS[1], 'gen', 'v')
if not h[1] or h[1] ~= ARGV[1] then return {'gone'} end
if h[2] ~= ARGV[2] then return {'stale', h[2]} end
if ARGV[8] ~= '' then
  local last = redis.call('HGET', KEYS[3], 'last') or ''
  if last ~= ARGV[9] then return {'client'} end
end
local nv = ARGV[2]
if ARGV[3] == '1' then
  nv = ARGV[4]
  redis.call('HSET', KEYS[1], 'v', nv, 'doc', ARGV[5])
  local limit = tonumber(ARGV[7])
  if limit > 0 then
    redis.call('RPUSH', KEYS[2], ARGV[6])
    redis.call('LTRIM', KEYS[2], -limit, -1)
  else
    redis.call('DEL', KEYS[2])
  end
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[3], 'last', ARGV[8])
  local w = tonumber(ARGV[11])
  if w > 0 then
    redis.call('HSET', KEYS[3], 'r:' .. ARGV[8], ARGV[10])
    redis.call('RPUSH', KEYS[4], ARGV[8])
    while redis.call('LLEN', KEYS[4]) > w do
      local old = redis.call('LPOP', KEYS[4])
      redis.call('HDEL', KEYS[3], 'r:' .. old)
    end
  end
end
return {'ok', nv}
`;

// CREATE: version 1 of a new incarnation. ARGV: gen, doc -> {'ok'} | {'exists'}
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'gen', ARGV[1], 'v', '1', 'doc', ARGV[2])
return {'ok'}
`;

// DELETE: the document and its history (dedup state is per client and stays). -> 0 | 1
const DELETE = `
local n = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return n
`;

// CHANGES: changesSince. ARGV: version
// -> {0} | {1, v, 'changes', entries} | {1, v, 'snapshot', doc}
const CHANGES = `
local vs = redis.call('HGET', KEYS[1], 'v')
if not vs then return {0} end
local v = tonumber(vs)
local want = tonumber(ARGV[1])
if want == v then return {1, vs, 'changes', {}} end
local len = redis.call('LLEN', KEYS[2])
if want < v and want >= v - len then
  return {1, vs, 'changes', redis.call('LRANGE', KEYS[2], want - (v - len), -1)}
end
return {1, vs, 'snapshot', redis.call('HGET', KEYS[1], 'doc')}
`;

module.exports = { READ, COMMIT, CREATE, DELETE, CHANGES };
