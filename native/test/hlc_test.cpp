#include <gtest/gtest.h>

#include "test_util.h"
#include "hlc.h"
#include "json.h"

namespace rtc {
namespace {

std::string code(const std::function<void()>& f) { return rtc::test_util::errorCode(f); }

TEST(Hlc, NowIsMonotonic) {
  HybridLogicalClock c("node");
  EXPECT_FALSE(c.last().has_value());
  EXPECT_EQ(c.now(1000), "0000000003e8:0000:node");
  EXPECT_EQ(c.now(1000), "0000000003e8:0001:node");
  EXPECT_EQ(c.now(999), "0000000003e8:0002:node");
  EXPECT_EQ(c.now(1001), "0000000003e9:0000:node");
  EXPECT_EQ(*c.last(), "0000000003e9:0000:node");
}

TEST(Hlc, Receive) {
  HybridLogicalClock c("me", 60000);
  c.now(1000);
  EXPECT_EQ(c.receive("0000000003e8:0005:x", 1000), "0000000003e8:0006:me");  // l == lr == l'
  EXPECT_EQ(c.receive("0000000003e7:0009:x", 1000), "0000000003e8:0007:me");  // l' == l
  EXPECT_EQ(c.receive("0000000007d0:0003:x", 1500), "0000000007d0:0004:me");  // l' == lr
  EXPECT_EQ(c.receive("000000000001:0003:x", 5000), "000000001388:0000:me");  // wall wins
  EXPECT_EQ(code([&] { c.receive("000000ffffff:0000:x", 5000); }), "ERR_RT_CLOCK_DRIFT");
  EXPECT_EQ(*c.last(), "000000001388:0000:me");  // unchanged by the failure
  EXPECT_EQ(code([&] { c.receive("bad", 5000); }), "ERR_RT_INVALID_TIMESTAMP");
}

TEST(Hlc, CounterOverflow) {
  HybridLogicalClock c("n");
  c.receive("000000000010:ffff:x", 16);
  EXPECT_EQ(*c.last(), "000000000011:0000:n");
  HybridLogicalClock d("n");
  d.receive("000000000010:fffe:x", 16);
  EXPECT_EQ(d.now(16), "000000000011:0000:n");
}

TEST(Hlc, CompareAndValidate) {
  EXPECT_EQ(compareTimestamps("000000000001:0000:a", "000000000001:0000:b"), -1);
  EXPECT_EQ(compareTimestamps("000000000002:0000:a", "000000000001:ffff:b"), 1);
  EXPECT_EQ(compareTimestamps("000000000001:0000:a", "000000000001:0000:a"), 0);
  // JavaScript order: U+FF5E sorts after U+1F600 in UTF-16 code units (0xFF5E > 0xD83D).
  EXPECT_EQ(compareTimestamps("000000000001:0000:\xEF\xBD\x9E", "000000000001:0000:\xF0\x9F\x98\x80"), 1);
  for (const char* bad : {"", "00000000001:0000:a", "000000000001:000:a", "000000000001:0000:", "00000000000A:0000:a",
                          "000000000001-0000:a", "000000000001:0000:a:b",
                          "000000000001:0000:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_EQ(code([&] { compareTimestamps(bad, "000000000001:0000:a"); }), "ERR_RT_INVALID_TIMESTAMP") << bad;
  }
  EXPECT_EQ(code([] { HybridLogicalClock c("a:b"); }), "ERR_RT_INVALID_ARGUMENT");
  EXPECT_EQ(code([] { HybridLogicalClock c(""); }), "ERR_RT_INVALID_ARGUMENT");
}

}  // namespace
}  // namespace rtc
