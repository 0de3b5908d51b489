'use strict';

// The Lua scripts of cross-node recovery (docs/redis.md "Structures in Redis"). Each runs
// atomically in Redis, so a packet is numbered, stored, indexed and published in one step, and a
// restore reads a session and exactly the packets it needs in one consistent view.
//
// Keys of a namespace (base = `<prefix>:<len>:<nsp>:`):
//   base..'seq'        INCR counter: the namespace's global sequence (offset = epoch-seq)
//   base..'epoch'      random id of this Redis dataset (a Redis that lost its data starts a new
//                      one, so old offsets can never be mistaken for new ones)
//   base..'gap'        sequence number below which offsets cannot be recovered: a node could not
//                      record some packets (Redis unreachable); PX window
//   base..'p:'..seq    hash { e = except rooms (JSON), d = msgpack(packet data) }, PX window
//   base..'all'        sorted set of the seqs of broadcasts to every socket (score = seq)
//   base..'r:'..room   sorted set of the seqs addressed to that room (socket ids included)
//   <zset>..':t'       highest seq trimmed from that sorted set (over maxPackets), PX window
//   base..'s:'..pid    a disconnected session { sid, r = rooms, d = JSON of socket.data }, PX window

// KEYS: seq, epoch
// ARGV: base, windowMs, maxPerRoom, channel, body, data, exceptJson, newEpoch, nRooms, rooms...
// -> the offset; publishes offset NUL body on `channel`
const RECORD = `
local base = ARGV[1]
local window = ARGV[2]
local maxPer = tonumber(ARGV[3])
local ep = redis.call('GET', KEYS[2])
if not ep then
  ep = ARGV[8]
  redis.call('SET', KEYS[2], ep)
end
local seq = redis.call('INCR', KEYS[1])
local off = ep .. '-' .. seq
local pk = base .. 'p:' .. seq
redis.call('HSET', pk, 'e', ARGV[7], 'd', ARGV[6])
redis.call('PEXPIRE', pk, window)
local n = tonumber(ARGV[9])
local zs = {}
if n == 0 then
  zs[1] = base .. 'all'
else
  for i = 1, n do zs[i] = base .. 'r:' .. ARGV[9 + i] end
end
for _, z in ipairs(zs) do
  redis.call('ZADD', z, seq, seq)
  redis.call('PEXPIRE', z, window)
  local over = redis.call('ZCARD', z) - maxPer
  if over > 0 then
    local cut = redis.call('ZRANGE', z, over - 1, over - 1)[1]
    redis.call('ZREMRANGEBYRANK', z, 0, over - 1)
    redis.call('SET', z .. ':t', cut, 'PX', window)
  end
end
redis.call('PUBLISH', ARGV[4], off .. '\\0' .. ARGV[5])
return off
`;

// KEYS: session, seq, epoch, gap
// ARGV: base, offsetEpoch, offsetSeq, syncChannel, syncToken, maxPackets
// -> { status } or { 'recovered', sessionJson, epoch, seq1, data1, seq2, data2, ... }
// A recovered session is consumed, and a RESTORE_SYNC message (type 100) is published to the
// restoring node's channel, after every packet numbered before this script (see recovery.js).
const RESTORE = `
local s = redis.call('GET', KEYS[1])
if not s then return {'unknown-session'} end
local ep = redis.call('GET', KEYS[3])
local off = tonumber(ARGV[3])
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if (not ep) or ep ~= ARGV[2] or (not off) or off < 0 or off > cur then return {'invalid-offset'} end
local gap = tonumber(redis.call('GET', KEYS[4]) or '0')
if off < gap then return {'outage'} end
local base = ARGV[1]
local sess = cjson.decode(s)
local mine = {}
local zs = {base .. 'all'}
for _, r in ipairs(sess.r) do
  mine[r] = true
  zs[#zs + 1] = base .. 'r:' .. r
end
local seen = {}
local seqs = {}
for _, z in ipairs(zs) do
  local cut = tonumber(redis.call('GET', z .. ':t') or '0')
  if cut > off then return {'too-old'} end
  for _, q in ipairs(redis.call('ZRANGEBYSCORE', z, '(' .. off, '+inf')) do
    if not seen[q] then
      seen[q] = true
      seqs[#seqs + 1] = tonumber(q)
    end
  end
end
if #seqs > tonumber(ARGV[6]) then return {'too-old'} end
table.sort(seqs)
local out = {'recovered', s, ep}
for _, q in ipairs(seqs) do
  local p = redis.call('HMGET', base .. 'p:' .. q, 'e', 'd')
  if not p[2] then return {'too-old'} end
  local skip = false
  if p[1] and p[1] ~= '' and p[1] ~= '[]' then
    for _, e in ipairs(cjson.decode(p[1])) do
      if mine[e] then
        skip = true
        break
      end
    end
  end
  if not skip then
    out[#out + 1] = tostring(q)
    out[#out + 1] = p[2]
  end
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[4], '\\0' .. cmsgpack.pack({ type = 100, token = ARGV[5], s = s }))
return out
`;

// KEYS: seq, gap; ARGV: windowMs. Offsets up to the current seq can no longer be recovered.
const GAP = `
local s = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
local g = tonumber(redis.call('GET', KEYS[2]) or '0')
if s > g then redis.call('SET', KEYS[2], s, 'PX', ARGV[1]) end
return s
`;

module.exports = { RECORD, RESTORE, GAP };
