// libFuzzer target: the durable queue log's replay on arbitrary bytes. The input is split at
// every "RTQLOG01" into segment files 0000000001.rtq, 0000000002.rtq, ... (the bytes before the
// first one, if any, form a segment of their own), written to a scratch directory and replayed.
// Replay must never crash, and must leave a log that replays again the same way with nothing
// left to cut; every record it visits must re-encode to a record that decodes the same.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "json.h"
#include "queue_log.h"

namespace {

// A fresh scratch directory per input (removed after it): replay fsyncs what it cuts, which costs
// nothing on tmpfs (/dev/shm).
std::string makeScratchDir() {
  struct stat st;
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : std::string(tmp && *tmp ? tmp : "/tmp");
  std::string t = base + "/rtq-fuzz-XXXXXX";
  if (!::mkdtemp(t.data())) std::abort();
  return t;
}

void clearDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) std::abort();
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& n : names) ::unlink((dir + "/" + n).c_str());
}

void writeSegment(const std::string& dir, unsigned n, const char* data, std::size_t size) {
  char name[32];
  std::snprintf(name, sizeof name, "/%010u.rtq", n);
  const int fd = ::open((dir + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) std::abort();
  std::size_t off = 0;
  while (off < size) {
    const ssize_t w = ::write(fd, data + off, size - off);
    if (w <= 0) std::abort();
    off += static_cast<std::size_t>(w);
  }
  ::close(fd);
}

bool sameRecord(const rtc::QueueRecord& a, const rtc::QueueRecord& b) {
  return a.type == b.type && a.client == b.client && a.offset == b.offset && a.pushedAt == b.pushedAt &&
         a.retryAt == b.retryAt && a.deadAt == b.deadAt && a.attempts == b.attempts && a.prevDelay == b.prevDelay &&
         a.flags == b.flags && a.reason == b.reason && a.event == b.event && a.key == b.key &&
         a.payload == b.payload && a.text == b.text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string dir = makeScratchDir();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view magic = "RTQLOG01";
  unsigned n = 1;
  std::size_t start = 0;
  std::size_t next = in.find(magic, 1);
  while (next != std::string_view::npos) {
    if (next > start) writeSegment(dir, n++, in.data() + start, next - start);
    start = next;
    next = in.find(magic, start + 1);
  }
  if (size > start || n == 1) writeSegment(dir, n, in.data() + start, size - start);

  std::vector<rtc::QueueRecord> first;
  rtc::ReplayInfo a;
  try {
    a = rtc::replayLog(dir, [&](const rtc::QueueRecord& r) { first.push_back(r); });
  } catch (const rtc::Error&) {
    std::abort();  // a scratch directory of plain files is always usable
  }
  if (a.records != first.size()) std::abort();

  std::size_t i = 0;
  bool mismatch = false;
  const rtc::ReplayInfo b = rtc::replayLog(dir, [&](const rtc::QueueRecord& r) {
    if (i >= first.size() || !sameRecord(r, first[i])) mismatch = true;
    ++i;
  });
  if (mismatch || i != first.size() || b.truncated || b.records != a.records || b.bytes != a.bytes ||
      b.segments != a.segments)
    std::abort();

  // Every record re-encodes to bytes that replay as the same record.
  if (!first.empty()) {
    clearDir(dir);
    std::string seg = "RTQLOG01";
    for (const rtc::QueueRecord& r : first) rtc::encodeRecord(seg, r);
    writeSegment(dir, 1, seg.data(), seg.size());
    std::size_t j = 0;
    const rtc::ReplayInfo c = rtc::replayLog(dir, [&](const rtc::QueueRecord& r) {
      // The snapshot rule may skip what a multi-segment log had before a snapshot; in one segment
      // every record is visited.
      if (j >= first.size() || !sameRecord(r, first[j])) mismatch = true;
      ++j;
    });
    if (c.truncated || mismatch || j != first.size()) std::abort();
  }
  clearDir(dir);
  ::rmdir(dir.c_str());
  return 0;
}
