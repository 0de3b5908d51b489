// Microbenchmark of the OfflineQueue's durable log: encodePush, and LogWriter append throughput
// of 200-byte push records in batches, per fsync mode (until everything is reported durable).
//   g++ -O2 -std=c++17 -pthread -Inative/core native/bench/queue_log_bench.cpp native/core/queue_log.cpp
//   ./a.out [dir on the disk to measure, default ./build/queue-log-bench]
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

#include "queue_log.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// A framed push record of exactly 200 bytes.
std::string record200(std::uint64_t offset) {
  std::string out;
  const std::string_view key = "notif:123456";
  const std::string payload(200 - 8 - (1 + 2 + 6 + 8 + 8 + 8 + 4 + 4 + 1 + 2 + 16 + 2 + 12 + 4), 'p');
  rtc::encodePush(out, "user-7", offset, 1700000000000, 1700000000000, 0, 1000, true, "notification:new", &key,
                  payload);
  return out;
}

void benchWriter(const std::string& base, rtc::FsyncMode mode, const char* name, std::size_t batch,
                 std::size_t records) {
  const std::string dir = base + "/" + name + "-" + std::to_string(batch);
  std::filesystem::remove_all(dir);
  rtc::ReplayInfo info = rtc::replayLog(dir, nullptr);
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t durable = 0, reports = 0;
  rtc::LogWriterOptions o;
  o.dir = dir;
  o.fsync = mode;
  o.fsyncIntervalMs = 100;
  o.firstSegment = info.nextSegment;
  std::string one = record200(1);
  if (one.size() != 200) std::abort();
  const auto t0 = Clock::now();
  double produce = 0;
  {
    rtc::LogWriter w(
        o,
        [&](std::uint64_t s) {
          std::lock_guard<std::mutex> lk(m);
          durable = s;
          ++reports;
          cv.notify_all();
        },
        [](const char*, const std::string& msg) { std::fprintf(stderr, "error: %s\n", msg.c_str()); });
    std::uint64_t last = 0;
    for (std::size_t i = 0; i < records; i += batch) {
      std::string b;
      b.reserve(batch * one.size());
      for (std::size_t j = 0; j < batch; ++j) b += one;
      last = w.append(std::move(b));
    }
    produce = seconds(t0, Clock::now());
    if (mode == rtc::FsyncMode::Never) last = w.flush();
    std::unique_lock<std::mutex> lk(m);
    cv.wait(lk, [&] { return durable >= last; });
  }
  const double total = seconds(t0, Clock::now());
  const double mb = static_cast<double>(records) * 200 / 1e6;
  std::printf("%-8s batch %4zu: %8.0f records/s durable (%6.1f MB/s), producer %8.0f records/s, %llu durable reports\n",
              name, batch, static_cast<double>(records) / total, mb / total, static_cast<double>(records) / produce,
              static_cast<unsigned long long>(reports));
  std::filesystem::remove_all(dir);
}

// fsync Always, one batch at a time, waiting for each to be durable: the commit latency.
void benchLatency(const std::string& base, std::size_t commits) {
  const std::string dir = base + "/latency";
  std::filesystem::remove_all(dir);
  rtc::replayLog(dir, nullptr);
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t durable = 0;
  rtc::LogWriterOptions o;
  o.dir = dir;
  o.fsync = rtc::FsyncMode::Always;
  const std::string one = record200(1);
  const auto t0 = Clock::now();
  {
    rtc::LogWriter w(
        o,
        [&](std::uint64_t s) {
          std::lock_guard<std::mutex> lk(m);
          durable = s;
          cv.notify_all();
        },
        [](const char*, const std::string& msg) { std::fprintf(stderr, "error: %s\n", msg.c_str()); });
    for (std::size_t i = 0; i < commits; ++i) {
      const std::uint64_t s = w.append(std::string(one));
      std::unique_lock<std::mutex> lk(m);
      cv.wait(lk, [&] { return durable >= s; });
    }
  }
  const double total = seconds(t0, Clock::now());
  std::printf("always, one 200 B record at a time, waiting for each: %.0f commits/s (%.1f us per write+fsync)\n",
              static_cast<double>(commits) / total, total * 1e6 / static_cast<double>(commits));
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string base = argc > 1 ? argv[1] : "build/queue-log-bench";
  std::filesystem::create_directories(base);
  {
    const std::size_t n = 1000000;
    std::string out;
    out.reserve(n * 200);
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < n; ++i) out += record200(i);
    std::printf("encodePush (200 B, incl. CRC-32): %.0f ns/record\n", seconds(t0, Clock::now()) * 1e9 / n);
  }
  benchLatency(base, 2000);
  for (std::size_t batch : {1, 16, 256}) {
    benchWriter(base, rtc::FsyncMode::Always, "always", batch, batch == 1 ? 20000 : 200000);
    benchWriter(base, rtc::FsyncMode::Interval, "interval", batch, 200000);
    benchWriter(base, rtc::FsyncMode::Never, "never", batch, 200000);
  }
  std::filesystem::remove(base);
  return 0;
}
