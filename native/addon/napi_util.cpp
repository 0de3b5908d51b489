#include "napi_util.h"

#include <cmath>
#include <limits>

namespace rtc_napi {

using rtc::Error;
namespace codes = rtc::codes;

void throwCoded(Napi::Env env, const char* code, const std::string& message, std::optional<std::size_t> batchIndex) {
  Napi::Error err = std::string(code) == codes::kInvalidArgument ? Napi::TypeError::New(env, message)
                    : std::string(code) == codes::kOutOfRange   ? Napi::RangeError::New(env, message)
                                                                : Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  if (batchIndex) err.Set("batchIndex", Napi::Number::New(env, static_cast<double>(*batchIndex)));
  throw err;
}

Text::Text(Napi::Env env, Napi::Value v, const rtc::Limits& limits, const char* what) {
  if (v.IsString()) {
    // Small texts (most patches) are copied with one call into an inline buffer.
    std::size_t len = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, v, small_, sizeof small_, &len));
    // N-API stops before a character that does not fit whole (up to 4 bytes), so only a text
    // that left room for one more complete character is known to be complete.
    if (len + 4 < sizeof small_) {
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

void readLimits(const Napi::Value& v, rtc::Limits& limits) {
  if (!v.IsObject()) return;
  Napi::Object lo = v.As<Napi::Object>();
  auto read = [&](const char* name, std::uint64_t& slot) {
    if (auto n = optionalNumber(lo.Get(name), name)) slot = static_cast<std::uint64_t>(*n);
  };
  read("maxDepth", limits.maxDepth);
  read("maxDocumentBytes", limits.maxDocumentBytes);
  read("maxPatchOps", limits.maxPatchOps);
  read("maxPatchGrowthBytes", limits.maxPatchGrowthBytes);
}

std::string stringArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Error(codes::kInvalidArgument, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::optional<std::string> optionalString(const Napi::Value& v, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return std::nullopt;
  return stringArg(v, what);
}

double numberArg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Error(codes::kInvalidArgument, std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::optional<double> optionalNumber(const Napi::Value& v, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return std::nullopt;
  return numberArg(v, what);
}

std::int64_t wallArg(const Napi::Value& v) {
  double d = numberArg(v, "wallMs");
  if (!std::isfinite(d)) throw Error(codes::kInvalidArgument, "wallMs must be finite");
  if (d > 9.0e15) d = 9.0e15;
  if (d < -9.0e15) d = -9.0e15;
  return static_cast<std::int64_t>(d);
}

Napi::Value textOrNull(Napi::Env env, const std::optional<std::string>& s) {
  return s ? Napi::Value(Napi::String::New(env, *s)) : env.Null();
}

void appendUint(std::string& out, std::uint64_t v) { rtc::appendNumber(out, static_cast<double>(v)); }

}  // namespace rtc_napi
