// libFuzzer target: a DocumentStore fed a document and then a sequence of patches (NUL-separated),
// each applied against the current or an older version. A patch that is refused or rejected must
// leave the stored document byte-identical.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "document_store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  std::size_t pos = 0;
  auto next = [&](const char** start, std::size_t* len) {
    if (pos > size) return false;
    const void* nul = std::memchr(bytes + pos, 0, size - pos);
    const std::size_t end = nul ? static_cast<const char*>(nul) - bytes : size;
    *start = bytes + pos;
    *len = end - pos;
    pos = end + 1;
    return true;
  };

  rtc::StoreOptions options;
  options.limits.maxDepth = 64;
  options.limits.maxPatchGrowthBytes = 1 << 16;
  options.historyLimit = 4;
  rtc::DocumentStore store(options);
  const char* text;
  std::size_t len;
  if (!next(&text, &len)) return 0;
  try {
    store.put("d", text, len, 1000);
  } catch (const rtc::Error&) {
    return 0;
  }
  std::int64_t wall = 1000;
  unsigned step = 0;
  while (next(&text, &len) && step < 16) {
    const std::string before = *store.get("d");
    const std::uint64_t version = *store.version("d");
    rtc::Mutation m;
    m.mergePatch = (step % 3) == 2;
    m.text = text;
    m.size = len;
    if (step % 2 == 1 && version > 1) m.baseVersion = static_cast<double>(version - 1 - (step / 2) % (version - 1));
    if (step % 4 == 3) {
      m.clientId = "c";
      m.mutationId = static_cast<double>(step / 2);
    }
    try {
      const rtc::ApplyResult r = store.apply("d", m, ++wall);
      if ((r.status == "rejected" || r.status == "duplicate") && *store.get("d") != before) std::abort();
      if (r.version != *store.version("d")) std::abort();
    } catch (const rtc::Error&) {
      if (*store.get("d") != before || *store.version("d") != version) std::abort();
    }
    ++step;
  }
  return 0;
}
