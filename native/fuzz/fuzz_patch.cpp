// libFuzzer target: applyPatch, applyMergePatch and diff on two inputs split at the first NUL
// byte (document, patch). Errors are fine; crashes, leaks and UB are not. Where both parse as
// documents, applying the JSON Patch diff of a to b must give b.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "diff.h"
#include "merge_patch.h"
#include "patch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(bytes, 0, size);
  const std::size_t split = nul ? static_cast<const char*>(nul) - bytes : size;
  const char* second = nul ? bytes + split + 1 : bytes + size;
  const std::size_t secondSize = nul ? size - split - 1 : 0;

  rtc::Limits limits;
  limits.maxDepth = 64;
  limits.maxPatchGrowthBytes = 1 << 16;
  try {
    (void)rtc::applyPatchText(bytes, split, second, secondSize, limits);
  } catch (const rtc::Error&) {
  }
  try {
    (void)rtc::applyMergePatchText(bytes, split, second, secondSize, limits);
  } catch (const rtc::Error&) {
  }
  rtc::Json a, b;
  try {
    a = rtc::parse(bytes, split, limits);
    b = rtc::parse(second, secondSize, limits);
  } catch (const rtc::Error&) {
    return 0;
  }
  const std::string key = "id";
  for (const std::string* arrayKey : {static_cast<const std::string*>(nullptr), &key}) {
    rtc::Patch ops = rtc::diffJsonPatch(a, b, arrayKey);
    rtc::Limits unbounded = limits;
    unbounded.maxPatchOps = 1u << 30;
    unbounded.maxPatchGrowthBytes = 1u << 30;
    const rtc::Json result = rtc::applyPatch(rtc::deepCopy(a), ops, unbounded);
    if (!rtc::deepEqual(result, b)) std::abort();
  }
  (void)rtc::diffMergePatch(a, b);
  return 0;
}
