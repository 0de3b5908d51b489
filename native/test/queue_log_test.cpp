// The durable log of the OfflineQueue: format, replay (torn tails, snapshots), the writer.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "json.h"
#include "queue_log.h"

namespace rtc {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "rtq-test-XXXXXX").string();
    if (!::mkdtemp(t.data())) std::abort();
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string seg(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%010llu.rtq", static_cast<unsigned long long>(n));
  return buf;
}

const std::string kHeader = "RTQLOG01";

using rtc::test_util::errorCode;

QueueRecord push(const std::string& client, std::uint64_t offset, const std::string& payload = "payload",
                 std::uint8_t flags = 2, const std::string& key = "") {
  QueueRecord r;
  r.type = RecordType::Push;
  r.client = client;
  r.offset = offset;
  r.pushedAt = 1700000000000 + static_cast<std::int64_t>(offset);
  r.retryAt = r.pushedAt + 5;
  r.attempts = 1;
  r.prevDelay = 250;
  r.flags = flags;
  r.event = "ev:" + std::to_string(offset);
  r.key = key;
  r.payload = payload;
  return r;
}

QueueRecord simple(RecordType t) {
  QueueRecord r;
  r.type = t;
  return r;
}

std::string encoded(const std::vector<QueueRecord>& rs) {
  std::string out;
  for (const auto& r : rs) encodeRecord(out, r);
  return out;
}

std::vector<QueueRecord> replayAll(const std::string& dir, ReplayInfo* info = nullptr) {
  std::vector<QueueRecord> out;
  ReplayInfo i = replayLog(dir, [&](const QueueRecord& r) { out.push_back(r); });
  if (info) *info = i;
  return out;
}

void expectSame(const QueueRecord& a, const QueueRecord& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.client, b.client);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.pushedAt, b.pushedAt);
  EXPECT_EQ(a.retryAt, b.retryAt);
  EXPECT_EQ(a.deadAt, b.deadAt);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.prevDelay, b.prevDelay);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.event, b.event);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.text, b.text);
}

// One of each type, every field set that the type carries.
std::vector<QueueRecord> everyType() {
  std::vector<QueueRecord> v;
  v.push_back(push("alice", 1, "text payload", 2));
  v.push_back(push("alice", 2, std::string("\0\1\2\xff", 4), 1, "k:2"));
  v.push_back(push("bob", 3, "", 3, "k"));
  v.push_back(push(std::string(300, 'x'), 9007199254740991ull, std::string(70000, 'p'), 0));
  QueueRecord ack;
  ack.type = RecordType::Ack;
  ack.client = "alice";
  ack.offset = 1;
  v.push_back(ack);
  QueueRecord nack;
  nack.type = RecordType::Nack;
  nack.client = "bob";
  nack.offset = 3;
  nack.attempts = 2;
  nack.retryAt = -17;
  nack.prevDelay = 4000000000u;
  v.push_back(nack);
  for (std::uint8_t reason = 1; reason <= 3; ++reason) {
    QueueRecord rm;
    rm.type = RecordType::Remove;
    rm.client = "bob";
    rm.offset = 10 + reason;
    rm.reason = reason;
    v.push_back(rm);
  }
  QueueRecord dead;
  dead.type = RecordType::Dead;
  dead.client = "alice";
  dead.offset = 2;
  dead.deadAt = 1700000009999;
  dead.text = "nack: \xc3\xa9 too many";
  v.push_back(dead);
  QueueRecord client;
  client.type = RecordType::Client;
  client.client = "carol";
  client.offset = 77;
  v.push_back(client);
  v.push_back(simple(RecordType::DeadClear));
  return v;
}

// ------------------------------------------------------------------------------------------------
// Format

TEST(QueueLogFormat, PushBytesExact) {
  QueueRecord r;
  r.type = RecordType::Push;
  r.client = "c";
  r.offset = 1;
  r.pushedAt = 2;
  r.retryAt = -3;
  r.attempts = 4;
  r.prevDelay = 5;
  r.flags = 3;
  r.event = "e";
  r.key = "k";
  r.payload = "p";
  std::string out = "prefix";
  encodeRecord(out, r);
  // Checked against Python's zlib.crc32 and struct.pack('<...').
  EXPECT_EQ(hex(out.substr(6)),
            "30000000f869eea10101006301000000000000000200000000000000fdffffffffffffff04000000050000000301006501006b"
            "0100000070");
  EXPECT_EQ(out.substr(0, 6), "prefix");

  std::string hot;
  const std::string_view key = "k";
  encodePush(hot, "c", 1, 2, -3, 4, 5, true, "e", &key, "p");
  EXPECT_EQ(hot, out.substr(6));
}

TEST(QueueLogFormat, OtherBytesExact) {
  // ack: type 2, client "a", upTo 5
  QueueRecord ack;
  ack.type = RecordType::Ack;
  ack.client = "a";
  ack.offset = 5;
  std::string body = std::string("\x02\x01\x00" "a", 4) + std::string("\x05\0\0\0\0\0\0\0", 8);
  std::string out;
  encodeRecord(out, ack);
  ASSERT_EQ(out.size(), 8 + body.size());
  EXPECT_EQ(out.substr(8), body);
  EXPECT_EQ(hex(out.substr(0, 4)), "0c000000");
  // snapshot markers and dead-clear: a one-byte body
  for (auto t : {RecordType::SnapshotBegin, RecordType::SnapshotEnd, RecordType::DeadClear}) {
    std::string o;
    encodeRecord(o, simple(t));
    ASSERT_EQ(o.size(), 9u);
    EXPECT_EQ(hex(o.substr(0, 4)), "01000000");
    EXPECT_EQ(static_cast<std::uint8_t>(o[8]), static_cast<std::uint8_t>(t));
  }
  // nack field order: client, offset, attempts u32, retryAt i64, prevDelay u32
  QueueRecord nack;
  nack.type = RecordType::Nack;
  nack.client = "";
  nack.offset = 1;
  nack.attempts = 2;
  nack.retryAt = 3;
  nack.prevDelay = 4;
  std::string n;
  encodeRecord(n, nack);
  EXPECT_EQ(hex(n.substr(8)), "03" "0000" "0100000000000000" "02000000" "0300000000000000" "04000000");
  // dead: client, offset, deadAt, reason string
  QueueRecord dead;
  dead.type = RecordType::Dead;
  dead.client = "z";
  dead.offset = 9;
  dead.deadAt = 10;
  dead.text = "r";
  std::string d;
  encodeRecord(d, dead);
  EXPECT_EQ(hex(d.substr(8)), "05" "01007a" "0900000000000000" "0a00000000000000" "010072");
  // remove: client, offset, reason u8
  QueueRecord rm;
  rm.type = RecordType::Remove;
  rm.client = "z";
  rm.offset = 2;
  rm.reason = 3;
  std::string m;
  encodeRecord(m, rm);
  EXPECT_EQ(hex(m.substr(8)), "04" "01007a" "0200000000000000" "03");
}

TEST(QueueLogFormat, EncodePushMatchesEncodeRecord) {
  for (int withKey = 0; withKey < 2; ++withKey) {
    for (int text = 0; text < 2; ++text) {
      QueueRecord r = push("client-7", 42, "some bytes", static_cast<std::uint8_t>((withKey ? 1 : 0) | (text ? 2 : 0)),
                           withKey ? "the-key" : "");
      std::string a, b;
      encodeRecord(a, r);
      const std::string_view key = r.key;
      encodePush(b, r.client, r.offset, r.pushedAt, r.retryAt, r.attempts, r.prevDelay, text != 0, r.event,
                 withKey ? &key : nullptr, r.payload);
      EXPECT_EQ(a, b);
    }
  }
}

TEST(QueueLogFormat, TooLongStringIsRefused) {
  std::string out = "keep";
  EXPECT_EQ(errorCode([&] { encodeRecord(out, push(std::string(70000, 'c'), 1)); }), "ERR_RT_TOO_LARGE");
  EXPECT_EQ(out, "keep");
}

TEST(QueueLogFormat, RoundTripEveryType) {
  TempDir dir;
  std::vector<QueueRecord> v = everyType();
  writeFile(dir.file(seg(1)), kHeader + encoded(v));
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    SCOPED_TRACE(i);
    expectSame(got[i], v[i]);
  }
  EXPECT_EQ(info.records, v.size());
  EXPECT_EQ(info.segments, 1u);
  EXPECT_EQ(info.bytes, readFile(dir.file(seg(1))).size());
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.nextSegment, 2u);
}

// ------------------------------------------------------------------------------------------------
// Replay

TEST(QueueLogReplay, CreatesMissingDirectory) {
  TempDir dir;
  const std::string nested = dir.path() + "/a/b/c";
  ReplayInfo info;
  auto got = replayAll(nested, &info);
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(fs::is_directory(nested));
  EXPECT_EQ(info.segments, 0u);
  EXPECT_EQ(info.nextSegment, 1u);
  EXPECT_FALSE(info.truncated);
}

TEST(QueueLogReplay, PathThatIsAFileIsADiskError) {
  TempDir dir;
  writeFile(dir.file("plain"), "x");
  EXPECT_EQ(errorCode([&] { replayAll(dir.file("plain")); }), "ERR_RT_DISK");
  EXPECT_EQ(errorCode([&] { replayAll(dir.file("plain") + "/sub"); }), "ERR_RT_DISK");
  EXPECT_EQ(errorCode([&] { replayAll(""); }), "ERR_RT_DISK");
}

TEST(QueueLogReplay, SegmentThatIsADirectoryIsADiskError) {
  TempDir dir;
  fs::create_directory(dir.file(seg(1)));
  EXPECT_EQ(errorCode([&] { replayAll(dir.path()); }), "ERR_RT_DISK");
}

TEST(QueueLogReplay, ManySegmentsInNumericOrder) {
  TempDir dir;
  std::vector<QueueRecord> all;
  // Numbers out of creation order and with gaps; other files are ignored.
  const std::vector<std::uint64_t> numbers = {3, 1, 12, 7, 100, 2};
  std::vector<std::uint64_t> sorted = numbers;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint64_t n : numbers) {
    std::vector<QueueRecord> rs;
    for (int i = 0; i < 5; ++i) rs.push_back(push("c" + std::to_string(n), n * 100 + i));
    writeFile(dir.file(seg(n)), kHeader + encoded(rs));
  }
  for (std::uint64_t n : sorted)
    for (int i = 0; i < 5; ++i) all.push_back(push("c" + std::to_string(n), n * 100 + i));
  writeFile(dir.file("README"), "not a segment");
  writeFile(dir.file("123.rtq"), "not a segment either");
  writeFile(dir.file("00000000001.rtq"), "eleven digits");
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) expectSame(got[i], all[i]);
  EXPECT_EQ(info.segments, numbers.size());
  EXPECT_EQ(info.nextSegment, 101u);
  EXPECT_FALSE(info.truncated);
  EXPECT_TRUE(fs::exists(dir.file("README")));
}

TEST(QueueLogReplay, HeaderOnlyAndEmptySegments) {
  TempDir dir;
  writeFile(dir.file(seg(1)), kHeader + encoded({push("a", 1)}));
  writeFile(dir.file(seg(2)), kHeader);
  writeFile(dir.file(seg(3)), kHeader + encoded({push("a", 2)}));
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.segments, 3u);

  // An empty last segment (a crash right after creating it) is a cut at offset 0 of nothing.
  writeFile(dir.file(seg(4)), "");
  got = replayAll(dir.path(), &info);
  EXPECT_EQ(got.size(), 2u);
  ASSERT_TRUE(info.truncated);
  EXPECT_EQ(info.truncated->segment, seg(4));
  EXPECT_EQ(info.truncated->offset, 0u);
  EXPECT_EQ(info.truncated->bytes, 0u);
  EXPECT_FALSE(fs::exists(dir.file(seg(4))));
  EXPECT_EQ(info.nextSegment, 5u);
}

TEST(QueueLogReplay, BadHeaderCutsThereAndDropsLaterSegments) {
  TempDir dir;
  const std::string s1 = kHeader + encoded({push("a", 1)});
  const std::string s2 = "RTQLOG02" + encoded({push("a", 2)});
  const std::string s3 = kHeader + encoded({push("a", 3)});
  writeFile(dir.file(seg(1)), s1);
  writeFile(dir.file(seg(2)), s2);
  writeFile(dir.file(seg(3)), s3);
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 1u);
  ASSERT_TRUE(info.truncated);
  EXPECT_EQ(info.truncated->segment, seg(2));
  EXPECT_EQ(info.truncated->offset, 0u);
  EXPECT_EQ(info.truncated->bytes, s2.size() + s3.size());
  EXPECT_FALSE(fs::exists(dir.file(seg(2))));
  EXPECT_FALSE(fs::exists(dir.file(seg(3))));
  EXPECT_EQ(info.nextSegment, 4u);
  EXPECT_EQ(info.bytes, s1.size());
}

// Cut the last record at every possible length: the earlier records survive, the cut is reported
// at the last good record, and a second replay finds a clean log.
TEST(QueueLogReplay, TornTailAtEveryCut) {
  const std::vector<QueueRecord> good = {push("a", 1), push("b", 2, "xx", 1, "key")};
  const std::string prefix = kHeader + encoded(good);
  for (const QueueRecord& last : everyType()) {
    const std::string lastBytes = encoded({last});
    if (lastBytes.size() > 2000) continue;  // the 70 KB push: covered by a sample of cuts below
    for (std::size_t cut = 1; cut < lastBytes.size(); ++cut) {
      SCOPED_TRACE(testing::Message() << "type " << int(last.type) << " cut " << cut);
      TempDir dir;
      writeFile(dir.file(seg(1)), prefix + lastBytes.substr(0, cut));
      ReplayInfo info;
      auto got = replayAll(dir.path(), &info);
      ASSERT_EQ(got.size(), good.size());
      expectSame(got[1], good[1]);
      ASSERT_TRUE(info.truncated);
      EXPECT_EQ(info.truncated->segment, seg(1));
      EXPECT_EQ(info.truncated->offset, prefix.size());
      EXPECT_EQ(info.truncated->bytes, cut);
      EXPECT_EQ(readFile(dir.file(seg(1))), prefix);
      EXPECT_EQ(info.bytes, prefix.size());
      auto again = replayAll(dir.path(), &info);
      EXPECT_EQ(again.size(), good.size());
      EXPECT_FALSE(info.truncated);
    }
  }
  // The big push, a few cuts including inside the payload.
  const std::string big = encoded({everyType()[3]});
  for (std::size_t cut : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, big.size() / 2, big.size() - 1}) {
    TempDir dir;
    writeFile(dir.file(seg(1)), prefix + big.substr(0, cut));
    ReplayInfo info;
    EXPECT_EQ(replayAll(dir.path(), &info).size(), good.size());
    ASSERT_TRUE(info.truncated);
    EXPECT_EQ(info.truncated->offset, prefix.size());
    EXPECT_EQ(info.truncated->bytes, cut);
  }
}

// Flip every byte of the last record (one at a time): the CRC, the length check or the decoder
// catches it.
TEST(QueueLogReplay, FlippedByteInLastRecord) {
  const std::vector<QueueRecord> good = {push("a", 1), push("a", 2)};
  const std::string prefix = kHeader + encoded(good);
  const std::string last = encoded({push("a", 3, "payload-3", 3, "k3")});
  for (std::size_t i = 0; i < last.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      SCOPED_TRACE(testing::Message() << "byte " << i << " mask " << int(mask));
      TempDir dir;
      std::string bad = last;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      writeFile(dir.file(seg(1)), prefix + bad);
      ReplayInfo info;
      auto got = replayAll(dir.path(), &info);
      ASSERT_EQ(got.size(), good.size());
      ASSERT_TRUE(info.truncated);
      EXPECT_EQ(info.truncated->offset, prefix.size());
      EXPECT_EQ(info.truncated->bytes, last.size());
      EXPECT_EQ(readFile(dir.file(seg(1))), prefix);
    }
  }
}

TEST(QueueLogReplay, CorruptMiddleSegmentDropsTheRest) {
  TempDir dir;
  const std::string s1 = kHeader + encoded({push("a", 1), push("a", 2)});
  std::string s2 = kHeader + encoded({push("a", 3), push("a", 4), push("a", 5)});
  const std::string s3 = kHeader + encoded({push("a", 6)});
  const std::string s4 = kHeader + encoded({push("a", 7)});
  const std::size_t firstLen = encoded({push("a", 3)}).size();
  s2[kHeader.size() + firstLen + 20] ^= 0x10;  // inside record 4
  writeFile(dir.file(seg(1)), s1);
  writeFile(dir.file(seg(2)), s2);
  writeFile(dir.file(seg(3)), s3);
  writeFile(dir.file(seg(4)), s4);
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].offset, 3u);
  ASSERT_TRUE(info.truncated);
  EXPECT_EQ(info.truncated->segment, seg(2));
  EXPECT_EQ(info.truncated->offset, kHeader.size() + firstLen);
  EXPECT_EQ(info.truncated->bytes, (s2.size() - kHeader.size() - firstLen) + s3.size() + s4.size());
  EXPECT_FALSE(fs::exists(dir.file(seg(3))));
  EXPECT_FALSE(fs::exists(dir.file(seg(4))));
  EXPECT_EQ(info.segments, 2u);
  EXPECT_EQ(info.nextSegment, 5u);
}

// A record whose checksum is right but whose body is not one well-formed record.
TEST(QueueLogReplay, UndecodableBodiesAreCorrupt) {
  struct Case {
    std::string name;
    std::string body;
  };
  auto u32le = [](std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
  };
  // Our own zlib-compatible CRC-32 (bitwise), independent of the implementation under test.
  auto crc = [](const std::string& s) {
    std::uint32_t c = 0xffffffffu;
    for (unsigned char ch : s) {
      c ^= ch;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
  };
  auto framed = [&](const std::string& body) { return u32le(static_cast<std::uint32_t>(body.size())) + u32le(crc(body)) + body; };
  // The independent CRC agrees with the encoder.
  {
    std::string out;
    encodeRecord(out, push("z", 5));
    EXPECT_EQ(out, framed(out.substr(8)));
  }
  std::string ackBody = encoded({everyType()[4]}).substr(8);
  std::string pushBody = encoded({push("a", 1, "p", 0)}).substr(8);
  std::string flagsBad = pushBody;
  flagsBad[1 + 3 + 8 + 8 + 8 + 4 + 4] = 4;  // unknown flag bit
  std::string removeBad = encoded({everyType()[6]}).substr(8);
  removeBad.back() = 0;  // reason 0
  const std::vector<Case> cases = {
      {"empty body", ""},
      {"unknown type 0", std::string(1, '\0')},
      {"unknown type 10", std::string(1, '\x0a')},
      {"trailing byte", ackBody + "x"},
      {"short ack", ackBody.substr(0, ackBody.size() - 1)},
      {"string past the end", std::string("\x02\xff\x00", 3) + "ab"},
      {"payload length past the end", pushBody.substr(0, pushBody.size() - 1)},
      {"unknown flag", flagsBad},
      {"remove reason 0", removeBad},
      {"snapshot-end with a byte", std::string("\x08\x00", 2)},
      {"remove reason 5", removeBad.substr(0, removeBad.size() - 1) + "\x05"},
      {"offset 2^53", std::string("\x06\x00\x00", 3) + std::string("\0\0\0\0\0\0\x20\0", 8)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string prefix = kHeader + encoded({push("a", 1)});
    writeFile(dir.file(seg(1)), prefix + framed(c.body) + encoded({push("a", 2)}));
    ReplayInfo info;
    auto got = replayAll(dir.path(), &info);
    EXPECT_EQ(got.size(), 1u);
    ASSERT_TRUE(info.truncated);
    EXPECT_EQ(info.truncated->offset, prefix.size());
  }
}

TEST(QueueLogReplay, LimitsThatAreStillValid) {
  TempDir dir;
  QueueRecord acked;  // ackOne's remove reason
  acked.type = RecordType::Remove;
  acked.client = "a";
  acked.offset = (1ull << 53) - 1;
  acked.reason = 4;
  writeFile(dir.file(seg(1)), kHeader + encoded({acked, push("a", (1ull << 53) - 1, "", 3, "")}));
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), 2u);
  expectSame(got[0], acked);
  EXPECT_EQ(got[1].key, "");  // flag 1 with an empty key
  EXPECT_FALSE(info.truncated);
}

TEST(QueueLogReplay, HugeLengthIsCorruptNotAnAllocation) {
  TempDir dir;
  const std::string prefix = kHeader + encoded({push("a", 1)});
  writeFile(dir.file(seg(1)), prefix + std::string("\xff\xff\xff\xff\0\0\0\0", 8) + std::string(100, 'x'));
  ReplayInfo info;
  EXPECT_EQ(replayAll(dir.path(), &info).size(), 1u);
  ASSERT_TRUE(info.truncated);
  EXPECT_EQ(info.truncated->offset, prefix.size());
  EXPECT_EQ(info.truncated->bytes, 108u);
}

TEST(QueueLogReplay, SnapshotReplacesEverythingBefore) {
  TempDir dir;
  writeFile(dir.file(seg(1)), kHeader + encoded({push("a", 1), push("a", 2)}));
  writeFile(dir.file(seg(2)), kHeader + encoded({push("a", 3)}));
  // Segment 3: a complete snapshot followed by appends.
  QueueRecord client;
  client.type = RecordType::Client;
  client.client = "a";
  client.offset = 3;
  const std::vector<QueueRecord> snap = {simple(RecordType::SnapshotBegin), client, push("a", 3),
                                         simple(RecordType::SnapshotEnd), push("a", 4)};
  writeFile(dir.file(seg(3)), kHeader + encoded(snap));
  writeFile(dir.file(seg(4)), kHeader + encoded({push("a", 5)}));
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), snap.size() + 1);
  EXPECT_EQ(got[0].type, RecordType::SnapshotBegin);
  EXPECT_EQ(got[1].type, RecordType::Client);
  EXPECT_EQ(got[3].type, RecordType::SnapshotEnd);
  EXPECT_EQ(got[4].offset, 4u);
  EXPECT_EQ(got[5].offset, 5u);
  EXPECT_FALSE(fs::exists(dir.file(seg(1))));
  EXPECT_FALSE(fs::exists(dir.file(seg(2))));
  EXPECT_TRUE(fs::exists(dir.file(seg(3))));
  EXPECT_EQ(info.segments, 2u);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.nextSegment, 5u);
}

TEST(QueueLogReplay, NewestSnapshotWins) {
  TempDir dir;
  const auto snapshot = [](std::uint64_t off) {
    return kHeader + encoded({simple(RecordType::SnapshotBegin), push("a", off), simple(RecordType::SnapshotEnd)});
  };
  writeFile(dir.file(seg(1)), snapshot(1));
  writeFile(dir.file(seg(2)), snapshot(2));
  writeFile(dir.file(seg(3)), kHeader + encoded({push("a", 3)}));
  auto got = replayAll(dir.path());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].offset, 2u);
  EXPECT_EQ(got[3].offset, 3u);
  EXPECT_FALSE(fs::exists(dir.file(seg(1))));
}

// A crash while compacting: the snapshot segment has no end. It is ignored and deleted; what
// was before it stays.
TEST(QueueLogReplay, SnapshotWithoutEndIsIgnored) {
  TempDir dir;
  writeFile(dir.file(seg(1)), kHeader + encoded({push("a", 1), push("a", 2)}));
  writeFile(dir.file(seg(2)), kHeader + encoded({simple(RecordType::SnapshotBegin), push("a", 2)}));
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].offset, 2u);
  EXPECT_FALSE(info.truncated);
  EXPECT_FALSE(fs::exists(dir.file(seg(2))));
  EXPECT_TRUE(fs::exists(dir.file(seg(1))));
  EXPECT_EQ(info.nextSegment, 3u);
  EXPECT_EQ(info.segments, 1u);
}

// The snapshot segment torn in the middle of the snapshot: the cut is reported, and the
// remaining partial snapshot is ignored as well.
TEST(QueueLogReplay, TornSnapshotIsIgnored) {
  const std::string base = kHeader + encoded({push("a", 1)});
  const std::string snap = encoded({simple(RecordType::SnapshotBegin), push("a", 1), simple(RecordType::SnapshotEnd)});
  const std::size_t afterPush = 9 + encoded({push("a", 1)}).size();
  for (std::size_t cut = 0; cut < snap.size(); ++cut) {
    SCOPED_TRACE(cut);
    TempDir dir;
    writeFile(dir.file(seg(1)), base);
    writeFile(dir.file(seg(2)), kHeader + snap.substr(0, cut));
    ReplayInfo info;
    auto got = replayAll(dir.path(), &info);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, RecordType::Push);
    // Cuts at record boundaries are clean (no torn record), the snapshot is still incomplete.
    EXPECT_EQ(info.truncated.has_value(), cut != 0 && cut != 9 && cut != afterPush);
    EXPECT_TRUE(fs::exists(dir.file(seg(1))));
    // Cut before the snapshot-begin is complete: a plain header-only segment, kept.
    EXPECT_EQ(fs::exists(dir.file(seg(2))), cut < 9);
  }
}

// ------------------------------------------------------------------------------------------------
// The writer

struct Durable {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> errors;
  std::vector<std::string> codes;

  std::function<void(std::uint64_t)> onDurable() {
    return [this](std::uint64_t s) {
      std::lock_guard<std::mutex> lk(m);
      seqs.push_back(s);
      cv.notify_all();
    };
  }
  std::function<void(const char*, const std::string&)> onError() {
    return [this](const char* code, const std::string& message) {
      std::lock_guard<std::mutex> lk(m);
      codes.push_back(code);
      errors.push_back(message);
      cv.notify_all();
    };
  }
  bool waitFor(std::uint64_t seq, int ms = 10000) {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return !seqs.empty() && seqs.back() >= seq; });
  }
  bool waitErrors(std::size_t n, int ms = 10000) {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return errors.size() >= n; });
  }
  std::vector<std::uint64_t> snapshot() {
    std::lock_guard<std::mutex> lk(m);
    return seqs;
  }
  std::size_t errorCount() {
    std::lock_guard<std::mutex> lk(m);
    return errors.size();
  }
};

std::string batchOf(const std::vector<QueueRecord>& rs) { return encoded(rs); }

std::uint64_t diskBytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".rtq") total += fs::file_size(e.path());
  return total;
}
std::size_t diskSegments(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".rtq") ++n;
  return n;
}

TEST(QueueLogWriter, AppendsReplayInEveryMode) {
  for (FsyncMode mode : {FsyncMode::Always, FsyncMode::Interval, FsyncMode::Never}) {
    SCOPED_TRACE(static_cast<int>(mode));
    TempDir dir;
    Durable d;
    std::vector<QueueRecord> all = everyType();
    {
      ReplayInfo info = replayLog(dir.path(), nullptr);
      LogWriterOptions o;
      o.dir = dir.path();
      o.fsync = mode;
      o.fsyncIntervalMs = 5;
      o.firstSegment = info.nextSegment;
      LogWriter w(o, d.onDurable(), d.onError());
      std::uint64_t last = 0;
      for (const QueueRecord& r : all) {
        const std::uint64_t s = w.append(batchOf({r}));
        EXPECT_EQ(s, last + 1);
        last = s;
      }
      const std::uint64_t f = w.flush();
      EXPECT_GT(f, last);
      EXPECT_TRUE(d.waitFor(f));
      EXPECT_TRUE(w.healthy());
      EXPECT_EQ(w.segments(), 1u);
      EXPECT_EQ(w.bytes(), diskBytes(dir.path()));
    }  // the destructor closes
    auto got = replayAll(dir.path());
    ASSERT_EQ(got.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) expectSame(got[i], all[i]);
    EXPECT_EQ(d.errorCount(), 0u);
  }
}

TEST(QueueLogWriter, ContinuesAfterAReplayedLog) {
  TempDir dir;
  writeFile(dir.file(seg(1)), kHeader + encoded({push("a", 1)}));
  writeFile(dir.file(seg(2)), kHeader + encoded({push("a", 2)}));
  ReplayInfo info = replayLog(dir.path(), nullptr);
  LogWriterOptions o;
  o.dir = dir.path();
  o.firstSegment = info.nextSegment;
  Durable d;
  {
    LogWriter w(o, d.onDurable(), d.onError());
    EXPECT_EQ(w.segments(), 2u);
    EXPECT_EQ(w.bytes(), info.bytes);
    w.append(batchOf({push("a", 3)}));
    w.close();
    EXPECT_EQ(w.segments(), 3u);
    EXPECT_EQ(w.bytes(), diskBytes(dir.path()));
  }
  auto got = replayAll(dir.path());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].offset, 3u);
  EXPECT_TRUE(fs::exists(dir.file(seg(3))));
}

TEST(QueueLogWriter, RotatesPastSegmentBytes) {
  TempDir dir;
  Durable d;
  const int n = 300;
  {
    LogWriterOptions o;
    o.dir = dir.path();
    o.fsync = FsyncMode::Never;
    o.segmentBytes = 4096;
    LogWriter w(o, d.onDurable(), d.onError());
    for (int i = 1; i <= n; ++i) w.append(batchOf({push("rot", i, std::string(100, 'p'))}));
    w.close();
    EXPECT_EQ(w.segments(), diskSegments(dir.path()));
    EXPECT_EQ(w.bytes(), diskBytes(dir.path()));
  }
  const std::size_t record = encoded({push("rot", 1, std::string(100, 'p'))}).size();
  EXPECT_GE(diskSegments(dir.path()), (n * record) / 4096);
  for (const auto& e : fs::directory_iterator(dir.path())) {
    // Closed once at or past segmentBytes: never more than one batch past it.
    EXPECT_LT(fs::file_size(e.path()), 4096 + record);
    EXPECT_EQ(readFile(e.path().string()).substr(0, 8), kHeader);
  }
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[i].offset, static_cast<std::uint64_t>(i + 1));
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.segments, diskSegments(dir.path()));
}

TEST(QueueLogWriter, GroupCommitReportsMonotonicSeqs) {
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Always;
  LogWriter w(o, d.onDurable(), d.onError());
  std::uint64_t last = 0;
  for (int i = 1; i <= 3000; ++i) last = w.append(batchOf({push("g", i, std::string(200, 'x'))}));
  ASSERT_TRUE(d.waitFor(last));
  auto seqs = d.snapshot();
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
  EXPECT_EQ(seqs.back(), last);
  // Group commit: far fewer fsyncs (reports) than batches.
  EXPECT_LT(seqs.size(), 3000u);
  w.close();
  EXPECT_EQ(replayAll(dir.path()).size(), 3000u);
}

TEST(QueueLogWriter, IntervalReportsWithoutFlush) {
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Interval;
  o.fsyncIntervalMs = 20;
  LogWriter w(o, d.onDurable(), d.onError());
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t s = w.append(batchOf({push("i", 1)}));
  ASSERT_TRUE(d.waitFor(s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  s = w.append(batchOf({push("i", 2)}));
  ASSERT_TRUE(d.waitFor(s));
  // Nothing new: no more reports.
  const std::size_t count = d.snapshot().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_EQ(d.snapshot().size(), count);
}

TEST(QueueLogWriter, NeverReportsOnlyOnFlushAndClose) {
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Never;
  LogWriter w(o, d.onDurable(), d.onError());
  for (int i = 1; i <= 10; ++i) w.append(batchOf({push("n", i)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(d.snapshot().empty());
  // Written (not fsynced) already: readable by a replay of the same files.
  EXPECT_EQ(diskBytes(dir.path()), w.bytes());
  const std::uint64_t f = w.flush();
  EXPECT_EQ(f, 11u);
  ASSERT_TRUE(d.waitFor(f));
  w.append(batchOf({push("n", 11)}));
  w.close();
  EXPECT_EQ(d.snapshot().back(), 13u);  // close's own flush
}

TEST(QueueLogWriter, FlushAndCloseSemantics) {
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Interval;
  o.fsyncIntervalMs = 60000;  // never due during the test
  auto w = std::make_unique<LogWriter>(o, d.onDurable(), d.onError());
  // A flush with nothing written is reported too.
  std::uint64_t f = w->flush();
  EXPECT_EQ(f, 1u);
  ASSERT_TRUE(d.waitFor(f));
  std::uint64_t a = w->append(batchOf({push("f", 1)}));
  std::uint64_t b = w->append(batchOf({push("f", 2)}));
  EXPECT_EQ(a, 2u);
  EXPECT_EQ(b, 3u);
  f = w->flush();
  ASSERT_TRUE(d.waitFor(f));
  EXPECT_EQ(replayAll(dir.path()).size(), 2u);  // flushed means on disk
  w->append(batchOf({push("f", 3)}));
  w->close();
  const auto after = d.snapshot();
  EXPECT_EQ(after.back(), 6u);  // close's own flush
  w->close();  // idempotent
  EXPECT_EQ(w->append(batchOf({push("f", 4)})), 0u);
  EXPECT_EQ(w->flush(), 0u);
  EXPECT_EQ(d.snapshot(), after);
  w.reset();
  EXPECT_EQ(replayAll(dir.path()).size(), 3u);
  // The destructor alone closes (and flushes).
  {
    LogWriterOptions o2 = o;
    o2.firstSegment = 100;
    LogWriter w2(o2, d.onDurable(), d.onError());
    w2.append(batchOf({push("f", 4)}));
  }
  EXPECT_EQ(replayAll(dir.path()).size(), 4u);
  EXPECT_EQ(d.errorCount(), 0u);
}

TEST(QueueLogWriter, SnapshotReplacesOlderSegments) {
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Interval;
  o.fsyncIntervalMs = 10;
  o.segmentBytes = 4096;
  {
    LogWriter w(o, d.onDurable(), d.onError());
    for (int i = 1; i <= 100; ++i) w.append(batchOf({push("s", i, std::string(100, 'p'))}));
    QueueRecord client;
    client.type = RecordType::Client;
    client.client = "s";
    client.offset = 100;
    const std::uint64_t snap =
        w.beginSnapshot(batchOf({simple(RecordType::SnapshotBegin), client, push("s", 100), simple(RecordType::SnapshotEnd)}));
    ASSERT_TRUE(d.waitFor(snap));  // a snapshot is fsynced: reported at once
    EXPECT_EQ(w.segments(), 1u);
    EXPECT_EQ(diskSegments(dir.path()), 1u);
    EXPECT_EQ(w.bytes(), diskBytes(dir.path()));
    const std::uint64_t after = w.append(batchOf({push("s", 101)}));
    EXPECT_EQ(after, snap + 1);
    w.close();
    EXPECT_EQ(diskSegments(dir.path()), 1u);
    EXPECT_EQ(w.bytes(), diskBytes(dir.path()));
  }
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].type, RecordType::SnapshotBegin);
  EXPECT_EQ(got[4].offset, 101u);
  EXPECT_FALSE(info.truncated);
}

// Write failures, injected without a hook: the writer's next segment is a symlink to /dev/full
// (every write fails with ENOSPC). The failed batches are dropped and reported; the writer goes
// on with a new segment and recovers.
TEST(QueueLogWriter, WriteErrorIsReportedAndRecovered) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Always;
  LogWriter w(o, d.onDurable(), d.onError());
  // After the constructor (it skips the numbers of files already there); the writer opens its
  // first segment lazily, with the first batch.
  fs::create_symlink("/dev/full", dir.file(seg(1)));
  const std::uint64_t lost = w.append(batchOf({push("e", 1)}));
  ASSERT_TRUE(d.waitErrors(1));
  {
    std::lock_guard<std::mutex> lk(d.m);
    EXPECT_EQ(d.codes[0], "ERR_RT_DISK");
    EXPECT_NE(d.errors[0].find("No space"), std::string::npos) << d.errors[0];
  }
  // Waiting for the unhealthy state is racy only in the other direction: check after the error.
  const std::uint64_t ok = w.append(batchOf({push("e", 2)}));
  ASSERT_TRUE(d.waitFor(ok));
  EXPECT_GT(ok, lost);
  EXPECT_TRUE(w.healthy());
  w.close();
  EXPECT_FALSE(fs::exists(dir.file(seg(1))));  // the failed segment is gone
  ReplayInfo info;
  auto got = replayAll(dir.path(), &info);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 2u);
  EXPECT_FALSE(info.truncated);
}

TEST(QueueLogWriter, UnhealthyWhileFailing) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Never;
  LogWriter w(o, d.onDurable(), d.onError());
  // Segments 1..5 all fail (created after the constructor, which skips existing numbers).
  for (int i = 1; i <= 5; ++i) fs::create_symlink("/dev/full", dir.file(seg(i)));
  for (int i = 1; i <= 5; ++i) {
    w.append(batchOf({push("u", i)}));
    ASSERT_TRUE(d.waitErrors(static_cast<std::size_t>(i)));
    EXPECT_FALSE(w.healthy());
  }
  EXPECT_EQ(w.segments(), 0u);
  EXPECT_EQ(w.bytes(), 0u);
  const std::uint64_t f = (w.append(batchOf({push("u", 6)})), w.flush());
  ASSERT_TRUE(d.waitFor(f));
  EXPECT_TRUE(w.healthy());
  EXPECT_EQ(w.segments(), 1u);
  w.close();
  auto got = replayAll(dir.path());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 6u);
}

// The directory disappears under the writer (its open segment is unlinked): reported; once the
// directory is back, writing goes on in a new segment.
TEST(QueueLogWriter, DirectoryRemovedMidRun) {
  TempDir base;
  const std::string dir = base.path() + "/q";
  replayLog(dir, nullptr);
  Durable d;
  LogWriterOptions o;
  o.dir = dir;
  o.fsync = FsyncMode::Always;
  LogWriter w(o, d.onDurable(), d.onError());
  ASSERT_TRUE(d.waitFor(w.append(batchOf({push("d", 1)}))));
  fs::remove_all(dir);
  w.append(batchOf({push("d", 2)}));
  ASSERT_TRUE(d.waitErrors(1));
  EXPECT_FALSE(w.healthy());
  // Still gone: the next batch fails to create a segment.
  w.append(batchOf({push("d", 3)}));
  ASSERT_TRUE(d.waitErrors(2));
  // Replaced by a file: fails too.
  writeFile(dir, "not a dir");
  w.append(batchOf({push("d", 4)}));
  ASSERT_TRUE(d.waitErrors(3));
  EXPECT_EQ(errorCode([&] { replayLog(dir, nullptr); }), "ERR_RT_DISK");
  fs::remove(dir);
  fs::create_directory(dir);
  const std::uint64_t s = w.append(batchOf({push("d", 5)}));
  ASSERT_TRUE(d.waitFor(s));
  EXPECT_TRUE(w.healthy());
  w.close();
  auto got = replayAll(dir);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 5u);
}

// Thousands of appends from this thread while the writer runs, with flushes and a snapshot in
// between; every record lands, in order (also those that went through the overflow list).
TEST(QueueLogWriter, ConcurrentStress) {
  for (FsyncMode mode : {FsyncMode::Never, FsyncMode::Always, FsyncMode::Interval}) {
    SCOPED_TRACE(static_cast<int>(mode));
    TempDir dir;
    Durable d;
    LogWriterOptions o;
    o.dir = dir.path();
    o.fsync = mode;
    o.fsyncIntervalMs = 2;
    o.segmentBytes = 64 * 1024;
    const int n = 40000;
    std::uint64_t lastSeq = 0;
    {
      LogWriter w(o, d.onDurable(), d.onError());
      std::string small(40, 'x');
      for (int i = 1; i <= n; ++i) {
        lastSeq = w.append(batchOf({push("stress", i, small)}));
        if (i % 5000 == 0) lastSeq = w.flush();
        // Reads from this thread while the writer updates them.
        if (i % 1000 == 0) {
          EXPECT_TRUE(w.healthy());
          (void)w.bytes();
          (void)w.segments();
        }
      }
      lastSeq = w.flush();
      ASSERT_TRUE(d.waitFor(lastSeq, 60000));
    }
    auto seqs = d.snapshot();
    for (std::size_t i = 1; i < seqs.size(); ++i) ASSERT_LT(seqs[i - 1], seqs[i]);
    ReplayInfo info;
    auto got = replayAll(dir.path(), &info);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[i].offset, static_cast<std::uint64_t>(i + 1));
    EXPECT_FALSE(info.truncated);
    EXPECT_EQ(d.errorCount(), 0u);
  }
}

TEST(QueueLogWriter, BurstLargerThanTheQueueGoesThroughOverflow) {
  TempDir dir;
  Durable d;
  LogWriterOptions o;
  o.dir = dir.path();
  o.fsync = FsyncMode::Always;
  const int n = 50000;  // more than the spsc capacity, appended faster than fsyncs go
  {
    LogWriter w(o, d.onDurable(), d.onError());
    for (int i = 1; i <= n; ++i) w.append(batchOf({push("b", i, "p")}));
    w.close();
    EXPECT_EQ(d.snapshot().back(), static_cast<std::uint64_t>(n + 1));
  }
  auto got = replayAll(dir.path());
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i].offset, static_cast<std::uint64_t>(i + 1));
}

}  // namespace
}  // namespace rtc
