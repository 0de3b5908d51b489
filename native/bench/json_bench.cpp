// Microbenchmark of the JSON layer: parse, parsePatch, serialize, deepCopy, destruction.
//   g++ -O2 -std=c++17 -Inative/core native/bench/json_bench.cpp native/core/{json,patch,pointer}.cpp
//   ./a.out [doc.json]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "json.h"
#include "patch.h"

namespace {
template <typename F>
double timeNs(std::size_t n, F f) {
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) f();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
}
}  // namespace

int main(int argc, char** argv) {
  std::string p =
      R"([{"op":"replace","path":"/status/online","value":true},{"op":"replace","path":"/status/battery","value":97},{"op":"replace","path":"/status/lastSeen","value":"2026-11-21T10:00:03.000Z"},{"op":"replace","path":"/playlist/items/3/durationMs","value":60003}])";
  rtc::Limits l;
  std::size_t sink = 0;
  std::printf("patch parse      %8.0f ns\n", timeNs(200000, [&] { sink += rtc::parse(p, l).size(); }));
  std::printf("patch parsePatch %8.0f ns\n", timeNs(200000, [&] { sink += rtc::parsePatch(p.data(), p.size(), l).size(); }));
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a]);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    std::size_t n = 2000000 / (doc.size() / 64 + 1);
    rtc::Json d = rtc::parse(doc, l);
    std::printf("%s (%zu bytes)\n", argv[a], doc.size());
    std::printf("  parse+destroy  %8.0f ns\n", timeNs(n, [&] { sink += rtc::parse(doc, l).size(); }));
    std::printf("  serialize      %8.0f ns\n", timeNs(n, [&] { sink += rtc::serialize(d).size(); }));
    std::printf("  deepCopy+dtor  %8.0f ns\n", timeNs(n, [&] { sink += rtc::deepCopy(d).size(); }));
    std::printf("  copy+release   %8.0f ns\n", timeNs(n, [&] {
      rtc::Json c = rtc::deepCopy(d);
      sink += c.size();
      rtc::release(c);
    }));
    std::printf("  deepEqual      %8.0f ns\n", timeNs(n, [&] { sink += rtc::deepEqual(d, d); }));
  }
  std::printf("(%zu)\n", sink);
}
