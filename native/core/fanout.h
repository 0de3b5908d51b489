// FanoutHub (docs/fanout.md): room membership, target sets with except, packets encoded once,
// per-key throttling and coalescing, per-room batching into rt:bulk packets, slow consumers and
// the connection-state-recovery log. Twin: lib/js/fanout.js. Plain C++17, no N-API.
//
// Single-threaded: every member is called from one thread (the JS thread).
//
// Strings are bytes: UTF-8, or WTF-8 when the caller's string had lone surrogates (the addon
// converts; the core never interprets them beyond their byte length and the `[` `]` framing).
// Payloads are never parsed.
//
// Layout (the hot path is publish to one room of 10k..100k members):
// - rooms are interned to dense ids (`roomIds_`, keyed by views of the stored names); a room's
//   members are a vector of handles in join order with tombstones, compacted when half dead; a
//   membership's positions (in the room's vector and in the connection's room list) live in one
//   hash map keyed by (room, handle);
// - the arrays indexed by handle grow together, geometrically, reserved before anything
//   changes (connect is amortised O(1) and leaves the hub unchanged when it throws);
// - a connection's backlog and slow mark are one uint32 per handle (`load_`, the slow mark is
//   the top bit, so the common case is a single compare against maxBacklog);
// - target sets of several rooms / except use generation stamps indexed by handle;
// - the recovery log is a deque of records in seq order; each room entry (and "everyone") has
//   an index of the seqs addressed to it (SeqIndex: free while empty) and the highest seq
//   evicted from it. A room entry lives while it has members, records, saved sessions or an
//   open batch referencing it.
//
// Readings of the doc where it leaves a choice (shared with the twin):
// - records are evicted oldest first only (front of the log): by time while the oldest is older
//   than windowMs (now - at > windowMs), then while over maxPackets / maxBytes;
// - a session is expired when now - savedAt > windowMs; expired sessions are only removed by
//   restore (of that id: 'expired') and by sweep (counted in `expired`);
// - sweep also forgets keys with no pending message whose last delivery is throttleMs or more
//   ago (a forgotten key seen again counts as first seen then);
// - a bulk is volatile when every item is; due batches are ordered by (first item time, room
//   creation order), rooms that currently have no members after those that have, then by the
//   order the batches were opened;
// - `recorded` counts records made by deliveries (not imports); `packets` counts delivered
//   packets (entries of deliveries); `batchedItems` counts messages appended to batches;
//   `recoveryFailures` counts every restore that is not 'recovered';
// - a room's highest evicted seq is forgotten as soon as no member, no live record (in its rooms
//   or except) and no saved session references the room (an open batch does not count); as seen
//   at the end of each call (saveSession references its rooms before it evicts);
// - without recovery, saveSession/importSession/importRecord do nothing and restore answers
//   'unknown-session';
// - `slow` is a plain Array of handles; a key with an ackId, or a batch with rooms != 1, except,
//   key or ackId, is ERR_RT_INVALID_ARGUMENT; room names must be 1..256 bytes in join, publish,
//   saveSession and imports (empty: ERR_RT_INVALID_ARGUMENT, longer: ERR_RT_TOO_LARGE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "json.h"  // rtc::Error, rtc::codes

namespace rtc {

struct FanoutRecoveryOptions {
  std::int64_t windowMs = 120000;
  std::uint64_t maxPackets = 100000;
  std::uint64_t maxBytes = 64ull << 20;
};

struct FanoutOptions {
  std::string nspPrefix;  // "" for "/", else namespace + ","
  std::int64_t throttleMs = 1000;
  std::uint32_t batchMaxItems = 50;
  std::int64_t batchMaxDelayMs = 200;
  std::uint32_t maxBacklog = 1000;
  std::uint64_t maxPayloadBytes = 1u << 20;
  std::uint32_t maxConnections = 1000000;
  std::uint32_t maxRooms = 1000000;
  std::uint32_t maxSessions = 100000;
  std::optional<FanoutRecoveryOptions> recovery;
  std::string offsetPrefix;
  std::uint64_t startSeq = 0;
};

// One message to publish. Views must stay valid for the duration of the call only.
struct FanoutMessage {
  std::vector<std::string_view> rooms;
  std::vector<std::string_view> except;
  std::string_view eventJson;
  std::string_view args;  // the JSON text of the array of arguments, framed by [ ]
  std::optional<std::string_view> key;
  bool isVolatile = false;
  bool batch = false;
  std::optional<std::uint32_t> ackId;
  bool recoverable = true;
};

enum class PublishStatus : std::uint8_t { Delivered = 0, Pending = 1, Coalesced = 2, Batched = 3 };
const char* publishStatusName(PublishStatus s);

// A growable array of handles that is not zero-filled when it grows (the hot path writes
// 10k..100k handles per publish straight into it).
class U32Buf {
 public:
  U32Buf() = default;
  U32Buf(const U32Buf&) = delete;
  U32Buf& operator=(const U32Buf&) = delete;
  ~U32Buf();
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::uint32_t* data() const { return data_; }
  std::uint32_t* data() { return data_; }
  std::uint32_t operator[](std::size_t i) const { return data_[i]; }
  void clear() { size_ = 0; }
  void push_back(std::uint32_t v) {
    if (size_ == cap_) reserve(size_ + 1);
    data_[size_++] = v;
  }
  // Room for n more; returns where they go (then commit(count actually written)).
  std::uint32_t* grow(std::size_t n) {
    reserve(size_ + n);
    return data_ + size_;
  }
  void commit(std::size_t n) { size_ += n; }
  void reserve(std::size_t n);
  void release();  // frees the memory (after a huge call)
  std::size_t capacity() const { return cap_; }

 private:
  std::uint32_t* data_ = nullptr;
  std::size_t size_ = 0, cap_ = 0;
};

struct FanoutDelivery {
  std::string packet;
  std::size_t handlesBegin = 0, handlesEnd = 0;  // range of FanoutResult::handles
  std::uint64_t seq = 0;                          // 0: no offset
  bool isVolatile = false;
  bool bulk = false;
};

// The deliveries of one call, in order. Slots (and their packet strings' memory) are reused
// from call to call, so a publish allocates nothing in the steady state.
class FanoutDeliveries {
 public:
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const FanoutDelivery& operator[](std::size_t i) const { return slots_[i]; }
  const FanoutDelivery* begin() const { return slots_.data(); }
  const FanoutDelivery* end() const { return slots_.data() + n_; }
  FanoutDelivery& add() {
    if (n_ == slots_.size()) slots_.emplace_back();
    return slots_[n_++];
  }
  void clear() {
    if (slots_.size() > 64) slots_.resize(64);  // after a huge flush
    for (std::size_t i = 0; i < n_ && i < slots_.size(); ++i)
      if (slots_[i].packet.capacity() > (1u << 16)) std::string().swap(slots_[i].packet);
    n_ = 0;
  }

 private:
  std::vector<FanoutDelivery> slots_;
  std::size_t n_ = 0;
};

// The deliveries of one call. Owned by the hub and reused: valid until the next call.
struct FanoutResult {
  PublishStatus status = PublishStatus::Delivered;  // publish only
  std::uint64_t seq = 0;                            // publish only: this message's offset seq (0: null)
  FanoutDeliveries deliveries;
  U32Buf handles;
  std::vector<std::uint32_t> slow;
  void clear();
};

enum class RestoreStatus : std::uint8_t { Recovered = 0, UnknownSession = 1, Expired = 2, InvalidOffset = 3, TooOld = 4 };
const char* restoreStatusName(RestoreStatus s);

struct FanoutRestore {
  RestoreStatus status = RestoreStatus::UnknownSession;
  std::string sid;
  std::vector<std::string> rooms;
  std::string data;
  std::vector<std::string> packets;
};

struct FanoutRecordView {
  std::uint64_t seq = 0;
  std::vector<std::string_view> rooms, except;
  std::string_view packet;
  std::int64_t at = 0;
};

struct FanoutSweep {
  std::uint64_t evicted = 0;
  std::uint64_t expired = 0;
};

struct FanoutStats {
  std::uint64_t connections = 0, rooms = 0, memberships = 0, published = 0, deliveries = 0, packets = 0,
                bytes = 0, coalesced = 0, pendingKeys = 0, batchedItems = 0, bulks = 0, openBatches = 0,
                droppedVolatile = 0, slowConsumers = 0, backlog = 0, maxBacklog = 0, recorded = 0,
                recoveryPackets = 0, recoveryBytes = 0, evicted = 0, sessions = 0, recoveries = 0,
                recoveryFailures = 0;
};

class FanoutHub {
 public:
  explicit FanoutHub(FanoutOptions opts);
  FanoutHub(const FanoutHub&) = delete;
  FanoutHub& operator=(const FanoutHub&) = delete;

  static constexpr std::uint32_t kNoHandle = 0xFFFFFFFFu;
  static constexpr std::size_t kMaxRoomBytes = 256;
  static constexpr std::size_t kMaxEventJsonBytes = 256 * 6 + 2;  // a 256-byte event, fully escaped

  const FanoutOptions& options() const { return opts_; }

  // ---- connections and rooms
  std::uint32_t connect();
  // The rooms the connection was in (join order), or nullopt for an unknown handle.
  std::optional<std::vector<std::string>> disconnect(std::uint32_t h);
  std::size_t join(std::uint32_t h, const std::vector<std::string_view>& rooms);
  bool leave(std::uint32_t h, std::string_view room);
  std::vector<std::string_view> rooms(std::uint32_t h) const;
  std::vector<std::uint32_t> members(std::string_view room) const;
  std::size_t roomSize(std::string_view room) const;
  std::vector<std::string_view> roomNames() const;
  std::vector<std::uint32_t> connections() const;
  std::size_t connectionCount() const { return connCount_; }
  std::size_t roomCount() const { return liveRooms_; }
  bool connected(std::uint32_t h) const { return h < conns_.size() && conns_[h].connPos != kNone; }
  std::vector<std::uint32_t> targets(const std::vector<std::string_view>& rooms,
                                     const std::vector<std::string_view>& except);
  std::uint32_t backlog(std::uint32_t h) const;
  bool isSlow(std::uint32_t h) const { return h < load_.size() && conns_[h].connPos != kNone && (load_[h] & kSlowBit); }
  void drained(const std::uint32_t* handles, std::size_t n);

  // ---- publishing
  const FanoutResult& publish(const FanoutMessage& m, std::int64_t now);
  const FanoutResult& flush(std::int64_t now, bool all);
  std::optional<std::int64_t> nextDue() const;

  // ---- recovery
  void saveSession(std::string_view id, std::string_view sid, const std::vector<std::string_view>& rooms,
                   std::string_view data, std::int64_t now);
  FanoutRestore restore(std::string_view id, std::string_view offset, std::int64_t now);
  FanoutSweep sweep(std::int64_t now);
  std::uint64_t lastSeq() const { return lastSeq_; }
  std::vector<FanoutRecordView> recordsSince(std::uint64_t seq) const;
  void importRecord(std::uint64_t seq, const std::vector<std::string_view>& rooms,
                    const std::vector<std::string_view>& except, std::string_view packet, std::int64_t at);
  void importSession(std::string_view id, std::string_view sid, const std::vector<std::string_view>& rooms,
                     std::string_view data, std::int64_t savedAt);
  std::string offsetOf(std::uint64_t seq) const;

  FanoutStats stats() const;

 private:
  static constexpr std::uint32_t kTomb = 0xFFFFFFFFu;
  static constexpr std::uint32_t kSlowBit = 0x80000000u;
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  // The seqs of the records addressed to a room (or to everyone), ascending: a vector and the
  // index of its first live element, compacted when the head passes half. Empty, it owns no
  // memory (a std::deque allocates ~600 bytes even when empty; a hub has one per room).
  class SeqIndex {
   public:
    bool empty() const { return head_ == v_.size(); }
    std::size_t size() const { return v_.size() - head_; }
    const std::uint64_t* begin() const { return v_.data() + head_; }
    const std::uint64_t* end() const { return v_.data() + v_.size(); }
    std::uint64_t front() const { return v_[head_]; }
    std::uint64_t back() const { return v_.back(); }
    void push_back(std::uint64_t seq) { v_.push_back(seq); }  // may throw: nothing changed then
    void pop_front() noexcept;
    void release() noexcept;

   private:
    std::vector<std::uint64_t> v_;
    std::size_t head_ = 0;
  };

  // 128 bytes. A slot is in use while its name is not empty (room names are 1..256 bytes).
  struct Room {
    std::string name;
    // live membership
    std::vector<std::uint32_t> members;  // handles in join order, kTomb for removed ones
    // recovery
    SeqIndex index;  // seqs of records addressed to it
    std::uint64_t created = 0;  // creation stamp while it has members
    std::uint64_t maxEvicted = 0;
    std::uint32_t live = 0;
    std::uint32_t orderPos = kNone;
    std::uint32_t recordRefs = 0, sessionRefs = 0;
    std::uint32_t batch = kNone;  // open batch
    std::uint32_t stamp = 0;      // restore / except marks
    bool used() const { return !name.empty(); }
  };
  struct MemberPos {
    std::uint32_t inRoom;
    std::uint32_t inConn;
  };
  struct Conn {  // connected while connPos != kNone
    std::vector<std::uint32_t> rooms;  // room ids in join order, kTomb for left ones
    std::uint32_t connPos = kNone;     // in connOrder_
    std::uint32_t roomsLive = 0;
  };
  struct Pending {
    std::vector<std::string> rooms, except;
    std::string eventJson;
    std::string args;
    bool isVolatile = false;
    bool recoverable = false;
  };
  struct Key {
    std::string name;
    bool used = false;
    bool hasLast = false;
    std::int64_t last = 0;
    bool hasPending = false;
    std::int64_t due = 0;
    std::uint64_t firstSeen = 0;
    Pending msg;
  };
  struct BatchItem {
    std::size_t begin, end;  // of the item text in Batch::text
    bool recoverable, isVolatile;
  };
  struct Batch {
    std::uint32_t room = kNone;
    std::int64_t firstAt = 0;
    std::uint64_t opened = 0;
    std::string text;  // items joined by ','
    std::vector<BatchItem> items;
  };
  // 40 bytes and one allocation: the room ids (rooms then except) and the packet bytes share it.
  struct Record {
    std::uint64_t seq = 0;
    std::int64_t at = 0;
    std::size_t packetSize = 0;
    std::unique_ptr<char[]> data;  // nIds uint32 room ids, then the packet
    std::uint32_t nRooms = 0, nIds = 0;
    std::uint32_t id(std::size_t i) const {
      std::uint32_t v;
      std::memcpy(&v, data.get() + i * sizeof v, sizeof v);
      return v;
    }
    std::string_view packet() const { return {data.get() + nIds * sizeof(std::uint32_t), packetSize}; }
  };
  struct Session {
    std::string id, sid, data;
    std::vector<std::uint32_t> rooms;
    std::int64_t savedAt = 0;
    std::uint64_t order = 0;
  };

  // rooms
  std::uint32_t findRoom(std::string_view name) const;
  std::uint32_t internRoom(std::string_view name);
  void maybeRelease(std::uint32_t id);
  void addMember(std::uint32_t room, std::uint32_t h);
  void removeMember(std::uint32_t room, std::uint32_t h, const MemberPos& pos);
  void compactRoom(std::uint32_t room);
  void compactConnRooms(std::uint32_t h);
  void compactConnOrder();
  void compactRoomOrder();
  static void checkRoomName(std::string_view name);
  std::uint32_t nextGen();

  // delivery
  void computeTargets(const std::vector<std::string_view>& rooms, const std::vector<std::string_view>& except,
                      std::vector<std::uint32_t>& out);
  void deliverTo(FanoutDelivery& d, const std::vector<std::string_view>& rooms,
                 const std::vector<std::string_view>& except, bool isVolatile);
  void applyLoad(FanoutDelivery& d, bool isVolatile);
  void buildPacket(std::string& out, std::string_view eventJson, std::string_view args,
                   std::optional<std::uint32_t> ackId, std::uint64_t seq) const;
  void appendOffsetArg(std::string& out, std::uint64_t seq) const;
  std::uint64_t deliverMessage(const std::vector<std::string_view>& rooms, const std::vector<std::string_view>& except,
                               std::string_view eventJson, std::string_view args, std::optional<std::uint32_t> ackId,
                               bool isVolatile, bool record, std::int64_t now);
  std::uint64_t deliverBatch(std::uint32_t batchIdx, std::int64_t now);
  void deliverKey(std::uint32_t keyIdx, std::int64_t now);
  void closeBatch(std::uint32_t batchIdx);

  // recovery
  bool recoveryOn() const { return opts_.recovery.has_value(); }
  void addRecord(std::uint64_t seq, const std::vector<std::string_view>& rooms,
                 const std::vector<std::string_view>& except, std::string_view packet, std::int64_t at);
  std::uint64_t evict(std::int64_t now, bool byTime);
  void evictFront();
  void removeSession(std::unordered_map<std::string_view, std::uint32_t>::iterator it);
  std::vector<std::uint32_t> refSessionRooms(const std::vector<std::string_view>& rooms);
  void storeSession(std::string_view id, std::string_view sid, std::vector<std::uint32_t> rooms,
                    std::string_view data, std::int64_t savedAt);
  bool parseOffset(std::string_view offset, std::uint64_t& seq) const;

  FanoutOptions opts_;

  // connections
  std::vector<Conn> conns_;
  std::vector<std::uint32_t> load_;  // backlog | kSlowBit
  std::vector<std::uint32_t> freeHandles_;  // capacity >= conns_.size(): disconnect never allocates
  std::vector<std::uint32_t> connOrder_;  // handles in connect order, kTomb for gone ones
  std::size_t connOrderTombs_ = 0;
  std::size_t connCount_ = 0;

  // rooms
  std::deque<Room> rooms_;
  std::vector<std::uint32_t> freeRooms_;
  std::unordered_map<std::string_view, std::uint32_t> roomIds_;
  std::vector<std::uint32_t> roomOrder_;  // live rooms in creation order, kTomb for dead ones
  std::size_t roomOrderTombs_ = 0;
  std::size_t liveRooms_ = 0;
  std::uint64_t roomCreations_ = 0;
  std::unordered_map<std::uint64_t, MemberPos> memberships_;
  std::uint32_t roomGen_ = 0;

  // target-set stamps, indexed by handle
  std::vector<std::uint32_t> mark_, exMark_;
  std::uint32_t gen_ = 0;

  // keys
  std::deque<Key> keys_;
  std::vector<std::uint32_t> freeKeys_;
  std::unordered_map<std::string_view, std::uint32_t> keyIds_;
  std::set<std::tuple<std::int64_t, std::uint64_t, std::uint32_t>> pendingKeys_;  // (due, firstSeen, key)
  std::uint64_t keysSeen_ = 0;

  // batches
  std::vector<Batch> batches_;
  std::vector<std::uint32_t> freeBatches_;
  std::set<std::tuple<std::int64_t, std::uint64_t, std::uint32_t>> openBatches_;  // (firstAt, opened, batch)
  std::uint64_t batchesOpened_ = 0;

  // recovery
  std::uint64_t lastSeq_ = 0;
  std::deque<Record> records_;
  std::uint64_t recordBytes_ = 0;
  SeqIndex everyone_;
  std::uint64_t everyoneMaxEvicted_ = 0;
  std::deque<Session> sessionStore_;  // slots
  std::vector<std::uint32_t> freeSessions_;
  std::unordered_map<std::string_view, std::uint32_t> sessionIds_;
  std::set<std::pair<std::uint64_t, std::uint32_t>> sessionOrder_;  // (order, slot): oldest saved first
  std::uint64_t sessionsSaved_ = 0;

  FanoutResult result_;
  std::vector<std::uint32_t> scratch_;
  FanoutStats counters_;
};

}  // namespace rtc
