// Thin node-addon-api bindings of native/core. Arguments are positional (lib/native/engine.js
// adapts them to the engine interface); documents cross as JSON text, never as object graphs.
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "diff.h"
#include "document_store.h"
#include "hlc.h"
#include "json.h"
#include "merge3.h"
#include "merge_patch.h"
#include "napi_util.h"
#include "patch.h"

namespace rtc_napi {
// The Queue class (offline_queue_wrap.cpp).
Napi::Function defineQueue(Napi::Env env);
// The Fanout class (fanout_wrap.cpp).
Napi::Function defineFanout(Napi::Env env);
}  // namespace rtc_napi

namespace {

using rtc::Error;
namespace codes = rtc::codes;
using rtc_napi::appendUint;
using rtc_napi::guarded;
using rtc_napi::limitsAt;
using rtc_napi::optionalNumber;
using rtc_napi::optionalString;
using rtc_napi::stringArg;
using rtc_napi::Text;
using rtc_napi::textOrNull;
using rtc_napi::wallArg;

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
      rtc_napi::readLimits(o.Get("limits"), opts.limits);
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
                          InstanceValue("Store", StoreWrap::Define(env)),
                          InstanceValue("Optimistic", rtc_napi::defineOptimistic(env)),
                          InstanceValue("Queue", rtc_napi::defineQueue(env)),
                          InstanceValue("Fanout", rtc_napi::defineFanout(env))});
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
