// FanoutHub: see fanout.h and docs/fanout.md. Twin: lib/js/fanout.js.
#include "fanout.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <unordered_set>
#include <utility>

namespace rtc {

namespace {

constexpr std::int64_t kTimeLimit = 9'000'000'000'000'000;  // |times| are clamped to this (< 2^63 / 2)

std::int64_t clampTime(std::int64_t t) { return t > kTimeLimit ? kTimeLimit : (t < -kTimeLimit ? -kTimeLimit : t); }

std::uint64_t memberKey(std::uint32_t room, std::uint32_t h) { return (static_cast<std::uint64_t>(room) << 32) | h; }

void appendBase36(std::string& out, std::uint64_t v) {
  char buf[16];
  int n = 0;
  do {
    unsigned d = static_cast<unsigned>(v % 36);
    buf[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
    v /= 36;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

void appendDecimal(std::string& out, std::uint64_t v) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

[[noreturn]] void fail(const char* code, const std::string& message) { throw Error(code, message); }

// Capacity for n elements, growing geometrically (at least doubling): reserving before a series of
// push_backs keeps "nothing changes when it throws" without making every growth a reallocation.
template <class V>
void reserveFor(V& v, std::size_t n) {
  if (n > v.capacity()) v.reserve(std::max(n, v.capacity() * 2));
}

}  // namespace

const char* publishStatusName(PublishStatus s) {
  switch (s) {
    case PublishStatus::Delivered: return "delivered";
    case PublishStatus::Pending: return "pending";
    case PublishStatus::Coalesced: return "coalesced";
    case PublishStatus::Batched: return "batched";
  }
  return "delivered";
}

const char* restoreStatusName(RestoreStatus s) {
  switch (s) {
    case RestoreStatus::Recovered: return "recovered";
    case RestoreStatus::UnknownSession: return "unknown-session";
    case RestoreStatus::Expired: return "expired";
    case RestoreStatus::InvalidOffset: return "invalid-offset";
    case RestoreStatus::TooOld: return "too-old";
  }
  return "unknown-session";
}

// ---------------------------------------------------------------------------------------------

U32Buf::~U32Buf() { std::free(data_); }

void U32Buf::reserve(std::size_t n) {
  if (n <= cap_) return;
  std::size_t cap = cap_ ? cap_ : 256;
  while (cap < n) cap *= 2;
  void* next = std::realloc(data_, cap * sizeof(std::uint32_t));
  if (!next) throw std::bad_alloc();
  data_ = static_cast<std::uint32_t*>(next);
  cap_ = cap;
}

void U32Buf::release() {
  std::free(data_);
  data_ = nullptr;
  size_ = cap_ = 0;
}

void FanoutResult::clear() {
  status = PublishStatus::Delivered;
  seq = 0;
  deliveries.clear();
  // A call that delivered to a million handles should not pin 4 MB for ever.
  if (handles.capacity() > (1u << 20)) handles.release();
  handles.clear();
  slow.clear();
}

// ---------------------------------------------------------------------------------------------

void FanoutHub::SeqIndex::pop_front() noexcept {
  if (++head_ == v_.size()) {
    if (v_.capacity() > 64) release();
    else {
      v_.clear();
      head_ = 0;
    }
  } else if (head_ >= 32 && head_ * 2 >= v_.size()) {
    // Amortised O(1): each compaction moves at most as many seqs as were popped since the last.
    v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
    if (v_.capacity() > 1024 && v_.size() * 4 < v_.capacity()) v_.shrink_to_fit();  // after a burst
  }
}

void FanoutHub::SeqIndex::release() noexcept {
  std::vector<std::uint64_t>().swap(v_);
  head_ = 0;
}

// ---------------------------------------------------------------------------------------------

FanoutHub::FanoutHub(FanoutOptions opts) : opts_(std::move(opts)) {
  if (opts_.batchMaxItems < 1) opts_.batchMaxItems = 1;
  if (opts_.maxBacklog > 0x7FFFFFFFu) opts_.maxBacklog = 0x7FFFFFFFu;  // below the slow bit
  if (opts_.maxConnections > 0x7FFFFFFFu) opts_.maxConnections = 0x7FFFFFFFu;
  if (opts_.maxRooms > 0x7FFFFFFFu) opts_.maxRooms = 0x7FFFFFFFu;
  opts_.throttleMs = std::clamp<std::int64_t>(opts_.throttleMs, 0, kTimeLimit);
  opts_.batchMaxDelayMs = std::clamp<std::int64_t>(opts_.batchMaxDelayMs, 0, kTimeLimit);
  if (opts_.recovery) opts_.recovery->windowMs = std::clamp<std::int64_t>(opts_.recovery->windowMs, 0, kTimeLimit);
  lastSeq_ = opts_.startSeq;
}

std::uint32_t FanoutHub::nextGen() {
  if (++gen_ == 0) {
    std::fill(mark_.begin(), mark_.end(), 0);
    std::fill(exMark_.begin(), exMark_.end(), 0);
    gen_ = 1;
  }
  return gen_;
}

void FanoutHub::checkRoomName(std::string_view name) {
  if (name.empty()) fail(codes::kInvalidArgument, "a room name must not be empty");
  if (name.size() > kMaxRoomBytes) fail(codes::kTooLarge, "a room name is over 256 bytes");
}

std::string FanoutHub::offsetOf(std::uint64_t seq) const {
  std::string s = opts_.offsetPrefix;
  appendBase36(s, seq);
  return s;
}

// ---- rooms -----------------------------------------------------------------------------------

std::uint32_t FanoutHub::findRoom(std::string_view name) const {
  auto it = roomIds_.find(name);
  return it == roomIds_.end() ? kNone : it->second;
}

std::uint32_t FanoutHub::internRoom(std::string_view name) {
  auto it = roomIds_.find(name);
  if (it != roomIds_.end()) return it->second;
  std::uint32_t id;
  if (!freeRooms_.empty()) {
    id = freeRooms_.back();
    freeRooms_.pop_back();
  } else {
    if (rooms_.size() >= 0xFFFFFFF0u) fail(codes::kOutOfRange, "too many rooms");
    id = static_cast<std::uint32_t>(rooms_.size());
    rooms_.emplace_back();
  }
  Room& r = rooms_[id];
  r.name.assign(name.data(), name.size());  // not empty: the slot is in use
  r.live = 0;
  r.created = 0;
  r.orderPos = kNone;
  r.maxEvicted = 0;
  r.recordRefs = r.sessionRefs = 0;
  r.batch = kNone;
  r.stamp = 0;
  try {
    roomIds_.emplace(std::string_view(r.name), id);
  } catch (...) {
    std::string().swap(r.name);
    freeRooms_.push_back(id);
    throw;
  }
  return id;
}

// A room's highest evicted seq is kept while a member, a live record (rooms or except) or a saved
// session references the room; the entry itself also lives while it has an open batch.
void FanoutHub::maybeRelease(std::uint32_t id) {
  Room& r = rooms_[id];
  if (!r.used() || r.live != 0 || r.recordRefs != 0 || r.sessionRefs != 0) return;
  r.maxEvicted = 0;
  if (r.batch != kNone) return;
  roomIds_.erase(std::string_view(r.name));
  std::string().swap(r.name);  // the slot is free
  std::vector<std::uint32_t>().swap(r.members);
  r.index.release();
  r.maxEvicted = 0;
  freeRooms_.push_back(id);
}

void FanoutHub::addMember(std::uint32_t room, std::uint32_t h) {
  Room& r = rooms_[room];
  Conn& c = conns_[h];
  // Allocations first: when one throws, the membership is not half made.
  reserveFor(r.members, r.members.size() + 1);
  reserveFor(c.rooms, c.rooms.size() + 1);
  if (r.live == 0) reserveFor(roomOrder_, roomOrder_.size() + 1);
  MemberPos pos{static_cast<std::uint32_t>(r.members.size()), static_cast<std::uint32_t>(c.rooms.size())};
  memberships_.emplace(memberKey(room, h), pos);
  r.members.push_back(h);
  c.rooms.push_back(room);
  if (r.live == 0) {
    r.created = ++roomCreations_;
    r.orderPos = static_cast<std::uint32_t>(roomOrder_.size());
    roomOrder_.push_back(room);
    ++liveRooms_;
  }
  ++r.live;
  ++c.roomsLive;
}

void FanoutHub::removeMember(std::uint32_t room, std::uint32_t h, const MemberPos& pos) {
  Room& r = rooms_[room];
  Conn& c = conns_[h];
  r.members[pos.inRoom] = kTomb;
  c.rooms[pos.inConn] = kTomb;
  memberships_.erase(memberKey(room, h));
  --r.live;
  --c.roomsLive;
  if (r.live == 0) {
    if (r.members.capacity() > 1024) std::vector<std::uint32_t>().swap(r.members);
    else r.members.clear();
    roomOrder_[r.orderPos] = kTomb;
    ++roomOrderTombs_;
    r.orderPos = kNone;
    r.created = 0;
    --liveRooms_;
    if (roomOrderTombs_ >= 32 && roomOrderTombs_ * 2 > roomOrder_.size()) compactRoomOrder();
    maybeRelease(room);
  } else {
    std::size_t tombs = r.members.size() - r.live;
    if (tombs >= 32 && tombs * 2 > r.members.size()) compactRoom(room);
  }
}

void FanoutHub::compactRoom(std::uint32_t room) {
  Room& r = rooms_[room];
  std::size_t w = 0;
  for (std::size_t i = 0; i < r.members.size(); ++i) {
    std::uint32_t h = r.members[i];
    if (h == kTomb) continue;
    if (w != i) {
      r.members[w] = h;
      memberships_.find(memberKey(room, h))->second.inRoom = static_cast<std::uint32_t>(w);
    }
    ++w;
  }
  r.members.resize(w);
}

void FanoutHub::compactConnRooms(std::uint32_t h) {
  Conn& c = conns_[h];
  std::size_t w = 0;
  for (std::size_t i = 0; i < c.rooms.size(); ++i) {
    std::uint32_t room = c.rooms[i];
    if (room == kTomb) continue;
    if (w != i) {
      c.rooms[w] = room;
      memberships_.find(memberKey(room, h))->second.inConn = static_cast<std::uint32_t>(w);
    }
    ++w;
  }
  c.rooms.resize(w);
}

void FanoutHub::compactConnOrder() {
  std::size_t w = 0;
  for (std::size_t i = 0; i < connOrder_.size(); ++i) {
    std::uint32_t h = connOrder_[i];
    if (h == kTomb) continue;
    connOrder_[w] = h;
    conns_[h].connPos = static_cast<std::uint32_t>(w);
    ++w;
  }
  connOrder_.resize(w);
  connOrderTombs_ = 0;
}

void FanoutHub::compactRoomOrder() {
  std::size_t w = 0;
  for (std::size_t i = 0; i < roomOrder_.size(); ++i) {
    std::uint32_t id = roomOrder_[i];
    if (id == kTomb) continue;
    roomOrder_[w] = id;
    rooms_[id].orderPos = static_cast<std::uint32_t>(w);
    ++w;
  }
  roomOrder_.resize(w);
  roomOrderTombs_ = 0;
}

// ---- connections -----------------------------------------------------------------------------

std::uint32_t FanoutHub::connect() {
  if (connCount_ >= opts_.maxConnections) fail(codes::kOutOfRange, "too many connections (maxConnections)");
  // Every allocation first (geometric growth: amortised O(1)), then the changes, which cannot throw.
  reserveFor(connOrder_, connOrder_.size() + 1);
  std::uint32_t h;
  if (!freeHandles_.empty()) {
    h = freeHandles_.back();
    freeHandles_.pop_back();
  } else {
    h = static_cast<std::uint32_t>(conns_.size());
    const std::size_t n = conns_.size() + 1;
    reserveFor(conns_, n);
    reserveFor(load_, n);
    reserveFor(mark_, n);
    reserveFor(exMark_, n);
    reserveFor(freeHandles_, n);  // so that disconnect's push_back never allocates
    conns_.emplace_back();
    load_.push_back(0);
    mark_.push_back(0);
    exMark_.push_back(0);
  }
  Conn& c = conns_[h];
  c.connPos = static_cast<std::uint32_t>(connOrder_.size());
  c.rooms.clear();
  c.roomsLive = 0;
  connOrder_.push_back(h);
  load_[h] = 0;
  ++connCount_;
  return h;
}

std::optional<std::vector<std::string>> FanoutHub::disconnect(std::uint32_t h) {
  if (!connected(h)) return std::nullopt;
  Conn& c = conns_[h];
  std::vector<std::string> names;
  names.reserve(c.roomsLive);
  std::vector<std::uint32_t> ids;
  ids.reserve(c.roomsLive);
  for (std::uint32_t room : c.rooms) {
    if (room == kTomb) continue;
    names.push_back(rooms_[room].name);
    ids.push_back(room);
  }
  for (std::uint32_t room : ids) {
    auto it = memberships_.find(memberKey(room, h));
    MemberPos pos = it->second;
    removeMember(room, h, pos);
  }
  std::vector<std::uint32_t>().swap(c.rooms);
  c.roomsLive = 0;
  connOrder_[c.connPos] = kTomb;
  ++connOrderTombs_;
  c.connPos = kNone;  // not connected
  load_[h] = 0;
  freeHandles_.push_back(h);
  --connCount_;
  if (connOrderTombs_ >= 32 && connOrderTombs_ * 2 > connOrder_.size()) compactConnOrder();
  return names;
}

std::size_t FanoutHub::join(std::uint32_t h, const std::vector<std::string_view>& names) {
  for (std::string_view n : names) checkRoomName(n);
  if (!connected(h)) fail(codes::kUnknownId, "unknown connection handle");
  // How many rooms this join creates (checked against maxRooms before anything changes).
  std::size_t created = 0;
  auto isNew = [&](std::string_view n) {
    std::uint32_t id = findRoom(n);
    return id == kNone || rooms_[id].live == 0;
  };
  if (names.size() <= 16) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!isNew(names[i])) continue;
      bool dup = false;
      for (std::size_t j = 0; j < i && !dup; ++j) dup = names[j] == names[i];
      if (!dup) ++created;
    }
  } else {
    std::unordered_set<std::string_view> seen;
    for (std::string_view n : names)
      if (isNew(n) && seen.insert(n).second) ++created;
  }
  if (created > 0 && liveRooms_ + created > opts_.maxRooms) fail(codes::kOutOfRange, "too many rooms (maxRooms)");
  // One allocation for the connection's list (a socket joins its rooms in a few calls).
  Conn& c = conns_[h];
  reserveFor(c.rooms, c.rooms.size() + names.size());
  std::size_t joined = 0;
  for (std::string_view n : names) {
    std::uint32_t id = internRoom(n);
    if (memberships_.count(memberKey(id, h))) continue;
    addMember(id, h);
    ++joined;
  }
  return joined;
}

bool FanoutHub::leave(std::uint32_t h, std::string_view room) {
  if (!connected(h)) fail(codes::kUnknownId, "unknown connection handle");
  std::uint32_t id = findRoom(room);
  if (id == kNone) return false;
  auto it = memberships_.find(memberKey(id, h));
  if (it == memberships_.end()) return false;
  MemberPos pos = it->second;
  removeMember(id, h, pos);
  Conn& c = conns_[h];
  std::size_t tombs = c.rooms.size() - c.roomsLive;
  if (tombs >= 16 && tombs * 2 > c.rooms.size()) compactConnRooms(h);
  return true;
}

std::vector<std::string_view> FanoutHub::rooms(std::uint32_t h) const {
  if (!connected(h)) fail(codes::kUnknownId, "unknown connection handle");
  std::vector<std::string_view> out;
  out.reserve(conns_[h].roomsLive);
  for (std::uint32_t room : conns_[h].rooms)
    if (room != kTomb) out.emplace_back(rooms_[room].name);
  return out;
}

std::vector<std::uint32_t> FanoutHub::members(std::string_view room) const {
  std::vector<std::uint32_t> out;
  std::uint32_t id = findRoom(room);
  if (id == kNone) return out;
  const Room& r = rooms_[id];
  out.reserve(r.live);
  for (std::uint32_t h : r.members)
    if (h != kTomb) out.push_back(h);
  return out;
}

std::size_t FanoutHub::roomSize(std::string_view room) const {
  std::uint32_t id = findRoom(room);
  return id == kNone ? 0 : rooms_[id].live;
}

std::vector<std::string_view> FanoutHub::roomNames() const {
  std::vector<std::string_view> out;
  out.reserve(liveRooms_);
  for (std::uint32_t id : roomOrder_)
    if (id != kTomb) out.emplace_back(rooms_[id].name);
  return out;
}

std::vector<std::uint32_t> FanoutHub::connections() const {
  std::vector<std::uint32_t> out;
  out.reserve(connCount_);
  for (std::uint32_t h : connOrder_)
    if (h != kTomb) out.push_back(h);
  return out;
}

std::uint32_t FanoutHub::backlog(std::uint32_t h) const {
  if (!connected(h)) fail(codes::kUnknownId, "unknown connection handle");
  return load_[h] & ~kSlowBit;
}

void FanoutHub::drained(const std::uint32_t* handles, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t h = handles[i];
    if (connected(h)) load_[h] &= kSlowBit;
  }
}

// ---- target sets -----------------------------------------------------------------------------

void FanoutHub::computeTargets(const std::vector<std::string_view>& names, const std::vector<std::string_view>& except,
                               std::vector<std::uint32_t>& out) {
  out.clear();
  if (names.size() == 1 && except.empty()) {
    std::uint32_t id = findRoom(names[0]);
    if (id == kNone) return;
    const Room& r = rooms_[id];
    out.reserve(r.live);
    for (std::uint32_t h : r.members)
      if (h != kTomb) out.push_back(h);
    return;
  }
  std::uint32_t gen = nextGen();
  std::uint32_t* ex = exMark_.data();
  std::uint32_t* mk = mark_.data();
  for (std::string_view e : except) {
    std::uint32_t id = findRoom(e);
    if (id == kNone) continue;
    for (std::uint32_t h : rooms_[id].members)
      if (h != kTomb) ex[h] = gen;
  }
  if (names.empty()) {
    out.reserve(connCount_);
    for (std::uint32_t h : connOrder_)
      if (h != kTomb && ex[h] != gen) out.push_back(h);
    return;
  }
  for (std::string_view n : names) {
    std::uint32_t id = findRoom(n);
    if (id == kNone) continue;
    for (std::uint32_t h : rooms_[id].members) {
      if (h == kTomb || mk[h] == gen || ex[h] == gen) continue;
      mk[h] = gen;
      out.push_back(h);
    }
  }
}

std::vector<std::uint32_t> FanoutHub::targets(const std::vector<std::string_view>& names,
                                              const std::vector<std::string_view>& except) {
  std::vector<std::uint32_t> out;
  computeTargets(names, except, out);
  return out;
}

// The slow-consumer rules of docs/fanout.md for one packet, over the targets in scratch_.
void FanoutHub::applyLoad(FanoutDelivery& d, bool isVolatile) {
  U32Buf& hs = result_.handles;
  std::uint32_t* out = hs.grow(scratch_.size());
  std::uint32_t* load = load_.data();
  const std::uint32_t maxB = opts_.maxBacklog;
  std::size_t n = 0;
  for (std::uint32_t h : scratch_) {
    std::uint32_t b = load[h];
    if (b < maxB) {
      load[h] = b + 1;
      out[n++] = h;
    } else if (b & kSlowBit) {
      // already slow: nothing
    } else if (isVolatile) {
      ++counters_.droppedVolatile;
    } else {
      load[h] = b | kSlowBit;
      result_.slow.push_back(h);
      ++counters_.slowConsumers;
    }
  }
  hs.commit(n);
  (void)d;
}

void FanoutHub::deliverTo(FanoutDelivery& d, const std::vector<std::string_view>& names,
                          const std::vector<std::string_view>& except, bool isVolatile) {
  U32Buf& hs = result_.handles;
  d.handlesBegin = hs.size();
  if (names.size() == 1 && except.empty()) {
    // The hot path: one room, straight from its member list.
    std::uint32_t id = findRoom(names[0]);
    if (id != kNone && rooms_[id].live != 0) {
      const std::vector<std::uint32_t>& members = rooms_[id].members;
      const std::uint32_t* __restrict mem = members.data();
      const std::size_t m = members.size();
      std::uint32_t* __restrict out = hs.grow(m);
      std::uint32_t* __restrict load = load_.data();
      const std::uint32_t maxB = opts_.maxBacklog;
      std::size_t n = 0;
      for (std::size_t i = 0; i < m; ++i) {
        std::uint32_t h = mem[i];
        if (__builtin_expect(h == kTomb, 0)) continue;
        std::uint32_t b = load[h];
        if (__builtin_expect(b < maxB, 1)) {
          load[h] = b + 1;
          out[n++] = h;
          continue;
        }
        if (b & kSlowBit) continue;  // already slow: nothing
        if (isVolatile) {
          ++counters_.droppedVolatile;
          continue;
        }
        load[h] = b | kSlowBit;
        result_.slow.push_back(h);
        ++counters_.slowConsumers;
      }
      hs.commit(n);
    }
  } else {
    computeTargets(names, except, scratch_);
    applyLoad(d, isVolatile);
    if (scratch_.capacity() > (1u << 20)) std::vector<std::uint32_t>().swap(scratch_);
  }
  d.handlesEnd = hs.size();
}

// ---- packets ---------------------------------------------------------------------------------

void FanoutHub::appendOffsetArg(std::string& out, std::uint64_t seq) const {
  out += ",\"";
  out += opts_.offsetPrefix;
  appendBase36(out, seq);
  out += '"';
}

void FanoutHub::buildPacket(std::string& out, std::string_view eventJson, std::string_view args,
                            std::optional<std::uint32_t> ackId, std::uint64_t seq) const {
  std::string_view inner = args.substr(1, args.size() - 2);
  out.clear();
  out.reserve(8 + opts_.nspPrefix.size() + eventJson.size() + inner.size() + opts_.offsetPrefix.size() + 20);
  out += '2';
  out += opts_.nspPrefix;
  if (ackId) appendDecimal(out, *ackId);
  out += '[';
  out += eventJson;
  if (!inner.empty()) {
    out += ',';
    out += inner;
  }
  if (seq != 0) appendOffsetArg(out, seq);
  out += ']';
}

std::uint64_t FanoutHub::deliverMessage(const std::vector<std::string_view>& names,
                                        const std::vector<std::string_view>& except, std::string_view eventJson,
                                        std::string_view args, std::optional<std::uint32_t> ackId, bool isVolatile,
                                        bool record, std::int64_t now) {
  std::uint64_t seq = record ? lastSeq_ + 1 : 0;
  FanoutDelivery& d = result_.deliveries.add();
  buildPacket(d.packet, eventJson, args, ackId, seq);
  d.seq = seq;
  d.isVolatile = isVolatile;
  d.bulk = false;
  deliverTo(d, names, except, isVolatile);
  std::size_t n = d.handlesEnd - d.handlesBegin;
  ++counters_.packets;
  counters_.deliveries += n;
  counters_.bytes += static_cast<std::uint64_t>(n) * d.packet.size();
  if (record) {
    lastSeq_ = seq;
    addRecord(seq, names, except, d.packet, now);
    ++counters_.recorded;
  }
  return seq;
}

// ---- publish ---------------------------------------------------------------------------------

const FanoutResult& FanoutHub::publish(const FanoutMessage& m, std::int64_t now) {
  now = clampTime(now);
  // Everything is checked before anything changes.
  for (std::string_view r : m.rooms) checkRoomName(r);
  for (std::string_view r : m.except) checkRoomName(r);
  if (m.eventJson.size() > kMaxEventJsonBytes) fail(codes::kTooLarge, "the event name is over 256 bytes");
  if (m.eventJson.size() < 2 || m.eventJson.front() != '"' || m.eventJson.back() != '"')
    fail(codes::kInvalidArgument, "eventJson must be a JSON string");
  if (m.args.size() > opts_.maxPayloadBytes) fail(codes::kTooLarge, "the payload is over maxPayloadBytes");
  if (m.args.size() < 2 || m.args.front() != '[' || m.args.back() != ']')
    fail(codes::kInvalidArgument, "args text must be a JSON array (framed by [ ])");
  if (m.ackId && *m.ackId > 0x7FFFFFFFu) fail(codes::kOutOfRange, "ackId is out of range");
  if (m.batch && (m.rooms.size() != 1 || !m.except.empty() || m.key || m.ackId))
    fail(codes::kInvalidArgument, "a batched message needs exactly one room, no except, no key and no ackId");
  if (m.key && m.ackId) fail(codes::kInvalidArgument, "a message with an ackId cannot have a key");

  result_.clear();
  ++counters_.published;
  const bool record = recoveryOn() && m.recoverable && !m.isVolatile && !m.ackId;

  if (m.batch) {
    std::uint32_t room = internRoom(m.rooms[0]);
    std::uint32_t idx = rooms_[room].batch;
    if (idx == kNone) {
      if (!freeBatches_.empty()) {
        idx = freeBatches_.back();
        freeBatches_.pop_back();
      } else {
        idx = static_cast<std::uint32_t>(batches_.size());
        batches_.emplace_back();
      }
      Batch& b = batches_[idx];
      b.room = room;
      b.firstAt = now;
      b.opened = ++batchesOpened_;
      b.text.clear();
      b.items.clear();
      rooms_[room].batch = idx;
      openBatches_.emplace(b.firstAt, b.opened, idx);
    }
    Batch& b = batches_[idx];
    std::string_view inner = m.args.substr(1, m.args.size() - 2);
    if (!b.items.empty()) b.text += ',';
    BatchItem it;
    it.begin = b.text.size();
    b.text += '[';
    b.text += m.eventJson;
    if (!inner.empty()) {
      b.text += ',';
      b.text += inner;
    }
    b.text += ']';
    it.end = b.text.size();
    it.recoverable = record;
    it.isVolatile = m.isVolatile;
    b.items.push_back(it);
    ++counters_.batchedItems;
    if (b.items.size() >= opts_.batchMaxItems) {
      std::uint64_t seq = deliverBatch(idx, now);
      result_.status = PublishStatus::Delivered;
      result_.seq = record ? seq : 0;
    } else {
      result_.status = PublishStatus::Batched;
    }
  } else if (m.key) {
    std::string_view keyName = *m.key;
    std::uint32_t idx;
    auto kit = keyIds_.find(keyName);
    if (kit != keyIds_.end()) {
      idx = kit->second;
    } else {
      if (!freeKeys_.empty()) {
        idx = freeKeys_.back();
        freeKeys_.pop_back();
      } else {
        idx = static_cast<std::uint32_t>(keys_.size());
        keys_.emplace_back();
      }
      Key& k = keys_[idx];
      k.name.assign(keyName.data(), keyName.size());
      k.used = true;
      k.hasLast = false;
      k.hasPending = false;
      k.firstSeen = ++keysSeen_;
      keyIds_.emplace(std::string_view(k.name), idx);
    }
    Key& k = keys_[idx];
    if (!k.hasPending && (!k.hasLast || now - k.last >= opts_.throttleMs)) {
      std::uint64_t seq = deliverMessage(m.rooms, m.except, m.eventJson, m.args, std::nullopt, m.isVolatile, record, now);
      k.hasLast = true;
      k.last = now;
      result_.status = PublishStatus::Delivered;
      result_.seq = seq;
    } else {
      Pending& p = k.msg;
      p.rooms.assign(m.rooms.begin(), m.rooms.end());
      p.except.assign(m.except.begin(), m.except.end());
      p.eventJson.assign(m.eventJson.data(), m.eventJson.size());
      p.args.assign(m.args.data(), m.args.size());
      p.isVolatile = m.isVolatile;
      p.recoverable = m.recoverable;
      if (k.hasPending) {
        ++counters_.coalesced;
        result_.status = PublishStatus::Coalesced;
      } else {
        k.hasPending = true;
        k.due = clampTime(k.last + opts_.throttleMs);
        pendingKeys_.emplace(k.due, k.firstSeen, idx);
        result_.status = PublishStatus::Pending;
      }
    }
  } else {
    result_.seq = deliverMessage(m.rooms, m.except, m.eventJson, m.args, m.ackId, m.isVolatile, record, now);
    result_.status = PublishStatus::Delivered;
  }
  evict(now, true);
  return result_;
}

std::uint64_t FanoutHub::deliverBatch(std::uint32_t idx, std::int64_t now) {
  Batch& b = batches_[idx];
  const std::uint32_t room = b.room;
  const std::string_view name(rooms_[room].name);
  std::vector<std::string_view> names{name};
  static const std::vector<std::string_view> kNoRooms;

  std::uint64_t firstSeq = lastSeq_ + 1, seq = lastSeq_;
  bool allVolatile = true;
  for (const BatchItem& it : b.items) {
    if (it.recoverable) ++seq;
    if (!it.isVolatile) allVolatile = false;
  }
  const bool recorded = seq >= firstSeq;

  FanoutDelivery& d = result_.deliveries.add();
  std::string& p = d.packet;
  p.clear();
  p.reserve(24 + opts_.nspPrefix.size() + b.text.size() + opts_.offsetPrefix.size() + 20);
  p += '2';
  p += opts_.nspPrefix;
  p += "[\"rt:bulk\",[";
  p += b.text;
  p += ']';
  if (recorded) appendOffsetArg(p, seq);
  p += ']';
  d.seq = recorded ? seq : 0;
  d.isVolatile = allVolatile;
  d.bulk = true;
  deliverTo(d, names, kNoRooms, allVolatile);
  std::size_t n = d.handlesEnd - d.handlesBegin;
  ++counters_.packets;
  ++counters_.bulks;
  counters_.deliveries += n;
  counters_.bytes += static_cast<std::uint64_t>(n) * d.packet.size();

  if (recorded) {
    std::uint64_t s = firstSeq;
    std::string packet;
    for (const BatchItem& it : b.items) {
      if (!it.recoverable) continue;
      packet.clear();
      std::string_view item(b.text.data() + it.begin, it.end - it.begin - 1);  // without its ']'
      packet.reserve(2 + opts_.nspPrefix.size() + item.size() + opts_.offsetPrefix.size() + 20);
      packet += '2';
      packet += opts_.nspPrefix;
      packet += item;
      appendOffsetArg(packet, s);
      packet += ']';
      lastSeq_ = s;
      addRecord(s, names, kNoRooms, packet, now);
      ++counters_.recorded;
      ++s;
    }
  }
  closeBatch(idx);
  return recorded ? seq : 0;
}

void FanoutHub::closeBatch(std::uint32_t idx) {
  Batch& b = batches_[idx];
  openBatches_.erase(std::make_tuple(b.firstAt, b.opened, idx));
  std::uint32_t room = b.room;
  rooms_[room].batch = kNone;
  b.room = kNone;
  if (b.text.capacity() > (1u << 20)) std::string().swap(b.text);
  b.text.clear();
  b.items.clear();
  freeBatches_.push_back(idx);
  maybeRelease(room);
}

void FanoutHub::deliverKey(std::uint32_t idx, std::int64_t now) {
  Key& k = keys_[idx];
  pendingKeys_.erase(std::make_tuple(k.due, k.firstSeen, idx));
  Pending msg = std::move(k.msg);
  k.msg = Pending();
  k.hasPending = false;
  k.hasLast = true;
  k.last = now;
  std::vector<std::string_view> names(msg.rooms.begin(), msg.rooms.end());
  std::vector<std::string_view> except(msg.except.begin(), msg.except.end());
  bool record = recoveryOn() && msg.recoverable && !msg.isVolatile;
  deliverMessage(names, except, msg.eventJson, msg.args, std::nullopt, msg.isVolatile, record, now);
}

const FanoutResult& FanoutHub::flush(std::int64_t now, bool all) {
  now = clampTime(now);
  result_.clear();
  std::vector<std::uint32_t> due;
  for (const auto& [at, seen, idx] : pendingKeys_) {
    if (!all && at > now) break;
    due.push_back(idx);
  }
  for (std::uint32_t idx : due) deliverKey(idx, now);

  struct DueBatch {
    std::int64_t firstAt;
    std::uint64_t rank, opened;
    std::uint32_t idx;
  };
  std::vector<DueBatch> batches;
  for (const auto& [firstAt, opened, idx] : openBatches_) {
    if (!all && now - firstAt < opts_.batchMaxDelayMs) break;
    const Room& r = rooms_[batches_[idx].room];
    batches.push_back({firstAt, r.live != 0 ? r.created : std::numeric_limits<std::uint64_t>::max(), opened, idx});
  }
  std::sort(batches.begin(), batches.end(), [](const DueBatch& a, const DueBatch& b) {
    if (a.firstAt != b.firstAt) return a.firstAt < b.firstAt;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.opened < b.opened;
  });
  for (const DueBatch& b : batches) deliverBatch(b.idx, now);
  evict(now, true);
  return result_;
}

std::optional<std::int64_t> FanoutHub::nextDue() const {
  std::optional<std::int64_t> due;
  if (!pendingKeys_.empty()) due = std::get<0>(*pendingKeys_.begin());
  if (!openBatches_.empty()) {
    std::int64_t b = clampTime(std::get<0>(*openBatches_.begin()) + opts_.batchMaxDelayMs);
    if (!due || b < *due) due = b;
  }
  return due;
}

// ---- recovery log ----------------------------------------------------------------------------

void FanoutHub::addRecord(std::uint64_t seq, const std::vector<std::string_view>& names,
                          const std::vector<std::string_view>& except, std::string_view packet, std::int64_t at) {
  const std::size_t nIds = names.size() + except.size();
  if (nIds > 0xFFFFFFFFu) fail(codes::kTooLarge, "too many rooms in one message");
  Record rec;
  rec.seq = seq;
  rec.at = at;
  rec.nRooms = static_cast<std::uint32_t>(names.size());
  rec.nIds = static_cast<std::uint32_t>(nIds);
  rec.packetSize = packet.size();
  rec.data.reset(new char[nIds * sizeof(std::uint32_t) + packet.size()]);
  if (!packet.empty()) std::memcpy(rec.data.get() + nIds * sizeof(std::uint32_t), packet.data(), packet.size());
  char* ids = rec.data.get();
  auto ref = [&](std::string_view n) {
    std::uint32_t id = internRoom(n);
    ++rooms_[id].recordRefs;
    std::memcpy(ids, &id, sizeof id);
    ids += sizeof id;
  };
  for (std::string_view n : names) ref(n);
  for (std::string_view n : except) ref(n);
  if (names.empty()) {
    everyone_.push_back(seq);
  } else {
    for (std::uint32_t i = 0; i < rec.nRooms; ++i) {
      SeqIndex& index = rooms_[rec.id(i)].index;
      if (index.empty() || index.back() != seq) index.push_back(seq);  // a room listed twice: once
    }
  }
  recordBytes_ += rec.packetSize;
  records_.push_back(std::move(rec));
}

void FanoutHub::evictFront() {
  Record& rec = records_.front();
  if (rec.nRooms == 0) {
    if (!everyone_.empty() && everyone_.front() == rec.seq) everyone_.pop_front();
    everyoneMaxEvicted_ = std::max(everyoneMaxEvicted_, rec.seq);
  } else {
    for (std::uint32_t i = 0; i < rec.nRooms; ++i) {
      Room& r = rooms_[rec.id(i)];
      if (!r.index.empty() && r.index.front() == rec.seq) r.index.pop_front();
      r.maxEvicted = std::max(r.maxEvicted, rec.seq);
    }
  }
  for (std::uint32_t i = 0; i < rec.nIds; ++i) {
    std::uint32_t id = rec.id(i);
    --rooms_[id].recordRefs;
    maybeRelease(id);
  }
  recordBytes_ -= rec.packetSize;
  records_.pop_front();
  ++counters_.evicted;
}

std::uint64_t FanoutHub::evict(std::int64_t now, bool byTime) {
  if (!recoveryOn()) return 0;
  const FanoutRecoveryOptions& ro = *opts_.recovery;
  std::uint64_t n = 0;
  while (!records_.empty()) {
    const Record& f = records_.front();
    bool old = byTime && now - f.at > ro.windowMs;
    if (!old && records_.size() <= ro.maxPackets && recordBytes_ <= ro.maxBytes) break;
    evictFront();
    ++n;
  }
  return n;
}

void FanoutHub::removeSession(std::unordered_map<std::string_view, std::uint32_t>::iterator it) {
  std::uint32_t slot = it->second;
  Session& s = sessionStore_[slot];
  sessionIds_.erase(it);
  sessionOrder_.erase({s.order, slot});
  std::vector<std::uint32_t> rooms = std::move(s.rooms);
  s = Session();
  freeSessions_.push_back(slot);
  for (std::uint32_t id : rooms) {
    --rooms_[id].sessionRefs;
    maybeRelease(id);
  }
}

std::vector<std::uint32_t> FanoutHub::refSessionRooms(const std::vector<std::string_view>& names) {
  std::vector<std::uint32_t> ids;
  ids.reserve(names.size());
  for (std::string_view n : names) {
    std::uint32_t rid = internRoom(n);
    ++rooms_[rid].sessionRefs;
    ids.push_back(rid);
  }
  return ids;
}

// `ids`: the session's rooms, already referenced (refSessionRooms) before anything else of the
// call, so a room's highest evicted seq survives the replacement of a session (same id) and the
// evictions of the saveSession call itself.
void FanoutHub::storeSession(std::string_view id, std::string_view sid, std::vector<std::uint32_t> ids,
                             std::string_view data, std::int64_t savedAt) {
  auto old = sessionIds_.find(id);
  if (old != sessionIds_.end()) removeSession(old);
  std::uint32_t slot;
  if (!freeSessions_.empty()) {
    slot = freeSessions_.back();
    freeSessions_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(sessionStore_.size());
    sessionStore_.emplace_back();
  }
  Session& s = sessionStore_[slot];
  s.id.assign(id.data(), id.size());
  s.sid.assign(sid.data(), sid.size());
  s.data.assign(data.data(), data.size());
  s.rooms = std::move(ids);
  s.savedAt = savedAt;
  s.order = ++sessionsSaved_;
  sessionIds_.emplace(std::string_view(s.id), slot);
  sessionOrder_.emplace(s.order, slot);
  while (sessionIds_.size() > opts_.maxSessions) {
    std::uint32_t oldest = sessionOrder_.begin()->second;
    removeSession(sessionIds_.find(std::string_view(sessionStore_[oldest].id)));
  }
}

void FanoutHub::saveSession(std::string_view id, std::string_view sid, const std::vector<std::string_view>& names,
                            std::string_view data, std::int64_t now) {
  now = clampTime(now);
  for (std::string_view n : names) checkRoomName(n);
  if (!recoveryOn()) return;
  std::vector<std::uint32_t> ids = refSessionRooms(names);
  evict(now, true);
  storeSession(id, sid, std::move(ids), data, now);
}

void FanoutHub::importSession(std::string_view id, std::string_view sid, const std::vector<std::string_view>& names,
                              std::string_view data, std::int64_t savedAt) {
  savedAt = clampTime(savedAt);
  for (std::string_view n : names) checkRoomName(n);
  if (!recoveryOn()) return;
  storeSession(id, sid, refSessionRooms(names), data, savedAt);
}

bool FanoutHub::parseOffset(std::string_view offset, std::uint64_t& seq) const {
  const std::string& prefix = opts_.offsetPrefix;
  if (offset.size() <= prefix.size() || offset.compare(0, prefix.size(), prefix) != 0) return false;
  constexpr std::uint64_t kCap = 1ull << 60;  // past any seq: saturate there
  std::uint64_t v = 0;
  for (std::size_t i = prefix.size(); i < offset.size(); ++i) {
    char c = offset[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'z') d = static_cast<unsigned>(c - 'a') + 10;
    else return false;
    v = v >= kCap ? kCap : std::min(kCap, v * 36 + d);
  }
  seq = v;
  return true;
}

FanoutRestore FanoutHub::restore(std::string_view id, std::string_view offset, std::int64_t now) {
  now = clampTime(now);
  FanoutRestore out;
  if (!recoveryOn()) {
    out.status = RestoreStatus::UnknownSession;
    ++counters_.recoveryFailures;
    return out;
  }
  evict(now, true);
  auto it = sessionIds_.find(id);
  if (it == sessionIds_.end()) {
    out.status = RestoreStatus::UnknownSession;
    ++counters_.recoveryFailures;
    return out;
  }
  Session& s = sessionStore_[it->second];
  if (now - s.savedAt > opts_.recovery->windowMs) {
    removeSession(it);
    out.status = RestoreStatus::Expired;
    ++counters_.recoveryFailures;
    return out;
  }
  std::uint64_t from = 0;
  if (!parseOffset(offset, from) || from > lastSeq_) {
    out.status = RestoreStatus::InvalidOffset;
    ++counters_.recoveryFailures;
    return out;
  }
  // The session's distinct rooms, stamped for the except test.
  if (++roomGen_ == 0) {
    for (Room& r : rooms_) r.stamp = 0;
    roomGen_ = 1;
  }
  const std::uint32_t gen = roomGen_;
  std::vector<std::uint32_t> distinct;
  distinct.reserve(s.rooms.size());
  for (std::uint32_t rid : s.rooms) {
    if (rooms_[rid].stamp == gen) continue;
    rooms_[rid].stamp = gen;
    distinct.push_back(rid);
  }
  bool tooOld = everyoneMaxEvicted_ > from;
  for (std::size_t i = 0; i < distinct.size() && !tooOld; ++i) tooOld = rooms_[distinct[i]].maxEvicted > from;
  if (tooOld) {
    out.status = RestoreStatus::TooOld;
    ++counters_.recoveryFailures;
    return out;
  }
  // k-way merge by seq of the indexes (everyone + each room) past `from`.
  struct Cursor {
    const std::uint64_t* pos;
    const std::uint64_t* end;
  };
  std::vector<Cursor> cursors;
  cursors.reserve(distinct.size() + 1);
  auto addCursor = [&](const SeqIndex& q) {
    const std::uint64_t* p = std::upper_bound(q.begin(), q.end(), from);
    if (p != q.end()) cursors.push_back({p, q.end()});
  };
  addCursor(everyone_);
  for (std::uint32_t rid : distinct) addCursor(rooms_[rid].index);
  using Head = std::pair<std::uint64_t, std::size_t>;  // (seq, cursor)
  std::vector<Head> heap;
  heap.reserve(cursors.size());
  for (std::size_t i = 0; i < cursors.size(); ++i) heap.emplace_back(*cursors[i].pos, i);
  auto greater = [](const Head& a, const Head& b) { return a.first > b.first; };
  std::make_heap(heap.begin(), heap.end(), greater);
  std::uint64_t last = 0;
  auto recIt = records_.begin();
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    auto [seq, ci] = heap.back();
    heap.pop_back();
    Cursor& c = cursors[ci];
    if (++c.pos != c.end) {
      heap.emplace_back(*c.pos, ci);
      std::push_heap(heap.begin(), heap.end(), greater);
    }
    if (seq == last) continue;
    last = seq;
    recIt = std::lower_bound(recIt, records_.end(), seq, [](const Record& r, std::uint64_t v) { return r.seq < v; });
    if (recIt == records_.end() || recIt->seq != seq) continue;  // cannot happen: indexes hold live records
    const Record& rec = *recIt;
    bool excluded = false;
    for (std::size_t i = rec.nRooms; i < rec.nIds && !excluded; ++i) excluded = rooms_[rec.id(i)].stamp == gen;
    if (!excluded) out.packets.emplace_back(rec.packet());
  }
  out.status = RestoreStatus::Recovered;
  out.sid = s.sid;
  out.data = s.data;
  out.rooms.reserve(s.rooms.size());
  for (std::uint32_t rid : s.rooms) out.rooms.push_back(rooms_[rid].name);
  removeSession(it);
  ++counters_.recoveries;
  return out;
}

FanoutSweep FanoutHub::sweep(std::int64_t now) {
  now = clampTime(now);
  FanoutSweep out;
  out.evicted = evict(now, true);
  if (recoveryOn()) {
    std::vector<std::uint32_t> expired;
    for (const auto& [order, slot] : sessionOrder_)
      if (now - sessionStore_[slot].savedAt > opts_.recovery->windowMs) expired.push_back(slot);
    for (std::uint32_t slot : expired) removeSession(sessionIds_.find(std::string_view(sessionStore_[slot].id)));
    out.expired = expired.size();
  }
  // Keys that behave as never seen again (nothing pending, last delivery throttleMs ago or more).
  for (std::uint32_t idx = 0; idx < keys_.size(); ++idx) {
    Key& k = keys_[idx];
    if (!k.used || k.hasPending || (k.hasLast && now - k.last < opts_.throttleMs)) continue;
    keyIds_.erase(std::string_view(k.name));
    std::string().swap(k.name);
    k.used = false;
    k.hasLast = false;
    freeKeys_.push_back(idx);
  }
  return out;
}

std::vector<FanoutRecordView> FanoutHub::recordsSince(std::uint64_t seq) const {
  std::vector<FanoutRecordView> out;
  auto it = std::upper_bound(records_.begin(), records_.end(), seq,
                             [](std::uint64_t v, const Record& r) { return v < r.seq; });
  out.reserve(static_cast<std::size_t>(records_.end() - it));
  for (; it != records_.end(); ++it) {
    FanoutRecordView v;
    v.seq = it->seq;
    v.at = it->at;
    v.packet = it->packet();
    for (std::size_t i = 0; i < it->nIds; ++i)
      (i < it->nRooms ? v.rooms : v.except).emplace_back(rooms_[it->id(i)].name);
    out.push_back(std::move(v));
  }
  return out;
}

void FanoutHub::importRecord(std::uint64_t seq, const std::vector<std::string_view>& names,
                             const std::vector<std::string_view>& except, std::string_view packet, std::int64_t at) {
  at = clampTime(at);
  for (std::string_view n : names) checkRoomName(n);
  for (std::string_view n : except) checkRoomName(n);
  if (seq == 0 || seq > (1ull << 53)) fail(codes::kOutOfRange, "seq is out of range");
  if (!records_.empty() && seq <= records_.back().seq)
    fail(codes::kOutOfRange, "records must be imported in increasing seq order");
  if (!recoveryOn()) return;
  addRecord(seq, names, except, packet, at);
  if (seq > lastSeq_) lastSeq_ = seq;
}

FanoutStats FanoutHub::stats() const {
  FanoutStats s = counters_;
  s.connections = connCount_;
  s.rooms = liveRooms_;
  s.memberships = memberships_.size();
  s.pendingKeys = pendingKeys_.size();
  s.openBatches = openBatches_.size();
  std::uint64_t sum = 0, mx = 0;
  for (std::uint32_t h : connOrder_) {
    if (h == kTomb) continue;
    std::uint64_t b = load_[h] & ~kSlowBit;
    sum += b;
    if (b > mx) mx = b;
  }
  s.backlog = sum;
  s.maxBacklog = mx;
  s.recoveryPackets = records_.size();
  s.recoveryBytes = recordBytes_;
  s.sessions = sessionIds_.size();
  return s;
}

}  // namespace rtc
