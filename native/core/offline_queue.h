// OfflineQueue (docs/offline-queue.md): per-client bounded queues of items waiting for delivery,
// in offset order, coalesced by key, expired by TTL, retried with backoff and jitter, moved to
// dead letters after maxAttempts; a circuit breaker gates hand-outs; optionally durable through
// the append-only log of queue_log.h. Twin: lib/js/offline_queue.js.
//
// Single-threaded: every member is called from one thread (the JS thread). In durable mode the
// log's writer thread only calls the onDurable/onDurability callbacks given to the constructor.
//
// Memory: an item is ONE malloc'd block (a 24-byte header, the payload bytes, then the key bytes
// when it has a key) plus one pointer in its client's ring. Event names are interned per queue;
// retry state (attempts, retryAt, prevDelay) lives in a side table only for nacked items; keys are
// indexed by a per-client open-addressing table only when the client has keyed items.
//
// Readings of the doc shared with the twin (checked by differential runs):
// - every call that has a `now` first applies the breaker's time-based transition (open ->
//   half-open, reported with at = now), then expiry, then its own work; events come in that order;
// - a client's queue ends the moment it is empty, also inside one push (capacity 1 with
//   drop-oldest: the queue is created again and listed last); this is also what a replay sees;
// - due merges the clients' candidate sequences (each in offset order) by (retryAt, client
//   creation order) of their heads: a client's order is kept, as the doc requires;
// - breaker: every transition resets failures and successes; openedAt is null while closed;
//   successes and failures while open change nothing; stats().breaker is null without a breaker;
// - a nack that dead-letters logs `nack` (final attempts) then `dead`; ackOne logs `remove`
//   with reason 4 (acked); drop-newest counts as dropped.overflow and is not `pushed`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "json.h"  // rtc::Error, rtc::codes
#include "queue_log.h"

namespace rtc {

enum class QueueOverflow : std::uint8_t { DropOldest, DropNewest, Reject };
enum class QueueJitter : std::uint8_t { Full, Equal, Decorrelated, None };
enum class BreakerState : std::uint8_t { Closed, Open, HalfOpen };
// Reasons of `dropped` (and of log `remove` records). Acked is only a log reason (ackOne).
enum class DropReason : std::uint8_t { Overflow = 1, Coalesced = 2, Expired = 3, Acked = 4 };

const char* breakerStateName(BreakerState s);
const char* dropReasonName(DropReason r);

struct QueueDurableOptions {
  std::string path;
  FsyncMode fsync = FsyncMode::Interval;
  std::uint32_t fsyncIntervalMs = 100;
  std::uint64_t segmentBytes = 64ull << 20;
};

struct QueueOptions {
  std::uint32_t capacity = 50;
  QueueOverflow overflow = QueueOverflow::DropOldest;
  std::int64_t ttlMs = 0;  // 0: never
  std::uint64_t maxItemBytes = 1u << 20;
  std::uint32_t maxAttempts = 3;
  double initialDelayMs = 1000;
  double multiplier = 2;
  double maxDelayMs = 30000;
  QueueJitter jitter = QueueJitter::Full;
  std::uint32_t seed = 0;
  std::uint32_t maxDeadLetters = 1000;
  bool breaker = true;
  std::uint32_t failureThreshold = 5;
  std::uint32_t successThreshold = 2;
  std::int64_t openMs = 60000;
  std::optional<QueueDurableOptions> durable;
};

// Called on the log's writer thread.
struct QueueCallbacks {
  std::function<void(std::uint64_t seq)> onDurable;
  std::function<void(bool healthy, const char* code, const std::string& message)> onDurability;
};

// One item to push. `key` is null for none.
struct QueueItemIn {
  std::string_view event;
  std::string_view payload;
  bool text = true;  // payload handed back as a string (else as bytes)
  const std::string_view* key = nullptr;
};

// An item handed out (peek, due, deadLetters). Views point into the queue: valid until the next
// call that changes it.
struct QueueItemView {
  const std::string* client = nullptr;
  std::uint64_t offset = 0;
  std::string_view event;
  std::string_view payload;
  bool text = true;
  bool hasKey = false;
  std::string_view key;
  std::uint32_t attempts = 0;
  std::int64_t pushedAt = 0;
  // dead letters only
  const std::string* reason = nullptr;
  std::int64_t deadAt = 0;
};

struct QueueDropped {
  std::uint64_t offset = 0;  // 0: none (drop-newest)
  DropReason reason = DropReason::Overflow;
};

// dropped / dead-letter / breaker, in the order they happened during one call.
struct QueueEvent {
  enum class Kind : std::uint8_t { Dropped, DeadLetter, Breaker } kind = Kind::Dropped;
  const std::string* client = nullptr;  // dropped, dead-letter
  std::uint64_t offset = 0;             // dropped (0: null), dead-letter
  DropReason reason = DropReason::Overflow;  // dropped
  std::string event;                    // dead-letter
  std::uint32_t attempts = 0;           // dead-letter
  std::string text;                     // dead-letter: the reason
  BreakerState from = BreakerState::Closed, to = BreakerState::Closed;  // breaker
  std::int64_t at = 0;                  // breaker
};

// A failure of one item of a batch (pushMany): `index` is its position.
class QueueItemError : public Error {
 public:
  QueueItemError(const char* code, const std::string& message, std::size_t index)
      : Error(code, message), index_(index) {}
  std::size_t index() const { return index_; }

 private:
  std::size_t index_;
};

struct QueuePushResult {
  std::uint64_t offset = 0;  // 0: not queued (drop-newest)
  std::uint64_t seq = 0;
};
struct QueuePushManyResult {
  std::uint64_t firstOffset = 0;            // offsets of the queued items are firstOffset, +1, ...
  std::vector<std::uint32_t> droppedNewest;  // indices of items not queued (drop-newest), ascending
  std::uint64_t seq = 0;
};
struct QueueNackResult {
  bool dead = false;
  std::uint32_t attempts = 0;
  std::int64_t retryAt = 0;
  std::uint64_t seq = 0;
};

struct QueueStats {
  std::size_t clients = 0, items = 0, inFlight = 0, deadLetters = 0;
  std::uint64_t payloadBytes = 0;
  std::uint64_t pushed = 0, acked = 0, retried = 0, deadLettered = 0;
  std::uint64_t droppedOverflow = 0, droppedCoalesced = 0, droppedExpired = 0, droppedDeadLetterOverflow = 0;
  bool breakerEnabled = true;
  BreakerState breaker = BreakerState::Closed;
  std::uint32_t failures = 0, successes = 0;
  std::optional<std::int64_t> openedAt;
  bool durable = false;
  std::string path;
  FsyncMode fsync = FsyncMode::Interval;
  bool healthy = true;
  std::size_t segments = 0;
  std::uint64_t bytes = 0;
  std::optional<std::string> lastError;
};

struct QueueRecovery {
  std::size_t segments = 0;
  std::uint64_t records = 0;
  std::size_t items = 0;
  std::optional<Truncation> truncated;
};

// mulberry32, bit-exact with test/differential/generators.js.
class Mulberry32 {
 public:
  explicit Mulberry32(std::uint32_t seed) : a_(seed) {}
  double next() {
    a_ += 0x6d2b79f5u;
    std::uint32_t t = a_;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return static_cast<double>(t ^ (t >> 14)) / 4294967296.0;
  }

 private:
  std::uint32_t a_;
};

class OfflineQueue {
 public:
  // Durable mode replays the log synchronously (throws Error(kDisk) when the path cannot be used).
  explicit OfflineQueue(QueueOptions options, QueueCallbacks callbacks = {});
  ~OfflineQueue();
  OfflineQueue(const OfflineQueue&) = delete;
  OfflineQueue& operator=(const OfflineQueue&) = delete;

  // The result's dropped list and the events of the call are in dropped() and events().
  QueuePushResult push(std::string_view client, const QueueItemIn& item, std::int64_t now);
  QueuePushManyResult pushMany(std::string_view client, const QueueItemIn* items, std::size_t n, std::int64_t now);
  // Items with offset > after, oldest first, at most limit.
  const std::vector<QueueItemView>& peek(std::string_view client, std::uint64_t after, std::size_t limit,
                                         std::int64_t now, std::uint64_t* seq = nullptr);
  std::size_t ack(std::string_view client, std::uint64_t upTo, std::int64_t now, std::uint64_t* seq = nullptr);
  bool ackOne(std::string_view client, std::uint64_t offset, std::int64_t now, std::uint64_t* seq = nullptr);
  QueueNackResult nack(std::string_view client, std::uint64_t offset, std::string_view reason, std::int64_t now);
  const std::vector<QueueItemView>& due(std::size_t limit, std::int64_t now, std::uint64_t* seq = nullptr);
  void release(std::string_view client, std::uint64_t offset, std::int64_t now, std::uint64_t* seq = nullptr);
  std::size_t sweep(std::int64_t now, std::uint64_t* seq = nullptr);
  BreakerState breakerState(std::int64_t now);

  // Read-only.
  std::size_t size() const { return totalItems_; }
  std::size_t size(std::string_view client) const;
  std::vector<const std::string*> clients() const;
  const std::vector<QueueItemView>& deadLetters(std::size_t limit);
  std::size_t clearDeadLetters(std::uint64_t* seq = nullptr);
  QueueStats stats() const;
  const std::optional<QueueRecovery>& recovery() const { return recovery_; }
  const QueueOptions& options() const { return options_; }

  // Durable mode (0 in memory mode).
  std::uint64_t flush();
  std::uint64_t compact();
  std::uint64_t close();  // flush + join; afterwards every call but stats() throws ERR_RT_CLOSED
  bool closed() const { return closed_; }
  bool durable() const { return writer_ != nullptr; }
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }

  // Of the last call.
  const std::vector<QueueDropped>& dropped() const { return dropped_; }
  const std::vector<QueueEvent>& events() const { return events_; }

  // The backoff delay of the n-th failure (n >= 1) of an item whose previous delay was prev
  // (ignored for n == 1); draws from the sequence when the jitter needs it.
  std::uint32_t nextDelay(std::uint32_t n, std::uint32_t prev);

 private:
  struct Item;
  struct Retry {
    std::int64_t retryAt = 0;
    std::uint32_t prevDelay = 0;
    std::uint32_t attempts = 0;
  };
  class Ring;
  class KeyIndex;
  class BlockCache;
  struct ClientQueue;
  struct Client;
  struct DeadLetter;
  struct EventName {
    std::string name;
    std::uint32_t refs = 0;
  };

  // clients
  Client* findClient(std::string_view id) const;
  Client& clientFor(std::string_view id);
  ClientQueue& activate(Client& c);
  void deactivate(Client& c);
  void resetState();
  // items
  Item* newItem(const QueueItemIn& in, std::uint64_t offset, std::int64_t pushedAt);
  void freeItem(Item* it);
  static std::size_t blockSize(const Item* it);
  std::uint32_t internEvent(std::string_view name);
  void releaseEvent(std::uint32_t id);
  std::string_view eventName(const Item* it) const;
  std::size_t lowerBound(const ClientQueue& q, std::uint64_t offset) const;
  std::size_t indexOf(const ClientQueue& q, std::uint64_t offset) const;  // npos when absent
  Retry retryOf(const ClientQueue& q, const Item* it) const;
  std::int64_t retryAtOf(const ClientQueue& q, const Item* it) const;
  void setRetry(ClientQueue& q, Item* it, const Retry& r);
  void unlink(Client& c, Item* it);
  Item* detach(Client& c, std::size_t i);
  void reportDrop(const Client& c, std::uint64_t offset, DropReason reason);
  void removeAt(Client& c, std::size_t i, DropReason reason);
  bool expired(const Item* it, std::int64_t now) const {
    return options_.ttlMs > 0 && now - pushedAtOf(it) >= options_.ttlMs;
  }
  static std::int64_t pushedAtOf(const Item* it);
  std::size_t expiredCount(const Client& c, std::int64_t now) const;
  std::size_t expire(Client& c, std::int64_t now);
  std::size_t expireAll(std::int64_t now);
  void checkItem(const QueueItemIn& in) const;
  void pushOne(Client& c, const QueueItemIn& in, std::int64_t now, std::uint64_t* offset);
  void checkReject(const Client* c, const QueueItemIn* items, std::size_t n, std::int64_t now) const;
  void toDeadLetters(Client& c, std::size_t i, const Retry& r, std::string_view reason, std::int64_t now);
  void trimDeadLetters(bool count);
  void clearDead();
  std::uint64_t deadRecordBytes(const DeadLetter& d) const;
  QueueItemView view(const Client& c, const Item* it, std::uint32_t attempts) const;
  // breaker
  void breakerTick(std::int64_t now);
  void breakerSuccess(std::int64_t now);
  void breakerFailure(std::int64_t now);
  void breakerTo(BreakerState to, std::int64_t now);
  // calls
  void begin();  // clears dropped_/events_; throws when closed
  void checkOpen() const;
  std::uint64_t commit();  // appends the call's records; returns the seq (0: none)
  // durable
  void replay();
  void applyRecord(const QueueRecord& r);
  void logRemove(const Client& c, std::uint64_t offset, DropReason reason);
  void logPush(const Client& c, const Item* it, const Retry& r);
  void logNack(const Client& c, std::uint64_t offset, const Retry& r);
  std::uint64_t itemRecordBytes(const Client& c, const Item* it) const;
  std::uint64_t snapshot();
  void maybeCompact(std::uint64_t* seq);

  QueueOptions options_;
  QueueCallbacks callbacks_;
  Mulberry32 rng_;

  std::unordered_map<std::string_view, std::unique_ptr<Client>> clients_;  // every client ever seen
  std::vector<Client*> clientOrder_;  // the same, in the order they were first seen (snapshots)
  Client* activeHead_ = nullptr;  // clients with items, in order of creation
  Client* activeTail_ = nullptr;
  std::size_t activeCount_ = 0;
  std::uint64_t nextOrder_ = 1;

  // declared first among the item holders so it is destroyed after everything that frees items
  std::unique_ptr<BlockCache> blocks_;
  std::deque<EventName> eventNames_;
  std::unordered_map<std::string_view, std::uint32_t> eventIds_;
  std::vector<std::uint32_t> freeEventIds_;
  std::size_t zeroRefEvents_ = 0;
  std::string lastEvent_;
  std::uint32_t lastEventId_ = UINT32_MAX;

  std::deque<DeadLetter> dead_;

  std::size_t totalItems_ = 0;
  std::size_t inFlight_ = 0;
  std::uint64_t payloadBytes_ = 0;
  std::uint64_t pushed_ = 0, acked_ = 0, retried_ = 0, deadLettered_ = 0;
  std::uint64_t dropOverflow_ = 0, dropCoalesced_ = 0, dropExpired_ = 0, dropDeadOverflow_ = 0;

  BreakerState breaker_ = BreakerState::Closed;
  std::uint32_t failures_ = 0, successes_ = 0;
  std::optional<std::int64_t> openedAt_;

  std::vector<QueueDropped> dropped_;
  std::vector<QueueEvent> events_;
  std::vector<QueueItemView> views_;

  bool closed_ = false;
  bool replaying_ = false;
  // durable
  std::unique_ptr<LogWriter> writer_;
  std::optional<QueueRecovery> recovery_;
  std::string batch_;
  QueueRecord scratch_;
  std::uint64_t nextSegment_ = 1;
  std::uint64_t logBytes_ = 0;   // bytes in the log since (and including) the last snapshot
  std::uint64_t liveBytes_ = 0;  // what a snapshot of the current state would take
  std::atomic<bool> healthy_{true};
  mutable std::mutex errorMutex_;
  std::optional<std::string> lastError_;
  bool reportedUnhealthy_ = false;  // writer thread only
  std::atomic<bool> resyncNeeded_{false};  // set by the writer thread on a failure
};

}  // namespace rtc
