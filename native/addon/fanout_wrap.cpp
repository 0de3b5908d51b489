// Bindings of rtc::FanoutHub: the class `Fanout` of the addon (docs/fanout.md). Arguments are
// positional; lib/native/engine.js adapts them to the engine interface.
//
// Crossing costs decide the shapes (the hot path is publish to one room of 10k..100k members):
// - string arguments are read into reused buffers (one N-API call each when they fit), or read in
//   place when they are Uint8Arrays; a list of rooms may be one string (the common case);
// - publish/flush return null when nothing was delivered, else a flat array
//   [packet, handles (Uint32Array, one memcpy), seq (0: no offset), flags (1 volatile, 2 bulk), ...]
//   followed by the slow handles (an Array) when there are some; publish writes its status code
//   and its own offset seq into the Float64Array shared with the adapter;
// - the common case, one delivery to a few handles (every socket.emit goes through publish when
//   recovery is on), returns only the packet string: its numbers go to the shared Float64Array
//   and its handles to a shared Uint32Array the adapter copies with slice() (a JS-side typed
//   array of a few handles is much cheaper than one made through N-API);
// - packets are ASCII in the common case and leave through napi_create_string_latin1.
//
// Strings are bytes inside the core. A JS string with lone surrogates is sent by the adapter as a
// Uint16Array of its code units and kept as WTF-8 (ED A0..BF xx for a surrogate), so distinct JS
// strings stay distinct and come back unchanged; a Uint8Array is UTF-8 whose invalid sequences
// become U+FFFD as in TextDecoder (what the JS twin sees after decoding it). Outgoing strings
// with WTF-8 surrogates are decoded here to UTF-16.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fanout.h"
#include "json.h"
#include "napi_util.h"

namespace rtc_napi {

namespace {

using rtc::Error;
namespace codes = rtc::codes;

#define FW_CHECK(env, call) NAPI_THROW_IF_FAILED(env, (call), Napi::Value())
#define FW_CHECK_VOID(env, call) NAPI_THROW_IF_FAILED_VOID(env, (call))

// ---- UTF-8 / WTF-8 ---------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (WHATWG maximal subparts:
// `bad` gets how many bytes the replacement covers).
std::size_t utf8Seq(const unsigned char* s, std::size_t n, std::size_t i, std::size_t& bad) {
  unsigned char b = s[i];
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) need = 1;
  else if (b == 0xE0) need = 2, lo = 0xA0;
  else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) need = 2;
  else if (b == 0xED) need = 2, hi = 0x9F;
  else if (b == 0xF0) need = 3, lo = 0x90;
  else if (b >= 0xF1 && b <= 0xF3) need = 3;
  else if (b == 0xF4) need = 3, hi = 0x8F;
  else {
    bad = 1;
    return 0;
  }
  std::size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= n) break;
    unsigned char c = s[i + k];
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
  }
  if (k > need) return need + 1;
  bad = k;  // the lead byte and the continuation bytes that were valid so far
  return 0;
}

bool allAscii(const char* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ull) return false;
  }
  for (; i < n; ++i)
    if (static_cast<unsigned char>(p[i]) & 0x80) return false;
  return true;
}

// Appends `bytes` to `out` with invalid UTF-8 replaced by U+FFFD. Returns false (and leaves out
// alone) when they are valid already.
bool sanitizeUtf8(const char* data, std::size_t n, std::string& out) {
  const auto* s = reinterpret_cast<const unsigned char*>(data);
  std::size_t i = 0;
  std::size_t firstBad = n;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    std::size_t bad = 0;
    std::size_t len = utf8Seq(s, n, i, bad);
    if (len == 0) {
      firstBad = i;
      break;
    }
    i += len;
  }
  if (firstBad == n) return false;
  out.assign(data, firstBad);
  i = firstBad;
  while (i < n) {
    if (s[i] < 0x80) {
      out.push_back(static_cast<char>(s[i++]));
      continue;
    }
    std::size_t bad = 0;
    std::size_t len = utf8Seq(s, n, i, bad);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      i += bad;
    } else {
      out.append(data + i, len);
      i += len;
    }
  }
  return true;
}

// Whether v (an object) is a typed array; if so its element type, data and element count.
bool typedArray(napi_env env, napi_value v, napi_typedarray_type& type, void*& data, std::size_t& length) {
  bool typed = false;
  NAPI_THROW_IF_FAILED(env, napi_is_typedarray(env, v, &typed), false);
  if (!typed) return false;
  napi_value buffer;
  std::size_t offset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset), false);
  return true;
}

// UTF-16 code units to WTF-8 (pairs as 4-byte UTF-8, lone surrogates as 3 bytes).
void utf16ToWtf8(const std::uint16_t* u, std::size_t n, std::string& out) {
  out.clear();
  out.reserve(n * 3);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t c = u[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00);
      ++i;
    }
    rtc::appendUtf8(out, c);
  }
}

bool hasSurrogate(const char* p, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; ++i)
    if (static_cast<unsigned char>(p[i]) == 0xED && static_cast<unsigned char>(p[i + 1]) >= 0xA0) return true;
  return false;
}

// A JS string from core bytes (valid UTF-8, or WTF-8 with surrogates from a Uint16Array).
napi_value jsString(napi_env env, const char* p, std::size_t n) {
  napi_value v = nullptr;
  napi_status st;
  if (allAscii(p, n)) {
    st = napi_create_string_latin1(env, p, n, &v);
  } else if (!hasSurrogate(p, n)) {
    st = napi_create_string_utf8(env, p, n, &v);
  } else {
    std::u16string u;
    u.reserve(n);
    const auto* s = reinterpret_cast<const unsigned char*>(p);
    std::size_t i = 0;
    while (i < n) {
      unsigned char b = s[i];
      std::uint32_t c;
      if (b < 0x80) {
        c = b;
        i += 1;
      } else if (b < 0xE0 && i + 1 < n) {
        c = ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
        i += 2;
      } else if (b < 0xF0 && i + 2 < n) {
        c = ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
        i += 3;
      } else if (i + 3 < n) {
        c = ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
        i += 4;
      } else {
        c = 0xFFFD;
        i += 1;
      }
      if (c >= 0x10000) {
        c -= 0x10000;
        u.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
        u.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
      } else {
        u.push_back(static_cast<char16_t>(c));
      }
    }
    st = napi_create_string_utf16(env, u.data(), u.size(), &v);
  }
  NAPI_THROW_IF_FAILED(env, st, nullptr);
  return v;
}

napi_value jsString(napi_env env, std::string_view s) { return jsString(env, s.data(), s.size()); }

napi_value jsNumber(napi_env env, double d) {
  napi_value v = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_double(env, d, &v), nullptr);
  return v;
}

// A new Uint32Array holding a copy of data[0..n). Its memory comes from napi_create_buffer, which
// (unlike napi_create_arraybuffer) does not zero-fill it first: one memcpy, no memset. The
// Uint32Array views the whole ArrayBuffer of that Buffer (Node allocates it on its own, at offset
// 0, when it is created from C++).
napi_value jsU32Array(napi_env env, const std::uint32_t* data, std::size_t n) {
  void* mem = nullptr;
  napi_value buf = nullptr, ab = nullptr, ta = nullptr;
  std::size_t bufOffset = 0;
  if (n > 0 && napi_create_buffer(env, n * 4, &mem, &buf) == napi_ok) {
    napi_typedarray_type tt;
    std::size_t len = 0;
    void* p = nullptr;
    if (napi_get_typedarray_info(env, buf, &tt, &len, &p, &ab, &bufOffset) == napi_ok && bufOffset % 4 == 0) {
      std::memcpy(mem, data, n * 4);
      NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, napi_uint32_array, n, ab, bufOffset, &ta), nullptr);
      return ta;
    }
  }
  NAPI_THROW_IF_FAILED(env, napi_create_arraybuffer(env, n * 4, &mem, &ab), nullptr);
  if (n) std::memcpy(mem, data, n * 4);
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, napi_uint32_array, n, ab, 0, &ta), nullptr);
  return ta;
}

template <typename Seq>
napi_value jsStringArray(napi_env env, const Seq& items) {
  napi_value arr = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_array_with_length(env, items.size(), &arr), nullptr);
  std::uint32_t i = 0;
  for (const auto& s : items) {
    std::string_view v(s);
    NAPI_THROW_IF_FAILED(env, napi_set_element(env, arr, i++, jsString(env, v)), nullptr);
  }
  return arr;
}

napi_valuetype typeOf(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  NAPI_THROW_IF_FAILED(env, napi_typeof(env, v, &t), napi_undefined);
  return t;
}

bool isNullish(napi_env env, napi_value v) {
  napi_valuetype t = typeOf(env, v);
  return t == napi_null || t == napi_undefined;
}

double numberOf(napi_env env, napi_value v, const char* what) {
  if (typeOf(env, v) != napi_number) throw Error(codes::kInvalidArgument, std::string(what) + " must be a number");
  double d = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_value_double(env, v, &d), 0);
  return d;
}

// A handle: a number; anything that is not a valid handle becomes kNoHandle (never connected).
std::uint32_t handleOf(napi_env env, napi_value v) {
  double d = numberOf(env, v, "handle");
  if (!(d >= 0) || d >= 4294967295.0 || std::floor(d) != d) return rtc::FanoutHub::kNoHandle;
  return static_cast<std::uint32_t>(d);
}

std::int64_t timeOf(napi_env env, napi_value v) {
  double d = numberOf(env, v, "nowMs");
  if (std::isnan(d)) throw Error(codes::kInvalidArgument, "nowMs must be a number");
  if (d > 9.0e15) d = 9.0e15;
  if (d < -9.0e15) d = -9.0e15;
  return static_cast<std::int64_t>(std::floor(d));
}

// ---- string arguments ------------------------------------------------------------------------

// Reused buffers for the string arguments of one call. Views stay valid until reset().
class Strings {
 public:
  void reset() { used_ = 0; }

  // A string, a Uint8Array (UTF-8) or a Uint16Array (UTF-16 code units).
  std::string_view read(napi_env env, napi_value v, const char* what) {
    napi_valuetype t = typeOf(env, v);
    if (t == napi_string) {
      std::string& s = next();
      std::size_t cap = s.capacity() < 64 ? 64 : s.capacity();
      s.resize(cap);
      std::size_t n = 0;
      NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, v, s.data(), cap + 1, &n), std::string_view());
      if (n + 4 > cap) {  // possibly cut before a character that did not fit
        NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, v, nullptr, 0, &n), std::string_view());
        s.resize(n);
        NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, v, s.data(), n + 1, &n), std::string_view());
      }
      s.resize(n);
      return s;
    }
    napi_typedarray_type tt;
    std::size_t len = 0;
    void* data = nullptr;
    if (t == napi_object && typedArray(env, v, tt, data, len)) {
      if (tt == napi_uint8_array) {
        const char* p = len ? static_cast<const char*>(data) : "";
        std::string& s = next();
        if (sanitizeUtf8(p, len, s)) return s;
        return std::string_view(p, len);
      }
      if (tt == napi_uint16_array) {
        std::string& s = next();
        std::vector<std::uint16_t> units(len);
        if (len) std::memcpy(units.data(), data, len * 2);
        utf16ToWtf8(units.data(), len, s);
        return s;
      }
    }
    throw Error(codes::kInvalidArgument, std::string(what) + " must be a string");
  }

  std::optional<std::string_view> optional(napi_env env, napi_value v, const char* what) {
    if (isNullish(env, v)) return std::nullopt;
    return read(env, v, what);
  }

  // null/undefined (none), one string, or an array of them.
  void list(napi_env env, napi_value v, const char* what, std::vector<std::string_view>& out) {
    out.clear();
    napi_valuetype t = typeOf(env, v);
    if (t == napi_null || t == napi_undefined) return;
    bool isArray = false;
    if (t == napi_object) NAPI_THROW_IF_FAILED_VOID(env, napi_is_array(env, v, &isArray));
    if (!isArray) {
      out.push_back(read(env, v, what));
      return;
    }
    std::uint32_t n = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_array_length(env, v, &n));
    out.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      napi_value e;
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_element(env, v, i, &e));
      out.push_back(read(env, e, what));
    }
  }

 private:
  std::string& next() {
    if (used_ == pool_.size()) pool_.emplace_back();
    std::string& s = pool_[used_++];
    return s;
  }
  std::deque<std::string> pool_;  // a deque: growing it does not move the strings
  std::size_t used_ = 0;
};

// ---- options ---------------------------------------------------------------------------------

double optNumber(Napi::Object o, const char* name, double fallback) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Error(codes::kInvalidArgument, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d) || d < 0) throw Error(codes::kOutOfRange, std::string(name) + " is out of range");
  return d;
}

template <typename T>
T optUint(Napi::Object o, const char* name, T fallback, double max) {
  double d = optNumber(o, name, static_cast<double>(fallback));
  if (d > max) d = max;
  return static_cast<T>(std::floor(d));
}


// A string option (or the Uint16Array of a string with lone surrogates).
std::string optString(Napi::Object o, const char* name, const char* fallback) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  Strings strings;
  return std::string(strings.read(o.Env(), v, name));
}

rtc::FanoutOptions readOptions(const Napi::Value& v) {
  rtc::FanoutOptions o;
  if (!v.IsObject()) return o;
  Napi::Object obj = v.As<Napi::Object>();
  const double kMaxTime = 9.0e15;
  o.nspPrefix = optString(obj, "nspPrefix", "");
  o.throttleMs = optUint<std::int64_t>(obj, "throttleMs", o.throttleMs, kMaxTime);
  o.batchMaxItems = optUint<std::uint32_t>(obj, "batchMaxItems", o.batchMaxItems, 4294967295.0);
  o.batchMaxDelayMs = optUint<std::int64_t>(obj, "batchMaxDelayMs", o.batchMaxDelayMs, kMaxTime);
  o.maxBacklog = optUint<std::uint32_t>(obj, "maxBacklog", o.maxBacklog, 2147483647.0);
  o.maxPayloadBytes = optUint<std::uint64_t>(obj, "maxPayloadBytes", o.maxPayloadBytes, 9007199254740992.0);
  o.maxConnections = optUint<std::uint32_t>(obj, "maxConnections", o.maxConnections, 2147483647.0);
  o.maxRooms = optUint<std::uint32_t>(obj, "maxRooms", o.maxRooms, 2147483647.0);
  o.maxSessions = optUint<std::uint32_t>(obj, "maxSessions", o.maxSessions, 4294967295.0);
  Napi::Value rv = obj.Get("recovery");
  if (rv.IsObject()) {
    Napi::Object r = rv.As<Napi::Object>();
    rtc::FanoutRecoveryOptions ro;
    ro.windowMs = optUint<std::int64_t>(r, "windowMs", ro.windowMs, kMaxTime);
    ro.maxPackets = optUint<std::uint64_t>(r, "maxPackets", ro.maxPackets, 9007199254740992.0);
    ro.maxBytes = optUint<std::uint64_t>(r, "maxBytes", ro.maxBytes, 9007199254740992.0);
    o.recovery = ro;
  } else if (rv.IsBoolean() && rv.As<Napi::Boolean>().Value()) {
    o.recovery = rtc::FanoutRecoveryOptions();
  }
  o.offsetPrefix = optString(obj, "offsetPrefix", "");
  o.startSeq = optUint<std::uint64_t>(obj, "startSeq", 0, 9007199254740991.0);
  return o;
}

// ---------------------------------------------------------------------------------------------

class FanoutWrap : public Napi::ObjectWrap<FanoutWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Fanout",
                       {InstanceMethod("connect", &FanoutWrap::Connect),
                        InstanceMethod("disconnect", &FanoutWrap::Disconnect),
                        InstanceMethod("join", &FanoutWrap::Join),
                        InstanceMethod("leave", &FanoutWrap::Leave),
                        InstanceMethod("rooms", &FanoutWrap::Rooms),
                        InstanceMethod("members", &FanoutWrap::Members),
                        InstanceMethod("roomSize", &FanoutWrap::RoomSize),
                        InstanceMethod("roomNames", &FanoutWrap::RoomNames),
                        InstanceMethod("connections", &FanoutWrap::Connections),
                        InstanceMethod("connectionCount", &FanoutWrap::ConnectionCount),
                        InstanceMethod("roomCount", &FanoutWrap::RoomCount),
                        InstanceMethod("targets", &FanoutWrap::Targets),
                        InstanceMethod("backlog", &FanoutWrap::Backlog),
                        InstanceMethod("drained", &FanoutWrap::Drained),
                        InstanceMethod("publish", &FanoutWrap::Publish),
                        InstanceMethod("flush", &FanoutWrap::Flush),
                        InstanceMethod("nextDue", &FanoutWrap::NextDue),
                        InstanceMethod("saveSession", &FanoutWrap::SaveSession),
                        InstanceMethod("restore", &FanoutWrap::Restore),
                        InstanceMethod("sweep", &FanoutWrap::Sweep),
                        InstanceMethod("stats", &FanoutWrap::Stats),
                        InstanceMethod("lastSeq", &FanoutWrap::LastSeq),
                        InstanceMethod("recordsSince", &FanoutWrap::RecordsSince),
                        InstanceMethod("importRecord", &FanoutWrap::ImportRecord),
                        InstanceMethod("importSession", &FanoutWrap::ImportSession)});
  }

  // new Fanout(opts, state: Float64Array(>= 5), small: Uint32Array)
  //   state <- [publish status, publish own seq, single delivery: seq, flags, handle count]
  //   small <- the handles of a single delivery when they fit (see Deliveries)
  explicit FanoutWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FanoutWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      hub_ = std::make_unique<rtc::FanoutHub>(readOptions(info[0]));
      if (info.Length() > 1 && info[1].IsTypedArray() &&
          info[1].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
        Napi::Float64Array st = info[1].As<Napi::Float64Array>();
        if (st.ElementLength() >= 5) {
          state_ = Napi::Reference<Napi::Float64Array>::New(st, 1);
          stateData_ = st.Data();
        }
      }
      if (stateData_ && info.Length() > 2 && info[2].IsTypedArray() &&
          info[2].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array) {
        Napi::Uint32Array small = info[2].As<Napi::Uint32Array>();
        small_ = Napi::Reference<Napi::Uint32Array>::New(small, 1);
        smallData_ = small.Data();
        smallCap_ = small.ElementLength();
      }
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), static_cast<double>(hub_->connect()));
    });
  }

  Napi::Value Disconnect(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      auto names = hub_->disconnect(handleOf(env, info[0]));
      if (!names) return info.Env().Null();
      return Napi::Value(env, jsStringArray(env, *names));
    });
  }

  Napi::Value Join(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      std::uint32_t h = handleOf(env, info[0]);
      strings_.list(env, info[1], "room", rooms_);
      return Napi::Number::New(env, static_cast<double>(hub_->join(h, rooms_)));
    });
  }

  Napi::Value Leave(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      std::uint32_t h = handleOf(env, info[0]);
      std::string_view room = strings_.read(env, info[1], "room");
      return Napi::Boolean::New(env, hub_->leave(h, room));
    });
  }

  Napi::Value Rooms(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Value(env, jsStringArray(env, hub_->rooms(handleOf(env, info[0]))));
    });
  }

  Napi::Value Members(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      std::string_view room = strings_.read(env, info[0], "room");
      std::vector<std::uint32_t> m = hub_->members(room);
      return Napi::Value(env, jsU32Array(env, m.data(), m.size()));
    });
  }

  Napi::Value RoomSize(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      std::string_view room = strings_.read(env, info[0], "room");
      return Napi::Number::New(env, static_cast<double>(hub_->roomSize(room)));
    });
  }

  Napi::Value RoomNames(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value { return Napi::Value(env, jsStringArray(env, hub_->roomNames())); });
  }

  Napi::Value Connections(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      std::vector<std::uint32_t> c = hub_->connections();
      return Napi::Value(env, jsU32Array(env, c.data(), c.size()));
    });
  }

  Napi::Value ConnectionCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(hub_->connectionCount()));
  }

  Napi::Value RoomCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(hub_->roomCount()));
  }

  Napi::Value Targets(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      strings_.list(env, info[0], "room", rooms_);
      strings_.list(env, info[1], "room", except_);
      std::vector<std::uint32_t> t = hub_->targets(rooms_, except_);
      return Napi::Value(env, jsU32Array(env, t.data(), t.size()));
    });
  }

  Napi::Value Backlog(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(env, static_cast<double>(hub_->backlog(handleOf(env, info[0]))));
    });
  }

  // drained(handles: Uint32Array | number[])
  Napi::Value Drained(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      napi_value v = info[0];
      napi_typedarray_type tt;
      std::size_t len = 0;
      void* data = nullptr;
      if (typeOf(env, v) == napi_object && typedArray(env, v, tt, data, len)) {
        if (tt != napi_uint32_array) throw Error(codes::kInvalidArgument, "handles must be a Uint32Array");
        hub_->drained(static_cast<const std::uint32_t*>(data), len);
        return info.Env().Undefined();
      }
      bool isArray = false;
      if (typeOf(env, v) == napi_object) NAPI_THROW_IF_FAILED(env, napi_is_array(env, v, &isArray), Napi::Value());
      if (!isArray) throw Error(codes::kInvalidArgument, "handles must be a Uint32Array");
      std::uint32_t n = 0;
      NAPI_THROW_IF_FAILED(env, napi_get_array_length(env, v, &n), Napi::Value());
      std::vector<std::uint32_t> hs;
      hs.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        napi_value e;
        NAPI_THROW_IF_FAILED(env, napi_get_element(env, v, i, &e), Napi::Value());
        hs.push_back(handleOf(env, e));
      }
      hub_->drained(hs.data(), hs.size());
      return info.Env().Undefined();
    });
  }

  // null; or, for one delivery whose handles fit in `small` and no slow handle, its packet (a
  // string) with [seq, flags, handle count] in state[2..4] and the handles in small; else
  // [packet, handles, seq, flags, ..., slow?] (see the top of this file).
  Napi::Value Deliveries(napi_env env, const rtc::FanoutResult& r) {
    if (r.deliveries.empty() && r.slow.empty()) return Napi::Env(env).Null();
    if (r.deliveries.size() == 1 && r.slow.empty() && smallData_) {
      const rtc::FanoutDelivery& d = r.deliveries[0];
      std::size_t n = d.handlesEnd - d.handlesBegin;
      if (n <= smallCap_) {
        if (n) std::memcpy(smallData_, r.handles.data() + d.handlesBegin, n * 4);
        stateData_[2] = static_cast<double>(d.seq);
        stateData_[3] = (d.isVolatile ? 1 : 0) + (d.bulk ? 2 : 0);
        stateData_[4] = static_cast<double>(n);
        return Napi::Value(env, jsString(env, d.packet));
      }
    }
    std::size_t n = r.deliveries.size();
    std::size_t len = n * 4 + (r.slow.empty() ? 0 : 1);
    napi_value arr;
    FW_CHECK(env, napi_create_array_with_length(env, len, &arr));
    std::uint32_t k = 0;
    for (const rtc::FanoutDelivery& d : r.deliveries) {
      FW_CHECK(env, napi_set_element(env, arr, k++, jsString(env, d.packet)));
      FW_CHECK(env, napi_set_element(env, arr, k++,
                                     jsU32Array(env, r.handles.data() + d.handlesBegin, d.handlesEnd - d.handlesBegin)));
      FW_CHECK(env, napi_set_element(env, arr, k++, jsNumber(env, static_cast<double>(d.seq))));
      FW_CHECK(env, napi_set_element(env, arr, k++, jsNumber(env, (d.isVolatile ? 1 : 0) + (d.bulk ? 2 : 0))));
    }
    if (!r.slow.empty()) {
      napi_value slow;
      FW_CHECK(env, napi_create_array_with_length(env, r.slow.size(), &slow));
      for (std::uint32_t i = 0; i < r.slow.size(); ++i)
        FW_CHECK(env, napi_set_element(env, slow, i, jsNumber(env, r.slow[i])));
      FW_CHECK(env, napi_set_element(env, arr, k++, slow));
    }
    return Napi::Value(env, arr);
  }

  // publish(rooms, except, eventJson, args, key, flags, ackId, nowMs)
  //   rooms/except: null | string | string[]; flags: 1 volatile, 2 batch, 4 recoverable
  Napi::Value Publish(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      msg_.rooms.clear();
      msg_.except.clear();
      strings_.list(env, info[0], "room", msg_.rooms);
      strings_.list(env, info[1], "room", msg_.except);
      msg_.eventJson = strings_.read(env, info[2], "eventJson");
      msg_.args = strings_.read(env, info[3], "args");
      msg_.key = strings_.optional(env, info[4], "key");
      double flags = numberOf(env, info[5], "flags");
      int f = (flags >= 0 && flags < 8) ? static_cast<int>(flags) : 0;
      msg_.isVolatile = (f & 1) != 0;
      msg_.batch = (f & 2) != 0;
      msg_.recoverable = (f & 4) != 0;
      msg_.ackId.reset();
      if (!isNullish(env, info[6])) {
        double a = numberOf(env, info[6], "ackId");
        if (!(a >= 0) || a > 2147483647.0 || std::floor(a) != a) throw Error(codes::kOutOfRange, "ackId is out of range");
        msg_.ackId = static_cast<std::uint32_t>(a);
      }
      std::int64_t now = timeOf(env, info[7]);
      const rtc::FanoutResult& r = hub_->publish(msg_, now);
      if (stateData_) {
        stateData_[0] = static_cast<double>(r.status);
        stateData_[1] = static_cast<double>(r.seq);
      }
      return Deliveries(env, r);
    });
  }

  // flush(nowMs, all)
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      std::int64_t now = timeOf(env, info[0]);
      bool all = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
      return Deliveries(env, hub_->flush(now, all));
    });
  }

  Napi::Value NextDue(const Napi::CallbackInfo& info) {
    auto d = hub_->nextDue();
    if (!d) return info.Env().Null();
    return Napi::Number::New(info.Env(), static_cast<double>(*d));
  }

  // saveSession(id, sid, rooms, data, nowMs)
  Napi::Value SaveSession(const Napi::CallbackInfo& info) { return Session(info, &rtc::FanoutHub::saveSession); }

  // saveSession and importSession take the same arguments (the time: now / when it was saved)
  using SessionCall = void (rtc::FanoutHub::*)(std::string_view, std::string_view,
                                               const std::vector<std::string_view>&, std::string_view, std::int64_t);
  Napi::Value Session(const Napi::CallbackInfo& info, SessionCall call) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      std::string_view id = strings_.read(env, info[0], "id");
      std::string_view sid = strings_.read(env, info[1], "sid");
      strings_.list(env, info[2], "room", rooms_);
      std::string_view data = strings_.read(env, info[3], "data");
      std::int64_t at = timeOf(env, info[4]);
      (hub_.get()->*call)(id, sid, rooms_, data, at);
      return info.Env().Undefined();
    });
  }

  // restore(id, offset, nowMs) -> [status] | [0, sid, rooms, data, packets]
  Napi::Value Restore(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      std::string_view id = strings_.read(env, info[0], "id");
      std::string_view offset = strings_.read(env, info[1], "offset");
      std::int64_t now = timeOf(env, info[2]);
      rtc::FanoutRestore r = hub_->restore(id, offset, now);
      napi_value arr;
      bool ok = r.status == rtc::RestoreStatus::Recovered;
      FW_CHECK(env, napi_create_array_with_length(env, ok ? 5 : 1, &arr));
      FW_CHECK(env, napi_set_element(env, arr, 0, jsNumber(env, static_cast<double>(r.status))));
      if (ok) {
        FW_CHECK(env, napi_set_element(env, arr, 1, jsString(env, r.sid)));
        FW_CHECK(env, napi_set_element(env, arr, 2, jsStringArray(env, r.rooms)));
        FW_CHECK(env, napi_set_element(env, arr, 3, jsString(env, r.data)));
        FW_CHECK(env, napi_set_element(env, arr, 4, jsStringArray(env, r.packets)));
      }
      return Napi::Value(env, arr);
    });
  }

  // sweep(nowMs) -> [evicted, expired]
  Napi::Value Sweep(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      rtc::FanoutSweep s = hub_->sweep(timeOf(env, info[0]));
      Napi::Array arr = Napi::Array::New(env, 2);
      arr.Set(0u, Napi::Number::New(env, static_cast<double>(s.evicted)));
      arr.Set(1u, Napi::Number::New(env, static_cast<double>(s.expired)));
      return arr;
    });
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      rtc::FanoutStats s = hub_->stats();
      Napi::Object o = Napi::Object::New(env);
      auto set = [&](const char* name, std::uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
      set("connections", s.connections);
      set("rooms", s.rooms);
      set("memberships", s.memberships);
      set("published", s.published);
      set("deliveries", s.deliveries);
      set("packets", s.packets);
      set("bytes", s.bytes);
      set("coalesced", s.coalesced);
      set("pendingKeys", s.pendingKeys);
      set("batchedItems", s.batchedItems);
      set("bulks", s.bulks);
      set("openBatches", s.openBatches);
      set("droppedVolatile", s.droppedVolatile);
      set("slowConsumers", s.slowConsumers);
      set("backlog", s.backlog);
      set("maxBacklog", s.maxBacklog);
      set("recorded", s.recorded);
      set("recoveryPackets", s.recoveryPackets);
      set("recoveryBytes", s.recoveryBytes);
      set("evicted", s.evicted);
      set("sessions", s.sessions);
      set("recoveries", s.recoveries);
      set("recoveryFailures", s.recoveryFailures);
      return o;
    });
  }

  Napi::Value LastSeq(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(hub_->lastSeq()));
  }

  // recordsSince(seq) -> [seq, rooms, except, packet, at, ...]
  Napi::Value RecordsSince(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      double d = numberOf(env, info[0], "seq");
      std::uint64_t seq = !(d > 0) ? 0 : d >= 9007199254740992.0 ? (1ull << 53) : static_cast<std::uint64_t>(d);
      std::vector<rtc::FanoutRecordView> recs = hub_->recordsSince(seq);
      napi_value arr;
      FW_CHECK(env, napi_create_array_with_length(env, recs.size() * 5, &arr));
      std::uint32_t k = 0;
      for (const auto& r : recs) {
        FW_CHECK(env, napi_set_element(env, arr, k++, jsNumber(env, static_cast<double>(r.seq))));
        FW_CHECK(env, napi_set_element(env, arr, k++, jsStringArray(env, r.rooms)));
        FW_CHECK(env, napi_set_element(env, arr, k++, jsStringArray(env, r.except)));
        FW_CHECK(env, napi_set_element(env, arr, k++, jsString(env, r.packet)));
        FW_CHECK(env, napi_set_element(env, arr, k++, jsNumber(env, static_cast<double>(r.at))));
      }
      return Napi::Value(env, arr);
    });
  }

  // importRecord(seq, rooms, except, packet, at)
  Napi::Value ImportRecord(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    return guarded(info.Env(), [&]() -> Napi::Value {
      strings_.reset();
      double d = numberOf(env, info[0], "seq");
      if (!(d >= 1) || d > 9007199254740991.0 || std::floor(d) != d) throw Error(codes::kOutOfRange, "seq is out of range");
      strings_.list(env, info[1], "room", rooms_);
      strings_.list(env, info[2], "room", except_);
      std::string_view packet = strings_.read(env, info[3], "packet");
      std::int64_t at = timeOf(env, info[4]);
      hub_->importRecord(static_cast<std::uint64_t>(d), rooms_, except_, packet, at);
      return info.Env().Undefined();
    });
  }

  // importSession(id, sid, rooms, data, savedAt)
  Napi::Value ImportSession(const Napi::CallbackInfo& info) { return Session(info, &rtc::FanoutHub::importSession); }

  std::unique_ptr<rtc::FanoutHub> hub_;
  Napi::Reference<Napi::Float64Array> state_;
  double* stateData_ = nullptr;
  Napi::Reference<Napi::Uint32Array> small_;
  std::uint32_t* smallData_ = nullptr;
  std::size_t smallCap_ = 0;
  Strings strings_;
  std::vector<std::string_view> rooms_, except_;
  rtc::FanoutMessage msg_;
};

}  // namespace

Napi::Function defineFanout(Napi::Env env) { return FanoutWrap::Define(env); }

}  // namespace rtc_napi
