// Helpers shared by the bindings (addon.cpp, optimistic_wrap.cpp): coded errors, JSON text
// arguments, limits and small argument readers. No state: the addon stays context-aware.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>

#include "json.h"

namespace rtc_napi {

// Throws a JS error carrying `code` (TypeError for ERR_RT_INVALID_ARGUMENT, RangeError for
// ERR_RT_OUT_OF_RANGE). With a batch index, the error also gets a numeric `batchIndex`.
[[noreturn]] void throwCoded(Napi::Env env, const char* code, const std::string& message,
                             std::optional<std::size_t> batchIndex = std::nullopt);

// Runs a binding body, turning core failures into JS errors with a stable code. JS exceptions
// (thrown by a resolver) pass through unchanged as Napi::Error.
template <typename F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const rtc::Error& e) {
    throwCoded(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throwCoded(env, rtc::codes::kInternal, "out of memory");
  } catch (const std::exception& e) {
    throwCoded(env, rtc::codes::kInternal, std::string("internal error: ") + e.what());
  }
}

// A JSON text argument: a string (copied out as UTF-8) or a Uint8Array/Buffer (used in place).
// Neither copyable nor movable (it may point into itself).
class Text {
 public:
  Text(Napi::Env env, Napi::Value v, const rtc::Limits& limits, const char* what);
  Text(const Text&) = delete;
  Text& operator=(const Text&) = delete;
  const char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  char small_[1024];
  std::string owned_;
  const char* data_ = "";
  std::size_t size_ = 0;
};

// Positional limits (maxDepth, maxDocumentBytes, maxPatchOps, maxPatchGrowthBytes) from info[first].
rtc::Limits limitsAt(const Napi::CallbackInfo& info, std::size_t first);
// A limits object { maxDepth, maxDocumentBytes, maxPatchOps, maxPatchGrowthBytes }: the fields
// present replace those of `limits`; anything else than an object leaves it as it is.
void readLimits(const Napi::Value& v, rtc::Limits& limits);

std::string stringArg(const Napi::Value& v, const char* what);
std::optional<std::string> optionalString(const Napi::Value& v, const char* what);
double numberArg(const Napi::Value& v, const char* what);
std::optional<double> optionalNumber(const Napi::Value& v, const char* what);
std::int64_t wallArg(const Napi::Value& v);

Napi::Value textOrNull(Napi::Env env, const std::optional<std::string>& s);
void appendUint(std::string& out, std::uint64_t v);

// The Optimistic class (optimistic_wrap.cpp).
Napi::Function defineOptimistic(Napi::Env env);

}  // namespace rtc_napi
