#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <memory>
#include <string_view>

namespace rtc {

enum class RecordType : std::uint8_t { Push = 1, Ack = 2, Nack = 3, Remove = 4, Dead = 5, Client = 6,
                                       SnapshotBegin = 7, SnapshotEnd = 8, DeadClear = 9 };

// One log record, decoded (replay) or to encode (cold paths). Fields unused by a type stay default.
struct QueueRecord {
  RecordType type = RecordType::Push;
  std::string client;
  std::uint64_t offset = 0;      // push, nack, remove, dead: the item; ack: upTo; client: lastOffset
  std::int64_t pushedAt = 0, retryAt = 0, deadAt = 0;
  std::uint32_t attempts = 0, prevDelay = 0;
  std::uint8_t flags = 0;        // push: 1 has key, 2 payload is text
  std::uint8_t reason = 0;       // remove: 1 overflow, 2 coalesced, 3 expired
  std::string event, key, payload;
  std::string text;              // dead: the reason string
};

// Appends one framed record (u32 length, u32 crc32 of the body, body) to out (docs/offline-queue.md, "File format").
void encodeRecord(std::string& out, const QueueRecord& r);
// Hot-path encoder for a push, no QueueRecord needed.
void encodePush(std::string& out, std::string_view client, std::uint64_t offset, std::int64_t pushedAt,
                std::int64_t retryAt, std::uint32_t attempts, std::uint32_t prevDelay, bool payloadIsText,
                std::string_view event, const std::string_view* key, std::string_view payload);

struct Truncation { std::string segment; std::uint64_t offset = 0; std::uint64_t bytes = 0; };
struct ReplayInfo {
  std::size_t segments = 0;          // segment files read
  std::uint64_t records = 0;         // records visited
  std::uint64_t bytes = 0;           // bytes of the log kept
  std::optional<Truncation> truncated;
  std::uint64_t nextSegment = 1;     // number for the writer's first new segment
};
// Creates dir if missing; reads the segments in order applying the snapshot rule; cuts a torn or
// corrupt tail (truncate that segment at the last good record, delete later segments) and reports it;
// calls visit for every record in replay order. Throws rtc::Error(codes::kDisk, ...) when dir is a file
// or cannot be read/written.
ReplayInfo replayLog(const std::string& dir, const std::function<void(const QueueRecord&)>& visit);

enum class FsyncMode { Always, Interval, Never };
struct LogWriterOptions {
  std::string dir;
  FsyncMode fsync = FsyncMode::Interval;
  std::uint32_t fsyncIntervalMs = 100;
  std::uint64_t segmentBytes = 64ull << 20;
  std::uint64_t firstSegment = 1;   // ReplayInfo::nextSegment
};

// The background writer. append/flush/beginSnapshot/close are called from ONE thread (the JS thread)
// and never wait on disk (close waits: it joins). Batches travel through a boost::lockfree::spsc_queue.
// onDurable(seq): every batch up to seq is written and fsynced (called on the writer thread; with
// fsync Always after each group commit, Interval after each timed fsync, Never only after flush/close).
// onError(code, message): a write/fsync/open failure (called on the writer thread); the writer then
// drops further batches (healthy() false) until a later write succeeds.
class LogWriter {
 public:
  LogWriter(LogWriterOptions options, std::function<void(std::uint64_t)> onDurable,
            std::function<void(const char* code, const std::string& message)> onError);
  ~LogWriter();                                        // close() if still open
  std::uint64_t append(std::string&& framedRecords);  // returns the batch's seq (1, 2, 3, ...)
  std::uint64_t beginSnapshot(std::string&& framedSnapshot);  // a whole snapshot (SnapshotBegin .. SnapshotEnd): written to a new segment, fsynced, then older segments deleted; later appends go after it
  std::uint64_t flush();                               // write + fsync everything so far; returns the seq that onDurable will report
  void close();                                        // flush, fsync, join; idempotent
  bool healthy() const;
  std::uint64_t bytes() const;                         // bytes in the log's live segments
  std::size_t segments() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtc
