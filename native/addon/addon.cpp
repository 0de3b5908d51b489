// Thin node-addon-api bindings of native/core. Arguments are positional (lib/native/engine.js
// adapts them to the engine interface); documents cross as JSON text, never as object graphs.
#include <napi.h>

#include <cmath>
#include <limits>
#include <new>
#include <optional>
#include <string>

#include "diff.h"
#include "document_store.h"
#include "hlc.h"
#include "json.h"
#include "merge3.h"
#include "merge_patch.h"
#include "patch.h"

namespace {

using rtc::Error;
namespace codes = rtc::codes;

[[noreturn]] void throwCoded(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = std::string(code) == codes::kInvalidArgument ? Napi::TypeError::New(env, message)
                    : std::string(code) == codes::kOutOfRange   ? Napi::RangeError::New(env, message)
                                                                : Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

// Runs a binding body, turning core failures into JS errors with a stable code. JS exceptions
// (thrown by a resolver) pass through unchanged as Napi::Error.
template <typename F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throwCoded(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throwCoded(env, codes::kInternal, "out of memory");
  } catch (const std::exception& e) {
    throwCoded(env, codes::kInternal, std::string("internal error: ") + e.what());
  }
}

// A JSON text argument: a string (copied out as UTF-8) or a Uint8Array/Buffer (used in place).
class Text {
 public:
  Text(Napi::Env env, Napi::Value v, const rtc::Limits& limits, const char* what) {
    if (v.IsString()) {
      // Small texts (most patches) are copied with one call into an inline buffer.
      std::size_t len = 0;
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, small_, sizeof small_, &len));
      if (len + 1 < sizeof small_) {
        data_ = small_;
        size_ = len;
        return;
      }
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
      if (len > limits.maxDocumentBytes) {
        // Not copied. The core's parse checks the size before it reads a byte, so this argument
        // reports ERR_RT_TOO_LARGE in its turn: arguments are checked in order (semantics 1.2).
        data_ = "";
        size_ = len;
        return;
      }
      owned_.resize(len);
      std::size_t written = 0;
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, owned_.data(), len + 1, &written));
      data_ = owned_.data();
      size_ = written;
      return;
    }
    if (v.IsTypedArray()) {
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      if (ta.TypedArrayType() == napi_uint8_array) {
        Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
        data_ = reinterpret_cast<const char*>(bytes.Data());
        size_ = bytes.ElementLength();
        return;
      }
    }
    throw Error(codes::kInvalidArgument, std::string(what) + " must be JSON text (a string or a Uint8Array)");
  }
  const char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  char small_[1024];
  std::string owned_;
  const char* data_ = "";
  std::size_t size_ = 0;
};

rtc::Limits limitsAt(const Napi::CallbackInfo& info, std::size_t first) {
  rtc::Limits l;
  auto get = [&](std::size_t i, std::uint64_t fallback) -> std::uint64_t {
    if (i >= info.Length() || !info[i].IsNumber()) return fallback;
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 1)) throw Error(codes::kOutOfRange, "limits must be positive integers");
    return d >= 1.8e19 ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(d);
  };
  l.maxDepth = get(first, l.maxDepth);
  l.maxDocumentBytes = get(first + 1, l.maxDocumentBytes);
  l.maxPatchOps = get(first + 2, l.maxPatchOps);
  l.maxPatchGrowthBytes = get(first + 3, l.maxPatchGrowthBytes);
  return l;
}

std::string stringArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Error(codes::kInvalidArgument, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::optional<std::string> optionalString(const Napi::Value& v, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return std::nullopt;
  return stringArg(v, what);
}

std::optional<double> optionalNumber(const Napi::Value& v, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return std::nullopt;
  if (!v.IsNumber()) throw Error(codes::kInvalidArgument, std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::int64_t wallArg(const Napi::Value& v) {
  if (!v.IsNumber()) throw Error(codes::kInvalidArgument, "wallMs must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Error(codes::kInvalidArgument, "wallMs must be finite");
  if (d > 9.0e15) d = 9.0e15;
  if (d < -9.0e15) d = -9.0e15;
  return static_cast<std::int64_t>(d);
}

// Wraps a JS resolver `(conflictText) => string | Uint8Array | undefined` for the core.
rtc::Resolver makeResolver(Napi::Env env, Napi::Function fn) {
  return [env, fn](const std::string& conflictText) -> std::optional<std::string> {
    Napi::Value r = fn.Call({Napi::String::New(env, conflictText)});
    if (r.IsUndefined()) return std::nullopt;
    if (r.IsString()) return r.As<Napi::String>().Utf8Value();
    if (r.IsTypedArray() && r.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array bytes = r.As<Napi::Uint8Array>();
      return std::string(reinterpret_cast<const char*>(bytes.Data()), bytes.ElementLength());
    }
    throw Error(codes::kInvalidValue, "resolver must return JSON text or undefined");
  };
}

Napi::Value textOrNull(Napi::Env env, const std::optional<std::string>& s) {
  return s ? Napi::Value(Napi::String::New(env, *s)) : env.Null();
}

void appendUint(std::string& out, std::uint64_t v) { rtc::appendNumber(out, static_cast<double>(v)); }

// ---------------------------------------------------------------------------------------------

class ClockWrap : public Napi::ObjectWrap<ClockWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Clock",
                       {InstanceMethod("now", &ClockWrap::Now), InstanceMethod("receive", &ClockWrap::Receive),
                        InstanceMethod("last", &ClockWrap::Last)});
  }

  explicit ClockWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ClockWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      std::string nodeId = stringArg(info[0], "nodeId");
      double drift = optionalNumber(info[1], "maxDriftMs").value_or(60000);
      clock_.emplace(std::move(nodeId), static_cast<std::int64_t>(drift));
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value Now(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), clock_->now(wallArg(info[0]))); });
  }
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      std::string ts = stringArg(info[0], "timestamp");
      return Napi::String::New(info.Env(), clock_->receive(ts, wallArg(info[1])));
    });
  }
  Napi::Value Last(const Napi::CallbackInfo& info) { return textOrNull(info.Env(), clock_->last()); }

  std::optional<rtc::HybridLogicalClock> clock_;
};

// ---------------------------------------------------------------------------------------------

class StoreWrap : public Napi::ObjectWrap<StoreWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Store",
                       {InstanceMethod("put", &StoreWrap::Put), InstanceMethod("get", &StoreWrap::Get),
                        InstanceMethod("has", &StoreWrap::Has), InstanceMethod("delete", &StoreWrap::Delete),
                        InstanceMethod("version", &StoreWrap::Version), InstanceMethod("ids", &StoreWrap::Ids),
                        InstanceMethod("size", &StoreWrap::Size), InstanceMethod("apply", &StoreWrap::Apply),
                        InstanceMethod("changesSince", &StoreWrap::ChangesSince)});
  }

  explicit StoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StoreWrap>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&]() -> Napi::Value {
      if (!info[0].IsObject()) throw Error(codes::kInvalidArgument, "store options must be an object");
      Napi::Object o = info[0].As<Napi::Object>();
      rtc::StoreOptions opts;
      if (auto s = optionalString(o.Get("strategy"), "strategy")) {
        if (!rtc::parseStrategy(*s, &opts.strategy)) throw Error(codes::kInvalidArgument, "unknown strategy");
      }
      Napi::Value ak = o.Get("arrayKey");
      if (ak.IsNull()) opts.arrayKey.reset();
      else if (!ak.IsUndefined()) opts.arrayKey = stringArg(ak, "arrayKey");
      if (auto n = optionalNumber(o.Get("historyLimit"), "historyLimit")) opts.historyLimit = static_cast<std::size_t>(*n);
      if (auto s = optionalString(o.Get("staleBase"), "staleBase")) {
        if (*s == "current") opts.staleBase = rtc::StaleBase::Current;
        else if (*s == "reject") opts.staleBase = rtc::StaleBase::Reject;
        else throw Error(codes::kInvalidArgument, "staleBase must be \"reject\" or \"current\"");
      }
      if (auto s = optionalString(o.Get("deltaFormat"), "deltaFormat")) {
        if (*s == "json-patch") opts.deltaFormat = rtc::DiffFormat::JsonPatch;
        else if (*s == "merge-patch") opts.deltaFormat = rtc::DiffFormat::MergePatch;
        else throw Error(codes::kInvalidArgument, "deltaFormat must be \"merge-patch\" or \"json-patch\"");
      }
      Napi::Value lim = o.Get("limits");
      if (lim.IsObject()) {
        Napi::Object lo = lim.As<Napi::Object>();
        auto read = [&](const char* name, std::uint64_t& slot) {
          if (auto n = optionalNumber(lo.Get(name), name)) slot = static_cast<std::uint64_t>(*n);
        };
        read("maxDepth", opts.limits.maxDepth);
        read("maxDocumentBytes", opts.limits.maxDocumentBytes);
        read("maxPatchOps", opts.limits.maxPatchOps);
        read("maxPatchGrowthBytes", opts.limits.maxPatchGrowthBytes);
      }
      if (auto s = optionalString(o.Get("nodeId"), "nodeId")) opts.nodeId = *s;
      if (auto n = optionalNumber(o.Get("maxDriftMs"), "maxDriftMs")) opts.maxDriftMs = static_cast<std::int64_t>(*n);
      if (auto n = optionalNumber(o.Get("dedupWindow"), "dedupWindow")) opts.dedupWindow = static_cast<std::size_t>(*n);
      Napi::Value resolver = o.Get("resolver");
      if (resolver.IsFunction()) {
        resolver_ = Napi::Persistent(resolver.As<Napi::Function>());
        // The function is looked up at call time so the env and value are always current.
        opts.resolver = [this](const std::string& text) -> std::optional<std::string> {
          return makeResolver(resolver_.Env(), resolver_.Value())(text);
        };
      }
      store_.emplace(std::move(opts));
      // Scalar results (status, version) of the common cases are written here instead of
      // building a JS object per call; the adapter reads them right after the call returns.
      if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
        Napi::Float64Array state = info[1].As<Napi::Float64Array>();
        if (state.ElementLength() >= 2) {
          stateRef_ = Napi::Persistent(state);
          state_ = state.Data();
        }
      }
      return env.Undefined();
    });
  }

 private:
  rtc::DocumentStore& store() { return *store_; }

  Napi::Value Put(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string id = stringArg(info[0], "id");
      Text text(env, info[1], store().options().limits, "document");
      rtc::PutResult r = store().put(id, text.data(), text.size(), wallArg(info[2]));
      if (state_) {
        state_[0] = 0;
        state_[1] = static_cast<double>(r.version);
        return textOrNull(env, r.delta);
      }
      if (info[3].ToBoolean()) {
        Napi::Object out = Napi::Object::New(env);
        out.Set("version", Napi::Number::New(env, static_cast<double>(r.version)));
        out.Set("delta", textOrNull(env, r.delta));
        return out;
      }
      std::string s = "{\"version\":";
      appendUint(s, r.version);
      s.append(",\"delta\":");
      s.append(r.delta ? *r.delta : "null");
      s.push_back('}');
      return Napi::String::New(env, s);
    });
  }

  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto doc = store().get(stringArg(info[0], "id"));
      return doc ? Napi::Value(Napi::String::New(env, *doc)) : env.Undefined();
    });
  }

  Napi::Value Has(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Boolean::New(info.Env(), store().has(stringArg(info[0], "id")));
    });
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Boolean::New(info.Env(), store().remove(stringArg(info[0], "id")));
    });
  }

  Napi::Value Version(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto v = store().version(stringArg(info[0], "id"));
      return v ? Napi::Value(Napi::Number::New(env, static_cast<double>(*v))) : env.Undefined();
    });
  }

  Napi::Value Ids(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<std::string> ids = store().ids();
      Napi::Array out = Napi::Array::New(env, ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, ids[i]));
      return out;
    });
  }

  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(store().size()));
  }

  // apply(id, kind, patchText, baseVersion, clientId, mutationId, timestamp, wallMs, asText)
  Napi::Value Apply(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string id = stringArg(info[0], "id");
      Text text(env, info[2], store().options().limits, "patch");
      rtc::Mutation m;
      m.mergePatch = info[1].ToBoolean();
      m.text = text.data();
      m.size = text.size();
      m.baseVersion = optionalNumber(info[3], "baseVersion");
      m.clientId = optionalString(info[4], "clientId");
      m.mutationId = optionalNumber(info[5], "mutationId");
      m.timestamp = optionalString(info[6], "timestamp");
      rtc::ApplyResult r = store().apply(id, m, wallArg(info[7]));
      if (state_ && !r.hasError && !r.hasGap && r.conflicts == "[]") {
        // Common case: only the delta crosses as a value.
        state_[0] = r.status == "applied" ? 0 : r.status == "merged" ? 1 : r.status == "duplicate" ? 2 : 3;
        state_[1] = static_cast<double>(r.version);
        return textOrNull(env, r.delta);
      }
      if (state_) state_[0] = -1;
      if (info[8].ToBoolean()) {
        Napi::Object out = Napi::Object::New(env);
        out.Set("status", Napi::String::New(env, r.status));
        out.Set("version", Napi::Number::New(env, static_cast<double>(r.version)));
        out.Set("delta", textOrNull(env, r.delta));
        out.Set("conflicts", Napi::String::New(env, r.conflicts));
        if (r.hasError) {
          Napi::Object e = Napi::Object::New(env);
          e.Set("code", Napi::String::New(env, r.errorCode));
          e.Set("message", Napi::String::New(env, r.errorMessage));
          out.Set("error", e);
        }
        if (r.hasGap) {
          Napi::Object g = Napi::Object::New(env);
          g.Set("expected", Napi::Number::New(env, r.gapExpected));
          g.Set("received", Napi::Number::New(env, r.gapReceived));
          out.Set("gap", g);
        }
        return out;
      }
      // Value output: one JSON text for the whole result, parsed once by the adapter.
      std::string s = "{\"status\":\"";
      s.append(r.status);
      s.append("\",\"version\":");
      appendUint(s, r.version);
      s.append(",\"delta\":");
      s.append(r.delta ? *r.delta : "null");
      s.append(",\"conflicts\":");
      s.append(r.conflicts);
      if (r.hasError) {
        s.append(",\"error\":{\"code\":");
        rtc::appendQuoted(s, r.errorCode);
        s.append(",\"message\":");
        rtc::appendQuoted(s, r.errorMessage);
        s.push_back('}');
      }
      if (r.hasGap) {
        s.append(",\"gap\":{\"expected\":");
        rtc::appendNumber(s, r.gapExpected);
        s.append(",\"received\":");
        rtc::appendNumber(s, r.gapReceived);
        s.push_back('}');
      }
      s.push_back('}');
      return Napi::String::New(env, s);
    });
  }

  Napi::Value ChangesSince(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string id = stringArg(info[0], "id");
      if (!info[1].IsNumber()) throw Error(codes::kInvalidArgument, "version must be a number");
      rtc::ChangesResult r = store().changesSince(id, info[1].As<Napi::Number>().DoubleValue());
      if (info[2].ToBoolean()) {
        Napi::Object out = Napi::Object::New(env);
        out.Set("version", Napi::Number::New(env, static_cast<double>(r.version)));
        if (r.isSnapshot) {
          out.Set("snapshot", Napi::String::New(env, r.snapshot));
        } else {
          Napi::Array changes = Napi::Array::New(env, r.changes.size());
          for (std::size_t i = 0; i < r.changes.size(); ++i) {
            Napi::Object c = Napi::Object::New(env);
            c.Set("version", Napi::Number::New(env, static_cast<double>(r.changes[i].version)));
            c.Set("delta", Napi::String::New(env, r.changes[i].delta));
            c.Set("timestamp", Napi::String::New(env, r.changes[i].timestamp));
            changes.Set(static_cast<uint32_t>(i), c);
          }
          out.Set("changes", changes);
        }
        return out;
      }
      std::string s = "{\"version\":";
      appendUint(s, r.version);
      if (r.isSnapshot) {
        s.append(",\"snapshot\":");
        s.append(r.snapshot);
      } else {
        s.append(",\"changes\":[");
        for (std::size_t i = 0; i < r.changes.size(); ++i) {
          if (i) s.push_back(',');
          s.append("{\"version\":");
          appendUint(s, r.changes[i].version);
          s.append(",\"delta\":");
          s.append(r.changes[i].delta);
          s.append(",\"timestamp\":");
          rtc::appendQuoted(s, r.changes[i].timestamp);
          s.push_back('}');
        }
        s.push_back(']');
      }
      s.push_back('}');
      return Napi::String::New(env, s);
    });
  }

  std::optional<rtc::DocumentStore> store_;
  Napi::FunctionReference resolver_;
  Napi::Reference<Napi::Float64Array> stateRef_;
  double* state_ = nullptr;
};

// ---------------------------------------------------------------------------------------------

class RealtimeCore : public Napi::Addon<RealtimeCore> {
 public:
  RealtimeCore(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {InstanceMethod("applyPatch", &RealtimeCore::ApplyPatch),
                          InstanceMethod("applyMergePatch", &RealtimeCore::ApplyMergePatch),
                          InstanceMethod("diff", &RealtimeCore::Diff),
                          InstanceMethod("merge3", &RealtimeCore::Merge3),
                          InstanceMethod("compareTimestamps", &RealtimeCore::CompareTimestamps),
                          InstanceValue("Clock", ClockWrap::Define(env)),
                          InstanceValue("Store", StoreWrap::Define(env))});
  }

 private:
  // applyPatch(doc, patch, maxDepth, maxDocumentBytes, maxPatchOps, maxPatchGrowthBytes)
  Napi::Value ApplyPatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      rtc::Limits limits = limitsAt(info, 2);
      Text doc(env, info[0], limits, "document");
      Text patch(env, info[1], limits, "patch");
      return Napi::String::New(env, rtc::applyPatchText(doc.data(), doc.size(), patch.data(), patch.size(), limits));
    });
  }

  Napi::Value ApplyMergePatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      rtc::Limits limits = limitsAt(info, 2);
      Text doc(env, info[0], limits, "document");
      Text patch(env, info[1], limits, "patch");
      return Napi::String::New(env,
                               rtc::applyMergePatchText(doc.data(), doc.size(), patch.data(), patch.size(), limits));
    });
  }

  // diff(a, b, format, arrayKey, ...limits)
  Napi::Value Diff(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      rtc::Limits limits = limitsAt(info, 4);
      Text a(env, info[0], limits, "a");
      Text b(env, info[1], limits, "b");
      std::string format = stringArg(info[2], "format");
      rtc::DiffFormat f;
      if (format == "json-patch") f = rtc::DiffFormat::JsonPatch;
      else if (format == "merge-patch") f = rtc::DiffFormat::MergePatch;
      else throw Error(codes::kInvalidArgument, "format must be \"json-patch\" or \"merge-patch\"");
      std::optional<std::string> arrayKey = optionalString(info[3], "arrayKey");
      return Napi::String::New(
          env, rtc::diffText(a.data(), a.size(), b.data(), b.size(), f, arrayKey ? &*arrayKey : nullptr, limits));
    });
  }

  // merge3(base, local, remote, strategy, arrayKey, localTs, remoteTs, resolver, asText, ...limits)
  Napi::Value Merge3(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      rtc::Merge3Options o;
      o.limits = limitsAt(info, 9);
      Text base(env, info[0], o.limits, "base");
      Text local(env, info[1], o.limits, "local");
      Text remote(env, info[2], o.limits, "remote");
      if (!rtc::parseStrategy(stringArg(info[3], "strategy"), &o.strategy)) {
        throw Error(codes::kInvalidArgument, "unknown strategy");
      }
      o.arrayKey = optionalString(info[4], "arrayKey");
      o.localTimestamp = optionalString(info[5], "localTimestamp").value_or("");
      o.remoteTimestamp = optionalString(info[6], "remoteTimestamp").value_or("");
      if (info[7].IsFunction()) o.resolver = makeResolver(env, info[7].As<Napi::Function>());
      rtc::Json b = rtc::parse(base.data(), base.size(), o.limits);
      rtc::Json l = rtc::parse(local.data(), local.size(), o.limits);
      rtc::Json r = rtc::parse(remote.data(), remote.size(), o.limits);
      rtc::Merge3Result res = rtc::merge3Consuming(b, l, r, true, o);
      std::string doc = rtc::serialize(res.doc);
      rtc::release(res.doc);
      rtc::release(b);
      rtc::release(l);
      rtc::release(r);
      if (info[8].ToBoolean()) {
        Napi::Object out = Napi::Object::New(env);
        out.Set("doc", Napi::String::New(env, doc));
        out.Set("conflicts", Napi::String::New(env, res.conflictsText));
        return out;
      }
      std::string s = "{\"doc\":" + doc + ",\"conflicts\":" + res.conflictsText + "}";
      return Napi::String::New(env, s);
    });
  }

  Napi::Value CompareTimestamps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string a = stringArg(info[0], "a");
      std::string b = stringArg(info[1], "b");
      return Napi::Number::New(env, rtc::compareTimestamps(a, b));
    });
  }
};

}  // namespace

NODE_API_ADDON(RealtimeCore)
