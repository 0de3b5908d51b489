// Driver for the merge3 and stale-base DocumentStore.apply paths (timing and callgrind).
//   g++ -O2 -g -std=c++17 -Inative/core -DNDEBUG native/bench/merge_bench.cpp native/core/*.cpp
//   ./a.out merge base.json local.json remote.json iters
//   ./a.out stale entity.json fresh.txt stale.txt iters
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "document_store.h"
#include "json.h"
#include "merge3.h"

namespace {
std::string slurp(const char* p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::vector<std::string> lines(const char* p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) return 2;
  std::string mode = argv[1];
  long iters = std::atol(argv[5]);
  std::size_t sink = 0;
  auto t0 = std::chrono::steady_clock::now();
  if (mode == "merge") {
    std::string b = slurp(argv[2]), l = slurp(argv[3]), r = slurp(argv[4]);
    rtc::Merge3Options o;
    for (long i = 0; i < iters; ++i) {
      rtc::Json jb = rtc::parse(b, o.limits), jl = rtc::parse(l, o.limits), jr = rtc::parse(r, o.limits);
      rtc::Merge3Result res = rtc::merge3Consuming(jb, jl, jr, true, o);
      std::string doc = rtc::serialize(res.doc);
      sink += doc.size() + res.conflictsText.size();
      rtc::release(res.doc);
      rtc::release(jb);
      rtc::release(jl);
      rtc::release(jr);
    }
  } else {
    std::string ent = slurp(argv[2]);
    auto fresh = lines(argv[3]), stale = lines(argv[4]);
    rtc::StoreOptions so;
    rtc::DocumentStore st(so);
    std::int64_t wall = 1700000000000;
    std::uint64_t v = st.put("d", ent.data(), ent.size(), wall).version;
    std::size_t counter = 0;
    for (int k = 0; k < 3; ++k) {
      rtc::Mutation m;
      m.text = fresh[counter % fresh.size()].data();
      m.size = fresh[counter % fresh.size()].size();
      ++counter;
      m.baseVersion = double(v);
      v = st.apply("d", m, ++wall).version;
    }
    t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < iters; ++i) {
      rtc::Mutation m;
      const std::string& p = stale[counter % stale.size()];
      ++counter;
      m.text = p.data();
      m.size = p.size();
      m.baseVersion = double(v - 3);
      rtc::ApplyResult r = st.apply("d", m, ++wall);
      if (r.status != "merged") { std::fprintf(stderr, "status %s\n", r.status.c_str()); return 1; }
      v = r.version;
      sink += r.delta ? r.delta->size() : 0;
      if (argc > 6 && i < 3) std::printf("%s %s\n", r.delta ? r.delta->c_str() : "-", r.conflicts.c_str());
    }
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
  std::printf("%s %.2f us/iter (sink %zu)\n", mode.c_str(), us, sink);
  return 0;
}
