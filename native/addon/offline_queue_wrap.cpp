// Bindings of rtc::OfflineQueue: the class `Queue` of the addon (docs/offline-queue.md). Arguments
// are positional; lib/native/engine.js adapts them to the engine interface of docs/internals.md.
//
// Crossing costs decide the shapes:
// - payloads come in as strings (copied out as UTF-8) or Uint8Arrays (read in place), never parsed;
// - pushMany takes parallel arrays (events may be one string for all, keys null for none);
// - scalar side results (seq, how many events and drops the call produced) are written into a
//   Float64Array shared with the adapter; events and drops are fetched only when there are some;
// - handed-out items leave as columns (a Float64Array of numbers, arrays of strings/payloads)
//   that the adapter turns into objects (object literals are much cheaper in JS than via N-API).
//
// Durable mode: the log's writer thread reports through a thread-safe function that is unref'd
// (it never keeps the process alive) except while a flush/compact/close or an fsync 'always'
// push waits for its seq; it is released on close. An env cleanup hook closes the log (flush,
// fsync, join) when the environment goes away with the queue still open (process exit, worker
// termination). No statics: the addon stays context-aware.
#include <napi.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "napi_util.h"
#include "offline_queue.h"

namespace rtc_napi {

namespace {

using rtc::Error;
namespace codes = rtc::codes;

// A growable byte buffer that is not zero-filled (strings are written into it by N-API).
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() { std::free(data_); }
  void clear() { size_ = 0; }
  std::size_t size() const { return size_; }
  const char* at(std::size_t pos) const { return data_ + pos; }
  char* tail() { return data_ + size_; }
  std::size_t room() const { return cap_ - size_; }
  void grew(std::size_t n) { size_ += n; }
  void reserve(std::size_t more) {
    if (cap_ - size_ >= more) return;
    std::size_t cap = cap_ ? cap_ : 4096;
    while (cap - size_ < more) cap *= 2;
    char* next = static_cast<char*>(std::realloc(data_, cap));
    if (!next) throw std::bad_alloc();
    data_ = next;
    cap_ = cap;
  }
  // Shrinks a buffer that one huge batch made large.
  void trim(std::size_t keep) {
    if (cap_ <= keep) return;
    std::free(data_);
    data_ = nullptr;
    cap_ = size_ = 0;
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0, cap_ = 0;
};

// Appends the UTF-8 bytes of a JS string to the arena in one N-API call when there is room
// (two when it does not fit). Returns its position; its length in *len.
// With notString, a value that is not a string sets *notString instead of throwing.
std::size_t appendUtf8(napi_env env, napi_value v, Arena& arena, std::size_t* len, bool* notString = nullptr) {
  arena.reserve(1024);
  std::size_t pos = arena.size();
  std::size_t n = 0;
  napi_status status = napi_get_value_string_utf8(env, v, arena.tail(), arena.room(), &n);
  if (status == napi_string_expected && notString) {
    *notString = true;
    return pos;
  }
  NAPI_THROW_IF_FAILED(env, status, 0);
  // Complete unless the copy stopped near the end of the room (a char of up to 4 bytes did not fit).
  if (n + 5 > arena.room()) {
    NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, v, nullptr, 0, &n), 0);
    arena.reserve(n + 1);
    NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, v, arena.tail(), n + 1, &n), 0);
  }
  arena.grew(n);
  *len = n;
  return pos;
}

// A short string argument (ids, events, keys, reasons): one copy into a stack buffer.
class Utf8 {
 public:
  Utf8(napi_env env, napi_value v, const char* what) {
    napi_valuetype t;
    NAPI_THROW_IF_FAILED_VOID(env, napi_typeof(env, v, &t));
    if (t != napi_string) throw Error(codes::kInvalidArgument, std::string(what) + " must be a string");
    std::size_t n = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, small_, sizeof small_, &n));
    if (n + 5 > sizeof small_) {
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, nullptr, 0, &n));
      big_.resize(n + 1);
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, big_.data(), n + 1, &n));
      view_ = std::string_view(big_.data(), n);
    } else {
      view_ = std::string_view(small_, n);
    }
  }
  Utf8(const Utf8&) = delete;
  Utf8& operator=(const Utf8&) = delete;
  std::string_view view() const { return view_; }
  const std::string_view* ptr() const { return &view_; }

 private:
  char small_[1100];
  std::string big_;
  std::string_view view_;
};

bool isNullish(napi_env env, napi_value v) {
  napi_valuetype t;
  NAPI_THROW_IF_FAILED(env, napi_typeof(env, v, &t), false);
  return t == napi_null || t == napi_undefined;
}

double number(const Napi::Value& v, const char* what, double fallback) {
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Error(codes::kInvalidArgument, std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::int64_t nowArg(const Napi::Value& v) { return wallArg(v); }

std::uint64_t offsetArg(const Napi::Value& v, const char* what) {
  double d = numberArg(v, what);
  if (!(d >= 0) || d > 9007199254740991.0) throw Error(codes::kOutOfRange, std::string(what) + " is out of range");
  return static_cast<std::uint64_t>(d);
}

std::size_t limitArg(const Napi::Value& v) {
  double d = numberArg(v, "limit");
  if (!(d >= 0)) throw Error(codes::kOutOfRange, "limit is out of range");
  return d > 1e9 ? static_cast<std::size_t>(1e9) : static_cast<std::size_t>(d);
}

// ---------------------------------------------------------------------------------------------
// Reports of the writer thread, delivered on the JS thread.

struct Bridge {
  Napi::FunctionReference onDurable;
  Napi::FunctionReference onDurability;
  napi_threadsafe_function tsfn = nullptr;
  // JS thread only.
  std::uint64_t awaited = 0;  // highest seq somebody waits for
  std::uint64_t durable = 0;  // highest seq reported durable
  bool refed = false;

  void ref(napi_env env) {
    if (!refed && tsfn) {
      napi_ref_threadsafe_function(env, tsfn);
      refed = true;
    }
  }
  void unref(napi_env env) {
    if (refed && tsfn) {
      napi_unref_threadsafe_function(env, tsfn);
      refed = false;
    }
  }
};

struct Report {
  bool durability = false;  // else: durable(seq)
  std::uint64_t seq = 0;
  bool healthy = true;
  std::string code, message;
};

// Calls fn(args) with plain N-API: nothing here may throw a C++ exception (this runs as a libuv
// callback, also while the environment is going away and JS cannot run any more). A JS exception
// thrown by fn stays pending and is reported as uncaught.
void callQuietly(napi_env env, const Napi::FunctionReference& ref, std::size_t argc, const napi_value* argv) {
  if (ref.IsEmpty()) return;
  napi_value fn = nullptr, recv = nullptr, result = nullptr;
  if (napi_get_reference_value(env, ref, &fn) != napi_ok || fn == nullptr) return;
  if (napi_get_undefined(env, &recv) != napi_ok) return;
  (void)napi_call_function(env, recv, fn, argc, argv, &result);
}

void deliver(napi_env env, napi_value /*js_cb*/, void* context, void* data) {
  std::unique_ptr<Report> r(static_cast<Report*>(data));
  auto* b = static_cast<Bridge*>(context);
  if (env == nullptr || b == nullptr) return;  // the function is being torn down
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (!r->durability) {
    if (r->seq > b->durable) b->durable = r->seq;
    if (b->durable >= b->awaited) b->unref(env);
    napi_value seq = nullptr;
    if (napi_create_double(env, static_cast<double>(r->seq), &seq) == napi_ok) callQuietly(env, b->onDurable, 1, &seq);
  } else {
    if (!r->healthy) {
      // the public layer rejects everything that waits: nothing left to keep the loop for
      b->awaited = 0;
      b->unref(env);
    }
    napi_value args[3] = {nullptr, nullptr, nullptr};
    bool ok = napi_get_boolean(env, r->healthy, &args[0]) == napi_ok;
    ok = ok && (r->code.empty() ? napi_get_null(env, &args[1])
                                : napi_create_string_utf8(env, r->code.data(), r->code.size(), &args[1])) == napi_ok;
    ok = ok && (r->healthy ? napi_get_null(env, &args[2])
                           : napi_create_string_utf8(env, r->message.data(), r->message.size(), &args[2])) == napi_ok;
    if (ok) callQuietly(env, b->onDurability, 3, args);
  }
  napi_close_handle_scope(env, scope);
}

void finalizeBridge(napi_env /*env*/, void* data, void* /*hint*/) { delete static_cast<Bridge*>(data); }

// ---------------------------------------------------------------------------------------------

class QueueWrap : public Napi::ObjectWrap<QueueWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Queue",
                       {InstanceMethod("push", &QueueWrap::Push),
                        InstanceMethod("pushMany", &QueueWrap::PushMany),
                        InstanceMethod("peek", &QueueWrap::Peek),
                        InstanceMethod("ack", &QueueWrap::Ack),
                        InstanceMethod("ackOne", &QueueWrap::AckOne),
                        InstanceMethod("nack", &QueueWrap::Nack),
                        InstanceMethod("due", &QueueWrap::Due),
                        InstanceMethod("release", &QueueWrap::Release),
                        InstanceMethod("sweep", &QueueWrap::Sweep),
                        InstanceMethod("size", &QueueWrap::Size),
                        InstanceMethod("clients", &QueueWrap::Clients),
                        InstanceMethod("deadLetters", &QueueWrap::DeadLetters),
                        InstanceMethod("clearDeadLetters", &QueueWrap::ClearDeadLetters),
                        InstanceMethod("stats", &QueueWrap::Stats),
                        InstanceMethod("breakerState", &QueueWrap::BreakerState),
                        InstanceMethod("flush", &QueueWrap::Flush),
                        InstanceMethod("compact", &QueueWrap::Compact),
                        InstanceMethod("close", &QueueWrap::Close),
                        InstanceMethod("recovery", &QueueWrap::Recovery),
                        InstanceMethod("takeEvents", &QueueWrap::TakeEvents),
                        InstanceMethod("takeDropped", &QueueWrap::TakeDropped)});
  }

  // new Queue(opts, state: Float64Array(3))   state <- [seq, events of the call, drops of the call]
  explicit QueueWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QueueWrap>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    run(env, [&]() -> Napi::Value {
      if (!info[0].IsObject()) throw Error(codes::kInvalidArgument, "queue options must be an object");
      Napi::Object o = info[0].As<Napi::Object>();
      rtc::QueueOptions opts;
      opts.capacity = static_cast<std::uint32_t>(number(o.Get("capacity"), "capacity", 50));
      std::string overflow = optionalString(o.Get("overflow"), "overflow").value_or("drop-oldest");
      if (overflow == "drop-oldest") opts.overflow = rtc::QueueOverflow::DropOldest;
      else if (overflow == "drop-newest") opts.overflow = rtc::QueueOverflow::DropNewest;
      else if (overflow == "reject") opts.overflow = rtc::QueueOverflow::Reject;
      else throw Error(codes::kInvalidArgument, "unknown overflow policy");
      opts.ttlMs = static_cast<std::int64_t>(number(o.Get("ttlMs"), "ttlMs", 0));
      opts.maxItemBytes = static_cast<std::uint64_t>(number(o.Get("maxItemBytes"), "maxItemBytes", 1 << 20));
      opts.maxAttempts = static_cast<std::uint32_t>(number(o.Get("maxAttempts"), "maxAttempts", 3));
      opts.initialDelayMs = number(o.Get("initialDelayMs"), "initialDelayMs", 1000);
      opts.multiplier = number(o.Get("multiplier"), "multiplier", 2);
      opts.maxDelayMs = number(o.Get("maxDelayMs"), "maxDelayMs", 30000);
      std::string jitter = optionalString(o.Get("jitter"), "jitter").value_or("full");
      if (jitter == "full") opts.jitter = rtc::QueueJitter::Full;
      else if (jitter == "equal") opts.jitter = rtc::QueueJitter::Equal;
      else if (jitter == "decorrelated") opts.jitter = rtc::QueueJitter::Decorrelated;
      else if (jitter == "none") opts.jitter = rtc::QueueJitter::None;
      else throw Error(codes::kInvalidArgument, "unknown jitter");
      opts.seed = static_cast<std::uint32_t>(number(o.Get("seed"), "seed", 0));
      opts.maxDeadLetters = static_cast<std::uint32_t>(number(o.Get("maxDeadLetters"), "maxDeadLetters", 1000));
      Napi::Value breaker = o.Get("breaker");
      if (breaker.IsObject()) {
        Napi::Object b = breaker.As<Napi::Object>();
        opts.breaker = true;
        opts.failureThreshold = static_cast<std::uint32_t>(number(b.Get("failureThreshold"), "failureThreshold", 5));
        opts.successThreshold = static_cast<std::uint32_t>(number(b.Get("successThreshold"), "successThreshold", 2));
        opts.openMs = static_cast<std::int64_t>(number(b.Get("openMs"), "openMs", 60000));
      } else {
        opts.breaker = false;
      }
      Napi::Value durable = o.Get("durable");
      if (durable.IsObject()) {
        Napi::Object d = durable.As<Napi::Object>();
        rtc::QueueDurableOptions dopts;
        dopts.path = stringArg(d.Get("path"), "path");
        std::string fsync = optionalString(d.Get("fsync"), "fsync").value_or("interval");
        if (fsync == "always") dopts.fsync = rtc::FsyncMode::Always;
        else if (fsync == "interval") dopts.fsync = rtc::FsyncMode::Interval;
        else if (fsync == "never") dopts.fsync = rtc::FsyncMode::Never;
        else throw Error(codes::kInvalidArgument, "unknown fsync mode");
        dopts.fsyncIntervalMs = static_cast<std::uint32_t>(number(d.Get("fsyncIntervalMs"), "fsyncIntervalMs", 100));
        dopts.segmentBytes = static_cast<std::uint64_t>(number(d.Get("segmentBytes"), "segmentBytes", 64 << 20));
        opts.durable = std::move(dopts);
      }
      if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
        Napi::Float64Array state = info[1].As<Napi::Float64Array>();
        if (state.ElementLength() >= 3) {
          stateRef_ = Napi::Persistent(state);
          state_ = state.Data();
        }
      }
      if (!state_) state_ = fallbackState_;

      rtc::QueueCallbacks callbacks;
      if (opts.durable) {
        always_ = opts.durable->fsync == rtc::FsyncMode::Always;
        auto bridge = std::make_unique<Bridge>();
        Napi::Value onDurable = o.Get("onDurable");
        Napi::Value onDurability = o.Get("onDurability");
        if (onDurable.IsFunction()) bridge->onDurable = Napi::Persistent(onDurable.As<Napi::Function>());
        if (onDurability.IsFunction()) bridge->onDurability = Napi::Persistent(onDurability.As<Napi::Function>());
        Napi::String name = Napi::String::New(env, "realtime-core:OfflineQueue");
        napi_threadsafe_function tsfn = nullptr;
        NAPI_THROW_IF_FAILED(env,
                             napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, bridge.get(),
                                                             finalizeBridge, bridge.get(), deliver, &tsfn),
                             env.Undefined());
        bridge_ = bridge.release();  // owned by the function from now on (finalizeBridge)
        bridge_->tsfn = tsfn;
        napi_unref_threadsafe_function(env, tsfn);
        callbacks.onDurable = [tsfn](std::uint64_t seq) {
          auto* r = new Report();
          r->seq = seq;
          if (napi_call_threadsafe_function(tsfn, r, napi_tsfn_nonblocking) != napi_ok) delete r;
        };
        callbacks.onDurability = [tsfn](bool healthy, const char* code, const std::string& message) {
          auto* r = new Report();
          r->durability = true;
          r->healthy = healthy;
          if (code) r->code = code;
          r->message = message;
          if (napi_call_threadsafe_function(tsfn, r, napi_tsfn_nonblocking) != napi_ok) delete r;
        };
      }
      try {
        queue_ = std::make_unique<rtc::OfflineQueue>(std::move(opts), std::move(callbacks));
      } catch (...) {
        releaseBridge();
        throw;
      }
      if (queue_->durable()) {
        NAPI_THROW_IF_FAILED(env, napi_add_env_cleanup_hook(env, cleanupHook, this), env.Undefined());
        hooked_ = true;
      }
      return env.Undefined();
    });
  }

  ~QueueWrap() override {
    if (hooked_) {
      napi_remove_env_cleanup_hook(env_, cleanupHook, this);
      hooked_ = false;
    }
    shutdown();
  }

 private:
  // Closes the log (flush, fsync, join) and lets go of the thread-safe function. Idempotent.
  void shutdown() {
    if (queue_) {
      try {
        queue_->close();
      } catch (...) {
      }
    }
    releaseBridge();
  }

  void releaseBridge() {
    if (bridge_) {
      napi_threadsafe_function tsfn = bridge_->tsfn;
      bridge_ = nullptr;  // deleted by the function's finalizer once its queue is drained
      if (tsfn) napi_release_threadsafe_function(tsfn, napi_tsfn_release);
    }
  }

  static void cleanupHook(void* arg) {
    auto* self = static_cast<QueueWrap*>(arg);
    self->hooked_ = false;
    self->shutdown();
  }

  template <typename F>
  Napi::Value run(Napi::Env env, F&& body) {
    return guarded(env, [&]() -> Napi::Value {
      try {
        return body();
      } catch (const rtc::QueueItemError& e) {
        throwCoded(env, e.code(), e.what(), e.index());
      }
    });
  }

  rtc::OfflineQueue& q() { return *queue_; }

  // The side results of a call: seq, how many events and drops it produced.
  void side(std::uint64_t seq) {
    state_[0] = static_cast<double>(seq);
    state_[1] = static_cast<double>(queue_->events().size());
    state_[2] = static_cast<double>(queue_->dropped().size());
  }

  // Someone will wait for seq (a durable promise): keep the loop alive until it is reported.
  void awaitSeq(std::uint64_t seq) {
    if (!bridge_ || seq == 0 || seq <= bridge_->durable) return;
    if (seq > bridge_->awaited) bridge_->awaited = seq;
    bridge_->ref(env_);
  }

  Napi::Value payloadValue(Napi::Env env, std::string_view p, bool text) {
    if (text) {
      napi_value s;
      NAPI_THROW_IF_FAILED(env, napi_create_string_utf8(env, p.data(), p.size(), &s), Napi::Value());
      return Napi::Value(env, s);
    }
    return Napi::Buffer<char>::Copy(env, p.data(), p.size());
  }

  // Text payloads that are all ASCII (JSON text mostly is) cross as ONE string, which JS slices
  // per item (a slice of a flat string is O(1) in V8): one string creation per call instead of
  // one per item. Returns the joined text and fills spans (start, end per item; -1 for bytes),
  // or returns false when some text payload is not ASCII (then each crosses on its own).
  static bool isAscii(std::string_view s) {
    const char* p = s.data();
    std::size_t n = s.size();
    std::uint64_t high = 0;
    for (; n >= 8; p += 8, n -= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      high |= w;
    }
    for (; n > 0; ++p, --n) high |= static_cast<unsigned char>(*p);
    return (high & 0x8080808080808080ull) == 0;
  }

  static bool joinAsciiText(const std::vector<rtc::QueueItemView>& items, std::string& joined, double* spans) {
    std::size_t total = 0;
    for (const rtc::QueueItemView& v : items) {
      if (!v.text) continue;
      if (!isAscii(v.payload)) return false;
      total += v.payload.size();
    }
    joined.reserve(total);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const rtc::QueueItemView& v = items[i];
      if (!v.text) {
        spans[2 * i] = spans[2 * i + 1] = -1;
        continue;
      }
      spans[2 * i] = static_cast<double>(joined.size());
      joined.append(v.payload);
      spans[2 * i + 1] = static_cast<double>(joined.size());
    }
    return true;
  }

  // [nums, clients | null, events, payloads, keys | null, reasons | null, joined | null, spans | null]
  // nums: offset, attempts, pushedAt (+ deadAt for dead letters) per item. With joined text, the
  // payloads array holds only the byte payloads (Buffers); text payloads are joined[spans].
  Napi::Value items(Napi::Env env, const std::vector<rtc::QueueItemView>& items, bool withClients, bool dead) {
    const std::size_t n = items.size();
    std::string joined;
    Napi::Float64Array spans;
    bool asJoined = false;
    if (n > 1) {
      spans = Napi::Float64Array::New(env, 2 * n);
      asJoined = joinAsciiText(items, joined, spans.Data());
    }
    const std::size_t stride = dead ? 4 : 3;
    Napi::Float64Array nums = Napi::Float64Array::New(env, n * stride);
    double* d = nums.Data();
    Napi::Array clients = withClients ? Napi::Array::New(env, n) : Napi::Array();
    Napi::Array events = Napi::Array::New(env, n);
    Napi::Array payloads = Napi::Array::New(env, n);
    Napi::Array keys;
    Napi::Array reasons = dead ? Napi::Array::New(env, n) : Napi::Array();
    // The same client or event name is one JS string for the whole result.
    const std::string* lastClient = nullptr;
    Napi::Value lastClientValue;
    std::unordered_map<const char*, Napi::Value> eventStrings;
    for (std::size_t i = 0; i < n; ++i) {
      const rtc::QueueItemView& v = items[i];
      d[i * stride] = static_cast<double>(v.offset);
      d[i * stride + 1] = static_cast<double>(v.attempts);
      d[i * stride + 2] = static_cast<double>(v.pushedAt);
      if (dead) d[i * stride + 3] = static_cast<double>(v.deadAt);
      const auto idx = static_cast<std::uint32_t>(i);
      if (withClients) {
        if (v.client != lastClient) {
          lastClient = v.client;
          lastClientValue = Napi::String::New(env, *v.client);
        }
        clients.Set(idx, lastClientValue);
      }
      auto found = eventStrings.find(v.event.data());
      if (found == eventStrings.end()) {
        found = eventStrings.emplace(v.event.data(), Napi::String::New(env, v.event.data(), v.event.size())).first;
      }
      events.Set(idx, found->second);
      if (!asJoined || !v.text) payloads.Set(idx, payloadValue(env, v.payload, v.text));
      if (v.hasKey) {
        if (keys.IsEmpty()) keys = Napi::Array::New(env, n);
        keys.Set(idx, Napi::String::New(env, v.key.data(), v.key.size()));
      }
      if (dead) reasons.Set(idx, Napi::String::New(env, *v.reason));
    }
    Napi::Array out = Napi::Array::New(env, 8);
    out.Set(0u, nums);
    out.Set(1u, withClients ? Napi::Value(clients) : env.Null());
    out.Set(2u, events);
    out.Set(3u, payloads);
    out.Set(4u, keys.IsEmpty() ? env.Null() : Napi::Value(keys));
    out.Set(5u, dead ? Napi::Value(reasons) : env.Null());
    if (asJoined) {
      napi_value text;
      NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, joined.data(), joined.size(), &text), Napi::Value());
      out.Set(6u, Napi::Value(env, text));
      out.Set(7u, spans);
    } else {
      out.Set(6u, env.Null());
      out.Set(7u, env.Null());
    }
    return out;
  }

  // push(clientId, event, payload, key | null, nowMs) -> offset | null
  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      Utf8 event(env, info[1], "event");
      rtc::QueueItemIn in;
      in.event = event.view();
      napi_value pv = info[2];
      napi_valuetype t;
      NAPI_THROW_IF_FAILED(env, napi_typeof(env, pv, &t), Napi::Value());
      if (t == napi_string) {
        arena_.clear();
        std::size_t len;
        std::size_t pos = appendUtf8(env, pv, arena_, &len);
        in.payload = std::string_view(arena_.at(pos), len);
        in.text = true;
      } else if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
        Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
        in.payload = std::string_view(reinterpret_cast<const char*>(bytes.Data()), bytes.ElementLength());
        in.text = false;
      } else {
        throw Error(codes::kInvalidArgument, "payload must be a string or a Uint8Array");
      }
      std::optional<Utf8> key;
      if (!isNullish(env, info[3])) {
        key.emplace(env, info[3], "key");
        in.key = key->ptr();
      }
      rtc::QueuePushResult r = q().push(client.view(), in, nowArg(info[4]));
      arena_.trim(1 << 20);
      side(r.seq);
      if (always_) awaitSeq(r.seq);
      return r.offset ? Napi::Value(Napi::Number::New(env, static_cast<double>(r.offset))) : env.Null();
    });
  }

  // pushMany(clientId, events: string | string[], payloads: (string | Uint8Array)[], keys: null | (string | null)[],
  //          nowMs) -> [firstOffset, droppedNewest indices | null]
  Napi::Value PushMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      if (!info[2].IsArray()) throw Error(codes::kInvalidArgument, "payloads must be an array");
      Napi::Array payloads = info[2].As<Napi::Array>();
      const std::uint32_t n = payloads.Length();
      bool oneEvent = info[1].IsString();
      Napi::Array eventsArr;
      if (!oneEvent) {
        if (!info[1].IsArray()) throw Error(codes::kInvalidArgument, "events must be a string or an array");
        eventsArr = info[1].As<Napi::Array>();
        if (eventsArr.Length() != n) throw Error(codes::kInvalidArgument, "events and payloads differ in length");
      }
      bool hasKeys = !isNullish(env, info[3]);
      Napi::Array keysArr;
      if (hasKeys) {
        if (!info[3].IsArray()) throw Error(codes::kInvalidArgument, "keys must be null or an array");
        keysArr = info[3].As<Napi::Array>();
        if (keysArr.Length() != n) throw Error(codes::kInvalidArgument, "keys and payloads differ in length");
      }
      std::int64_t now = nowArg(info[4]);

      std::vector<Pos>& pos = pos_;
      pos.resize(n);
      arena_.clear();
      names_.clear();
      std::optional<Utf8> shared;
      if (oneEvent) shared.emplace(env, info[1], "event");
      napi_value arr = payloads;
      for (std::uint32_t i = 0; i < n; ++i) {
        Pos& p = pos[i];
        napi_value v;
        NAPI_THROW_IF_FAILED(env, napi_get_element(env, arr, i, &v), Napi::Value());
        p.bytes = nullptr;
        bool notString = false;
        p.payload = appendUtf8(env, v, arena_, &p.payloadLen, &notString);
        p.text = true;
        if (notString) {
          bool isTyped = false;
          NAPI_THROW_IF_FAILED(env, napi_is_typedarray(env, v, &isTyped), Napi::Value());
          napi_typedarray_type type = napi_int8_array;
          void* data = nullptr;
          std::size_t length = 0;
          if (isTyped) {
            NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr),
                                 Napi::Value());
          }
          if (!isTyped || type != napi_uint8_array) {
            throwCoded(env, codes::kInvalidArgument, "payload must be a string or a Uint8Array", i);
          }
          p.bytes = static_cast<const char*>(data);
          p.payloadLen = length;
          p.text = false;
        }
        if (!oneEvent) {
          napi_value ev;
          NAPI_THROW_IF_FAILED(env, napi_get_element(env, eventsArr, i, &ev), Napi::Value());
          napi_valuetype et;
          NAPI_THROW_IF_FAILED(env, napi_typeof(env, ev, &et), Napi::Value());
          if (et != napi_string) throwCoded(env, codes::kInvalidArgument, "event must be a string", i);
          p.event = appendUtf8(env, ev, names_, &p.eventLen);
        }
        p.hasKey = false;
        if (hasKeys) {
          napi_value kv;
          NAPI_THROW_IF_FAILED(env, napi_get_element(env, keysArr, i, &kv), Napi::Value());
          napi_valuetype kt;
          NAPI_THROW_IF_FAILED(env, napi_typeof(env, kv, &kt), Napi::Value());
          if (kt == napi_string) {
            p.key = appendUtf8(env, kv, names_, &p.keyLen);
            p.hasKey = true;
          } else if (kt != napi_null && kt != napi_undefined) {
            throwCoded(env, codes::kInvalidArgument, "key must be a string or null", i);
          }
        }
      }
      std::vector<rtc::QueueItemIn>& ins = ins_;
      ins.assign(n, rtc::QueueItemIn());
      std::vector<std::string_view>& keyViews = keyViews_;
      keyViews.resize(hasKeys ? n : 0);
      for (std::uint32_t i = 0; i < n; ++i) {
        const Pos& p = pos[i];
        rtc::QueueItemIn& in = ins[i];
        in.payload = p.bytes ? std::string_view(p.bytes, p.payloadLen) : std::string_view(arena_.at(p.payload), p.payloadLen);
        in.text = p.text;
        in.event = oneEvent ? shared->view() : std::string_view(names_.at(p.event), p.eventLen);
        if (p.hasKey) {
          keyViews[i] = std::string_view(names_.at(p.key), p.keyLen);
          in.key = &keyViews[i];
        }
      }
      rtc::QueuePushManyResult r = q().pushMany(client.view(), ins.data(), ins.size(), now);
      arena_.trim(16 << 20);
      names_.trim(1 << 20);
      if (pos.capacity() > (1u << 16)) {
        // one huge batch does not keep its scratch space forever
        std::vector<Pos>().swap(pos_);
        std::vector<rtc::QueueItemIn>().swap(ins_);
        std::vector<std::string_view>().swap(keyViews_);
      }
      side(r.seq);
      if (always_) awaitSeq(r.seq);
      Napi::Array out = Napi::Array::New(env, 2);
      out.Set(0u, r.firstOffset ? Napi::Value(Napi::Number::New(env, static_cast<double>(r.firstOffset))) : env.Null());
      if (r.droppedNewest.empty()) {
        out.Set(1u, env.Null());
      } else {
        Napi::Array idx = Napi::Array::New(env, r.droppedNewest.size());
        for (std::size_t i = 0; i < r.droppedNewest.size(); ++i) {
          idx.Set(static_cast<std::uint32_t>(i), Napi::Number::New(env, r.droppedNewest[i]));
        }
        out.Set(1u, idx);
      }
      return out;
    });
  }

  // peek(clientId, after, limit, nowMs) -> item columns
  Napi::Value Peek(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      std::uint64_t seq = 0;
      const auto& got = q().peek(client.view(), offsetArg(info[1], "after"), limitArg(info[2]), nowArg(info[3]), &seq);
      side(seq);
      return items(env, got, false, false);
    });
  }

  // ack(clientId, upTo, nowMs) -> removed
  Napi::Value Ack(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      std::uint64_t seq = 0;
      std::size_t removed = q().ack(client.view(), offsetArg(info[1], "upToOffset"), nowArg(info[2]), &seq);
      side(seq);
      return Napi::Number::New(env, static_cast<double>(removed));
    });
  }

  // ackOne(clientId, offset, nowMs) -> 0 | 1
  Napi::Value AckOne(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      std::uint64_t seq = 0;
      bool removed = q().ackOne(client.view(), offsetArg(info[1], "offset"), nowArg(info[2]), &seq);
      side(seq);
      return Napi::Number::New(env, removed ? 1 : 0);
    });
  }

  // nack(clientId, offset, reason, nowMs) -> retryAt (number) | null when dead; attempts in state[3]
  Napi::Value Nack(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      std::uint64_t offset = offsetArg(info[1], "offset");
      std::optional<Utf8> reason;
      if (!isNullish(env, info[2])) reason.emplace(env, info[2], "reason");
      rtc::QueueNackResult r =
          q().nack(client.view(), offset, reason ? reason->view() : std::string_view("nack"), nowArg(info[3]));
      side(r.seq);
      Napi::Array out = Napi::Array::New(env, 3);
      out.Set(0u, Napi::Boolean::New(env, r.dead));
      out.Set(1u, Napi::Number::New(env, r.attempts));
      out.Set(2u, Napi::Number::New(env, static_cast<double>(r.retryAt)));
      return out;
    });
  }

  // due(limit, nowMs) -> item columns
  Napi::Value Due(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      std::uint64_t seq = 0;
      const auto& got = q().due(limitArg(info[0]), nowArg(info[1]), &seq);
      side(seq);
      return items(env, got, true, false);
    });
  }

  // release(clientId, offset, nowMs)
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      Utf8 client(env, info[0], "clientId");
      std::uint64_t seq = 0;
      q().release(client.view(), offsetArg(info[1], "offset"), nowArg(info[2]), &seq);
      side(seq);
      return env.Undefined();
    });
  }

  // sweep(nowMs) -> removed
  Napi::Value Sweep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      std::uint64_t seq = 0;
      std::size_t removed = q().sweep(nowArg(info[0]), &seq);
      side(seq);
      return Napi::Number::New(env, static_cast<double>(removed));
    });
  }

  // size(clientId | null) -> number
  Napi::Value Size(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      if (isNullish(env, info[0])) {
        if (q().closed()) throw Error(codes::kClosed, "the queue is closed");
        return Napi::Number::New(env, static_cast<double>(q().size()));
      }
      Utf8 client(env, info[0], "clientId");
      return Napi::Number::New(env, static_cast<double>(q().size(client.view())));
    });
  }

  Napi::Value Clients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      std::vector<const std::string*> ids = q().clients();
      Napi::Array out = Napi::Array::New(env, ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) out.Set(static_cast<std::uint32_t>(i), Napi::String::New(env, *ids[i]));
      return out;
    });
  }

  // deadLetters(limit) -> item columns (with reasons and deadAt)
  Napi::Value DeadLetters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value { return items(env, q().deadLetters(limitArg(info[0])), true, true); });
  }

  // clearDeadLetters() -> removed; seq in state[0]
  Napi::Value ClearDeadLetters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      std::uint64_t seq = 0;
      std::size_t removed = q().clearDeadLetters(&seq);
      side(seq);
      return Napi::Number::New(env, static_cast<double>(removed));
    });
  }

  // breakerState(nowMs) -> 'closed' | 'open' | 'half-open'
  Napi::Value BreakerState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      rtc::BreakerState s = q().breakerState(nowArg(info[0]));
      side(0);
      return Napi::String::New(env, rtc::breakerStateName(s));
    });
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      rtc::QueueStats s = q().stats();
      auto num = [&](double v) { return Napi::Number::New(env, v); };
      Napi::Object out = Napi::Object::New(env);
      out.Set("clients", num(static_cast<double>(s.clients)));
      out.Set("items", num(static_cast<double>(s.items)));
      out.Set("payloadBytes", num(static_cast<double>(s.payloadBytes)));
      out.Set("inFlight", num(static_cast<double>(s.inFlight)));
      out.Set("deadLetters", num(static_cast<double>(s.deadLetters)));
      out.Set("pushed", num(static_cast<double>(s.pushed)));
      out.Set("acked", num(static_cast<double>(s.acked)));
      out.Set("retried", num(static_cast<double>(s.retried)));
      out.Set("deadLettered", num(static_cast<double>(s.deadLettered)));
      Napi::Object dropped = Napi::Object::New(env);
      dropped.Set("overflow", num(static_cast<double>(s.droppedOverflow)));
      dropped.Set("coalesced", num(static_cast<double>(s.droppedCoalesced)));
      dropped.Set("expired", num(static_cast<double>(s.droppedExpired)));
      dropped.Set("deadLetterOverflow", num(static_cast<double>(s.droppedDeadLetterOverflow)));
      out.Set("dropped", dropped);
      if (s.breakerEnabled) {
        Napi::Object b = Napi::Object::New(env);
        b.Set("state", Napi::String::New(env, rtc::breakerStateName(s.breaker)));
        b.Set("failures", num(s.failures));
        b.Set("successes", num(s.successes));
        b.Set("openedAt", s.openedAt ? Napi::Value(num(static_cast<double>(*s.openedAt))) : env.Null());
        out.Set("breaker", b);
      } else {
        out.Set("breaker", env.Null());
      }
      if (s.durable) {
        Napi::Object d = Napi::Object::New(env);
        d.Set("enabled", Napi::Boolean::New(env, true));
        d.Set("path", Napi::String::New(env, s.path));
        d.Set("fsync", Napi::String::New(env, s.fsync == rtc::FsyncMode::Always  ? "always"
                                              : s.fsync == rtc::FsyncMode::Never ? "never"
                                                                                 : "interval"));
        d.Set("healthy", Napi::Boolean::New(env, s.healthy));
        d.Set("segments", num(static_cast<double>(s.segments)));
        d.Set("bytes", num(static_cast<double>(s.bytes)));
        d.Set("lastError", s.lastError ? Napi::Value(Napi::String::New(env, *s.lastError)) : env.Null());
        out.Set("durable", d);
      } else {
        out.Set("durable", env.Null());
      }
      return out;
    });
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      std::uint64_t seq = q().flush();
      awaitSeq(seq);
      return Napi::Number::New(env, static_cast<double>(seq));
    });
  }

  Napi::Value Compact(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      std::uint64_t seq = q().compact();
      awaitSeq(seq);
      return Napi::Number::New(env, static_cast<double>(seq));
    });
  }

  // close() -> seq. Durable mode: flushes, fsyncs and joins the writer before it returns; the
  // outcome is reported at once (onDurable(seq)) when the log is healthy, else through
  // onDurability(false, ...) once the caller waits for it.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return run(env, [&]() -> Napi::Value {
      if (q().closed()) return Napi::Number::New(env, 0);
      std::uint64_t seq = q().close();
      if (hooked_) {
        napi_remove_env_cleanup_hook(env_, cleanupHook, this);
        hooked_ = false;
      }
      if (bridge_) {
        Bridge* b = bridge_;
        if (q().healthy()) {
          if (seq > b->durable) b->durable = seq;
          b->unref(env_);
          try {
            if (!b->onDurable.IsEmpty()) b->onDurable.Call({Napi::Number::New(env, static_cast<double>(seq))});
          } catch (...) {
            releaseBridge();
            throw;
          }
          releaseBridge();
        } else {
          auto* r = new Report();
          r->durability = true;
          r->healthy = false;
          r->code = codes::kDisk;
          r->message = q().stats().lastError.value_or("the durable log failed");
          b->ref(env_);
          if (napi_call_threadsafe_function(b->tsfn, r, napi_tsfn_nonblocking) != napi_ok) delete r;
          releaseBridge();
        }
      }
      return Napi::Number::New(env, static_cast<double>(seq));
    });
  }

  Napi::Value Recovery(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& rec = queue_->recovery();
    if (!rec) return env.Null();
    Napi::Object out = Napi::Object::New(env);
    out.Set("segments", Napi::Number::New(env, static_cast<double>(rec->segments)));
    out.Set("records", Napi::Number::New(env, static_cast<double>(rec->records)));
    out.Set("items", Napi::Number::New(env, static_cast<double>(rec->items)));
    if (rec->truncated) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("segment", Napi::String::New(env, rec->truncated->segment));
      t.Set("offset", Napi::Number::New(env, static_cast<double>(rec->truncated->offset)));
      t.Set("bytes", Napi::Number::New(env, static_cast<double>(rec->truncated->bytes)));
      out.Set("truncated", t);
    } else {
      out.Set("truncated", env.Null());
    }
    return out;
  }

  // The events of the last call: [nums, clientIds, texts]. nums holds 4 numbers per event:
  //   dropped:     0, client index, offset (0: null), reason code
  //   dead-letter: 1, client index, offset, attempts   (+ its event name and reason, in order, in texts)
  //   breaker:     2, from code, to code, at           (codes: 0 closed, 1 open, 2 half-open)
  Napi::Value TakeEvents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& events = queue_->events();
    Napi::Float64Array nums = Napi::Float64Array::New(env, events.size() * 4);
    double* d = nums.Data();
    Napi::Array clients = Napi::Array::New(env);
    Napi::Array texts = Napi::Array::New(env);
    std::uint32_t nClients = 0, nTexts = 0;
    const std::string* lastClient = nullptr;
    std::uint32_t lastIndex = 0;
    auto client = [&](const std::string* c) -> double {
      if (c != lastClient) {
        lastClient = c;
        lastIndex = nClients++;
        clients.Set(lastIndex, Napi::String::New(env, *c));
      }
      return lastIndex;
    };
    for (std::size_t i = 0; i < events.size(); ++i) {
      const rtc::QueueEvent& e = events[i];
      double* x = d + 4 * i;
      switch (e.kind) {
        case rtc::QueueEvent::Kind::Dropped:
          x[0] = 0;
          x[1] = client(e.client);
          x[2] = static_cast<double>(e.offset);
          x[3] = static_cast<double>(e.reason);
          break;
        case rtc::QueueEvent::Kind::DeadLetter:
          x[0] = 1;
          x[1] = client(e.client);
          x[2] = static_cast<double>(e.offset);
          x[3] = e.attempts;
          texts.Set(nTexts++, Napi::String::New(env, e.event));
          texts.Set(nTexts++, Napi::String::New(env, e.text));
          break;
        case rtc::QueueEvent::Kind::Breaker:
          x[0] = 2;
          x[1] = static_cast<double>(e.from);
          x[2] = static_cast<double>(e.to);
          x[3] = static_cast<double>(e.at);
          break;
      }
    }
    Napi::Array out = Napi::Array::New(env, 3);
    out.Set(0u, nums);
    out.Set(1u, clients);
    out.Set(2u, texts);
    return out;
  }

  // The drops of the last call: Float64Array [offset (0: null), reason code, ...]
  Napi::Value TakeDropped(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& dropped = queue_->dropped();
    Napi::Float64Array out = Napi::Float64Array::New(env, dropped.size() * 2);
    double* d = out.Data();
    for (std::size_t i = 0; i < dropped.size(); ++i) {
      d[2 * i] = static_cast<double>(dropped[i].offset);
      d[2 * i + 1] = static_cast<double>(dropped[i].reason);
    }
    return out;
  }

  napi_env env_;
  std::unique_ptr<rtc::OfflineQueue> queue_;
  Bridge* bridge_ = nullptr;  // owned by its thread-safe function
  bool hooked_ = false;
  bool always_ = false;
  Napi::Reference<Napi::Float64Array> stateRef_;
  double* state_ = nullptr;
  double fallbackState_[3] = {0, 0, 0};
  Arena arena_;  // payload bytes of the call
  Arena names_;  // event names and keys of a pushMany
  // pushMany scratch: where each item's bytes are (strings go into the arenas: positions first,
  // views once all are read, as the arenas may move while they grow)
  struct Pos {
    std::size_t payload, payloadLen, event, eventLen, key, keyLen;
    const char* bytes;  // a Uint8Array payload, read in place
    bool text, hasKey;
  };
  std::vector<Pos> pos_;
  std::vector<rtc::QueueItemIn> ins_;
  std::vector<std::string_view> keyViews_;
};

}  // namespace

Napi::Function defineQueue(Napi::Env env) { return QueueWrap::Define(env); }

}  // namespace rtc_napi
