// Bindings of rtc::OptimisticState: the class `Optimistic` of the addon. Arguments are
// positional (lib/native/engine.js adapts them to the engine interface). Every operation returns
// one JSON text holding its whole result, parsed once by the adapter; with text output the
// documents inside it (deltas, changes) are JSON strings holding JSON text.
#include <napi.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "napi_util.h"
#include "optimistic_state.h"

namespace rtc_napi {

namespace {

using rtc::Error;
namespace codes = rtc::codes;

rtc::ChangeKind kindArg(const Napi::Value& v) {
  rtc::ChangeKind kind;
  if (!rtc::parseChangeKind(stringArg(v, "kind"), &kind)) {
    throw Error(codes::kInvalidArgument, "kind must be \"patch\", \"merge-patch\" or \"snapshot\"");
  }
  return kind;
}

std::vector<std::string> stringsArg(const Napi::Value& v, const char* what) {
  std::vector<std::string> out;
  if (v.IsNull() || v.IsUndefined()) return out;
  if (!v.IsArray()) throw Error(codes::kInvalidArgument, std::string(what) + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (std::uint32_t i = 0; i < a.Length(); ++i) out.push_back(stringArg(a.Get(i), what));
  return out;
}

// A document (JSON text): as is for value output (the adapter parses it), else as a string.
void appendDocument(std::string& out, const std::string& text, bool asText) {
  if (asText) rtc::appendQuoted(out, text);
  else out.append(text);
}

void appendDelta(std::string& out, const std::optional<std::string>& delta, bool asText) {
  out.append("\"delta\":");
  if (delta) appendDocument(out, *delta, asText);
  else out.append("null");
}

void appendStrings(std::string& out, const std::vector<std::string>& items) {
  out.push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    rtc::appendQuoted(out, items[i]);
  }
  out.push_back(']');
}

void appendRolledBack(std::string& out, const std::vector<rtc::RolledBack>& rolledBack) {
  out.append(",\"rolledBack\":[");
  for (std::size_t i = 0; i < rolledBack.size(); ++i) {
    if (i) out.push_back(',');
    out.append("{\"id\":");
    rtc::appendQuoted(out, rolledBack[i].id);
    out.append(",\"reason\":\"");
    out.append(rolledBack[i].reason);
    out.append("\"}");
  }
  out.push_back(']');
}

enum class Shape { Plain, Commit, Rebase };  // { delta, rolledBack } / + version / + status, committed

// Members in the order of docs/optimistic-state.md.
void appendResult(std::string& out, const rtc::OptimisticResult& r, Shape shape, bool asText) {
  out.push_back('{');
  if (shape == Shape::Rebase) {
    out.append("\"status\":\"");
    out.append(r.status);
    out.append("\",");
  }
  if (shape != Shape::Plain) {
    out.append("\"version\":");
    rtc::appendNumber(out, r.version);
    out.push_back(',');
  }
  appendDelta(out, r.delta, asText);
  if (shape == Shape::Rebase) {
    out.append(",\"committed\":");
    appendStrings(out, r.committed);
  }
  appendRolledBack(out, r.rolledBack);
  out.push_back('}');
}

class OptimisticWrap : public Napi::ObjectWrap<OptimisticWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Optimistic",
                       {InstanceMethod("apply", &OptimisticWrap::Apply),
                        InstanceMethod("commit", &OptimisticWrap::Commit),
                        InstanceMethod("rollback", &OptimisticWrap::Rollback),
                        InstanceMethod("rollbackAll", &OptimisticWrap::RollbackAll),
                        InstanceMethod("rebase", &OptimisticWrap::Rebase),
                        InstanceMethod("expire", &OptimisticWrap::Expire),
                        InstanceMethod("batch", &OptimisticWrap::Batch),
                        InstanceMethod("state", &OptimisticWrap::State),
                        InstanceMethod("base", &OptimisticWrap::Base),
                        InstanceMethod("baseVersion", &OptimisticWrap::BaseVersion),
                        InstanceMethod("pendingCount", &OptimisticWrap::PendingCount),
                        InstanceMethod("nextDeadline", &OptimisticWrap::NextDeadline),
                        InstanceMethod("pending", &OptimisticWrap::Pending)});
  }

  // new Optimistic(initialText, { limits, timeoutMs, maxPending, overflow, baseVersion })
  explicit OptimisticWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OptimisticWrap>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&]() -> Napi::Value {
      rtc::OptimisticOptions o;
      if (info[1].IsObject()) {
        Napi::Object opts = info[1].As<Napi::Object>();
        readLimits(opts.Get("limits"), o.limits);
        if (auto n = optionalNumber(opts.Get("timeoutMs"), "timeoutMs")) o.timeoutMs = *n;
        if (auto n = optionalNumber(opts.Get("maxPending"), "maxPending")) {
          if (!(*n >= 1)) throw Error(codes::kOutOfRange, "maxPending must be a positive integer");
          o.maxPending = static_cast<std::size_t>(*n);
        }
        if (auto s = optionalString(opts.Get("overflow"), "overflow")) {
          if (*s == "reject") o.overflow = rtc::Overflow::Reject;
          else if (*s == "rollback-oldest") o.overflow = rtc::Overflow::RollbackOldest;
          else throw Error(codes::kInvalidArgument, "overflow must be \"reject\" or \"rollback-oldest\"");
        }
        if (auto n = optionalNumber(opts.Get("baseVersion"), "baseVersion")) o.baseVersion = *n;
      }
      Text text(env, info[0], o.limits, "initial document");
      state_.emplace(text.data(), text.size(), o);
      return env.Undefined();
    });
  }

 private:
  rtc::OptimisticState& s() { return *state_; }
  const rtc::Limits& limits() { return state_->options().limits; }

  static Napi::Value result(Napi::Env env, const rtc::OptimisticResult& r, Shape shape, bool asText) {
    std::string out;
    appendResult(out, r, shape, asText);
    return Napi::String::New(env, out);
  }

  // apply(id, kind, text, nowMs, asText)
  Napi::Value Apply(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string id = stringArg(info[0], "id");
      rtc::ChangeKind kind = kindArg(info[1]);
      Text text(env, info[2], limits(), "change");
      double now = numberArg(info[3], "nowMs");
      return result(env, s().apply(id, kind, text.data(), text.size(), now), Shape::Plain, info[4].ToBoolean());
    });
  }

  // commit(id, kind | null, text | null, version | null, asText)
  Napi::Value Commit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string id = stringArg(info[0], "id");
      std::optional<rtc::ChangeText> canonical;
      std::optional<Text> text;
      if (!info[1].IsNull() && !info[1].IsUndefined()) {
        rtc::ChangeKind kind = kindArg(info[1]);
        text.emplace(env, info[2], limits(), "change");
        canonical = rtc::ChangeText{kind, text->data(), text->size()};
      }
      std::optional<double> version = optionalNumber(info[3], "version");
      return result(env, s().commit(id, canonical, version), Shape::Commit, info[4].ToBoolean());
    });
  }

  // rollback(id, asText)
  Napi::Value Rollback(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      return result(env, s().rollback(stringArg(info[0], "id")), Shape::Plain, info[1].ToBoolean());
    });
  }

  // rollbackAll(asText)
  Napi::Value RollbackAll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return result(env, s().rollbackAll(), Shape::Plain, info[0].ToBoolean()); });
  }

  // rebase(kind, text, version | null, confirms, asText)
  Napi::Value Rebase(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      rtc::ChangeKind kind = kindArg(info[0]);
      Text text(env, info[1], limits(), "change");
      std::optional<double> version = optionalNumber(info[2], "version");
      std::vector<std::string> confirms = stringsArg(info[3], "confirms");
      return result(env, s().rebase(kind, text.data(), text.size(), version, confirms), Shape::Rebase,
                    info[4].ToBoolean());
    });
  }

  // expire(nowMs, asText)
  Napi::Value Expire(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      return result(env, s().expire(numberArg(info[0], "nowMs")), Shape::Plain, info[1].ToBoolean());
    });
  }

  // batch(ops, nowMs, asText): ops[i] = { op, id, kind, text, version, confirms }
  Napi::Value Batch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!info[0].IsArray()) throw Error(codes::kInvalidArgument, "ops must be an array");
      Napi::Array list = info[0].As<Napi::Array>();
      const double now = numberArg(info[1], "nowMs");
      const bool asText = info[2].ToBoolean();
      std::vector<rtc::BatchOp> ops(list.Length());
      std::vector<Shape> shapes(ops.size(), Shape::Plain);
      std::deque<Text> texts;  // the ops' texts, alive until the batch ran (a deque never moves them)
      for (std::uint32_t i = 0; i < list.Length(); ++i) {
        Napi::Value item = list.Get(i);
        if (!item.IsObject()) throw Error(codes::kInvalidArgument, "each batch op must be an object");
        Napi::Object o = item.As<Napi::Object>();
        rtc::BatchOp& op = ops[i];
        const std::string name = stringArg(o.Get("op"), "op");
        if (name == "apply") op.type = rtc::BatchOpType::Apply;
        else if (name == "commit") op.type = rtc::BatchOpType::Commit, shapes[i] = Shape::Commit;
        else if (name == "rollback") op.type = rtc::BatchOpType::Rollback;
        else if (name == "rollbackAll") op.type = rtc::BatchOpType::RollbackAll;
        else if (name == "rebase") op.type = rtc::BatchOpType::Rebase, shapes[i] = Shape::Rebase;
        else throw Error(codes::kInvalidArgument, "unknown batch op \"" + name + "\"");
        if (op.type != rtc::BatchOpType::RollbackAll && op.type != rtc::BatchOpType::Rebase) {
          op.id = stringArg(o.Get("id"), "id");
        }
        Napi::Value kind = o.Get("kind");
        if (!kind.IsNull() && !kind.IsUndefined()) {
          op.kind = kindArg(kind);
          texts.emplace_back(env, o.Get("text"), limits(), "change");
          op.text = std::string_view(texts.back().data(), texts.back().size());
        }
        op.version = optionalNumber(o.Get("version"), "version");
        if (op.type == rtc::BatchOpType::Rebase) op.confirms = stringsArg(o.Get("confirms"), "confirms");
      }
      rtc::BatchResult r;
      try {
        r = s().batch(ops, now);
      } catch (const rtc::BatchError& e) {
        throwCoded(env, e.code(), e.what(), e.index());
      }
      std::string out = "{";
      appendDelta(out, r.delta, asText);
      out.append(",\"results\":[");
      for (std::size_t i = 0; i < r.results.size(); ++i) {
        if (i) out.push_back(',');
        appendResult(out, r.results[i], shapes[i], asText);
      }
      out.append("]}");
      return Napi::String::New(env, out);
    });
  }

  // state(asText) / base(asText): JSON text (the adapter parses it for value output)
  Napi::Value State(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), rtc::serialize(s().visible())); });
  }

  Napi::Value Base(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), rtc::serialize(s().base())); });
  }

  Napi::Value BaseVersion(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), s().baseVersion()); }

  Napi::Value PendingCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(s().pendingCount()));
  }

  Napi::Value NextDeadline(const Napi::CallbackInfo& info) {
    std::optional<double> d = s().nextDeadline();
    return d ? Napi::Value(Napi::Number::New(info.Env(), *d)) : info.Env().Null();
  }

  // pending(asText): JSON text of [{ id, kind, change, createdAt }]
  Napi::Value Pending(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const bool asText = info[0].ToBoolean();
      std::string out = "[";
      for (std::size_t i = 0; i < s().pendingCount(); ++i) {
        const rtc::PendingChange& p = s().pendingAt(i);
        if (i) out.push_back(',');
        out.append("{\"id\":");
        rtc::appendQuoted(out, p.id);
        out.append(",\"kind\":\"");
        out.append(rtc::changeKindName(p.kind));
        out.append("\",\"change\":");
        appendDocument(out, p.text, asText);  // valid JSON text: it was parsed when applied
        out.append(",\"createdAt\":");
        rtc::appendNumber(out, p.createdAt);
        out.push_back('}');
      }
      out.push_back(']');
      return Napi::String::New(env, out);
    });
  }

  std::optional<rtc::OptimisticState> state_;
};

}  // namespace

Napi::Function defineOptimistic(Napi::Env env) { return OptimisticWrap::Define(env); }

}  // namespace rtc_napi
