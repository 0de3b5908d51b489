#include "offline_queue.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unordered_set>

namespace rtc {

namespace {

constexpr std::size_t kMaxIdBytes = 256;
constexpr std::size_t kMaxReasonBytes = 1024;
constexpr std::size_t kNpos = static_cast<std::size_t>(-1);
// ackOne removes one item (maybe from the middle of a queue): a `remove` record with reason 4
// (acked), as the JS twin writes it; replay removes the item whatever the reason.
constexpr DropReason kAckOneLogReason = DropReason::Acked;

void checkId(std::string_view s, const char* what) {
  if (s.empty()) throw Error(codes::kInvalidArgument, std::string(what) + " must not be empty");
  if (s.size() > kMaxIdBytes) throw Error(codes::kOutOfRange, std::string(what) + " must be at most 256 bytes");
}

std::uint64_t hashBytes(std::string_view s) {
  // FNV-1a, then a murmur3 finalizer so linear probing sees well-mixed low bits.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

}  // namespace

const char* breakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half-open";
  }
  return "closed";
}

const char* dropReasonName(DropReason r) {
  switch (r) {
    case DropReason::Overflow: return "overflow";
    case DropReason::Coalesced: return "coalesced";
    case DropReason::Expired: return "expired";
    case DropReason::Acked: return "acked";
  }
  return "overflow";
}

// ---------------------------------------------------------------------------------------------
// Storage

// One malloc'd block: this header, payloadLen payload bytes, then (with a key) u16 length + key.
struct OfflineQueue::Item {
  static constexpr std::uint64_t kOffsetMask = (1ull << 53) - 1;
  static constexpr std::uint64_t kHasKey = 1ull << 53;
  static constexpr std::uint64_t kInFlight = 1ull << 54;
  static constexpr std::uint64_t kRetry = 1ull << 55;  // has an entry in its queue's retry table
  static constexpr std::uint64_t kText = 1ull << 56;

  std::uint64_t bits;
  std::int64_t pushedAt;
  std::uint32_t payloadLen;
  std::uint32_t eventId;

  std::uint64_t offset() const { return bits & kOffsetMask; }
  bool has(std::uint64_t flag) const { return (bits & flag) != 0; }
  void set(std::uint64_t flag, bool on) { bits = on ? (bits | flag) : (bits & ~flag); }
  const char* payload() const { return reinterpret_cast<const char*>(this + 1); }
  char* payload() { return reinterpret_cast<char*>(this + 1); }
  std::string_view payloadView() const { return {payload(), payloadLen}; }
  std::string_view key() const {
    if (!has(kHasKey)) return {};
    const char* p = payload() + payloadLen;
    std::uint16_t n;
    std::memcpy(&n, p, 2);
    return {p + 2, n};
  }
};

// Item blocks freed by the queue are kept for reuse, per malloc chunk size, up to kMaxBytes.
// A queue at its capacity frees and allocates items on every push; handing those blocks straight
// back to glibc made its heap trim and regrow under load, stalling the event loop for tens of
// milliseconds (benchmarks/profile/FINDINGS.md). A class is a chunk size as glibc rounds it
// (request + 8, up to a multiple of 16), and the block is allocated with the largest request of
// that chunk, so caching costs no memory per item.
class OfflineQueue::BlockCache {
 public:
  BlockCache() = default;
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() {
    for (void*& head : heads_) {
      while (head) {
        void* next = *static_cast<void**>(head);
        std::free(head);
        head = next;
      }
    }
  }

  void* take(std::size_t size) {
    if (kPassThrough) return std::malloc(size);
    const std::size_t c = classOf(size);
    if (c < kClasses) {
      if (void* p = heads_[c]) {
        heads_[c] = *static_cast<void**>(p);
        bytes_ -= c * 16;
        return p;
      }
      return std::malloc(c * 16 - 8);
    }
    return std::malloc(size);
  }

  void give(void* p, std::size_t size) {
    const std::size_t c = classOf(size);
    if (!kPassThrough && c < kClasses && bytes_ + c * 16 <= kMaxBytes) {
      *static_cast<void**>(p) = heads_[c];
      heads_[c] = p;
      bytes_ += c * 16;
      return;
    }
    std::free(p);
  }

 private:
  // Under AddressSanitizer every block goes back to malloc, so a use after free is still caught.
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool kPassThrough = true;
#else
  static constexpr bool kPassThrough = false;
#endif
  static constexpr std::size_t kClasses = 257;  // chunks up to 4 KiB
  static constexpr std::size_t kMaxBytes = 4u << 20;
  static std::size_t classOf(std::size_t size) { return (size + 8 + 15) / 16; }

  void* heads_[kClasses] = {};
  std::size_t bytes_ = 0;
};

// A growable circular array of item pointers (power-of-two capacity), in offset order.
class OfflineQueue::Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { std::free(buf_); }

  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  Item*& operator[](std::size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  Item* operator[](std::size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }
  Item* front() const { return (*this)[0]; }
  Item* back() const { return (*this)[n_ - 1]; }

  void push_back(Item* it) {
    if (n_ == cap_) resize(cap_ ? cap_ * 2 : 4);
    buf_[(head_ + n_) & (cap_ - 1)] = it;
    ++n_;
  }
  void pop_front() {
    head_ = (head_ + 1) & (cap_ - 1);
    --n_;
  }
  void erase(std::size_t i) {
    if (i < n_ / 2) {
      for (std::size_t k = i; k > 0; --k) (*this)[k] = (*this)[k - 1];
      pop_front();
    } else {
      for (std::size_t k = i; k + 1 < n_; ++k) (*this)[k] = (*this)[k + 1];
      --n_;
    }
  }
  void insert(std::size_t i, Item* it) {
    push_back(it);
    for (std::size_t k = n_ - 1; k > i; --k) (*this)[k] = (*this)[k - 1];
    (*this)[i] = it;
  }
  void truncate(std::size_t n) { n_ = n; }
  void maybeShrink() {
    if (cap_ <= 16 || n_ * 4 >= cap_) return;
    std::size_t cap = cap_;
    while (cap > 16 && n_ * 4 < cap) cap /= 2;
    resize(cap);
  }

 private:
  void resize(std::size_t cap) {
    Item** next = static_cast<Item**>(std::malloc(cap * sizeof(Item*)));
    if (!next) throw std::bad_alloc();
    for (std::size_t i = 0; i < n_; ++i) next[i] = (*this)[i];
    std::free(buf_);
    buf_ = next;
    cap_ = cap;
    head_ = 0;
  }

  Item** buf_ = nullptr;
  std::size_t cap_ = 0, head_ = 0, n_ = 0;
};

// Open addressing (linear probing, backward-shift deletion) of the keyed items of one client.
class OfflineQueue::KeyIndex {
 public:
  KeyIndex() = default;
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;
  ~KeyIndex() { std::free(slots_); }

  std::size_t size() const { return n_; }

  Item* find(std::string_view key) const {
    if (n_ == 0) return nullptr;
    std::size_t mask = cap_ - 1;
    for (std::size_t i = hashBytes(key) & mask;; i = (i + 1) & mask) {
      Item* it = slots_[i];
      if (!it) return nullptr;
      if (it->key() == key) return it;
    }
  }

  // Inserts it, replacing an item with the same key.
  void insert(Item* it) {
    if ((n_ + 1) * 4 > cap_ * 3) grow();
    std::size_t mask = cap_ - 1;
    std::string_view key = it->key();
    for (std::size_t i = hashBytes(key) & mask;; i = (i + 1) & mask) {
      if (!slots_[i]) {
        slots_[i] = it;
        ++n_;
        return;
      }
      if (slots_[i]->key() == key) {
        slots_[i] = it;
        return;
      }
    }
  }

  // Removes it (only if it is the item indexed under its key).
  void erase(const Item* it) {
    if (n_ == 0) return;
    std::size_t mask = cap_ - 1;
    std::size_t i = hashBytes(it->key()) & mask;
    for (;; i = (i + 1) & mask) {
      if (!slots_[i]) return;
      if (slots_[i] == it) break;
    }
    std::size_t j = i;
    for (;;) {
      j = (j + 1) & mask;
      Item* other = slots_[j];
      if (!other) break;
      std::size_t home = hashBytes(other->key()) & mask;
      // Move `other` into the hole when the hole lies cyclically within [home, j).
      bool move = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
      if (move) {
        slots_[i] = other;
        i = j;
      }
    }
    slots_[i] = nullptr;
    --n_;
  }

 private:
  void grow() {
    std::size_t cap = cap_ ? cap_ * 2 : 8;
    Item** old = slots_;
    std::size_t oldCap = cap_;
    slots_ = static_cast<Item**>(std::calloc(cap, sizeof(Item*)));
    if (!slots_) {
      slots_ = old;
      throw std::bad_alloc();
    }
    cap_ = cap;
    n_ = 0;
    for (std::size_t k = 0; k < oldCap; ++k) {
      if (!old[k]) continue;
      std::size_t mask = cap_ - 1;
      for (std::size_t i = hashBytes(old[k]->key()) & mask;; i = (i + 1) & mask) {
        if (!slots_[i]) {
          slots_[i] = old[k];
          ++n_;
          break;
        }
      }
    }
    std::free(old);
  }

  Item** slots_ = nullptr;
  std::size_t cap_ = 0, n_ = 0;
};

struct OfflineQueue::ClientQueue {
  Ring items;
  std::unique_ptr<KeyIndex> keys;
  std::unique_ptr<std::unordered_map<std::uint64_t, Retry>> retries;
  std::size_t inFlight = 0;
  bool pushSorted = true;  // pushedAt never decreases along the ring: expiry pops from the front
};

struct OfflineQueue::Client {
  std::string id;
  std::uint64_t lastOffset = 0;
  std::uint64_t order = 0;  // creation order of the current queue
  std::unique_ptr<ClientQueue> q;  // null while the client has no items
  Client* prev = nullptr;
  Client* next = nullptr;
};

struct OfflineQueue::DeadLetter {
  Client* client;
  Item* item;
  Retry retry;  // attempts: the final count
  std::string reason;
  std::int64_t deadAt;
};

// ---------------------------------------------------------------------------------------------
// Construction

OfflineQueue::OfflineQueue(QueueOptions options, QueueCallbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)), rng_(options_.seed),
      blocks_(std::make_unique<BlockCache>()) {
  if (options_.capacity < 1) throw Error(codes::kOutOfRange, "capacity must be at least 1");
  if (options_.maxAttempts < 1) throw Error(codes::kOutOfRange, "maxAttempts must be at least 1");
  liveBytes_ = 18;  // snapshot-begin + snapshot-end
  if (!options_.durable) return;
  replay();
  LogWriterOptions wo;
  wo.dir = options_.durable->path;
  wo.fsync = options_.durable->fsync;
  wo.fsyncIntervalMs = options_.durable->fsyncIntervalMs;
  wo.segmentBytes = options_.durable->segmentBytes;
  wo.firstSegment = nextSegment_;
  writer_ = std::make_unique<LogWriter>(
      std::move(wo),
      [this](std::uint64_t seq) {
        // The writer reports what it handled also after a failed batch: only a write that
        // succeeded again (the writer says healthy) ends the failure.
        if (reportedUnhealthy_ && writer_ && writer_->healthy()) {
          reportedUnhealthy_ = false;
          {
            std::lock_guard<std::mutex> lock(errorMutex_);
            lastError_.reset();
          }
          healthy_.store(true, std::memory_order_release);
          if (callbacks_.onDurability) callbacks_.onDurability(true, nullptr, std::string());
        }
        if (callbacks_.onDurable) callbacks_.onDurable(seq);
      },
      [this](const char* code, const std::string& message) {
        {
          std::lock_guard<std::mutex> lock(errorMutex_);
          lastError_ = message;
        }
        reportedUnhealthy_ = true;
        resyncNeeded_.store(true, std::memory_order_release);
        healthy_.store(false, std::memory_order_release);
        if (callbacks_.onDurability) callbacks_.onDurability(false, code ? code : codes::kDisk, message);
      });
}

OfflineQueue::~OfflineQueue() {
  if (writer_) {
    try {
      writer_->close();
    } catch (...) {
    }
    writer_.reset();
  }
  resetState();
}

void OfflineQueue::resetState() {
  for (DeadLetter& d : dead_) freeItem(d.item);
  dead_.clear();
  for (auto& entry : clients_) {
    Client& c = *entry.second;
    if (!c.q) continue;
    for (std::size_t i = 0; i < c.q->items.size(); ++i) freeItem(c.q->items[i]);
    c.q.reset();
  }
  clients_.clear();
  clientOrder_.clear();
  activeHead_ = activeTail_ = nullptr;
  activeCount_ = 0;
  totalItems_ = inFlight_ = 0;
  payloadBytes_ = 0;
  liveBytes_ = 18;
}

// ---------------------------------------------------------------------------------------------
// Clients

OfflineQueue::Client* OfflineQueue::findClient(std::string_view id) const {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

OfflineQueue::Client& OfflineQueue::clientFor(std::string_view id) {
  auto it = clients_.find(id);
  if (it != clients_.end()) return *it->second;
  auto c = std::make_unique<Client>();
  c->id.assign(id.data(), id.size());
  Client& ref = *c;
  clients_.emplace(std::string_view(ref.id), std::move(c));
  clientOrder_.push_back(&ref);
  liveBytes_ += 8 + 1 + 2 + ref.id.size() + 8;  // its `client` record in a snapshot
  return ref;
}

OfflineQueue::ClientQueue& OfflineQueue::activate(Client& c) {
  if (c.q) return *c.q;
  c.q = std::make_unique<ClientQueue>();
  c.order = nextOrder_++;
  c.prev = activeTail_;
  c.next = nullptr;
  if (activeTail_) activeTail_->next = &c;
  else activeHead_ = &c;
  activeTail_ = &c;
  ++activeCount_;
  return *c.q;
}

void OfflineQueue::deactivate(Client& c) {
  if (c.prev) c.prev->next = c.next;
  else activeHead_ = c.next;
  if (c.next) c.next->prev = c.prev;
  else activeTail_ = c.prev;
  c.prev = c.next = nullptr;
  c.q.reset();
  --activeCount_;
}

// ---------------------------------------------------------------------------------------------
// Items

std::uint32_t OfflineQueue::internEvent(std::string_view name) {
  if (lastEventId_ != UINT32_MAX && name == std::string_view(eventNames_[lastEventId_].name)) {
    EventName& e = eventNames_[lastEventId_];
    if (e.refs++ == 0) --zeroRefEvents_;
    return lastEventId_;
  }
  std::uint32_t id;
  auto found = eventIds_.find(name);
  if (found != eventIds_.end()) {
    id = found->second;
  } else {
    if (!freeEventIds_.empty()) {
      id = freeEventIds_.back();
      freeEventIds_.pop_back();
      eventNames_[id].name.assign(name.data(), name.size());
    } else {
      id = static_cast<std::uint32_t>(eventNames_.size());
      eventNames_.push_back(EventName{std::string(name), 0});
    }
    eventIds_.emplace(std::string_view(eventNames_[id].name), id);
    ++zeroRefEvents_;
  }
  EventName& e = eventNames_[id];
  if (e.refs++ == 0) --zeroRefEvents_;
  lastEventId_ = id;
  return id;
}

void OfflineQueue::releaseEvent(std::uint32_t id) {
  EventName& e = eventNames_[id];
  if (--e.refs == 0) ++zeroRefEvents_;
  // Names nobody uses are forgotten in bulk, so a name used again soon is not re-allocated.
  if (zeroRefEvents_ > 1024 && zeroRefEvents_ * 2 > eventIds_.size()) {
    for (std::uint32_t k = 0; k < eventNames_.size(); ++k) {
      EventName& n = eventNames_[k];
      if (n.refs != 0) continue;
      auto f = eventIds_.find(std::string_view(n.name));
      if (f == eventIds_.end() || f->second != k) continue;
      eventIds_.erase(f);
      n.name.clear();
      n.name.shrink_to_fit();
      freeEventIds_.push_back(k);
    }
    zeroRefEvents_ = 0;
    lastEventId_ = UINT32_MAX;
  }
}

std::string_view OfflineQueue::eventName(const Item* it) const { return eventNames_[it->eventId].name; }

std::int64_t OfflineQueue::pushedAtOf(const Item* it) { return it->pushedAt; }

OfflineQueue::Item* OfflineQueue::newItem(const QueueItemIn& in, std::uint64_t offset, std::int64_t pushedAt) {
  std::size_t extra = in.key ? 2 + in.key->size() : 0;
  Item* it = static_cast<Item*>(blocks_->take(sizeof(Item) + in.payload.size() + extra));
  if (!it) throw std::bad_alloc();
  it->bits = (offset & Item::kOffsetMask) | (in.key ? Item::kHasKey : 0) | (in.text ? Item::kText : 0);
  it->pushedAt = pushedAt;
  it->payloadLen = static_cast<std::uint32_t>(in.payload.size());
  if (!in.payload.empty()) std::memcpy(it->payload(), in.payload.data(), in.payload.size());
  if (in.key) {
    char* p = it->payload() + in.payload.size();
    std::uint16_t n = static_cast<std::uint16_t>(in.key->size());
    std::memcpy(p, &n, 2);
    std::memcpy(p + 2, in.key->data(), in.key->size());
  }
  try {
    it->eventId = internEvent(in.event);
  } catch (...) {
    blocks_->give(it, blockSize(it));
    throw;
  }
  return it;
}

std::size_t OfflineQueue::blockSize(const Item* it) {
  return sizeof(Item) + it->payloadLen + (it->has(Item::kHasKey) ? 2 + it->key().size() : 0);
}

void OfflineQueue::freeItem(Item* it) {
  releaseEvent(it->eventId);
  blocks_->give(it, blockSize(it));
}

std::size_t OfflineQueue::lowerBound(const ClientQueue& q, std::uint64_t offset) const {
  std::size_t lo = 0, hi = q.items.size();
  // Offsets of one client are usually dense: try the direct guess first.
  if (hi > 0) {
    std::uint64_t first = q.items[0]->offset();
    if (offset <= first) return 0;
    std::uint64_t guess = offset - first;
    if (guess < hi && q.items[guess]->offset() == offset &&
        (guess == 0 || q.items[guess - 1]->offset() < offset)) {
      return guess;
    }
  }
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (q.items[mid]->offset() < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

std::size_t OfflineQueue::indexOf(const ClientQueue& q, std::uint64_t offset) const {
  std::size_t i = lowerBound(q, offset);
  return i < q.items.size() && q.items[i]->offset() == offset ? i : kNpos;
}

OfflineQueue::Retry OfflineQueue::retryOf(const ClientQueue& q, const Item* it) const {
  if (it->has(Item::kRetry) && q.retries) {
    auto f = q.retries->find(it->offset());
    if (f != q.retries->end()) return f->second;
  }
  return Retry{it->pushedAt, 0, 0};
}

std::int64_t OfflineQueue::retryAtOf(const ClientQueue& q, const Item* it) const {
  if (!it->has(Item::kRetry)) return it->pushedAt;
  return retryOf(q, it).retryAt;
}

void OfflineQueue::setRetry(ClientQueue& q, Item* it, const Retry& r) {
  if (r.attempts == 0 && r.prevDelay == 0 && r.retryAt == it->pushedAt) {
    if (it->has(Item::kRetry) && q.retries) q.retries->erase(it->offset());
    it->set(Item::kRetry, false);
    return;
  }
  if (!q.retries) q.retries = std::make_unique<std::unordered_map<std::uint64_t, Retry>>();
  (*q.retries)[it->offset()] = r;
  it->set(Item::kRetry, true);
}

std::uint64_t OfflineQueue::itemRecordBytes(const Client& c, const Item* it) const {
  std::uint64_t n = 8 + 1 + 2 + c.id.size() + 8 + 8 + 8 + 4 + 4 + 1 + 2 + eventName(it).size() + 4 + it->payloadLen;
  if (it->has(Item::kHasKey)) n += 2 + it->key().size();
  return n;
}

// Bookkeeping of an item leaving its queue (the ring is the caller's business).
void OfflineQueue::unlink(Client& c, Item* it) {
  ClientQueue& q = *c.q;
  if (it->has(Item::kHasKey) && q.keys) q.keys->erase(it);
  if (it->has(Item::kRetry) && q.retries) q.retries->erase(it->offset());
  it->set(Item::kRetry, false);
  if (it->has(Item::kInFlight)) {
    it->set(Item::kInFlight, false);
    --q.inFlight;
    --inFlight_;
  }
  --totalItems_;
  payloadBytes_ -= it->payloadLen;
  if (options_.durable) liveBytes_ -= itemRecordBytes(c, it);
}

// Takes q.items[i] out of its queue; a queue left empty is gone (the client is no longer listed).
OfflineQueue::Item* OfflineQueue::detach(Client& c, std::size_t i) {
  ClientQueue& q = *c.q;
  Item* it = q.items[i];
  unlink(c, it);
  if (i == 0) q.items.pop_front();
  else q.items.erase(i);
  if (q.items.empty()) deactivate(c);
  else q.items.maybeShrink();
  return it;
}

void OfflineQueue::reportDrop(const Client& c, std::uint64_t offset, DropReason reason) {
  if (replaying_) return;
  dropped_.push_back(QueueDropped{offset, reason});
  QueueEvent e;
  e.kind = QueueEvent::Kind::Dropped;
  e.client = &c.id;
  e.offset = offset;
  e.reason = reason;
  events_.push_back(std::move(e));
  switch (reason) {
    case DropReason::Overflow: ++dropOverflow_; break;
    case DropReason::Coalesced: ++dropCoalesced_; break;
    case DropReason::Expired: ++dropExpired_; break;
    case DropReason::Acked: break;
  }
}

void OfflineQueue::removeAt(Client& c, std::size_t i, DropReason reason) {
  Item* it = detach(c, i);
  std::uint64_t offset = it->offset();
  freeItem(it);
  if (reason != DropReason::Acked) reportDrop(c, offset, reason);
  if (writer_ && !replaying_) logRemove(c, offset, reason == DropReason::Acked ? kAckOneLogReason : reason);
}

std::size_t OfflineQueue::expiredCount(const Client& c, std::int64_t now) const {
  if (options_.ttlMs <= 0 || !c.q) return 0;
  const ClientQueue& q = *c.q;
  std::size_t n = 0;
  if (q.pushSorted) {
    while (n < q.items.size() && expired(q.items[n], now)) ++n;
  } else {
    for (std::size_t i = 0; i < q.items.size(); ++i) n += expired(q.items[i], now) ? 1 : 0;
  }
  return n;
}

std::size_t OfflineQueue::expire(Client& c, std::int64_t now) {
  if (options_.ttlMs <= 0 || !c.q) return 0;
  std::size_t n = 0;
  if (c.q->pushSorted) {
    while (c.q && expired(c.q->items.front(), now)) {
      removeAt(c, 0, DropReason::Expired);
      ++n;
    }
    return n;
  }
  ClientQueue& q = *c.q;
  std::size_t w = 0, size = q.items.size();
  for (std::size_t r = 0; r < size; ++r) {
    Item* it = q.items[r];
    if (!expired(it, now)) {
      q.items[w++] = it;
      continue;
    }
    unlink(c, it);
    std::uint64_t offset = it->offset();
    freeItem(it);
    reportDrop(c, offset, DropReason::Expired);
    if (writer_ && !replaying_) logRemove(c, offset, DropReason::Expired);
    ++n;
  }
  q.items.truncate(w);
  if (w == 0) {
    deactivate(c);
  } else {
    q.items.maybeShrink();
    // What is left may be in order again.
    bool sorted = true;
    for (std::size_t i = 1; i < w && sorted; ++i) sorted = q.items[i - 1]->pushedAt <= q.items[i]->pushedAt;
    q.pushSorted = sorted;
  }
  return n;
}

std::size_t OfflineQueue::expireAll(std::int64_t now) {
  if (options_.ttlMs <= 0) return 0;
  std::size_t n = 0;
  for (Client* c = activeHead_; c;) {
    Client* next = c->next;
    n += expire(*c, now);
    c = next;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Calls

void OfflineQueue::checkOpen() const {
  if (closed_) throw Error(codes::kClosed, "the queue is closed");
}

void OfflineQueue::begin() {
  checkOpen();
  dropped_.clear();
  events_.clear();
  batch_.clear();
}

std::uint64_t OfflineQueue::commit() {
  if (!writer_ || batch_.empty()) return 0;
  logBytes_ += batch_.size();
  std::uint64_t seq = writer_->append(std::move(batch_));
  batch_ = std::string();
  maybeCompact(&seq);
  return seq;
}

void OfflineQueue::checkItem(const QueueItemIn& in) const {
  checkId(in.event, "event");
  if (in.key) checkId(*in.key, "key");
  if (in.payload.size() > options_.maxItemBytes) {
    throw Error(codes::kTooLarge, "payload is larger than maxItemBytes (" + std::to_string(options_.maxItemBytes) + ")");
  }
}

void OfflineQueue::checkReject(const Client* c, const QueueItemIn* items, std::size_t n, std::int64_t now) const {
  std::size_t size = c && c->q ? c->q->items.size() - expiredCount(*c, now) : 0;
  std::unordered_set<std::string_view> batchKeys;
  const KeyIndex* index = c && c->q ? c->q->keys.get() : nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    bool coalesces = false;
    if (items[i].key) {
      std::string_view key = *items[i].key;
      if (batchKeys.count(key)) {
        coalesces = true;
      } else if (index) {
        const Item* old = index->find(key);
        coalesces = old && !expired(old, now);
      }
      batchKeys.insert(key);
    }
    // Coalescing removes one item before the capacity check, then the new one is appended.
    std::size_t before = coalesces ? size - 1 : size;
    if (before >= options_.capacity) throw Error(codes::kQueueFull, "the client's queue is full");
    size = before + 1;
  }
}

void OfflineQueue::pushOne(Client& c, const QueueItemIn& in, std::int64_t now, std::uint64_t* offset) {
  if (in.key && c.q && c.q->keys) {
    if (Item* old = c.q->keys->find(*in.key)) removeAt(c, indexOf(*c.q, old->offset()), DropReason::Coalesced);
  }
  if (c.q && c.q->items.size() >= options_.capacity) {
    switch (options_.overflow) {
      case QueueOverflow::DropOldest:
        while (c.q && c.q->items.size() >= options_.capacity) removeAt(c, 0, DropReason::Overflow);
        break;
      case QueueOverflow::DropNewest:
        reportDrop(c, 0, DropReason::Overflow);
        *offset = 0;
        return;
      case QueueOverflow::Reject:
        throw Error(codes::kQueueFull, "the client's queue is full");
    }
  }
  std::uint64_t off = c.lastOffset + 1;
  Item* it = newItem(in, off, now);
  ClientQueue* q;
  try {
    q = &activate(c);
    q->items.push_back(it);
  } catch (...) {
    if (c.q && c.q->items.empty()) deactivate(c);
    freeItem(it);
    throw;
  }
  c.lastOffset = off;
  if (q->items.size() > 1 && q->items[q->items.size() - 2]->pushedAt > now) q->pushSorted = false;
  if (in.key) {
    if (!q->keys) q->keys = std::make_unique<KeyIndex>();
    q->keys->insert(it);
  }
  ++totalItems_;
  ++pushed_;
  payloadBytes_ += it->payloadLen;
  if (writer_) {
    liveBytes_ += itemRecordBytes(c, it);
    logPush(c, it, Retry{now, 0, 0});
  }
  *offset = off;
}

QueuePushResult OfflineQueue::push(std::string_view client, const QueueItemIn& item, std::int64_t now) {
  begin();
  checkId(client, "clientId");
  checkItem(item);
  Client* c = findClient(client);
  if (options_.overflow == QueueOverflow::Reject) checkReject(c, &item, 1, now);
  breakerTick(now);
  Client& cl = c ? *c : clientFor(client);
  expire(cl, now);
  QueuePushResult r;
  pushOne(cl, item, now, &r.offset);
  r.seq = commit();
  return r;
}

QueuePushManyResult OfflineQueue::pushMany(std::string_view client, const QueueItemIn* items, std::size_t n,
                                           std::int64_t now) {
  begin();
  checkId(client, "clientId");
  for (std::size_t i = 0; i < n; ++i) {
    try {
      checkItem(items[i]);
    } catch (const Error& e) {
      throw QueueItemError(e.code(), e.what(), i);
    }
  }
  QueuePushManyResult r;
  Client* c = findClient(client);
  if (n == 0) {
    // nothing to queue, but the call still sees the time: breaker and expiry
    breakerTick(now);
    if (c) expire(*c, now);
    else clientFor(client);  // known from now on, like after any push
    r.seq = commit();
    return r;
  }
  if (options_.overflow == QueueOverflow::Reject) checkReject(c, items, n, now);
  breakerTick(now);
  Client& cl = c ? *c : clientFor(client);
  expire(cl, now);
  if (writer_) batch_.reserve(n * (40 + cl.id.size() + items[0].event.size() + items[0].payload.size()));
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t off = 0;
    pushOne(cl, items[i], now, &off);
    if (off == 0) r.droppedNewest.push_back(static_cast<std::uint32_t>(i));
    else if (r.firstOffset == 0) r.firstOffset = off;
  }
  r.seq = commit();
  return r;
}

QueueItemView OfflineQueue::view(const Client& c, const Item* it, std::uint32_t attempts) const {
  QueueItemView v;
  v.client = &c.id;
  v.offset = it->offset();
  v.event = eventName(it);
  v.payload = it->payloadView();
  v.text = it->has(Item::kText);
  v.hasKey = it->has(Item::kHasKey);
  if (v.hasKey) v.key = it->key();
  v.attempts = attempts;
  v.pushedAt = it->pushedAt;
  return v;
}

const std::vector<QueueItemView>& OfflineQueue::peek(std::string_view client, std::uint64_t after, std::size_t limit,
                                                     std::int64_t now, std::uint64_t* seq) {
  begin();
  views_.clear();
  Client* c = findClient(client);
  breakerTick(now);
  if (c) expire(*c, now);
  if (c && c->q) {
    const ClientQueue& q = *c->q;
    std::size_t i = after == 0 ? 0 : lowerBound(q, after + 1);
    for (; i < q.items.size() && views_.size() < limit; ++i) {
      const Item* it = q.items[i];
      views_.push_back(view(*c, it, retryOf(q, it).attempts));
    }
  }
  std::uint64_t s = commit();
  if (seq) *seq = s;
  return views_;
}

std::size_t OfflineQueue::ack(std::string_view client, std::uint64_t upTo, std::int64_t now, std::uint64_t* seq) {
  begin();
  Client* c = findClient(client);
  std::uint64_t last = c ? c->lastOffset : 0;
  if (upTo > last) {
    throw Error(codes::kInvalidOffset, "offset " + std::to_string(upTo) + " is above the client's last offset (" +
                                           std::to_string(last) + ")");
  }
  breakerTick(now);
  std::size_t removed = 0;
  if (c) {
    expire(*c, now);
    while (c->q && c->q->items.front()->offset() <= upTo) {
      freeItem(detach(*c, 0));
      ++removed;
    }
  }
  if (removed > 0) {
    acked_ += removed;
    if (writer_) {
      scratch_.type = RecordType::Ack;
      scratch_.client.assign(c->id);
      scratch_.offset = upTo;
      encodeRecord(batch_, scratch_);
    }
    breakerSuccess(now);
  }
  std::uint64_t s = commit();
  if (seq) *seq = s;
  return removed;
}

bool OfflineQueue::ackOne(std::string_view client, std::uint64_t offset, std::int64_t now, std::uint64_t* seq) {
  begin();
  Client* c = findClient(client);
  breakerTick(now);
  bool removed = false;
  if (c) {
    expire(*c, now);
    std::size_t i = c->q ? indexOf(*c->q, offset) : kNpos;
    if (i != kNpos) {
      removeAt(*c, i, DropReason::Acked);
      ++acked_;
      removed = true;
      breakerSuccess(now);
    }
  }
  std::uint64_t s = commit();
  if (seq) *seq = s;
  return removed;
}

QueueNackResult OfflineQueue::nack(std::string_view client, std::uint64_t offset, std::string_view reason,
                                   std::int64_t now) {
  begin();
  if (reason.size() > kMaxReasonBytes) throw Error(codes::kOutOfRange, "reason must be at most 1024 bytes");
  Client* c = findClient(client);
  std::size_t i = c && c->q ? indexOf(*c->q, offset) : kNpos;
  if (i == kNpos || expired(c->q->items[i], now)) {
    throw Error(codes::kInvalidOffset, "offset " + std::to_string(offset) + " is not queued for this client");
  }
  breakerTick(now);
  expire(*c, now);
  ClientQueue& q = *c->q;
  i = indexOf(q, offset);
  Item* it = q.items[i];
  Retry r = retryOf(q, it);
  std::uint32_t attempts = r.attempts + 1;
  QueueNackResult out;
  out.attempts = attempts;
  if (attempts >= options_.maxAttempts) {
    r.attempts = attempts;
    out.dead = true;
    if (writer_) logNack(*c, offset, r);
    toDeadLetters(*c, i, r, reason, now);
  } else {
    std::uint32_t delay = nextDelay(attempts, r.prevDelay);
    r.attempts = attempts;
    r.retryAt = now + static_cast<std::int64_t>(delay);
    r.prevDelay = delay;
    setRetry(q, it, r);
    if (it->has(Item::kInFlight)) {
      it->set(Item::kInFlight, false);
      --q.inFlight;
      --inFlight_;
    }
    ++retried_;
    out.retryAt = r.retryAt;
    if (writer_) logNack(*c, offset, r);
  }
  breakerFailure(now);
  out.seq = commit();
  return out;
}

const std::vector<QueueItemView>& OfflineQueue::due(std::size_t limit, std::int64_t now, std::uint64_t* seq) {
  begin();
  views_.clear();
  breakerTick(now);
  expireAll(now);
  std::size_t n = limit;
  if (options_.breaker) {
    if (breaker_ == BreakerState::Open) n = 0;
    else if (breaker_ == BreakerState::HalfOpen) n = inFlight_ == 0 ? std::min<std::size_t>(limit, 1) : 0;
  }
  if (n > 0 && activeHead_) {
    // The next candidate of a client at or after index `from`: not in flight, retryAt <= now;
    // an item waiting for its retry ends the client's candidates (order is kept behind it).
    auto nextCandidate = [&](const ClientQueue& q, std::size_t from, std::int64_t* key) -> std::size_t {
      for (std::size_t i = from; i < q.items.size(); ++i) {
        const Item* it = q.items[i];
        if (it->has(Item::kInFlight)) continue;
        std::int64_t at = retryAtOf(q, it);
        if (at > now) return kNpos;
        *key = at;
        return i;
      }
      return kNpos;
    };
    struct Head {
      std::int64_t key;
      std::uint64_t order;
      Client* c;
      std::size_t i;
    };
    // Merge of the clients' candidate sequences: the smallest (retryAt, client order) head first.
    auto later = [](const Head& a, const Head& b) { return a.key != b.key ? a.key > b.key : a.order > b.order; };
    std::vector<Head> heap;
    heap.reserve(activeCount_);
    for (Client* c = activeHead_; c; c = c->next) {
      std::int64_t key;
      std::size_t i = nextCandidate(*c->q, 0, &key);
      if (i != kNpos) heap.push_back(Head{key, c->order, c, i});
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (views_.size() < n && !heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      Head h = heap.back();
      heap.pop_back();
      ClientQueue& q = *h.c->q;
      Item* it = q.items[h.i];
      it->set(Item::kInFlight, true);
      ++q.inFlight;
      ++inFlight_;
      views_.push_back(view(*h.c, it, retryOf(q, it).attempts));
      std::int64_t key;
      std::size_t i = nextCandidate(q, h.i + 1, &key);
      if (i != kNpos) {
        heap.push_back(Head{key, h.order, h.c, i});
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
  }
  std::uint64_t s = commit();
  if (seq) *seq = s;
  return views_;
}

void OfflineQueue::release(std::string_view client, std::uint64_t offset, std::int64_t now, std::uint64_t* seq) {
  begin();
  Client* c = findClient(client);
  breakerTick(now);
  if (c) {
    expire(*c, now);
    std::size_t i = c->q ? indexOf(*c->q, offset) : kNpos;
    if (i != kNpos) {
      Item* it = c->q->items[i];
      if (it->has(Item::kInFlight)) {
        it->set(Item::kInFlight, false);
        --c->q->inFlight;
        --inFlight_;
      }
    }
  }
  std::uint64_t s = commit();
  if (seq) *seq = s;
}

std::size_t OfflineQueue::sweep(std::int64_t now, std::uint64_t* seq) {
  begin();
  breakerTick(now);
  std::size_t n = expireAll(now);
  std::uint64_t s = commit();
  if (seq) *seq = s;
  return n;
}

BreakerState OfflineQueue::breakerState(std::int64_t now) {
  begin();
  breakerTick(now);
  return breaker_;
}

std::size_t OfflineQueue::size(std::string_view client) const {
  checkOpen();
  const Client* c = findClient(client);
  return c && c->q ? c->q->items.size() : 0;
}

std::vector<const std::string*> OfflineQueue::clients() const {
  checkOpen();
  std::vector<const std::string*> out;
  out.reserve(activeCount_);
  for (const Client* c = activeHead_; c; c = c->next) out.push_back(&c->id);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Backoff, dead letters, breaker

std::uint32_t OfflineQueue::nextDelay(std::uint32_t n, std::uint32_t prev) {
  const double initial = options_.initialDelayMs;
  const double maxDelay = options_.maxDelayMs;
  if (options_.jitter == QueueJitter::Decorrelated) {
    double p = n <= 1 ? initial : static_cast<double>(prev);
    double span = p * 3 - initial;
    if (span < 0) span = 0;
    double r = rng_.next();
    return static_cast<std::uint32_t>(std::floor(std::min(maxDelay, initial + r * span)));
  }
  double base = initial;
  for (std::uint32_t k = 1; k < n; ++k) base = std::min(maxDelay, base * options_.multiplier);
  switch (options_.jitter) {
    case QueueJitter::None: return static_cast<std::uint32_t>(std::floor(base));
    case QueueJitter::Full: {
      double r = rng_.next();
      return static_cast<std::uint32_t>(std::floor(r * base));
    }
    case QueueJitter::Equal: {
      double r = rng_.next();
      return static_cast<std::uint32_t>(std::floor(base / 2 + r * base / 2));
    }
    case QueueJitter::Decorrelated: break;
  }
  return static_cast<std::uint32_t>(std::floor(base));
}

std::uint64_t OfflineQueue::deadRecordBytes(const DeadLetter& d) const {
  return itemRecordBytes(*d.client, d.item) + 8 + 1 + 2 + d.client->id.size() + 8 + 8 + 2 + d.reason.size();
}

void OfflineQueue::toDeadLetters(Client& c, std::size_t i, const Retry& r, std::string_view reason, std::int64_t now) {
  Item* it = detach(c, i);
  std::uint64_t offset = it->offset();
  dead_.push_back(DeadLetter{&c, it, r, std::string(reason), now});
  liveBytes_ += deadRecordBytes(dead_.back());
  if (!replaying_) {
    if (writer_) {
      scratch_.type = RecordType::Dead;
      scratch_.client.assign(c.id);
      scratch_.offset = offset;
      scratch_.deadAt = now;
      scratch_.text.assign(reason.data(), reason.size());
      encodeRecord(batch_, scratch_);
    }
    QueueEvent e;
    e.kind = QueueEvent::Kind::DeadLetter;
    e.client = &c.id;
    e.offset = offset;
    e.event.assign(eventName(it));
    e.attempts = r.attempts;
    e.text.assign(reason.data(), reason.size());
    events_.push_back(std::move(e));
    ++deadLettered_;
  }
  trimDeadLetters(!replaying_);
}

void OfflineQueue::trimDeadLetters(bool count) {
  while (dead_.size() > options_.maxDeadLetters) {
    liveBytes_ -= deadRecordBytes(dead_.front());
    freeItem(dead_.front().item);
    dead_.pop_front();
    if (count) ++dropDeadOverflow_;
  }
}

void OfflineQueue::clearDead() {
  for (DeadLetter& d : dead_) {
    liveBytes_ -= deadRecordBytes(d);
    freeItem(d.item);
  }
  dead_.clear();
}

const std::vector<QueueItemView>& OfflineQueue::deadLetters(std::size_t limit) {
  checkOpen();
  views_.clear();
  for (std::size_t i = 0; i < dead_.size() && views_.size() < limit; ++i) {
    const DeadLetter& d = dead_[i];
    QueueItemView v = view(*d.client, d.item, d.retry.attempts);
    v.reason = &d.reason;
    v.deadAt = d.deadAt;
    views_.push_back(v);
  }
  return views_;
}

std::size_t OfflineQueue::clearDeadLetters(std::uint64_t* seq) {
  begin();
  std::size_t n = dead_.size();
  clearDead();
  if (n > 0 && writer_) {
    scratch_.type = RecordType::DeadClear;
    encodeRecord(batch_, scratch_);
  }
  std::uint64_t s = commit();
  if (seq) *seq = s;
  return n;
}

void OfflineQueue::breakerTo(BreakerState to, std::int64_t now) {
  QueueEvent e;
  e.kind = QueueEvent::Kind::Breaker;
  e.from = breaker_;
  e.to = to;
  e.at = now;
  events_.push_back(std::move(e));
  breaker_ = to;
  failures_ = 0;
  successes_ = 0;
  if (to == BreakerState::Open) openedAt_ = now;
  else if (to == BreakerState::Closed) openedAt_.reset();
}

void OfflineQueue::breakerTick(std::int64_t now) {
  if (!options_.breaker || breaker_ != BreakerState::Open) return;
  if (now >= *openedAt_ + options_.openMs) breakerTo(BreakerState::HalfOpen, now);
}

void OfflineQueue::breakerSuccess(std::int64_t now) {
  if (!options_.breaker) return;
  if (breaker_ == BreakerState::Closed) {
    failures_ = 0;
  } else if (breaker_ == BreakerState::HalfOpen) {
    if (++successes_ >= options_.successThreshold) breakerTo(BreakerState::Closed, now);
  }
}

void OfflineQueue::breakerFailure(std::int64_t now) {
  if (!options_.breaker) return;
  if (breaker_ == BreakerState::Closed) {
    if (++failures_ >= options_.failureThreshold) breakerTo(BreakerState::Open, now);
  } else if (breaker_ == BreakerState::HalfOpen) {
    breakerTo(BreakerState::Open, now);
  }
}

QueueStats OfflineQueue::stats() const {
  QueueStats s;
  s.clients = activeCount_;
  s.items = totalItems_;
  s.payloadBytes = payloadBytes_;
  s.inFlight = inFlight_;
  s.deadLetters = dead_.size();
  s.pushed = pushed_;
  s.acked = acked_;
  s.retried = retried_;
  s.deadLettered = deadLettered_;
  s.droppedOverflow = dropOverflow_;
  s.droppedCoalesced = dropCoalesced_;
  s.droppedExpired = dropExpired_;
  s.droppedDeadLetterOverflow = dropDeadOverflow_;
  s.breakerEnabled = options_.breaker;
  s.breaker = breaker_;
  s.failures = failures_;
  s.successes = successes_;
  s.openedAt = openedAt_;
  if (options_.durable) {
    s.durable = true;
    s.path = options_.durable->path;
    s.fsync = options_.durable->fsync;
    s.healthy = healthy_.load(std::memory_order_acquire);
    if (writer_) {
      s.segments = writer_->segments();
      s.bytes = writer_->bytes();
    }
    std::lock_guard<std::mutex> lock(errorMutex_);
    s.lastError = lastError_;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Durable mode

void OfflineQueue::logPush(const Client& c, const Item* it, const Retry& r) {
  std::string_view key = it->key();
  encodePush(batch_, c.id, it->offset(), it->pushedAt, r.retryAt, r.attempts, r.prevDelay, it->has(Item::kText),
             eventName(it), it->has(Item::kHasKey) ? &key : nullptr, it->payloadView());
}

void OfflineQueue::logRemove(const Client& c, std::uint64_t offset, DropReason reason) {
  scratch_.type = RecordType::Remove;
  scratch_.client.assign(c.id);
  scratch_.offset = offset;
  scratch_.reason = static_cast<std::uint8_t>(reason);
  encodeRecord(batch_, scratch_);
}

void OfflineQueue::logNack(const Client& c, std::uint64_t offset, const Retry& r) {
  scratch_.type = RecordType::Nack;
  scratch_.client.assign(c.id);
  scratch_.offset = offset;
  scratch_.attempts = r.attempts;
  scratch_.retryAt = r.retryAt;
  scratch_.prevDelay = r.prevDelay;
  encodeRecord(batch_, scratch_);
}

void OfflineQueue::replay() {
  replaying_ = true;
  ReplayInfo info;
  try {
    info = replayLog(options_.durable->path, [this](const QueueRecord& r) { applyRecord(r); });
  } catch (...) {
    replaying_ = false;
    throw;
  }
  replaying_ = false;
  QueueRecovery rec;
  rec.segments = info.segments;
  rec.records = info.records;
  rec.items = totalItems_;
  rec.truncated = info.truncated;
  recovery_ = std::move(rec);
  logBytes_ = info.bytes;
  nextSegment_ = info.nextSegment;
}

void OfflineQueue::applyRecord(const QueueRecord& r) {
  switch (r.type) {
    case RecordType::Push: {
      if (r.offset == 0 || r.offset > Item::kOffsetMask || r.client.empty()) return;
      Client& c = clientFor(r.client);
      if (r.offset > c.lastOffset) c.lastOffset = r.offset;
      std::string_view key(r.key);
      QueueItemIn in;
      in.event = r.event;
      in.payload = r.payload;
      in.text = (r.flags & 2) != 0;
      in.key = (r.flags & 1) ? &key : nullptr;
      if (c.q) {
        std::size_t i = indexOf(*c.q, r.offset);
        if (i != kNpos) freeItem(detach(c, i));  // a snapshot re-states the item
      }
      Item* it = newItem(in, r.offset, r.pushedAt);
      ClientQueue& q = activate(c);
      std::size_t i = lowerBound(q, r.offset);
      q.items.insert(i, it);
      if (i > 0 && q.items[i - 1]->pushedAt > it->pushedAt) q.pushSorted = false;
      if (i + 1 < q.items.size() && q.items[i + 1]->pushedAt < it->pushedAt) q.pushSorted = false;
      if (in.key) {
        if (!q.keys) q.keys = std::make_unique<KeyIndex>();
        q.keys->insert(it);
      }
      setRetry(q, it, Retry{r.retryAt, r.prevDelay, r.attempts});
      ++totalItems_;
      payloadBytes_ += it->payloadLen;
      liveBytes_ += itemRecordBytes(c, it);
      return;
    }
    case RecordType::Ack: {
      Client* c = findClient(r.client);
      if (!c) return;
      while (c->q && c->q->items.front()->offset() <= r.offset) freeItem(detach(*c, 0));
      return;
    }
    case RecordType::Nack: {
      Client* c = findClient(r.client);
      std::size_t i = c && c->q ? indexOf(*c->q, r.offset) : kNpos;
      if (i == kNpos) return;
      setRetry(*c->q, c->q->items[i], Retry{r.retryAt, r.prevDelay, r.attempts});
      return;
    }
    case RecordType::Remove: {
      Client* c = findClient(r.client);
      std::size_t i = c && c->q ? indexOf(*c->q, r.offset) : kNpos;
      if (i != kNpos) freeItem(detach(*c, i));
      return;
    }
    case RecordType::Dead: {
      Client* c = findClient(r.client);
      std::size_t i = c && c->q ? indexOf(*c->q, r.offset) : kNpos;
      if (i == kNpos) return;
      Retry rr = retryOf(*c->q, c->q->items[i]);
      toDeadLetters(*c, i, rr, r.text, r.deadAt);
      return;
    }
    case RecordType::Client: {
      if (r.client.empty()) return;
      Client& c = clientFor(r.client);
      if (r.offset > c.lastOffset && r.offset <= Item::kOffsetMask) c.lastOffset = r.offset;
      return;
    }
    case RecordType::SnapshotBegin:
      resetState();
      return;
    case RecordType::SnapshotEnd:
      return;
    case RecordType::DeadClear:
      clearDead();
      return;
  }
}

std::uint64_t OfflineQueue::snapshot() {
  std::string s;
  s.reserve(liveBytes_ + 64);
  QueueRecord r;
  r.type = RecordType::SnapshotBegin;
  encodeRecord(s, r);
  for (const Client* cp : clientOrder_) {
    const Client& c = *cp;
    r.type = RecordType::Client;
    r.client = c.id;
    r.offset = c.lastOffset;
    encodeRecord(s, r);
  }
  std::string saved;
  saved.swap(batch_);
  // dead letters first: their push + dead pair leaves no trace in the clients' order
  for (const DeadLetter& d : dead_) {
    logPush(*d.client, d.item, d.retry);
    r.type = RecordType::Dead;
    r.client = d.client->id;
    r.offset = d.item->offset();
    r.deadAt = d.deadAt;
    r.text = d.reason;
    encodeRecord(batch_, r);
  }
  for (const Client* c = activeHead_; c; c = c->next) {
    const ClientQueue& q = *c->q;
    for (std::size_t i = 0; i < q.items.size(); ++i) logPush(*c, q.items[i], retryOf(q, q.items[i]));
  }
  s.append(batch_);
  batch_.swap(saved);
  r = QueueRecord();
  r.type = RecordType::SnapshotEnd;
  encodeRecord(s, r);
  logBytes_ = s.size();
  return writer_->beginSnapshot(std::move(s));
}

void OfflineQueue::maybeCompact(std::uint64_t* seq) {
  // Batches lost while the disk failed leave the log behind the state: once the writer works
  // again, a snapshot restates everything (as the JS twin does).
  if (resyncNeeded_.load(std::memory_order_acquire) && writer_->healthy()) {
    resyncNeeded_.store(false, std::memory_order_release);
    *seq = snapshot();
    return;
  }
  if (logBytes_ >= options_.durable->segmentBytes && liveBytes_ * 2 < logBytes_) *seq = snapshot();
}

std::uint64_t OfflineQueue::flush() {
  checkOpen();
  return writer_ ? writer_->flush() : 0;
}

std::uint64_t OfflineQueue::compact() {
  checkOpen();
  return writer_ ? snapshot() : 0;
}

std::uint64_t OfflineQueue::close() {
  if (closed_) return 0;
  closed_ = true;
  if (!writer_) return 0;
  std::uint64_t seq = writer_->flush();
  writer_->close();
  return seq;
}

}  // namespace rtc
