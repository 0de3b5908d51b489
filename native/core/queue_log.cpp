// The durable log of the OfflineQueue (docs/offline-queue.md, "Durable mode" and "File format"):
// record encoding, replay with torn-tail truncation and the snapshot rule, and the background
// writer (group commit, fsync modes, segment rotation, snapshots).
#include "queue_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/lockfree/spsc_queue.hpp>

#include "json.h"

namespace rtc {

namespace {

constexpr char kMagic[8] = {'R', 'T', 'Q', 'L', 'O', 'G', '0', '1'};
constexpr std::size_t kMagicSize = sizeof(kMagic);
constexpr std::size_t kFrameHeader = 8;  // u32 length + u32 crc
// A body longer than this is corrupt whatever the file holds (a push with the largest payload,
// 2^31-1 bytes, and its largest strings fits well below it).
constexpr std::uint64_t kMaxBody = (1ull << 31) + (1ull << 16);
// Offsets are below 2^53 (exact in a JavaScript number).
constexpr std::uint64_t kMaxOffset = 1ull << 53;

// ---------------------------------------------------------------------------------------------
// Encoding

inline void putU8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void putU16(std::string& out, std::uint16_t v) {
  char b[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  out.append(b, 2);
}
inline void putU32(std::string& out, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}
inline void putU64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}
inline void putI64(std::string& out, std::int64_t v) { putU64(out, static_cast<std::uint64_t>(v)); }
inline void putStr(std::string& out, std::string_view s) {
  if (s.size() > 0xffff) throw Error(codes::kTooLarge, "queue log: a string field is longer than 65535 bytes");
  putU16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s.data(), s.size());
}
inline void putBytes(std::string& out, std::string_view s) {
  if (s.size() > 0xffffffffull) throw Error(codes::kTooLarge, "queue log: a payload is longer than 2^32-1 bytes");
  putU32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s.data(), s.size());
}
inline void storeU32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline std::uint32_t loadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(u[0]) | (static_cast<std::uint32_t>(u[1]) << 8) |
         (static_cast<std::uint32_t>(u[2]) << 16) | (static_cast<std::uint32_t>(u[3]) << 24);
}

// CRC-32/ISO-HDLC (zlib's crc32), slicing-by-8: eight table lookups per 8 bytes instead of one
// per byte. It is on the JS thread's path of every durable push, where boost::crc_32_type's
// bytewise loop was the largest cost. The tables are computed at compile time.
struct Crc32Tables {
  std::uint32_t t[8][256];
};

constexpr Crc32Tables makeCrc32Tables() {
  Crc32Tables tables{};
  for (std::uint32_t i = 0; i < 256; i++) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    tables.t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; i++) {
    for (int s = 1; s < 8; s++) tables.t[s][i] = (tables.t[s - 1][i] >> 8) ^ tables.t[0][tables.t[s - 1][i] & 0xFF];
  }
  return tables;
}

constexpr Crc32Tables kCrc32 = makeCrc32Tables();

std::uint32_t crc32(const char* data, std::size_t size) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  std::uint32_t c = 0xFFFFFFFFu;
  const auto& t = kCrc32.t;
  while (size >= 8) {
    const std::uint32_t lo = c ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
    const std::uint32_t hi = std::uint32_t(p[4]) | std::uint32_t(p[5]) << 8 | std::uint32_t(p[6]) << 16 | std::uint32_t(p[7]) << 24;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// Reserves the frame header at out's end; returns its position for finishFrame.
inline std::size_t beginFrame(std::string& out) {
  const std::size_t start = out.size();
  out.append(kFrameHeader, '\0');
  return start;
}
inline void finishFrame(std::string& out, std::size_t start) {
  const std::size_t bodyStart = start + kFrameHeader;
  const std::size_t len = out.size() - bodyStart;
  if (len > kMaxBody) {
    out.resize(start);
    throw Error(codes::kTooLarge, "queue log: a record is too large");
  }
  storeU32(&out[start], static_cast<std::uint32_t>(len));
  storeU32(&out[start + 4], crc32(out.data() + bodyStart, len));
}

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
 public:
  Reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  bool u8(std::uint8_t& v) {
    if (end_ - p_ < 1) return false;
    v = static_cast<std::uint8_t>(*p_++);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (end_ - p_ < 2) return false;
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    v = static_cast<std::uint16_t>(u[0] | (u[1] << 8));
    p_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = loadU32(p_);
    p_ += 4;
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (end_ - p_ < 8) return false;
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
    p_ += 8;
    return true;
  }
  bool i64(std::int64_t& v) {
    std::uint64_t u;
    if (!u64(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool str(std::string& s) {
    std::uint16_t n;
    if (!u16(n) || static_cast<std::size_t>(end_ - p_) < n) return false;
    s.assign(p_, n);
    p_ += n;
    return true;
  }
  bool bytes(std::string& s) {
    std::uint32_t n;
    if (!u32(n) || static_cast<std::size_t>(end_ - p_) < n) return false;
    s.assign(p_, n);
    p_ += n;
    return true;
  }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

// Decodes one record body; false when it is not exactly one well-formed record.
bool decodeBody(const char* p, std::size_t n, QueueRecord& r) {
  r = QueueRecord();
  Reader in(p, n);
  std::uint8_t type;
  if (!in.u8(type)) return false;
  bool ok = false;
  switch (type) {
    case static_cast<std::uint8_t>(RecordType::Push):
      ok = in.str(r.client) && in.u64(r.offset) && in.i64(r.pushedAt) && in.i64(r.retryAt) && in.u32(r.attempts) &&
           in.u32(r.prevDelay) && in.u8(r.flags) && (r.flags & ~3u) == 0 && in.str(r.event) &&
           ((r.flags & 1u) == 0 || in.str(r.key)) && in.bytes(r.payload);
      break;
    case static_cast<std::uint8_t>(RecordType::Ack):
    case static_cast<std::uint8_t>(RecordType::Client):
      ok = in.str(r.client) && in.u64(r.offset);
      break;
    case static_cast<std::uint8_t>(RecordType::Nack):
      ok = in.str(r.client) && in.u64(r.offset) && in.u32(r.attempts) && in.i64(r.retryAt) && in.u32(r.prevDelay);
      break;
    case static_cast<std::uint8_t>(RecordType::Remove):
      // 4: acked one item (ackOne), besides overflow, coalesced, expired.
      ok = in.str(r.client) && in.u64(r.offset) && in.u8(r.reason) && r.reason >= 1 && r.reason <= 4;
      break;
    case static_cast<std::uint8_t>(RecordType::Dead):
      ok = in.str(r.client) && in.u64(r.offset) && in.i64(r.deadAt) && in.str(r.text);
      break;
    case static_cast<std::uint8_t>(RecordType::SnapshotBegin):
    case static_cast<std::uint8_t>(RecordType::SnapshotEnd):
    case static_cast<std::uint8_t>(RecordType::DeadClear):
      ok = true;
      break;
    default:
      return false;
  }
  if (!ok || !in.done() || r.offset >= kMaxOffset) return false;
  r.type = static_cast<RecordType>(type);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Files

std::string errnoText(int err) { return std::string(std::strerror(err)); }

[[noreturn]] void throwDisk(const std::string& what, const std::string& path, int err) {
  throw Error(codes::kDisk, "queue log: " + what + " " + path + ": " + errnoText(err));
}

std::string segmentName(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%010llu.rtq", static_cast<unsigned long long>(n));
  return buf;
}

std::string joinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// "NNNNNNNNNN.rtq" (exactly 10 digits) -> its number.
bool parseSegmentName(const char* name, std::uint64_t& n) {
  if (std::strlen(name) != 14 || std::strcmp(name + 10, ".rtq") != 0) return false;
  n = 0;
  for (int i = 0; i < 10; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return true;
}

struct SegmentFile {
  std::uint64_t number;
  std::string name;
};

// The segment files of dir in numeric order; false (errno set) when dir cannot be listed.
bool listSegments(const std::string& dir, std::vector<SegmentFile>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  out.clear();
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::uint64_t n;
    if (parseSegmentName(e->d_name, n)) out.push_back({n, e->d_name});
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) {
    errno = err;
    return false;
  }
  std::sort(out.begin(), out.end(), [](const SegmentFile& a, const SegmentFile& b) { return a.number < b.number; });
  return true;
}

bool readWholeFile(const std::string& path, std::string& out) {
  out.clear();
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      errno = err;
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

bool fsyncPath(const std::string& path, bool directory) {
  int fd;
  do fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;
  int rc;
  do rc = ::fsync(fd);
  while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (rc != 0) errno = err;
  return rc == 0;
}

bool mkdirs(const std::string& dir) {
  if (dir.empty()) {
    errno = ENOENT;
    return false;
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    errno = ENOTDIR;
    return false;
  }
  const std::size_t slash = dir.find_last_of('/', dir.size() > 1 ? dir.size() - 2 : std::string::npos);
  if (slash != std::string::npos && slash > 0) {
    if (!mkdirs(dir.substr(0, slash))) return false;
  }
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return false;
  if (::stat(dir.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return false;
  }
  return true;
}

// What the scan of one segment found.
struct SegmentScan {
  std::uint64_t size = 0;     // file size
  std::uint64_t goodEnd = 0;  // end of the last good record (0: the header itself is bad)
  bool corrupt = false;       // goodEnd < size
  bool snapshotBegin = false; // the first record is a snapshot-begin
  bool snapshotEnd = false;   // ... and a snapshot-end follows it in this segment
};

// Walks the records of one segment image, calling visit (may be empty) for each good one.
template <typename Visit>
void scanSegment(const std::string& data, SegmentScan& scan, Visit&& visit) {
  scan = SegmentScan();
  scan.size = data.size();
  if (data.size() < kMagicSize || std::memcmp(data.data(), kMagic, kMagicSize) != 0) {
    scan.corrupt = true;
    return;
  }
  std::size_t pos = kMagicSize;
  bool first = true;
  QueueRecord rec;
  while (pos < data.size()) {
    if (data.size() - pos < kFrameHeader) break;
    const std::uint64_t len = loadU32(data.data() + pos);
    const std::uint32_t crc = loadU32(data.data() + pos + 4);
    if (len > kMaxBody || len > data.size() - pos - kFrameHeader) break;
    const char* body = data.data() + pos + kFrameHeader;
    if (crc32(body, static_cast<std::size_t>(len)) != crc) break;
    if (!decodeBody(body, static_cast<std::size_t>(len), rec)) break;
    if (first) scan.snapshotBegin = rec.type == RecordType::SnapshotBegin;
    else if (scan.snapshotBegin && rec.type == RecordType::SnapshotEnd) scan.snapshotEnd = true;
    first = false;
    visit(rec);
    pos += kFrameHeader + static_cast<std::size_t>(len);
  }
  scan.goodEnd = pos;
  scan.corrupt = pos < data.size();
}

}  // namespace

// -----------------------------------------------------------------------------------------------

void encodeRecord(std::string& out, const QueueRecord& r) {
  const std::size_t start = beginFrame(out);
  try {
    putU8(out, static_cast<std::uint8_t>(r.type));
    switch (r.type) {
      case RecordType::Push:
        putStr(out, r.client);
        putU64(out, r.offset);
        putI64(out, r.pushedAt);
        putI64(out, r.retryAt);
        putU32(out, r.attempts);
        putU32(out, r.prevDelay);
        putU8(out, r.flags & 3u);
        putStr(out, r.event);
        if (r.flags & 1u) putStr(out, r.key);
        putBytes(out, r.payload);
        break;
      case RecordType::Ack:
      case RecordType::Client:
        putStr(out, r.client);
        putU64(out, r.offset);
        break;
      case RecordType::Nack:
        putStr(out, r.client);
        putU64(out, r.offset);
        putU32(out, r.attempts);
        putI64(out, r.retryAt);
        putU32(out, r.prevDelay);
        break;
      case RecordType::Remove:
        putStr(out, r.client);
        putU64(out, r.offset);
        putU8(out, r.reason);
        break;
      case RecordType::Dead:
        putStr(out, r.client);
        putU64(out, r.offset);
        putI64(out, r.deadAt);
        putStr(out, r.text);
        break;
      case RecordType::SnapshotBegin:
      case RecordType::SnapshotEnd:
      case RecordType::DeadClear:
        break;
      default:
        throw Error(codes::kInternal, "queue log: unknown record type");
    }
  } catch (...) {
    out.resize(start);
    throw;
  }
  finishFrame(out, start);
}

void encodePush(std::string& out, std::string_view client, std::uint64_t offset, std::int64_t pushedAt,
                std::int64_t retryAt, std::uint32_t attempts, std::uint32_t prevDelay, bool payloadIsText,
                std::string_view event, const std::string_view* key, std::string_view payload) {
  if (client.size() > 0xffff || event.size() > 0xffff || (key && key->size() > 0xffff))
    throw Error(codes::kTooLarge, "queue log: a string field is longer than 65535 bytes");
  if (payload.size() > 0xffffffffull) throw Error(codes::kTooLarge, "queue log: a payload is longer than 2^32-1 bytes");
  const std::size_t bodyLen = 1 + 2 + client.size() + 8 + 8 + 8 + 4 + 4 + 1 + 2 + event.size() +
                              (key ? 2 + key->size() : 0) + 4 + payload.size();
  if (bodyLen > kMaxBody) throw Error(codes::kTooLarge, "queue log: a record is too large");
  const std::size_t start = out.size();
  out.resize(start + kFrameHeader + bodyLen);
  char* p = &out[start + kFrameHeader];
  auto u8 = [&](std::uint8_t v) { *p++ = static_cast<char>(v); };
  auto un = [&](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) *p++ = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto raw = [&](std::string_view s) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  u8(static_cast<std::uint8_t>(RecordType::Push));
  un(client.size(), 2);
  raw(client);
  un(offset, 8);
  un(static_cast<std::uint64_t>(pushedAt), 8);
  un(static_cast<std::uint64_t>(retryAt), 8);
  un(attempts, 4);
  un(prevDelay, 4);
  u8(static_cast<std::uint8_t>((key ? 1u : 0u) | (payloadIsText ? 2u : 0u)));
  un(event.size(), 2);
  raw(event);
  if (key) {
    un(key->size(), 2);
    raw(*key);
  }
  un(payload.size(), 4);
  raw(payload);
  storeU32(&out[start], static_cast<std::uint32_t>(bodyLen));
  storeU32(&out[start + 4], crc32(out.data() + start + kFrameHeader, bodyLen));
}

// -----------------------------------------------------------------------------------------------
// Replay

ReplayInfo replayLog(const std::string& dir, const std::function<void(const QueueRecord&)>& visit) {
  if (!mkdirs(dir)) throwDisk("cannot create the directory", dir, errno);
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) throwDisk("cannot use the directory", dir, errno);
  std::vector<SegmentFile> files;
  if (!listSegments(dir, files)) throwDisk("cannot list the directory", dir, errno);

  ReplayInfo info;
  if (!files.empty()) info.nextSegment = files.back().number + 1;

  // Pass 1: validate every segment, find the first torn or corrupt record.
  std::vector<SegmentScan> scans(files.size());
  std::size_t cutAt = files.size();  // index of the segment holding the cut
  std::string data;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string path = joinPath(dir, files[i].name);
    if (!readWholeFile(path, data)) throwDisk("cannot read", path, errno);
    scanSegment(data, scans[i], [](const QueueRecord&) {});
    if (scans[i].corrupt) {
      cutAt = i;
      break;
    }
  }

  bool dirChanged = false;
  if (cutAt < files.size()) {
    Truncation t;
    t.segment = files[cutAt].name;
    t.offset = scans[cutAt].goodEnd;
    t.bytes = scans[cutAt].size - scans[cutAt].goodEnd;
    const std::string path = joinPath(dir, files[cutAt].name);
    if (scans[cutAt].goodEnd == 0) {
      // Not even a header: nothing of this segment is kept.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwDisk("cannot delete", path, errno);
      dirChanged = true;
    } else {
      if (::truncate(path.c_str(), static_cast<off_t>(scans[cutAt].goodEnd)) != 0)
        throwDisk("cannot truncate", path, errno);
      if (!fsyncPath(path, false)) throwDisk("cannot fsync", path, errno);
    }
    for (std::size_t j = cutAt + 1; j < files.size(); ++j) {
      const std::string later = joinPath(dir, files[j].name);
      struct stat st;
      if (::stat(later.c_str(), &st) == 0) t.bytes += static_cast<std::uint64_t>(st.st_size);
      if (::unlink(later.c_str()) != 0 && errno != ENOENT) throwDisk("cannot delete", later, errno);
      dirChanged = true;
    }
    info.truncated = std::move(t);
    const std::size_t kept = scans[cutAt].goodEnd == 0 ? cutAt : cutAt + 1;
    if (scans[cutAt].goodEnd != 0) {
      scans[cutAt].size = scans[cutAt].goodEnd;
      scans[cutAt].corrupt = false;
    }
    files.resize(kept);
    scans.resize(kept);
  }

  // The snapshot rule: start at the newest complete snapshot segment; snapshot segments without
  // their end are dropped.
  std::size_t start = 0;
  for (std::size_t i = files.size(); i-- > 0;) {
    if (scans[i].snapshotBegin && scans[i].snapshotEnd) {
      start = i;
      break;
    }
  }
  std::vector<std::size_t> replay;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const bool incomplete = scans[i].snapshotBegin && !scans[i].snapshotEnd;
    if (i >= start && !incomplete) {
      replay.push_back(i);
      continue;
    }
    const std::string path = joinPath(dir, files[i].name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwDisk("cannot delete", path, errno);
    dirChanged = true;
  }
  if (dirChanged && !fsyncPath(dir, true)) throwDisk("cannot fsync the directory", dir, errno);

  // Pass 2: visit the records of the segments kept.
  for (std::size_t i : replay) {
    const std::string path = joinPath(dir, files[i].name);
    if (!readWholeFile(path, data)) throwDisk("cannot read", path, errno);
    // The file was validated above; never read past what was found good.
    if (data.size() > scans[i].size) data.resize(static_cast<std::size_t>(scans[i].size));
    SegmentScan again;
    scanSegment(data, again, [&](const QueueRecord& r) {
      ++info.records;
      if (visit) visit(r);
    });
    ++info.segments;
    info.bytes += again.goodEnd;
  }
  return info;
}

// -----------------------------------------------------------------------------------------------
// The writer

namespace {

enum class BatchKind : std::uint8_t { Append, Snapshot, Flush };

struct Batch {
  BatchKind kind;
  std::uint64_t seq;
  std::string data;
};

constexpr std::size_t kQueueCapacity = 16384;

bool writeAll(int fd, std::vector<struct iovec>& iov, std::uint64_t& written) {
  std::size_t first = 0;
  written = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::writev(fd, iov.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    written += static_cast<std::uint64_t>(n);
    std::size_t left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

bool fsyncFd(int fd) {
  int rc;
  do rc = ::fsync(fd);
  while (rc != 0 && errno == EINTR);
  return rc == 0;
}

}  // namespace

struct LogWriter::Impl {
  LogWriterOptions opt;
  std::function<void(std::uint64_t)> onDurable;
  std::function<void(const char*, const std::string&)> onError;

  boost::lockfree::spsc_queue<Batch*, boost::lockfree::capacity<kQueueCapacity>> queue;

  // When the spsc queue is full, the producer parks batches in the overflow list (and keeps
  // doing so, to keep the order, until the writer has taken them). The writer takes the list once
  // it has drained the spsc queue, so a batch parked by the last call is never stranded. The
  // mutex is held only to move pointers, never across disk I/O.
  std::mutex overflowMutex;
  std::vector<Batch*> overflow;  // guarded by overflowMutex
  std::atomic<bool> overflowing{false};

  // Producer side (the JS thread only).
  std::uint64_t nextSeq = 1;
  bool closed = false;

  // Shared.
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;  // guarded by m
  std::atomic<bool> healthy{true};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::size_t> segments{0};
  std::thread thread;

  // Writer side.
  int fd = -1;
  std::uint64_t segNumber = 0;     // number of the open segment
  std::uint64_t segSize = 0;       // bytes known good in it
  std::uint64_t nextSegment = 1;   // number for the next new segment
  std::vector<std::string> unsynced;  // closed segments written since their last fsync
  bool dirDirty = false;           // a segment was created or deleted since the last dir fsync
  bool dirty = false;              // something was written since the last fsync
  std::uint64_t writtenSeq = 0;    // highest seq handled (written or dropped)
  std::uint64_t reportedSeq = 0;   // highest seq given to onDurable
  std::chrono::steady_clock::time_point lastSync = std::chrono::steady_clock::now();

  std::string path(std::uint64_t n) const { return joinPath(opt.dir, segmentName(n)); }

  void fail(const std::string& message) {
    healthy.store(false, std::memory_order_release);
    if (onError) {
      try {
        onError(codes::kDisk, message);
      } catch (...) {
      }
    }
  }
  void durable(std::uint64_t seq) {
    if (seq <= reportedSeq) return;
    reportedSeq = seq;
    if (onDurable) {
      try {
        onDurable(seq);
      } catch (...) {
      }
    }
  }

  // Closes the open segment (a failed one: without keeping it in the unsynced list).
  void closeSegment(bool keepForSync) {
    if (fd < 0) return;
    if (keepForSync && dirty) unsynced.push_back(path(segNumber));
    ::close(fd);
    fd = -1;
    segSize = 0;
  }

  // Opens a new, empty segment. Its header goes with the first write.
  bool openSegment(std::string& error) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const std::uint64_t n = nextSegment++;
      const std::string p = path(n);
      int f;
      do f = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
      while (f < 0 && errno == EINTR);
      if (f < 0) {
        error = "queue log: cannot create " + p + ": " + errnoText(errno);
        return false;
      }
      struct stat st;
      if (::fstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        ::close(f);  // someone else's file: never write into it
        continue;
      }
      fd = f;
      segNumber = n;
      segSize = 0;
      dirDirty = true;
      return true;
    }
    error = "queue log: cannot find a free segment number in " + opt.dir;
    return false;
  }

  // Undoes a failed write into the open segment and abandons it (the next write opens a new one).
  void abandonSegment() {
    if (fd < 0) return;
    const std::string p = path(segNumber);
    struct stat st;
    std::uint64_t actual = segSize;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) actual = static_cast<std::uint64_t>(st.st_size);
    if (segSize == 0) {
      // Its header did not make it: the file goes (nothing was counted for it).
      ::close(fd);
      fd = -1;
      ::unlink(p.c_str());
      return;
    }
    // Cut the partial batch. If that fails too, replay cuts it (and what follows) later.
    if (actual > segSize) (void)::ftruncate(fd, static_cast<off_t>(segSize));
    if (dirty) unsynced.push_back(p);
    ::close(fd);
    fd = -1;
    segSize = 0;
  }

  // Writes bufs (whole batches) to the open segment or a new one. false: failed (reported).
  bool writeRun(const std::vector<Batch*>& run) {
    std::string error;
    if (fd < 0 && !openSegment(error)) {
      fail(error);
      return false;
    }
    std::vector<struct iovec> iov;
    iov.reserve(run.size() + 1);
    std::uint64_t total = 0;
    const bool fresh = segSize == 0;
    if (fresh) {
      iov.push_back({const_cast<char*>(kMagic), kMagicSize});
      total += kMagicSize;
    }
    for (Batch* b : run) {
      if (b->data.empty()) continue;
      iov.push_back({b->data.data(), b->data.size()});
      total += b->data.size();
    }
    if (total == 0) return true;
    std::uint64_t written = 0;
    if (!writeAll(fd, iov, written)) {
      const int err = errno;
      const std::string p = path(segNumber);
      abandonSegment();
      fail("queue log: cannot write " + p + ": " + errnoText(err));
      return false;
    }
    // A segment whose file was deleted (the directory removed) swallows writes silently.
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_nlink == 0) {
      const std::string p = path(segNumber);
      ::close(fd);
      fd = -1;
      if (!fresh) {
        bytes.fetch_sub(std::min(segSize, bytes.load(std::memory_order_relaxed)), std::memory_order_relaxed);
        if (segments.load(std::memory_order_relaxed) > 0) segments.fetch_sub(1, std::memory_order_relaxed);
      }
      segSize = 0;
      fail("queue log: " + p + " was removed (is the directory gone?)");
      return false;
    }
    if (fresh) segments.fetch_add(1, std::memory_order_relaxed);
    segSize += total;
    bytes.fetch_add(total, std::memory_order_relaxed);
    dirty = true;
    healthy.store(true, std::memory_order_release);
    return true;
  }

  // fsyncs the open segment, the closed ones written since, and the directory. A failure is
  // reported; what was not synced counts as lost (no retry loop on a failing disk).
  bool syncAll() {
    std::string error;
    if (fd >= 0 && dirty && !fsyncFd(fd)) {
      error = "queue log: cannot fsync " + path(segNumber) + ": " + errnoText(errno);
      abandonSegment();
    }
    for (const std::string& p : unsynced) {
      if (error.empty() && !fsyncPath(p, false) && errno != ENOENT)
        error = "queue log: cannot fsync " + p + ": " + errnoText(errno);
    }
    unsynced.clear();
    if (error.empty() && dirDirty) {
      if (fsyncPath(opt.dir, true)) dirDirty = false;
      else error = "queue log: cannot fsync the directory " + opt.dir + ": " + errnoText(errno);
    }
    dirty = false;
    lastSync = std::chrono::steady_clock::now();
    if (!error.empty()) {
      fail(error);
      return false;
    }
    return true;
  }

  // Writes appends, rotating past segmentBytes.
  bool writeAppends(const std::vector<Batch*>& batches) {
    bool ok = true;
    std::vector<Batch*> run;
    std::uint64_t runBytes = 0;
    auto flushRun = [&]() {
      if (run.empty()) return;
      if (!writeRun(run)) ok = false;
      run.clear();
      runBytes = 0;
      if (fd >= 0 && segSize >= opt.segmentBytes) closeSegment(true);
    };
    for (Batch* b : batches) {
      run.push_back(b);
      runBytes += b->data.size();
      if (segSize + runBytes + (segSize == 0 ? kMagicSize : 0) >= opt.segmentBytes) flushRun();
    }
    flushRun();
    return ok;
  }

  // A snapshot: new segment, write, fsync, fsync dir, delete the older segments.
  bool writeSnapshot(Batch* b) {
    const int oldFd = fd;
    const std::uint64_t oldNumber = segNumber, oldSize = segSize;
    const bool oldDirty = dirty;
    fd = -1;
    segSize = 0;
    std::string error;
    auto restore = [&]() {
      fd = oldFd;
      segNumber = oldNumber;
      segSize = oldSize;
      dirty = oldDirty;
    };
    if (!openSegment(error)) {
      restore();
      fail(error);
      return false;
    }
    const std::string p = path(segNumber);
    std::vector<struct iovec> iov{{const_cast<char*>(kMagic), kMagicSize}};
    if (!b->data.empty()) iov.push_back({b->data.data(), b->data.size()});
    std::uint64_t written = 0;
    const bool wrote = writeAll(fd, iov, written);
    const int werr = errno;
    const bool synced = wrote && fsyncFd(fd);
    const int serr = errno;
    const bool dirSynced = synced && fsyncPath(opt.dir, true);
    const int derr = errno;
    if (!dirSynced) {
      ::close(fd);
      ::unlink(p.c_str());  // an incomplete snapshot is ignored by replay anyway
      restore();
      fail("queue log: cannot write the snapshot " + p + ": " +
           errnoText(!wrote ? werr : !synced ? serr : derr));
      return false;
    }
    // The snapshot is on disk: everything before it is superseded.
    if (oldFd >= 0) ::close(oldFd);
    unsynced.clear();
    std::vector<SegmentFile> files;
    if (listSegments(opt.dir, files)) {
      for (const SegmentFile& f : files) {
        if (f.number < segNumber) ::unlink(joinPath(opt.dir, f.name).c_str());
      }
    }
    dirDirty = !fsyncPath(opt.dir, true);
    segSize = kMagicSize + b->data.size();
    bytes.store(segSize, std::memory_order_relaxed);
    segments.store(1, std::memory_order_relaxed);
    dirty = false;
    lastSync = std::chrono::steady_clock::now();
    healthy.store(true, std::memory_order_release);
    if (segSize >= opt.segmentBytes) closeSegment(false);
    return true;
  }

  // Handles one drained group, in order.
  void process(std::vector<Batch*>& group, bool final) {
    bool ok = true;
    bool flushWanted = final;
    std::uint64_t maxSeq = 0;
    std::vector<Batch*> appends;
    for (Batch* b : group) {
      maxSeq = std::max(maxSeq, b->seq);
      if (b->kind == BatchKind::Append) {
        appends.push_back(b);
      } else if (b->kind == BatchKind::Flush) {
        flushWanted = true;
      } else {
        if (!appends.empty()) {
          ok = writeAppends(appends);
          appends.clear();
        }
        ok = writeSnapshot(b);
      }
    }
    if (!appends.empty()) ok = writeAppends(appends);
    if (maxSeq > writtenSeq) writtenSeq = maxSeq;
    for (Batch* b : group) delete b;
    group.clear();

    if (flushWanted || opt.fsync == FsyncMode::Always) {
      // Batches that failed were reported to onError already; the rest is on disk.
      if (syncAll() && (ok || flushWanted)) durable(writtenSeq);
    } else if (ok && !dirty && unsynced.empty()) {
      // Everything written is fsynced already (a snapshot): nothing to wait for.
      durable(writtenSeq);
    }
  }

  void intervalSync() {
    if (opt.fsync != FsyncMode::Interval || (!dirty && unsynced.empty())) return;
    if (std::chrono::steady_clock::now() < lastSync + std::chrono::milliseconds(opt.fsyncIntervalMs)) return;
    const std::uint64_t seq = writtenSeq;
    if (syncAll()) durable(seq);
  }

  void run() {
    std::vector<Batch*> group;
    for (;;) {
      bool stopping;
      {
        std::unique_lock<std::mutex> lk(m);
        auto ready = [&] {
          return stop || queue.read_available() > 0 || overflowing.load(std::memory_order_acquire);
        };
        if (opt.fsync == FsyncMode::Interval && (dirty || !unsynced.empty())) {
          cv.wait_until(lk, lastSync + std::chrono::milliseconds(opt.fsyncIntervalMs), ready);
        } else {
          cv.wait(lk, ready);
        }
        stopping = stop;
      }
      try {
        drain(group);
        if (!group.empty() || stopping) process(group, stopping);
        intervalSync();
      } catch (...) {
        for (Batch* x : group) delete x;
        group.clear();
        try {
          fail("queue log: the writer ran out of memory");
        } catch (...) {
        }
      }
      if (stopping && queue.read_available() == 0 && !overflowing.load(std::memory_order_acquire)) break;
    }
    closeSegment(false);
  }

  // Writer side: takes every batch available, in order.
  void drain(std::vector<Batch*>& group) {
    // Read the flag first: while it is set the producer adds nothing to the spsc queue, so once
    // the queue is empty everything older than the parked batches has been taken.
    const bool parked = overflowing.load(std::memory_order_acquire);
    Batch* b;
    while (queue.pop(b)) group.push_back(b);
    if (parked) {
      std::lock_guard<std::mutex> lk(overflowMutex);
      group.insert(group.end(), overflow.begin(), overflow.end());
      overflow.clear();
      overflowing.store(false, std::memory_order_release);
    }
  }

  // Producer side: never waits on the writer's I/O.
  void enqueue(Batch* b) {
    if (overflowing.load(std::memory_order_acquire) || !queue.push(b)) {
      std::lock_guard<std::mutex> lk(overflowMutex);
      overflow.push_back(b);
      overflowing.store(true, std::memory_order_release);
    }
    { std::lock_guard<std::mutex> lk(m); }
    cv.notify_one();
  }
};

LogWriter::LogWriter(LogWriterOptions options, std::function<void(std::uint64_t)> onDurable,
                     std::function<void(const char* code, const std::string& message)> onError)
    : impl_(std::make_unique<Impl>()) {
  Impl& w = *impl_;
  w.opt = std::move(options);
  if (w.opt.segmentBytes < kMagicSize + 1) w.opt.segmentBytes = kMagicSize + 1;
  if (w.opt.fsyncIntervalMs == 0) w.opt.fsyncIntervalMs = 1;
  w.onDurable = std::move(onDurable);
  w.onError = std::move(onError);
  w.nextSegment = std::max<std::uint64_t>(1, w.opt.firstSegment);
  // What the log holds already (replayed before the writer starts).
  std::vector<SegmentFile> files;
  if (listSegments(w.opt.dir, files)) {
    std::uint64_t total = 0;
    for (const SegmentFile& f : files) {
      struct stat st;
      if (::stat(joinPath(w.opt.dir, f.name).c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_size);
      if (f.number >= w.nextSegment) w.nextSegment = f.number + 1;
    }
    w.bytes.store(total, std::memory_order_relaxed);
    w.segments.store(files.size(), std::memory_order_relaxed);
  }
  w.thread = std::thread([this] { impl_->run(); });
}

LogWriter::~LogWriter() { close(); }

std::uint64_t LogWriter::append(std::string&& framedRecords) {
  Impl& w = *impl_;
  if (w.closed) return 0;
  const std::uint64_t seq = w.nextSeq++;
  w.enqueue(new Batch{BatchKind::Append, seq, std::move(framedRecords)});
  return seq;
}

std::uint64_t LogWriter::beginSnapshot(std::string&& framedSnapshot) {
  Impl& w = *impl_;
  if (w.closed) return 0;
  const std::uint64_t seq = w.nextSeq++;
  w.enqueue(new Batch{BatchKind::Snapshot, seq, std::move(framedSnapshot)});
  return seq;
}

std::uint64_t LogWriter::flush() {
  Impl& w = *impl_;
  if (w.closed) return 0;
  const std::uint64_t seq = w.nextSeq++;
  w.enqueue(new Batch{BatchKind::Flush, seq, std::string()});
  return seq;
}

void LogWriter::close() {
  Impl& w = *impl_;
  if (w.closed) return;
  w.closed = true;
  w.enqueue(new Batch{BatchKind::Flush, w.nextSeq++, std::string()});
  {
    std::lock_guard<std::mutex> lk(w.m);
    w.stop = true;
  }
  w.cv.notify_one();
  if (w.thread.joinable()) w.thread.join();
  std::vector<Batch*> left;
  w.drain(left);
  for (Batch* b : left) delete b;
}

bool LogWriter::healthy() const { return impl_->healthy.load(std::memory_order_acquire); }
std::uint64_t LogWriter::bytes() const { return impl_->bytes.load(std::memory_order_relaxed); }
std::size_t LogWriter::segments() const { return impl_->segments.load(std::memory_order_relaxed); }

}  // namespace rtc
