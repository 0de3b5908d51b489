// libFuzzer target: the JSON parser and serializer on arbitrary bytes. A parse that succeeds
// must serialize to text that parses back and serializes identically again (a fixed point after
// one round: like JSON.parse, 1e400 parses as Infinity, which serializes as null).
#include <cstdint>
#include <cstdlib>

#include "json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rtc::Limits limits;
  limits.maxDepth = 64;
  rtc::Json value;
  try {
    value = rtc::parse(reinterpret_cast<const char*>(data), size, limits);
  } catch (const rtc::Error&) {
    return 0;
  }
  const std::string text = rtc::serialize(value);
  const rtc::Json again = rtc::parse(text, limits);
  if (rtc::serialize(again) != text || !rtc::deepEqual(again, rtc::parse(rtc::serialize(again), limits))) std::abort();
  if (rtc::depth(value) > limits.maxDepth) std::abort();
  return 0;
}
