#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "offline_queue.h"

namespace rtc {
namespace {

const std::int64_t T0 = 1'800'000'000'000;

QueueOptions opts() {
  QueueOptions o;
  o.seed = 1;
  return o;
}

QueueItemIn item(std::string_view event, std::string_view payload, const std::string_view* key = nullptr,
                 bool text = true) {
  QueueItemIn in;
  in.event = event;
  in.payload = payload;
  in.key = key;
  in.text = text;
  return in;
}

std::vector<std::uint64_t> offsets(const std::vector<QueueItemView>& items) {
  std::vector<std::uint64_t> out;
  for (const auto& v : items) out.push_back(v.offset);
  return out;
}

std::vector<std::string> payloads(const std::vector<QueueItemView>& items) {
  std::vector<std::string> out;
  for (const auto& v : items) out.emplace_back(v.payload);
  return out;
}

std::vector<std::string> clientIds(const OfflineQueue& q) {
  std::vector<std::string> out;
  for (const std::string* c : q.clients()) out.push_back(*c);
  return out;
}

std::string droppedText(const OfflineQueue& q) {
  std::string s;
  for (const auto& d : q.dropped()) s += std::to_string(d.offset) + ":" + dropReasonName(d.reason) + " ";
  return s;
}

std::string eventsText(const OfflineQueue& q) {
  std::string s;
  for (const auto& e : q.events()) {
    switch (e.kind) {
      case QueueEvent::Kind::Dropped:
        s += "dropped(" + *e.client + "," + std::to_string(e.offset) + "," + dropReasonName(e.reason) + ") ";
        break;
      case QueueEvent::Kind::DeadLetter:
        s += "dead(" + *e.client + "," + std::to_string(e.offset) + "," + e.event + "," + std::to_string(e.attempts) +
             "," + e.text + ") ";
        break;
      case QueueEvent::Kind::Breaker:
        s += std::string("breaker(") + breakerStateName(e.from) + ">" + breakerStateName(e.to) + "," +
             std::to_string(e.at - T0) + ") ";
        break;
    }
  }
  return s;
}

std::string codeOf(const std::function<void()>& f) { return rtc::test_util::errorCode(f); }

TEST(OfflineQueue, Mulberry32MatchesTheJsSequence) {
  Mulberry32 r(1);
  EXPECT_EQ(r.next() * 4294967296.0, 2693262067.0);
  EXPECT_EQ(r.next() * 4294967296.0, 11749833.0);
  EXPECT_EQ(r.next() * 4294967296.0, 2265367787.0);
}

TEST(OfflineQueue, PushPeekOrderAndOffsetsPerClient) {
  OfflineQueue q(opts());
  EXPECT_EQ(q.push("u1", item("a", "{\"n\":1}"), T0).offset, 1u);
  std::string_view k = "k";
  EXPECT_EQ(q.push("u1", item("b", std::string_view("\x01\x02\x03", 3), &k, false), T0 + 5).offset, 2u);
  EXPECT_EQ(q.push("u2", item("c", "x"), T0).offset, 1u);
  const auto& got = q.peek("u1", 0, 100, T0 + 5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(*got[0].client, "u1");
  EXPECT_EQ(got[0].event, "a");
  EXPECT_EQ(got[0].payload, "{\"n\":1}");
  EXPECT_TRUE(got[0].text);
  EXPECT_FALSE(got[0].hasKey);
  EXPECT_EQ(got[0].pushedAt, T0);
  EXPECT_EQ(got[1].payload, std::string_view("\x01\x02\x03", 3));
  EXPECT_FALSE(got[1].text);
  EXPECT_TRUE(got[1].hasKey);
  EXPECT_EQ(got[1].key, "k");
  EXPECT_EQ(got[1].attempts, 0u);
  EXPECT_EQ(offsets(q.peek("u1", 1, 100, T0)), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(offsets(q.peek("u1", 0, 1, T0)), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(q.peek("nobody", 0, 10, T0).empty());
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.size("u1"), 2u);
  EXPECT_EQ(q.size("nobody"), 0u);
  EXPECT_EQ(clientIds(q), (std::vector<std::string>{"u1", "u2"}));
}

TEST(OfflineQueue, OffsetsAreNeverReused) {
  OfflineQueue q(opts());
  for (int i = 0; i < 5; ++i) q.push("c", item("e", std::to_string(i)), T0);
  EXPECT_EQ(q.ack("c", 3, T0), 3u);
  EXPECT_EQ(offsets(q.peek("c", 0, 100, T0)), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(q.ack("c", 2, T0), 0u);
  EXPECT_EQ(codeOf([&] { q.ack("c", 6, T0); }), codes::kInvalidOffset);
  EXPECT_EQ(q.ack("c", 5, T0), 2u);
  EXPECT_TRUE(q.clients().empty());
  EXPECT_EQ(q.push("c", item("e", "again"), T0).offset, 6u);
  EXPECT_EQ(codeOf([&] { q.ack("never", 1, T0); }), codes::kInvalidOffset);
  EXPECT_EQ(q.ack("never", 0, T0), 0u);
}

TEST(OfflineQueue, DropOldest) {
  QueueOptions o = opts();
  o.capacity = 3;
  OfflineQueue q(o);
  for (int i = 0; i < 3; ++i) q.push("c", item("e", "p" + std::to_string(i)), T0);
  EXPECT_EQ(q.push("c", item("e", "p3"), T0).offset, 4u);
  EXPECT_EQ(droppedText(q), "1:overflow ");
  EXPECT_EQ(eventsText(q), "dropped(c,1,overflow) ");
  EXPECT_EQ(offsets(q.peek("c", 0, 10, T0)), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(q.stats().droppedOverflow, 1u);
}

TEST(OfflineQueue, DropNewest) {
  QueueOptions o = opts();
  o.capacity = 2;
  o.overflow = QueueOverflow::DropNewest;
  OfflineQueue q(o);
  q.push("c", item("e", "1"), T0);
  q.push("c", item("e", "2"), T0);
  EXPECT_EQ(q.push("c", item("e", "3"), T0).offset, 0u);
  EXPECT_EQ(droppedText(q), "0:overflow ");
  EXPECT_EQ(eventsText(q), "dropped(c,0,overflow) ");
  q.ack("c", 2, T0);
  EXPECT_EQ(q.push("c", item("e", "4"), T0).offset, 3u);
  std::vector<QueueItemIn> many{item("e", "a"), item("e", "b"), item("e", "c")};
  auto r = q.pushMany("c", many.data(), many.size(), T0);
  EXPECT_EQ(r.firstOffset, 4u);
  EXPECT_EQ(r.droppedNewest, (std::vector<std::uint32_t>{1, 2}));
}

TEST(OfflineQueue, RejectChangesNothing) {
  QueueOptions o = opts();
  o.capacity = 2;
  o.overflow = QueueOverflow::Reject;
  OfflineQueue q(o);
  std::string_view k = "k";
  q.push("c", item("e", "1", &k), T0);
  q.push("c", item("e", "2"), T0);
  EXPECT_EQ(codeOf([&] { q.push("c", item("e", "3"), T0); }), codes::kQueueFull);
  EXPECT_EQ(payloads(q.peek("c", 0, 10, T0)), (std::vector<std::string>{"1", "2"}));
  // coalescing makes room
  EXPECT_EQ(q.push("c", item("e", "1b", &k), T0).offset, 3u);
  EXPECT_EQ(droppedText(q), "1:coalesced ");
  // pushMany is all or nothing
  QueueOptions o2 = opts();
  o2.capacity = 3;
  o2.overflow = QueueOverflow::Reject;
  OfflineQueue q2(o2);
  q2.push("c", item("e", "1"), T0);
  std::vector<QueueItemIn> many{item("e", "2"), item("e", "3"), item("e", "4")};
  EXPECT_EQ(codeOf([&] { q2.pushMany("c", many.data(), many.size(), T0); }), codes::kQueueFull);
  EXPECT_EQ(q2.size("c"), 1u);
  EXPECT_EQ(q2.push("c", item("e", "2"), T0).offset, 2u);
  // keys repeated inside the batch coalesce with each other
  std::string_view a = "a";
  std::vector<QueueItemIn> keyed{item("e", "x", &a), item("e", "y", &a), item("e", "z", &a)};
  auto r = q2.pushMany("c", keyed.data(), keyed.size(), T0);
  EXPECT_EQ(r.firstOffset, 3u);
  EXPECT_EQ(payloads(q2.peek("c", 0, 10, T0)), (std::vector<std::string>{"1", "2", "z"}));
  // an expired item makes room
  QueueOptions o3 = o2;
  o3.ttlMs = 100;
  OfflineQueue q3(o3);
  for (int i = 0; i < 3; ++i) q3.push("c", item("e", "x"), T0 + i);
  EXPECT_EQ(codeOf([&] { q3.push("c", item("e", "x"), T0 + 99); }), codes::kQueueFull);
  EXPECT_EQ(q3.push("c", item("e", "new"), T0 + 100).offset, 4u);
  EXPECT_EQ(droppedText(q3), "1:expired ");
}

TEST(OfflineQueue, ItemChecks) {
  QueueOptions o = opts();
  o.maxItemBytes = 8;
  OfflineQueue q(o);
  EXPECT_EQ(codeOf([&] { q.push("c", item("e", "123456789"), T0); }), codes::kTooLarge);
  EXPECT_EQ(codeOf([&] { q.push("", item("e", "1"), T0); }), codes::kInvalidArgument);
  EXPECT_EQ(codeOf([&] { q.push("c", item("", "1"), T0); }), codes::kInvalidArgument);
  std::string longId(257, 'x');
  EXPECT_EQ(codeOf([&] { q.push(longId, item("e", "1"), T0); }), codes::kOutOfRange);
  std::vector<QueueItemIn> many{item("e", "1"), item("e", "123456789")};
  try {
    q.pushMany("c", many.data(), many.size(), T0);
    FAIL();
  } catch (const QueueItemError& e) {
    EXPECT_STREQ(e.code(), codes::kTooLarge);
    EXPECT_EQ(e.index(), 1u);
  }
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.clients().empty());
}

TEST(OfflineQueue, CoalescingAppendsWithANewOffset) {
  OfflineQueue q(opts());
  std::string_view dev = "device:1";
  q.push("dev", item("status", "online", &dev), T0);
  q.push("dev", item("alert", "hot"), T0);
  EXPECT_EQ(q.push("dev", item("status", "offline", &dev), T0).offset, 3u);
  EXPECT_EQ(droppedText(q), "1:coalesced ");
  EXPECT_EQ(eventsText(q), "dropped(dev,1,coalesced) ");
  EXPECT_EQ(payloads(q.peek("dev", 0, 10, T0)), (std::vector<std::string>{"hot", "offline"}));
  q.push("other", item("status", "x", &dev), T0);
  EXPECT_EQ(q.size("dev"), 2u);
  EXPECT_EQ(q.stats().droppedCoalesced, 1u);
  // the coalesced item's attempts are not carried over
  q.nack("dev", 3, "x", T0);
  q.push("dev", item("status", "again", &dev), T0);
  const auto& items = q.peek("dev", 0, 10, T0);
  EXPECT_EQ(items.back().offset, 4u);
  EXPECT_EQ(items.back().attempts, 0u);
}

TEST(OfflineQueue, PushManyCoalescesAndOverflowsItemByItem) {
  QueueOptions o = opts();
  o.capacity = 3;
  OfflineQueue q(o);
  std::string_view k = "k";
  std::vector<QueueItemIn> many{item("e", "a", &k), item("e", "b"), item("e", "c", &k), item("e", "d"),
                                item("e", "e")};
  auto r = q.pushMany("c", many.data(), many.size(), T0);
  EXPECT_EQ(r.firstOffset, 1u);
  EXPECT_TRUE(r.droppedNewest.empty());
  EXPECT_EQ(droppedText(q), "1:coalesced 2:overflow ");
  EXPECT_EQ(offsets(q.peek("c", 0, 10, T0)), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(q.pushMany("c", nullptr, 0, T0).firstOffset, 0u);
}

TEST(OfflineQueue, CapacityOneDropOldestKeepsWorking) {
  QueueOptions o = opts();
  o.capacity = 1;
  OfflineQueue q(o);
  q.push("a", item("e", "1"), T0);
  q.push("b", item("e", "1"), T0);
  q.push("a", item("e", "2"), T0);
  EXPECT_EQ(droppedText(q), "1:overflow ");
  // the queue of a was empty for a moment: it is a new queue, listed after b's
  EXPECT_EQ(clientIds(q), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(q.size(), 2u);
}

TEST(OfflineQueue, TtlExpiresOnAccessAndSweep) {
  QueueOptions o = opts();
  o.ttlMs = 1000;
  OfflineQueue q(o);
  q.push("a", item("e", "1"), T0);
  q.push("b", item("e", "2"), T0);
  q.push("a", item("e", "3"), T0 + 500);
  EXPECT_EQ(offsets(q.peek("a", 0, 10, T0 + 999)), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(offsets(q.peek("a", 0, 10, T0 + 1000)), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(eventsText(q), "dropped(a,1,expired) ");
  EXPECT_EQ(q.size("b"), 1u);  // size only reads
  EXPECT_EQ(q.sweep(T0 + 1000), 1u);
  EXPECT_EQ(eventsText(q), "dropped(b,1,expired) ");
  EXPECT_EQ(clientIds(q), (std::vector<std::string>{"a"}));
  EXPECT_EQ(q.stats().droppedExpired, 2u);
  // an expired item cannot be nacked (and the failed call changes nothing)
  q.push("c", item("e", "x"), T0 + 2000);
  EXPECT_EQ(codeOf([&] { q.nack("c", 1, "r", T0 + 3000); }), codes::kInvalidOffset);
  EXPECT_EQ(q.size("c"), 1u);
}

TEST(OfflineQueue, TtlWithAClockGoingBackwards) {
  QueueOptions o = opts();
  o.ttlMs = 100;
  OfflineQueue q(o);
  q.push("c", item("e", "1"), T0 + 50);
  q.push("c", item("e", "2"), T0);  // earlier than its predecessor
  q.push("c", item("e", "3"), T0 + 60);
  EXPECT_EQ(offsets(q.peek("c", 0, 10, T0 + 100)), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(offsets(q.peek("c", 0, 10, T0 + 150)), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(offsets(q.peek("c", 0, 10, T0 + 160)), (std::vector<std::uint64_t>{}));
  EXPECT_TRUE(q.clients().empty());
}

TEST(OfflineQueue, NackBackoffWithoutJitterThenDeadLetters) {
  QueueOptions o = opts();
  o.jitter = QueueJitter::None;
  o.initialDelayMs = 100;
  o.multiplier = 3;
  o.maxDelayMs = 250;
  o.maxAttempts = 3;
  OfflineQueue q(o);
  q.push("c", item("e", "x"), T0);
  auto r1 = q.nack("c", 1, "timeout", T0);
  EXPECT_FALSE(r1.dead);
  EXPECT_EQ(r1.attempts, 1u);
  EXPECT_EQ(r1.retryAt, T0 + 100);
  auto r2 = q.nack("c", 1, "nack", T0 + 100);
  EXPECT_EQ(r2.attempts, 2u);
  EXPECT_EQ(r2.retryAt, T0 + 100 + 250);
  auto r3 = q.nack("c", 1, "gone", T0 + 110);
  EXPECT_TRUE(r3.dead);
  EXPECT_EQ(r3.attempts, 3u);
  EXPECT_EQ(eventsText(q), "dead(c,1,e,3,gone) ");
  EXPECT_EQ(q.size(), 0u);
  const auto& dead = q.deadLetters(100);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].offset, 1u);
  EXPECT_EQ(dead[0].attempts, 3u);
  EXPECT_EQ(*dead[0].reason, "gone");
  EXPECT_EQ(dead[0].deadAt, T0 + 110);
  EXPECT_EQ(dead[0].pushedAt, T0);
  EXPECT_EQ(codeOf([&] { q.nack("c", 1, "x", T0); }), codes::kInvalidOffset);
  EXPECT_EQ(q.clearDeadLetters(), 1u);
  EXPECT_TRUE(q.deadLetters(100).empty());
  QueueStats s = q.stats();
  EXPECT_EQ(s.retried, 2u);
  EXPECT_EQ(s.deadLettered, 1u);
  EXPECT_EQ(s.deadLetters, 0u);
}

TEST(OfflineQueue, MaxDeadLettersKeepsTheNewest) {
  QueueOptions o = opts();
  o.maxAttempts = 1;
  o.maxDeadLetters = 2;
  OfflineQueue q(o);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    q.push("c", item("e", std::to_string(i)), T0);
    q.nack("c", i, "r", T0);
  }
  EXPECT_EQ(offsets(q.deadLetters(100)), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(q.stats().droppedDeadLetterOverflow, 1u);
  QueueOptions none = opts();
  none.maxAttempts = 1;
  none.maxDeadLetters = 0;
  OfflineQueue q0(none);
  q0.push("c", item("e", "x"), T0);
  EXPECT_TRUE(q0.nack("c", 1, "r", T0).dead);
  EXPECT_EQ(eventsText(q0), "dead(c,1,e,1,r) ");
  EXPECT_TRUE(q0.deadLetters(10).empty());
  EXPECT_EQ(q0.stats().droppedDeadLetterOverflow, 1u);
}

std::vector<std::int64_t> delays(QueueJitter jitter) {
  QueueOptions o = opts();
  o.jitter = jitter;
  o.initialDelayMs = 1000;
  o.multiplier = 2;
  o.maxDelayMs = 30000;
  o.maxAttempts = 50;
  o.seed = 42;
  OfflineQueue q(o);
  q.push("c", item("e", "x"), T0);
  std::vector<std::int64_t> out;
  for (int n = 1; n <= 8; ++n) out.push_back(q.nack("c", 1, "r", T0).retryAt - T0);
  return out;
}

TEST(OfflineQueue, BackoffScheduleForEachJitter) {
  // Computed from the formula of docs/offline-queue.md with mulberry32(42).
  EXPECT_EQ(delays(QueueJitter::Full), (std::vector<std::int64_t>{601, 896, 3409, 5357, 2797, 15797, 8196, 18742}));
  EXPECT_EQ(delays(QueueJitter::Equal),
            (std::vector<std::int64_t>{800, 1448, 3704, 6678, 9398, 22898, 19098, 24371}));
  EXPECT_EQ(delays(QueueJitter::Decorrelated),
            (std::vector<std::int64_t>{2202, 3513, 9131, 18676, 10619, 17249, 14865, 28235}));
  EXPECT_EQ(delays(QueueJitter::None),
            (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
}

TEST(OfflineQueue, DueOrderInFlightAndRelease) {
  QueueOptions o = opts();
  o.jitter = QueueJitter::None;
  o.initialDelayMs = 100;
  OfflineQueue q(o);
  q.push("a", item("e", "a1"), T0);
  q.push("a", item("e", "a2"), T0);
  q.push("b", item("e", "b1"), T0 + 1);
  EXPECT_EQ(offsets(q.due(2, T0 + 1)), (std::vector<std::uint64_t>{1, 2}));
  const auto& second = q.due(1000, T0 + 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(*second[0].client, "b");
  EXPECT_TRUE(q.due(1000, T0 + 1).empty());
  EXPECT_EQ(q.stats().inFlight, 3u);
  q.nack("a", 1, "r", T0 + 1);
  EXPECT_EQ(q.stats().inFlight, 2u);
  EXPECT_TRUE(q.due(1000, T0 + 1).empty());
  q.push("a", item("e", "a3"), T0 + 1);
  EXPECT_TRUE(q.due(1000, T0 + 1).empty());  // a3 waits behind a1's retry
  const auto& ready = q.due(1000, T0 + 101);
  EXPECT_EQ(offsets(ready), (std::vector<std::uint64_t>{1, 3}));  // a client's order is kept
  EXPECT_EQ(ready[0].attempts, 1u);
  q.release("a", 3, T0 + 101);
  EXPECT_EQ(offsets(q.due(1000, T0 + 101)), (std::vector<std::uint64_t>{3}));
  EXPECT_TRUE(q.ackOne("a", 3, T0 + 101));
  EXPECT_FALSE(q.ackOne("a", 3, T0 + 101));
  EXPECT_EQ(offsets(q.peek("a", 0, 10, T0 + 101)), (std::vector<std::uint64_t>{1, 2}));
}

TEST(OfflineQueue, DueMergesClientsByRetryAtThenCreationOrder) {
  QueueOptions o = opts();
  o.jitter = QueueJitter::None;
  o.initialDelayMs = 10;
  OfflineQueue q(o);
  q.push("a", item("e", "a1"), T0 + 5);
  q.push("b", item("e", "b1"), T0);
  q.push("b", item("e", "b2"), T0 + 5);
  q.push("c", item("e", "c1"), T0 + 3);
  q.push("a", item("e", "a2"), T0 + 6);
  std::vector<std::string> got;
  for (const auto& v : q.due(1000, T0 + 10)) got.push_back(*v.client + std::to_string(v.offset));
  EXPECT_EQ(got, (std::vector<std::string>{"b1", "c1", "a1", "b2", "a2"}));
  got.clear();
  for (const auto& v : q.due(1000, T0 + 10)) got.push_back(*v.client + std::to_string(v.offset));
  EXPECT_TRUE(got.empty());
}

TEST(OfflineQueue, BreakerTransitionsAndHalfOpenTrial) {
  QueueOptions o = opts();
  o.failureThreshold = 2;
  o.successThreshold = 2;
  o.openMs = 1000;
  o.jitter = QueueJitter::None;
  o.initialDelayMs = 0;
  o.maxDelayMs = 0;
  o.maxAttempts = 100;
  OfflineQueue q(o);
  for (int i = 0; i < 4; ++i) q.push("c", item("e", std::to_string(i)), T0);
  EXPECT_EQ(q.breakerState(T0), BreakerState::Closed);
  q.due(2, T0);
  q.nack("c", 1, "r", T0);
  EXPECT_TRUE(q.ackOne("c", 2, T0));  // a success resets the count
  EXPECT_EQ(q.stats().failures, 0u);
  q.due(1, T0);
  q.nack("c", 1, "r", T0);
  q.due(1, T0);
  q.nack("c", 1, "r", T0);
  EXPECT_EQ(eventsText(q), "breaker(closed>open,0) ");
  EXPECT_EQ(q.breakerState(T0), BreakerState::Open);
  EXPECT_EQ(*q.stats().openedAt, T0);
  EXPECT_TRUE(q.due(1000, T0).empty());
  EXPECT_TRUE(q.due(1000, T0 + 999).empty());
  EXPECT_EQ(offsets(q.due(1000, T0 + 1000)), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(eventsText(q), "breaker(open>half-open,1000) ");
  EXPECT_TRUE(q.due(1000, T0 + 1000).empty());  // one trial at a time
  q.ackOne("c", 1, T0 + 1000);
  EXPECT_EQ(q.breakerState(T0 + 1000), BreakerState::HalfOpen);
  EXPECT_EQ(q.stats().successes, 1u);
  q.due(1000, T0 + 1000);
  q.nack("c", 3, "r", T0 + 1000);  // a failure in half-open opens again
  EXPECT_EQ(eventsText(q), "breaker(half-open>open,1000) ");
  EXPECT_EQ(q.breakerState(T0 + 1000), BreakerState::Open);
  EXPECT_EQ(offsets(q.due(1000, T0 + 2000)), (std::vector<std::uint64_t>{3}));
  q.ackOne("c", 3, T0 + 2000);
  q.due(1000, T0 + 2000);
  q.ackOne("c", 4, T0 + 2000);
  EXPECT_EQ(eventsText(q), "breaker(half-open>closed,2000) ");
  EXPECT_EQ(q.breakerState(T0 + 2000), BreakerState::Closed);
  EXPECT_FALSE(q.stats().openedAt.has_value());
  // a lazy transition is reported by whatever call comes first
  for (int i = 0; i < 2; ++i) {
    q.push("c", item("e", "x"), T0 + 2000);
  }
  q.nack("c", 5, "r", T0 + 2000);
  q.nack("c", 5, "r", T0 + 2000);
  EXPECT_EQ(q.breakerState(T0 + 2000), BreakerState::Open);
  q.push("c", item("e", "y"), T0 + 3000);
  EXPECT_EQ(eventsText(q), "breaker(open>half-open,3000) ");

  QueueOptions none = opts();
  none.breaker = false;
  none.maxAttempts = 100;
  OfflineQueue nb(none);
  nb.push("c", item("e", "x"), T0);
  for (int i = 0; i < 10; ++i) nb.nack("c", 1, "r", T0);
  EXPECT_EQ(nb.breakerState(T0), BreakerState::Closed);
}

TEST(OfflineQueue, Stats) {
  QueueOptions o = opts();
  o.capacity = 2;
  OfflineQueue q(o);
  q.push("a", item("e", "xyz"), T0);
  q.push("a", item("e", "\x01\x02", nullptr, false), T0);
  q.push("a", item("e", "\xc3\xa9"), T0);
  q.ack("a", 2, T0);
  QueueStats s = q.stats();
  EXPECT_EQ(s.clients, 1u);
  EXPECT_EQ(s.items, 1u);
  EXPECT_EQ(s.payloadBytes, 2u);
  EXPECT_EQ(s.inFlight, 0u);
  EXPECT_EQ(s.pushed, 3u);
  EXPECT_EQ(s.acked, 1u);
  EXPECT_EQ(s.droppedOverflow, 1u);
  EXPECT_EQ(s.breaker, BreakerState::Closed);
  EXPECT_FALSE(s.durable);
}

TEST(OfflineQueue, ClosedRefusesCalls) {
  OfflineQueue q(opts());
  q.push("c", item("e", "x"), T0);
  EXPECT_EQ(q.close(), 0u);
  EXPECT_EQ(codeOf([&] { q.push("c", item("e", "y"), T0); }), codes::kClosed);
  EXPECT_EQ(codeOf([&] { q.peek("c", 0, 1, T0); }), codes::kClosed);
  EXPECT_EQ(q.stats().items, 1u);
  EXPECT_EQ(q.close(), 0u);
}

// A naive model of the in-memory semantics (offsets, keys, capacity with drop-oldest, acks).
TEST(OfflineQueue, RandomOpsAgreeWithANaiveModel) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    QueueOptions o = opts();
    o.capacity = 1 + rng() % 40;
    OfflineQueue q(o);
    struct M {
      std::uint64_t offset;
      std::string key, payload;
    };
    std::map<std::string, std::vector<M>> model;
    std::map<std::string, std::uint64_t> last;
    const char* clients[] = {"a", "b", "c"};
    for (int step = 0; step < 3000; ++step) {
      std::string c = clients[rng() % 3];
      auto& m = model[c];
      int op = rng() % 10;
      if (op < 6) {
        std::string key = rng() % 2 ? "k" + std::to_string(rng() % 30) : "";
        std::string payload = "p" + std::to_string(step);
        std::string_view kv = key;
        q.push(c, item("e", payload, key.empty() ? nullptr : &kv), T0);
        if (!key.empty()) {
          for (std::size_t i = 0; i < m.size(); ++i) {
            if (m[i].key == key) {
              m.erase(m.begin() + static_cast<long>(i));
              break;
            }
          }
        }
        while (m.size() >= o.capacity) m.erase(m.begin());
        m.push_back({++last[c], key, payload});
      } else if (op < 8 && !m.empty()) {
        std::uint64_t off = m[rng() % m.size()].offset;
        EXPECT_TRUE(q.ackOne(c, off, T0));
        for (std::size_t i = 0; i < m.size(); ++i) {
          if (m[i].offset == off) {
            m.erase(m.begin() + static_cast<long>(i));
            break;
          }
        }
      } else if (op < 9 && !m.empty()) {
        std::uint64_t off = m[rng() % m.size()].offset;
        q.ack(c, off, T0);
        while (!m.empty() && m.front().offset <= off) m.erase(m.begin());
      } else {
        const auto& got = q.peek(c, 0, 1000, T0);
        ASSERT_EQ(got.size(), m.size());
        for (std::size_t i = 0; i < m.size(); ++i) {
          ASSERT_EQ(got[i].offset, m[i].offset);
          ASSERT_EQ(got[i].payload, m[i].payload);
          ASSERT_EQ(std::string(got[i].key), m[i].key);
        }
      }
    }
  }
}

// A naive model of everything but the breaker and the random jitter: TTL, coalescing, overflow,
// acks, nacks with backoff, dead letters, due with in-flight marks and its order, release.
struct ModelItem {
  std::uint64_t offset;
  std::int64_t pushedAt, retryAt;
  std::uint32_t attempts = 0, prevDelay = 0;
  bool inFlight = false;
  std::string key, payload;
};
struct ModelClient {
  std::vector<ModelItem> items;
  std::uint64_t last = 0, order = 0;
};
struct Model {
  QueueOptions o;
  std::map<std::string, ModelClient> clients;
  std::vector<std::string> active;  // in creation order
  std::uint64_t nextOrder = 1;
  std::size_t dead = 0;

  void erase(const std::string& id, std::size_t i) {
    auto& items = clients[id].items;
    items.erase(items.begin() + static_cast<long>(i));
    if (items.empty()) active.erase(std::find(active.begin(), active.end(), id));
  }
  void expire(const std::string& id, std::int64_t now) {
    auto& items = clients[id].items;
    for (std::size_t i = 0; i < items.size();) {
      if (o.ttlMs > 0 && now - items[i].pushedAt >= o.ttlMs) erase(id, i);
      else ++i;
    }
  }
  std::uint64_t push(const std::string& id, const std::string& key, const std::string& payload, std::int64_t now) {
    expire(id, now);
    ModelClient& c = clients[id];
    if (!key.empty()) {
      for (std::size_t i = 0; i < c.items.size(); ++i) {
        if (c.items[i].key == key) {
          erase(id, i);
          break;
        }
      }
    }
    while (c.items.size() >= o.capacity) erase(id, 0);
    if (c.items.empty()) {
      c.order = nextOrder++;
      active.push_back(id);
    }
    ModelItem it;
    it.offset = ++c.last;
    it.pushedAt = it.retryAt = now;
    it.key = key;
    it.payload = payload;
    c.items.push_back(it);
    return it.offset;
  }
  ModelItem* find(const std::string& id, std::uint64_t offset, std::size_t* index = nullptr) {
    auto& items = clients[id].items;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].offset == offset) {
        if (index) *index = i;
        return &items[i];
      }
    }
    return nullptr;
  }
  std::uint32_t delay(std::uint32_t n) const {
    double base = o.initialDelayMs;
    for (std::uint32_t k = 1; k < n; ++k) base = std::min(o.maxDelayMs, base * o.multiplier);
    return static_cast<std::uint32_t>(base);
  }
  std::vector<std::pair<std::string, std::uint64_t>> due(std::size_t limit, std::int64_t now) {
    for (const auto& id : std::vector<std::string>(active)) expire(id, now);
    std::map<std::string, std::size_t> cursor;
    auto next = [&](const std::string& id) -> ModelItem* {
      auto& items = clients[id].items;
      for (std::size_t& i = cursor[id]; i < items.size(); ++i) {
        if (items[i].inFlight) continue;
        if (items[i].retryAt > now) return nullptr;
        return &items[i];
      }
      return nullptr;
    };
    std::vector<std::pair<std::string, std::uint64_t>> out;
    while (out.size() < limit) {
      std::string best;
      ModelItem* bestItem = nullptr;
      for (const auto& id : active) {
        ModelItem* it = next(id);
        if (!it) continue;
        if (!bestItem || it->retryAt < bestItem->retryAt ||
            (it->retryAt == bestItem->retryAt && clients[id].order < clients[best].order)) {
          best = id;
          bestItem = it;
        }
      }
      if (!bestItem) break;
      bestItem->inFlight = true;
      out.emplace_back(best, bestItem->offset);
    }
    return out;
  }
};

TEST(OfflineQueue, RandomOpsAgreeWithAFullModel) {
  for (std::uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937 rng(seed);
    QueueOptions o = opts();
    o.capacity = 1 + rng() % 12;
    o.ttlMs = rng() % 2 ? 0 : 50 + rng() % 200;
    o.jitter = QueueJitter::None;
    o.initialDelayMs = rng() % 30;
    o.maxDelayMs = o.initialDelayMs + rng() % 100;
    o.multiplier = 1.5;
    o.maxAttempts = 1 + rng() % 5;
    o.breaker = false;
    o.maxDeadLetters = 1000000;
    OfflineQueue q(o);
    Model m;
    m.o = o;
    std::int64_t now = T0;
    const char* ids[] = {"a", "b", "c", "d"};
    for (int step = 0; step < 4000; ++step) {
      now += rng() % 7;
      std::string id = ids[rng() % 4];
      int op = rng() % 100;
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step) + " op " + std::to_string(op));
      if (op < 35) {
        std::string key = rng() % 3 == 0 ? "k" + std::to_string(rng() % 5) : "";
        std::string payload = "p" + std::to_string(step);
        std::string_view kv = key;
        std::uint64_t got = q.push(id, item("e", payload, key.empty() ? nullptr : &kv), now).offset;
        ASSERT_EQ(got, m.push(id, key, payload, now));
      } else if (op < 45) {
        auto& items = m.clients[id].items;
        if (items.empty()) continue;
        std::uint64_t off = items[rng() % items.size()].offset;
        m.expire(id, now);
        ASSERT_EQ(q.ackOne(id, off, now), m.find(id, off) != nullptr);
        std::size_t i = 0;
        if (m.find(id, off, &i)) m.erase(id, i);
      } else if (op < 50) {
        std::uint64_t upTo = m.clients[id].last ? rng() % (m.clients[id].last + 1) : 0;
        m.expire(id, now);
        std::size_t n = 0;
        while (!m.clients[id].items.empty() && m.clients[id].items.front().offset <= upTo) {
          m.erase(id, 0);
          ++n;
        }
        ASSERT_EQ(q.ack(id, upTo, now), n);
      } else if (op < 65) {
        auto& items = m.clients[id].items;
        if (items.empty()) continue;
        std::uint64_t off = items[rng() % items.size()].offset;
        ModelItem* it = m.find(id, off);
        bool expired = o.ttlMs > 0 && now - it->pushedAt >= o.ttlMs;
        if (expired) {
          ASSERT_EQ(codeOf([&] { q.nack(id, off, "r", now); }), codes::kInvalidOffset);
          continue;
        }
        m.expire(id, now);
        std::size_t i = 0;
        it = m.find(id, off, &i);
        QueueNackResult r = q.nack(id, off, "r", now);
        std::uint32_t attempts = it->attempts + 1;
        ASSERT_EQ(r.attempts, attempts);
        if (attempts >= o.maxAttempts) {
          ASSERT_TRUE(r.dead);
          m.erase(id, i);
          ++m.dead;
        } else {
          ASSERT_FALSE(r.dead);
          it->attempts = attempts;
          it->retryAt = now + m.delay(attempts);
          it->inFlight = false;
          ASSERT_EQ(r.retryAt, it->retryAt);
        }
      } else if (op < 85) {
        std::size_t limit = 1 + rng() % 6;
        auto expect = m.due(limit, now);
        std::vector<std::pair<std::string, std::uint64_t>> got;
        for (const auto& v : q.due(limit, now)) got.emplace_back(*v.client, v.offset);
        ASSERT_EQ(got, expect);
      } else if (op < 92) {
        auto& items = m.clients[id].items;
        if (items.empty()) continue;
        std::uint64_t off = items[rng() % items.size()].offset;
        m.expire(id, now);
        q.release(id, off, now);
        if (ModelItem* it = m.find(id, off)) it->inFlight = false;
      } else if (op < 95) {
        for (const auto& a : std::vector<std::string>(m.active)) m.expire(a, now);
        q.sweep(now);
      } else {
        m.expire(id, now);
        const auto& got = q.peek(id, 0, 1000, now);
        const auto& items = m.clients[id].items;
        ASSERT_EQ(got.size(), items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
          ASSERT_EQ(got[i].offset, items[i].offset);
          ASSERT_EQ(got[i].attempts, items[i].attempts);
          ASSERT_EQ(got[i].payload, items[i].payload);
        }
      }
      ASSERT_EQ(clientIds(q), m.active);
      QueueStats s = q.stats();
      std::size_t items = 0, inFlight = 0;
      for (auto& entry : m.clients) {
        items += entry.second.items.size();
        for (auto& it : entry.second.items) inFlight += it.inFlight ? 1 : 0;
      }
      ASSERT_EQ(s.items, items);
      ASSERT_EQ(s.inFlight, inFlight);
      ASSERT_EQ(s.deadLetters, m.dead);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Durable mode

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rtq-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

QueueOptions durableOpts(const std::string& dir, FsyncMode fsync = FsyncMode::Always) {
  QueueOptions o = opts();
  o.durable = QueueDurableOptions{dir, fsync, 5, 64ull << 20};
  o.jitter = QueueJitter::None;
  o.capacity = 1000;
  return o;
}

// Everything a reopened queue must reproduce.
std::string observe(OfflineQueue& q, std::int64_t now) {
  std::string s;
  for (const std::string& c : clientIds(q)) {
    s += c + ":";
    for (const auto& v : q.peek(c, 0, 1000000, now)) {
      s += " " + std::to_string(v.offset) + "/" + std::string(v.event) + "/" + std::string(v.payload) + "/" +
           (v.text ? "t" : "b") + "/" + (v.hasKey ? std::string(v.key) : "-") + "/" + std::to_string(v.attempts) +
           "/" + std::to_string(v.pushedAt - T0);
    }
    s += "\n";
  }
  s += "dead:";
  for (const auto& v : q.deadLetters(1000000)) {
    s += " " + *v.client + "/" + std::to_string(v.offset) + "/" + std::string(v.payload) + "/" +
         std::to_string(v.attempts) + "/" + *v.reason + "/" + std::to_string(v.deadAt - T0);
  }
  return s;
}

void scenario(OfflineQueue& q) {
  std::string_view k = "k";
  q.push("a", item("e", "one"), T0);
  q.push("a", item("e", std::string_view("\0\1\2\xff", 4), &k, false), T0 + 1);
  q.push("b", item("f", "\xc3\xa9"), T0 + 2);
  q.push("a", item("e", "two", &k), T0 + 3);  // coalesces offset 2
  q.push("b", item("f", "gone"), T0 + 4);
  q.nack("b", 1, "busy", T0 + 5);
  q.nack("b", 2, "bad", T0 + 6);
  q.nack("b", 2, "bad", T0 + 7);
  q.nack("b", 2, "still bad", T0 + 8);  // dead
  q.ack("a", 1, T0 + 9);
  for (int i = 0; i < 5; ++i) q.push("c", item("g", "n" + std::to_string(i)), T0 + 10);
  q.ack("c", 5, T0 + 11);  // c is empty, its last offset is 5
  q.push("d", item("h", "x"), T0 + 12);
  q.push("d", item("h", "y"), T0 + 12);
  EXPECT_TRUE(q.ackOne("d", 2, T0 + 12));
}

TEST(OfflineQueueDurable, RoundTrip) {
  TempDir dir;
  std::string before;
  {
    OfflineQueue q(durableOpts(dir.path()));
    ASSERT_TRUE(q.recovery().has_value());
    EXPECT_EQ(q.recovery()->records, 0u);
    scenario(q);
    before = observe(q, T0 + 20);
    EXPECT_GT(q.close(), 0u);
  }
  OfflineQueue q2(durableOpts(dir.path()));
  EXPECT_EQ(observe(q2, T0 + 20), before);
  EXPECT_EQ(q2.recovery()->items, 3u);
  EXPECT_FALSE(q2.recovery()->truncated.has_value());
  EXPECT_EQ(q2.push("c", item("g", "n5"), T0 + 30).offset, 6u);
  EXPECT_EQ(q2.push("a", item("e", "next"), T0 + 30).offset, 4u);
  EXPECT_EQ(q2.push("d", item("h", "z"), T0 + 30).offset, 3u);
  // retry state survives: b/1 waits until its retryAt
  EXPECT_EQ(q2.peek("b", 0, 10, T0 + 30)[0].attempts, 1u);
  q2.close();
}

TEST(OfflineQueueDurable, CompactionThenReopen) {
  TempDir dir;
  std::string before;
  std::uint64_t bytesAfter = 0;
  {
    QueueOptions o = durableOpts(dir.path(), FsyncMode::Never);
    o.durable->segmentBytes = 4096;
    OfflineQueue q(o);
    for (int i = 1; i <= 400; ++i) {
      std::string payload = "payload-" + std::to_string(i);
      payload.resize(40, '.');
      q.push("c", item("e", payload), T0 + i);
      if (i % 10 != 0) q.ackOne("c", static_cast<std::uint64_t>(i), T0 + i);
    }
    q.push("x", item("e", "dead"), T0);
    q.nack("x", 1, "r1", T0);
    q.nack("x", 1, "r2", T0);
    q.nack("x", 1, "r3", T0);
    q.push("x", item("e", "retrying"), T0);
    q.nack("x", 2, "r1", T0);
    q.compact();
    q.flush();
    before = observe(q, T0 + 1000);
    q.close();
    bytesAfter = q.stats().bytes;
  }
  EXPECT_LT(bytesAfter, 400u * 40u);
  std::uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) total += e.file_size();
  EXPECT_LT(total, 400u * 40u);
  OfflineQueue q2(durableOpts(dir.path()));
  EXPECT_EQ(observe(q2, T0 + 1000), before);
  EXPECT_EQ(q2.size("c"), 40u);
  EXPECT_EQ(q2.push("c", item("e", "x"), T0 + 2000).offset, 401u);
  EXPECT_EQ(q2.deadLetters(10)[0].attempts, 3u);
  q2.close();
}

TEST(OfflineQueueDurable, DurableCallbackAndPathThatIsAFile) {
  TempDir dir;
  std::atomic<std::uint64_t> durableSeq{0};
  {
    QueueCallbacks cb;
    cb.onDurable = [&](std::uint64_t seq) {
      if (seq > durableSeq) durableSeq = seq;
    };
    OfflineQueue q(durableOpts(dir.path()), cb);
    auto r = q.push("c", item("e", "x"), T0);
    EXPECT_GT(r.seq, 0u);
    std::uint64_t seq = q.close();
    EXPECT_GE(durableSeq.load(), seq);
    EXPECT_TRUE(q.stats().healthy);
  }
  std::string file = dir.path() + "/file";
  FILE* f = std::fopen(file.c_str(), "w");
  std::fputs("x", f);
  std::fclose(f);
  EXPECT_EQ(codeOf([&] { OfflineQueue q(durableOpts(file)); }), codes::kDisk);
}

TEST(OfflineQueueDurable, AutomaticCompactionKeepsTheLogSmall) {
  TempDir dir;
  QueueOptions o = durableOpts(dir.path(), FsyncMode::Never);
  o.durable->segmentBytes = 8192;
  o.capacity = 10;
  std::string before;
  {
    OfflineQueue q(o);
    std::string payload(100, 'p');
    for (int i = 0; i < 5000; ++i) q.push("c" + std::to_string(i % 7), item("e", payload), T0 + i);
    before = observe(q, T0 + 5000);
    q.close();
  }
  std::uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) total += e.file_size();
  EXPECT_LT(total, 100000u);  // 5000 pushes of ~150 bytes each would be 750 KB
  OfflineQueue q2(o);
  EXPECT_EQ(observe(q2, T0 + 5000), before);
  q2.close();
}

TEST(OfflineQueueDurable, DiskFailureIsReportedAndTheQueueGoesOnInMemory) {
  TempDir dir;
  std::atomic<int> unhealthy{0};
  std::mutex m;
  std::string code;
  QueueCallbacks cb;
  cb.onDurability = [&](bool healthy, const char* c, const std::string&) {
    if (healthy) return;
    std::lock_guard<std::mutex> lock(m);
    code = c ? c : "";
    ++unhealthy;
  };
  QueueOptions o = durableOpts(dir.path());
  o.durable->segmentBytes = 4096;
  std::atomic<std::uint64_t> durableSeq{0};
  cb.onDurable = [&](std::uint64_t seq) { durableSeq.store(seq); };
  OfflineQueue q(o, cb);
  q.push("c", item("e", "before"), T0);
  // flush() only asks the writer: wait until it is done before pulling the directory away
  const std::uint64_t flushed = q.flush();
  while (durableSeq.load() < flushed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::filesystem::remove_all(dir.path());
  FILE* f = std::fopen(dir.path().c_str(), "w");  // new segments cannot be created
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  std::string payload(100, 'x');
  for (int i = 0; i < 200; ++i) q.push("c", item("e", payload), T0);
  q.close();
  EXPECT_GT(unhealthy.load(), 0);
  EXPECT_EQ(code, codes::kDisk);
  QueueStats s = q.stats();
  EXPECT_FALSE(s.healthy);
  EXPECT_TRUE(s.lastError.has_value());
  EXPECT_EQ(s.items, 201u);
  std::filesystem::remove(dir.path());
}

// After the disk comes back, the next logged call restates the whole state (the batches lost
// meanwhile included acks and pushes), so a reopen finds exactly what the queue held.
TEST(OfflineQueueDurable, AfterADiskFailureTheLogIsResynced) {
  TempDir dir;
  std::atomic<std::uint64_t> durableSeq{0};
  std::atomic<int> errors{0};
  QueueCallbacks cb;
  cb.onDurable = [&](std::uint64_t seq) { durableSeq.store(seq); };
  cb.onDurability = [&](bool healthy, const char*, const std::string&) {
    if (!healthy) ++errors;
  };
  auto waitFor = [&](std::uint64_t seq) {
    for (int i = 0; i < 5000 && durableSeq.load() < seq; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return durableSeq.load() >= seq;
  };
  QueueOptions o = durableOpts(dir.path());
  o.durable->segmentBytes = 4096;
  OfflineQueue q(o, cb);
  for (int i = 0; i < 10; ++i) q.push("c", item("e", "kept"), T0);
  ASSERT_TRUE(waitFor(q.flush()));
  std::filesystem::remove_all(dir.path());
  FILE* f = std::fopen(dir.path().c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  const std::string payload(100, 'x');
  for (int i = 0; i < 60; ++i) q.push("c", item("e", payload), T0);  // past a segment: fails
  q.ack("c", 5, T0);
  for (int i = 0; i < 2000 && errors.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GT(errors.load(), 0);
  std::filesystem::remove(dir.path());
  std::filesystem::create_directory(dir.path());
  // a call that logs: the writer works again, and the queue restates itself
  std::uint64_t seq = 0;
  for (int i = 0; i < 20 && !q.stats().healthy; ++i) {
    seq = q.push("d", item("e", "after"), T0).seq;
    waitFor(seq);
  }
  ASSERT_TRUE(q.stats().healthy);
  seq = q.push("d", item("e", "last"), T0).seq;
  ASSERT_TRUE(waitFor(seq));
  const std::string before = observe(q, T0);
  q.close();
  OfflineQueue q2(o);
  EXPECT_EQ(observe(q2, T0), before);
  EXPECT_EQ(q2.size(std::string("c")), 65u);
  q2.close();
}

TEST(OfflineQueueDurable, RandomOpsSurviveReopenAndCompaction) {
  for (std::uint32_t seed = 1; seed <= 4; ++seed) {
    TempDir dir;
    std::mt19937 rng(seed);
    QueueOptions o = durableOpts(dir.path(), FsyncMode::Never);
    o.durable->segmentBytes = 4096;
    o.capacity = 1 + rng() % 20;
    o.ttlMs = seed % 2 ? 0 : 300;
    o.maxAttempts = 3;
    o.maxDeadLetters = 5;
    o.initialDelayMs = 5;
    o.maxDelayMs = 50;
    auto q = std::make_unique<OfflineQueue>(o);
    std::int64_t now = T0;
    const char* ids[] = {"a", "b", "c"};
    for (int step = 1; step <= 3000; ++step) {
      now += rng() % 5;
      std::string id = ids[rng() % 3];
      int op = rng() % 100;
      if (op < 50) {
        std::string key = rng() % 3 == 0 ? "k" + std::to_string(rng() % 4) : "";
        std::string_view kv = key;
        std::string payload(rng() % 60, static_cast<char>('a' + step % 26));
        q->push(id, item(rng() % 2 ? "e1" : "e2", payload, key.empty() ? nullptr : &kv, rng() % 2 == 0), now);
      } else if (op < 60) {
        const auto& items = q->peek(id, 0, 1000, now);
        if (!items.empty()) q->ackOne(id, items[rng() % items.size()].offset, now);
      } else if (op < 65) {
        const auto& items = q->peek(id, 0, 1000, now);
        if (!items.empty()) q->ack(id, items[rng() % items.size()].offset, now);
      } else if (op < 85) {
        const auto& items = q->peek(id, 0, 1000, now);
        if (!items.empty()) q->nack(id, items[rng() % items.size()].offset, "why " + std::to_string(step), now);
      } else if (op < 95) {
        q->due(1 + rng() % 5, now);
      } else if (op < 97) {
        q->clearDeadLetters();
      } else if (op < 98) {
        q->compact();
      } else {
        q->sweep(now);
      }
      if (step % 250 == 0) {
        std::string before = observe(*q, now);
        std::uint64_t lastA = q->push("a", item("e", "probe"), now).offset;
        q->ackOne("a", lastA, now);
        before = observe(*q, now);
        q->close();
        q = std::make_unique<OfflineQueue>(o);
        ASSERT_EQ(observe(*q, now), before) << "seed " << seed << " step " << step;
        ASSERT_EQ(q->push("a", item("e", "probe"), now).offset, lastA + 1);
        q->ackOne("a", lastA + 1, now);
      }
    }
    q->close();
  }
}

}  // namespace
}  // namespace rtc
