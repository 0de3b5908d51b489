#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fanout.h"
#include "test_util.h"

namespace rtc {
namespace {

using test_util::errorCode;
using SV = std::vector<std::string_view>;
using U = std::vector<std::uint32_t>;

FanoutOptions opts(bool recovery = true) {
  FanoutOptions o;
  o.offsetPrefix = "p-";
  if (recovery) o.recovery = FanoutRecoveryOptions();
  return o;
}

FanoutMessage msg(SV rooms, std::string_view args = "[1]", std::string_view event = "\"ev\"") {
  FanoutMessage m;
  m.rooms = std::move(rooms);
  m.eventJson = event;
  m.args = args;
  return m;
}

struct Delivered {
  std::string packet;
  U handles;
  std::uint64_t seq;
  bool isVolatile, bulk;
};

std::vector<Delivered> copy(const FanoutResult& r) {
  std::vector<Delivered> out;
  for (const auto& d : r.deliveries)
    out.push_back({d.packet, U(r.handles.data() + d.handlesBegin, r.handles.data() + d.handlesEnd), d.seq,
                   d.isVolatile, d.bulk});
  return out;
}

std::vector<std::string> names(const std::vector<std::string_view>& v) { return {v.begin(), v.end()}; }
std::vector<std::string> S(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

// ---- connections and rooms ---------------------------------------------------------------------

TEST(FanoutConnections, HandlesAreReusedLifo) {
  FanoutHub hub(opts());
  EXPECT_EQ(hub.connect(), 0u);
  EXPECT_EQ(hub.connect(), 1u);
  EXPECT_EQ(hub.connect(), 2u);
  EXPECT_EQ(hub.connect(), 3u);
  ASSERT_TRUE(hub.disconnect(1));
  ASSERT_TRUE(hub.disconnect(2));
  EXPECT_FALSE(hub.disconnect(2));  // idempotent
  EXPECT_FALSE(hub.disconnect(77));
  EXPECT_EQ(hub.connect(), 2u);  // most recently freed first
  EXPECT_EQ(hub.connect(), 1u);
  EXPECT_EQ(hub.connect(), 4u);
  // connect order: a reused handle is a new connection
  EXPECT_EQ(hub.connections(), (U{0, 3, 2, 1, 4}));
  EXPECT_EQ(hub.connectionCount(), 5u);
}

TEST(FanoutConnections, MaxConnections) {
  FanoutOptions o = opts();
  o.maxConnections = 2;
  FanoutHub hub(o);
  hub.connect();
  hub.connect();
  EXPECT_EQ(errorCode([&] { hub.connect(); }), codes::kOutOfRange);
  EXPECT_EQ(hub.connectionCount(), 2u);
  hub.disconnect(0);
  EXPECT_EQ(hub.connect(), 0u);
}

TEST(FanoutRooms, Orders) {
  FanoutHub hub(opts());
  std::uint32_t a = hub.connect(), b = hub.connect(), c = hub.connect();
  EXPECT_EQ(hub.join(b, {"x", "y"}), 2u);
  EXPECT_EQ(hub.join(a, {"y", "x", "y"}), 2u);
  EXPECT_EQ(hub.join(c, {"x"}), 1u);
  EXPECT_EQ(hub.join(c, {"x"}), 0u);
  EXPECT_EQ(hub.members("x"), (U{b, a, c}));
  EXPECT_EQ(names(hub.rooms(a)), S({"y", "x"}));
  // leaving and re-joining moves a member to the end (of the room and of its rooms)
  EXPECT_TRUE(hub.leave(b, "x"));
  EXPECT_FALSE(hub.leave(b, "x"));
  EXPECT_FALSE(hub.leave(b, "nope"));
  hub.join(b, {"x"});
  EXPECT_EQ(hub.members("x"), (U{a, c, b}));
  EXPECT_EQ(names(hub.rooms(b)), S({"y", "x"}));
  EXPECT_EQ(names(hub.roomNames()), S({"x", "y"}));
  // a room dies with its last member and is created again at the end
  hub.leave(a, "x");
  hub.leave(b, "x");
  hub.leave(c, "x");
  EXPECT_EQ(hub.roomSize("x"), 0u);
  EXPECT_EQ(names(hub.roomNames()), S({"y"}));
  hub.join(c, {"z", "x"});
  EXPECT_EQ(names(hub.roomNames()), S({"y", "z", "x"}));
  EXPECT_EQ(hub.roomCount(), 3u);
  auto left = hub.disconnect(c);
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, S({"z", "x"}));
  EXPECT_EQ(names(hub.roomNames()), S({"y"}));
  EXPECT_EQ(hub.stats().memberships, 2u);
}

TEST(FanoutRooms, ErrorsLeaveTheHubUnchanged) {
  FanoutOptions o = opts();
  o.maxRooms = 2;
  FanoutHub hub(o);
  std::uint32_t a = hub.connect();
  EXPECT_EQ(errorCode([&] { hub.join(5, {"x"}); }), codes::kUnknownId);
  EXPECT_EQ(errorCode([&] { hub.leave(5, "x"); }), codes::kUnknownId);
  EXPECT_EQ(errorCode([&] { hub.rooms(5); }), codes::kUnknownId);
  EXPECT_EQ(errorCode([&] { hub.backlog(5); }), codes::kUnknownId);
  EXPECT_EQ(errorCode([&] { hub.join(a, {"x", ""}); }), codes::kInvalidArgument);
  std::string big(257, 'r');
  EXPECT_EQ(errorCode([&] { hub.join(a, {"x", big}); }), codes::kTooLarge);
  EXPECT_EQ(hub.join(a, {std::string(256, 'r')}), 1u);
  EXPECT_EQ(errorCode([&] { hub.join(a, {"x", "y"}); }), codes::kOutOfRange);
  EXPECT_EQ(names(hub.rooms(a)), S({std::string(256, 'r').c_str()}));
  EXPECT_EQ(hub.join(a, {"x", "x"}), 1u);  // one new room, listed twice
  EXPECT_EQ(hub.roomCount(), 2u);
}

TEST(FanoutRooms, TargetSets) {
  FanoutHub hub(opts());
  for (int i = 0; i < 6; ++i) hub.connect();
  hub.join(3, {"a"});
  hub.join(1, {"a", "b"});
  hub.join(0, {"b"});
  hub.join(4, {"b", "c"});
  hub.join(5, {"c"});
  EXPECT_EQ(hub.targets({"a"}, {}), (U{3, 1}));
  EXPECT_EQ(hub.targets({"b", "a"}, {}), (U{1, 0, 4, 3}));
  EXPECT_EQ(hub.targets({"a", "b", "a", "nope"}, {}), (U{3, 1, 0, 4}));
  EXPECT_EQ(hub.targets({"a", "b"}, {"c"}), (U{3, 1, 0}));
  EXPECT_EQ(hub.targets({}, {}), (U{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(hub.targets({}, {"b", "nope"}), (U{2, 3, 5}));
  EXPECT_EQ(hub.targets({"nope"}, {}), U{});
  EXPECT_EQ(hub.targets({"c"}, {"c"}), U{});
}

TEST(FanoutRooms, LargeRoomChurnKeepsOrder) {
  FanoutHub hub(opts());
  std::vector<std::uint32_t> model;
  for (int i = 0; i < 2000; ++i) {
    std::uint32_t h = hub.connect();
    hub.join(h, {"big", "other"});
    model.push_back(h);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    std::uint32_t h = rng() % 2000;
    auto it = std::find(model.begin(), model.end(), h);
    if (it != model.end()) {
      EXPECT_TRUE(hub.leave(h, "big"));
      model.erase(it);
    } else {
      hub.join(h, {"big"});
      model.push_back(h);
    }
  }
  EXPECT_EQ(hub.members("big"), model);
  EXPECT_EQ(hub.roomSize("big"), model.size());
}

// ---- packets ------------------------------------------------------------------------------------

TEST(FanoutPublish, PlainPacketBytes) {
  FanoutOptions o = opts();
  o.nspPrefix = "/admin,";
  o.offsetPrefix = "xyz-";
  o.startSeq = 35;
  FanoutHub hub(o);
  std::uint32_t a = hub.connect();
  hub.join(a, {"r"});
  auto r = copy(hub.publish(msg({"r"}, "[1,{\"a\":\"b\"}]"), 10));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].packet, "2/admin,[\"ev\",1,{\"a\":\"b\"},\"xyz-10\"]");  // seq 36
  EXPECT_EQ(r[0].seq, 36u);
  EXPECT_EQ(r[0].handles, U{a});
  EXPECT_EQ(hub.publish(msg({"r"}), 10).seq, 37u);

  FanoutMessage m = msg({"r"}, "[]");
  m.ackId = 12;
  r = copy(hub.publish(m, 10));
  EXPECT_EQ(r[0].packet, "2/admin,12[\"ev\"]");  // never recorded
  EXPECT_EQ(r[0].seq, 0u);
  m = msg({}, "[ ]");
  m.isVolatile = true;
  r = copy(hub.publish(m, 10));
  EXPECT_EQ(r[0].packet, "2/admin,[\"ev\", ]");  // framing only: the inner text is kept as it is
  EXPECT_TRUE(r[0].isVolatile);
  m = msg({"r"});
  m.recoverable = false;
  EXPECT_EQ(copy(hub.publish(m, 10))[0].packet, "2/admin,[\"ev\",1]");
  EXPECT_EQ(hub.lastSeq(), 37u);

  FanoutHub plain(opts(false));
  EXPECT_EQ(copy(plain.publish(msg({}), 1))[0].packet, "2[\"ev\",1]");
  EXPECT_EQ(plain.publish(msg({}), 1).seq, 0u);
}

TEST(FanoutPublish, ValidationErrorsChangeNothing) {
  FanoutHub hub(opts());
  std::uint32_t a = hub.connect();
  hub.join(a, {"r"});
  FanoutOptions small = opts();
  small.maxPayloadBytes = 8;
  FanoutHub limited(small);
  EXPECT_EQ(errorCode([&] { limited.publish(msg({}, "[1,2,3,4,5]"), 1); }), codes::kTooLarge);
  EXPECT_EQ(errorCode([&] { hub.publish(msg({}, "{}"), 1); }), codes::kInvalidArgument);
  EXPECT_EQ(errorCode([&] { hub.publish(msg({}, "["), 1); }), codes::kInvalidArgument);
  EXPECT_EQ(errorCode([&] { hub.publish(msg({}, ""), 1); }), codes::kInvalidArgument);
  EXPECT_EQ(errorCode([&] { hub.publish(msg({""}), 1); }), codes::kInvalidArgument);
  EXPECT_EQ(errorCode([&] { hub.publish(msg({}, "[1]", ""), 1); }), codes::kInvalidArgument);
  std::string ev = "\"" + std::string(2000, 'e') + "\"";
  EXPECT_EQ(errorCode([&] { hub.publish(msg({}, "[1]", ev), 1); }), codes::kTooLarge);
  FanoutMessage m = msg({"a", "b"});
  m.batch = true;
  EXPECT_EQ(errorCode([&] { hub.publish(m, 1); }), codes::kInvalidArgument);
  m = msg({"a"});
  m.batch = true;
  m.ackId = 1;
  EXPECT_EQ(errorCode([&] { hub.publish(m, 1); }), codes::kInvalidArgument);
  m = msg({"a"});
  m.key = "k";
  m.ackId = 1;
  EXPECT_EQ(errorCode([&] { hub.publish(m, 1); }), codes::kInvalidArgument);
  m = msg({"a"});
  m.ackId = 0x80000000u;
  EXPECT_EQ(errorCode([&] { hub.publish(m, 1); }), codes::kOutOfRange);
  FanoutStats s = hub.stats();
  EXPECT_EQ(s.published, 0u);
  EXPECT_EQ(s.recorded, 0u);
  EXPECT_EQ(hub.lastSeq(), 0u);
  EXPECT_EQ(hub.backlog(a), 0u);
  EXPECT_EQ(s.openBatches, 0u);
}

// ---- throttle and coalesce ----------------------------------------------------------------------

TEST(FanoutKeyed, ThrottleTimeline) {
  FanoutHub hub(opts());
  std::uint32_t a = hub.connect();
  hub.join(a, {"r"});
  auto keyed = [&](std::string_view args, std::int64_t t) {
    FanoutMessage m = msg({"r"}, args);
    m.key = "k";
    const FanoutResult& r = hub.publish(m, t);
    return std::make_pair(r.status, copy(r));
  };
  auto [s1, d1] = keyed("[1]", 0);
  EXPECT_EQ(s1, PublishStatus::Delivered);
  EXPECT_EQ(d1.size(), 1u);
  EXPECT_EQ(keyed("[2]", 100).first, PublishStatus::Pending);
  EXPECT_EQ(hub.nextDue(), std::optional<std::int64_t>(1000));
  EXPECT_EQ(keyed("[3]", 200).first, PublishStatus::Coalesced);
  EXPECT_TRUE(hub.flush(999, false).deliveries.empty());
  auto f = copy(hub.flush(1000, false));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].packet, "2[\"ev\",3,\"p-2\"]");  // newest wins; recorded when delivered
  EXPECT_EQ(hub.nextDue(), std::nullopt);
  EXPECT_EQ(keyed("[4]", 1500).first, PublishStatus::Pending);  // due 2000
  EXPECT_EQ(hub.nextDue(), std::optional<std::int64_t>(2000));
  // due but not flushed yet: still coalesced
  EXPECT_EQ(keyed("[5]", 2500).first, PublishStatus::Coalesced);
  f = copy(hub.flush(2600, false));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].packet, "2[\"ev\",5,\"p-3\"]");
  EXPECT_EQ(keyed("[6]", 3599).first, PublishStatus::Pending);
  f = copy(hub.flush(3600, false));
  EXPECT_EQ(f.size(), 1u);
  EXPECT_EQ(keyed("[7]", 4600).first, PublishStatus::Delivered);  // exactly throttleMs later
  FanoutStats s = hub.stats();
  EXPECT_EQ(s.coalesced, 2u);
  EXPECT_EQ(s.published, 7u);
  EXPECT_EQ(s.pendingKeys, 0u);
  EXPECT_EQ(s.recorded, 5u);
}

TEST(FanoutKeyed, TargetsComputedAtDeliveryAndFlushOrder) {
  FanoutHub hub(opts(false));
  std::uint32_t a = hub.connect();
  auto keyed = [&](const char* key, SV rooms, std::string_view args, std::int64_t t) {
    FanoutMessage m = msg(std::move(rooms), args);
    m.key = key;
    return hub.publish(m, t).status;
  };
  keyed("k2", {"r"}, "[1]", 0);
  keyed("k1", {"r"}, "[1]", 0);
  keyed("k3", {"r"}, "[1]", 500);
  EXPECT_EQ(keyed("k1", {"r"}, "[\"k1\"]", 100), PublishStatus::Pending);  // due 1000
  EXPECT_EQ(keyed("k2", {"r"}, "[\"k2\"]", 200), PublishStatus::Pending);  // due 1000
  EXPECT_EQ(keyed("k3", {"r"}, "[\"k3\"]", 600), PublishStatus::Pending);  // due 1500
  hub.join(a, {"r"});                                                    // joins after publish
  auto f = copy(hub.flush(5000, false));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].packet, "2[\"ev\",\"k2\"]");  // same due: k2 was seen first
  EXPECT_EQ(f[1].packet, "2[\"ev\",\"k1\"]");
  EXPECT_EQ(f[2].packet, "2[\"ev\",\"k3\"]");
  EXPECT_EQ(f[0].handles, U{a});
  // flush all delivers regardless of time
  keyed("k1", {"r"}, "[9]", 5001);
  EXPECT_TRUE(hub.flush(5002, false).deliveries.empty());
  EXPECT_EQ(hub.flush(5002, true).deliveries.size(), 1u);
  // sweep forgets idle keys: seen again, they count as first seen then
  hub.sweep(9000);
  keyed("k1", {"r"}, "[1]", 9000);
  keyed("k2", {"r"}, "[1]", 9000);
  keyed("k1", {"r"}, "[\"k1\"]", 9000);
  keyed("k2", {"r"}, "[\"k2\"]", 9000);
  f = copy(hub.flush(10000, false));
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].packet, "2[\"ev\",\"k1\"]");
}

// ---- batches --------------------------------------------------------------------------------------

TEST(FanoutBatch, FillDeliversExactBulk) {
  FanoutOptions o = opts();
  o.batchMaxItems = 3;
  o.nspPrefix = "/n,";
  FanoutHub hub(o);
  std::uint32_t a = hub.connect();
  hub.join(a, {"r"});
  auto batched = [&](std::string_view args, std::string_view ev, bool rec, std::int64_t t) {
    FanoutMessage m = msg({"r"}, args, ev);
    m.batch = true;
    m.recoverable = rec;
    return &hub.publish(m, t);
  };
  EXPECT_EQ(batched("[1]", "\"a\"", true, 0)->status, PublishStatus::Batched);
  EXPECT_EQ(batched("[]", "\"b\"", false, 10)->status, PublishStatus::Batched);
  const FanoutResult* r = batched("[{\"x\":1},2]", "\"c\"", true, 20);
  EXPECT_EQ(r->status, PublishStatus::Delivered);
  EXPECT_EQ(r->seq, 2u);
  auto d = copy(*r);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packet, "2/n,[\"rt:bulk\",[[\"a\",1],[\"b\"],[\"c\",{\"x\":1},2]],\"p-2\"]");
  EXPECT_TRUE(d[0].bulk);
  EXPECT_EQ(d[0].seq, 2u);
  EXPECT_EQ(d[0].handles, U{a});
  auto recs = hub.recordsSince(0);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].packet, "2/n,[\"a\",1,\"p-1\"]");
  EXPECT_EQ(recs[1].packet, "2/n,[\"c\",{\"x\":1},2,\"p-2\"]");
  EXPECT_EQ(names(recs[1].rooms), S({"r"}));
  EXPECT_TRUE(recs[1].except.empty());
  EXPECT_EQ(recs[1].at, 20);
  FanoutStats s = hub.stats();
  EXPECT_EQ(s.bulks, 1u);
  EXPECT_EQ(s.batchedItems, 3u);
  EXPECT_EQ(s.openBatches, 0u);
  EXPECT_EQ(s.packets, 1u);
  EXPECT_EQ(s.bytes, d[0].packet.size());
  // no recoverable item: no offset
  batched("[1]", "\"a\"", false, 30);
  batched("[1]", "\"a\"", false, 30);
  d = copy(*batched("[1]", "\"a\"", false, 30));
  EXPECT_EQ(d[0].packet, "2/n,[\"rt:bulk\",[[\"a\",1],[\"a\",1],[\"a\",1]]]");
  EXPECT_EQ(d[0].seq, 0u);
}

TEST(FanoutBatch, TimeFlushAndOrder) {
  FanoutOptions o = opts(false);
  o.batchMaxDelayMs = 200;
  FanoutHub hub(o);
  std::uint32_t a = hub.connect();
  hub.join(a, {"y", "x"});  // y created before x
  auto batched = [&](SV rooms, std::string_view args, std::int64_t t) {
    FanoutMessage m = msg(std::move(rooms), args);
    m.batch = true;
    m.isVolatile = true;
    return hub.publish(m, t).status;
  };
  batched({"x"}, "[1]", 100);
  batched({"y"}, "[2]", 100);
  batched({"none"}, "[3]", 50);
  batched({"x"}, "[4]", 250);
  EXPECT_EQ(hub.nextDue(), std::optional<std::int64_t>(250));
  EXPECT_TRUE(hub.flush(249, false).deliveries.empty());
  auto d = copy(hub.flush(250, false));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packet, "2[\"rt:bulk\",[[\"ev\",3]]]");  // the room with no member
  EXPECT_TRUE(d[0].handles.empty());
  EXPECT_TRUE(d[0].isVolatile);
  d = copy(hub.flush(300, false));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].packet, "2[\"rt:bulk\",[[\"ev\",2]]]");  // same first time: y was created first
  EXPECT_EQ(d[1].packet, "2[\"rt:bulk\",[[\"ev\",1],[\"ev\",4]]]");
  EXPECT_EQ(hub.nextDue(), std::nullopt);
  EXPECT_EQ(hub.stats().openBatches, 0u);
}

// ---- slow consumers -------------------------------------------------------------------------------

TEST(FanoutSlow, BacklogRules) {
  FanoutOptions o = opts(false);
  o.maxBacklog = 2;
  FanoutHub hub(o);
  std::uint32_t a = hub.connect(), b = hub.connect();
  hub.join(a, {"r"});
  hub.join(b, {"r"});
  hub.publish(msg({"r"}), 0);
  hub.publish(msg({"r"}), 0);
  FanoutMessage v = msg({"r"});
  v.isVolatile = true;
  auto d = copy(hub.publish(v, 0));
  EXPECT_TRUE(d[0].handles.empty());
  EXPECT_TRUE(hub.publish(v, 0).slow.empty());
  EXPECT_EQ(hub.stats().droppedVolatile, 4u);
  hub.drained(std::vector<std::uint32_t>{b, 99}.data(), 2);
  EXPECT_EQ(hub.backlog(b), 0u);
  const FanoutResult& r = hub.publish(msg({"r"}), 0);
  EXPECT_EQ(r.slow, U{a});
  EXPECT_EQ(copy(r)[0].handles, U{b});
  EXPECT_TRUE(hub.isSlow(a));
  hub.drained(&a, 1);  // the mark stays
  EXPECT_EQ(hub.backlog(a), 0u);
  const FanoutResult& r2 = hub.publish(msg({"r"}), 0);
  EXPECT_TRUE(r2.slow.empty());
  EXPECT_EQ(copy(r2)[0].handles, U{b});
  FanoutStats s = hub.stats();
  EXPECT_EQ(s.slowConsumers, 1u);
  EXPECT_EQ(s.backlog, 2u);
  EXPECT_EQ(s.maxBacklog, 2u);
  // the mark is cleared by disconnect
  hub.disconnect(a);
  std::uint32_t a2 = hub.connect();
  EXPECT_EQ(a2, a);
  EXPECT_FALSE(hub.isSlow(a2));
  EXPECT_EQ(hub.backlog(a2), 0u);
}

TEST(FanoutSlow, SlowListInMarkingOrder) {
  FanoutOptions o = opts(false);
  o.maxBacklog = 1;
  FanoutHub hub(o);
  std::uint32_t a = hub.connect(), b = hub.connect();
  hub.join(a, {"r", "s"});
  hub.join(b, {"s"});
  hub.publish(msg({"r", "s"}), 0);
  const FanoutResult& r = hub.publish(msg({"s", "r"}, "[2]"), 0);
  EXPECT_EQ(r.slow, (U{a, b}));
  EXPECT_EQ(hub.stats().deliveries, 2u);
}

// ---- recovery -------------------------------------------------------------------------------------

struct RecoveryFixture : ::testing::Test {
  FanoutOptions o = opts();
  void SetUp() override {
    o.recovery->windowMs = 1000;
    o.recovery->maxPackets = 100;
  }
};

using FanoutRecovery = RecoveryFixture;

TEST_F(FanoutRecovery, RestoreRecovered) {
  FanoutHub hub(o);
  hub.publish(msg({"a"}, "[1]"), 0);                     // 1
  hub.publish(msg({"b"}, "[2]"), 0);                     // 2: not for the session
  hub.publish(msg({}, "[3]"), 0);                        // 3: everyone
  FanoutMessage ex = msg({"a", "b"}, "[4]");
  ex.except = {"c"};
  hub.publish(ex, 0);                                    // 4: excluded (session is in c)
  hub.publish(msg({"c", "a"}, "[5]"), 0);                // 5: once, though two of its rooms match
  FanoutMessage ex2 = msg({}, "[6]");
  ex2.except = {"z"};
  hub.publish(ex2, 0);                                   // 6
  hub.saveSession("id1", "sid1", {"a", "c", "a"}, "{\"d\":1}", 10);
  FanoutRestore r = hub.restore("id1", "p-1", 20);
  ASSERT_EQ(r.status, RestoreStatus::Recovered);
  EXPECT_EQ(r.sid, "sid1");
  EXPECT_EQ(r.data, "{\"d\":1}");
  EXPECT_EQ(r.rooms, S({"a", "c", "a"}));
  EXPECT_EQ(r.packets, S({"2[\"ev\",3,\"p-3\"]", "2[\"ev\",5,\"p-5\"]", "2[\"ev\",6,\"p-6\"]"}));
  // consumed
  EXPECT_EQ(hub.restore("id1", "p-1", 20).status, RestoreStatus::UnknownSession);
  hub.saveSession("id1", "sid1", {"a"}, "", 10);
  EXPECT_EQ(hub.restore("id1", "p-0", 20).packets.size(), 5u);  // 1, 3, 4 (not in c now), 5, 6
}

TEST_F(FanoutRecovery, RestoreStatuses) {
  FanoutHub hub(o);
  hub.publish(msg({"a"}), 0);
  hub.publish(msg({"a"}), 0);
  hub.saveSession("s", "sid", {"a"}, "null", 0);
  EXPECT_EQ(hub.restore("x", "p-1", 1).status, RestoreStatus::UnknownSession);
  for (const char* bad : {"q-1", "p-", "p-A", "p-1 ", "p-3", "p--1", "", "p-zzzzzzzzzzzzzzzzzzzzzzzz"})
    EXPECT_EQ(hub.restore("s", bad, 1).status, RestoreStatus::InvalidOffset) << bad;
  EXPECT_EQ(hub.restore("s", "p-0002", 1).status, RestoreStatus::Recovered);  // leading zeros are digits
  hub.saveSession("s", "sid", {"a"}, "null", 0);
  EXPECT_EQ(hub.restore("s", "p-0", 1000).status, RestoreStatus::Recovered);  // exactly windowMs
  hub.saveSession("s", "sid", {"a"}, "null", 0);
  EXPECT_EQ(hub.restore("s", "p-0", 1001).status, RestoreStatus::Expired);
  EXPECT_EQ(hub.restore("s", "p-0", 1001).status, RestoreStatus::UnknownSession);
  FanoutStats s = hub.stats();
  EXPECT_EQ(s.recoveries, 2u);
  EXPECT_EQ(s.recoveryFailures, 11u);
}

TEST_F(FanoutRecovery, TooOldAndQuietConnection) {
  o.recovery->maxPackets = 3;
  FanoutHub hub(o);
  hub.join(hub.connect(), {"a"});  // a member keeps room a's eviction memory
  hub.publish(msg({"a"}), 0);  // 1: the session's last packet
  for (int i = 0; i < 5; ++i) hub.publish(msg({"b"}), 0);  // 2..6: evict 1, 2, 3
  EXPECT_EQ(hub.stats().evicted, 3u);
  hub.saveSession("s", "sid", {"a"}, "null", 0);
  // its own packet (seq 1) is gone, but nothing after it that the session needs was evicted
  FanoutRestore r = hub.restore("s", "p-1", 0);
  EXPECT_EQ(r.status, RestoreStatus::Recovered);
  EXPECT_TRUE(r.packets.empty());
  // an offset before an evicted record of its room: too old, the session stays
  hub.saveSession("s", "sid", {"a"}, "null", 0);
  EXPECT_EQ(hub.restore("s", "p-0", 0).status, RestoreStatus::TooOld);
  // a needed record for everyone evicted
  hub.publish(msg({}), 0);  // 7
  for (int i = 0; i < 3; ++i) hub.publish(msg({"b"}), 0);  // 8..10: evict 4..7
  hub.saveSession("t", "sid", {"zzz"}, "null", 0);
  EXPECT_EQ(hub.restore("t", "p-6", 0).status, RestoreStatus::TooOld);
  EXPECT_EQ(hub.restore("t", "p-7", 0).status, RestoreStatus::Recovered);
  EXPECT_EQ(hub.restore("s", "p-1", 0).status, RestoreStatus::TooOld);  // needs everyone's 7
  EXPECT_EQ(hub.restore("s", "p-7", 0).status, RestoreStatus::Recovered);
}

TEST_F(FanoutRecovery, RoomEvictionMemoryLivesWithMembersAndSessions) {
  o.recovery->maxPackets = 1;
  FanoutHub hub(o);
  std::uint32_t h = hub.connect();
  hub.join(h, {"a"});
  hub.publish(msg({"a"}), 0);  // 1
  hub.publish(msg({"q"}), 0);  // 2: evicts 1 (room a keeps maxEvicted 1 thanks to its member)
  hub.saveSession("s", "sid", {"a"}, "null", 0);
  hub.disconnect(h);
  hub.saveSession("s", "sid", {"a"}, "null", 0);  // replacing keeps the room's memory
  EXPECT_EQ(hub.restore("s", "p-0", 0).status, RestoreStatus::TooOld);
  EXPECT_EQ(hub.restore("s", "p-1", 0).status, RestoreStatus::Recovered);
  // room "q": its record is evicted while nothing else references it, so its memory goes with
  // it (the retention rule of docs/fanout.md): a session saved later in q does not see it.
  hub.publish(msg({}), 0);  // 3: evicts 2
  hub.saveSession("u", "sid", {"q"}, "null", 0);
  FanoutRestore r = hub.restore("u", "p-1", 0);
  EXPECT_EQ(r.status, RestoreStatus::Recovered);
  EXPECT_EQ(r.packets, S({"2[\"ev\",1,\"p-3\"]"}));
}

TEST_F(FanoutRecovery, RetentionRuleDetails) {
  {
    // an open batch keeps the room's entry, not its eviction memory
    o.recovery->maxPackets = 1;
    FanoutHub hub(o);
    FanoutMessage b = msg({"r"});
    b.batch = true;
    hub.publish(b, 0);                 // opens r's batch (nothing recorded yet)
    hub.publish(msg({"r"}), 0);        // 1
    hub.publish(msg({"q"}), 0);        // 2: evicts 1 while only the batch refers to r
    hub.saveSession("s", "sid", {"r"}, "null", 0);
    EXPECT_EQ(hub.restore("s", "p-0", 0).status, RestoreStatus::Recovered);
  }
  {
    // saveSession references its rooms before the evictions of its own call
    FanoutHub hub(o);
    hub.publish(msg({"r"}), 0);  // 1, nobody in r
    hub.saveSession("s", "sid", {"r"}, "null", 1001);  // evicts 1 (time): r is the session's
    EXPECT_EQ(hub.stats().evicted, 1u);
    EXPECT_EQ(hub.restore("s", "p-0", 1001).status, RestoreStatus::TooOld);
    EXPECT_EQ(hub.restore("s", "p-1", 1001).status, RestoreStatus::Recovered);
  }
}

TEST_F(FanoutRecovery, EvictionByTimeCountBytes) {
  FanoutHub hub(o);
  hub.publish(msg({"a"}), 0);
  hub.publish(msg({"a"}), 500);
  EXPECT_EQ(hub.sweep(1000).evicted, 0u);
  FanoutSweep s = hub.sweep(1001);
  EXPECT_EQ(s.evicted, 1u);
  EXPECT_EQ(hub.stats().recoveryPackets, 1u);
  hub.publish(msg({"a"}), 1600);  // evicts the one of 500 (older than 1000 ms)
  EXPECT_EQ(hub.stats().recoveryPackets, 1u);

  FanoutOptions ob = opts();
  std::string p1 = "2[\"ev\",1,\"p-1\"]";
  ob.recovery->maxBytes = 2 * p1.size();
  FanoutHub bytes(ob);
  bytes.publish(msg({"a"}), 0);
  bytes.publish(msg({"a"}), 0);
  EXPECT_EQ(bytes.stats().recoveryBytes, 2 * p1.size());
  bytes.publish(msg({"a"}), 0);
  EXPECT_EQ(bytes.stats().recoveryPackets, 2u);
  EXPECT_EQ(bytes.recordsSince(0).front().seq, 2u);
  bytes.publish(msg({"a"}, "[12345]"), 0);  // bigger: two go
  EXPECT_EQ(bytes.stats().recoveryPackets, 1u);
  EXPECT_EQ(bytes.stats().evicted, 3u);
}

TEST_F(FanoutRecovery, SessionsBoundedAndExpiredBySweep) {
  o.maxSessions = 2;
  FanoutHub hub(o);
  hub.saveSession("a", "1", {"r"}, "", 0);
  hub.saveSession("b", "2", {}, "", 100);
  hub.saveSession("a", "3", {"r"}, "", 200);  // replaces: now the newest
  hub.saveSession("c", "4", {}, "", 300);     // evicts b
  EXPECT_EQ(hub.stats().sessions, 2u);
  EXPECT_EQ(hub.restore("b", "p-0", 300).status, RestoreStatus::UnknownSession);
  FanoutSweep s = hub.sweep(1201);
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(hub.restore("a", "p-0", 1201).status, RestoreStatus::UnknownSession);
  EXPECT_EQ(hub.restore("c", "p-0", 1201).status, RestoreStatus::Recovered);
}

TEST_F(FanoutRecovery, ImportsAndRecordsSince) {
  o.startSeq = 40;
  FanoutHub hub(o);
  hub.importRecord(38, {"a"}, {}, "2[\"x\",\"p-12\"]", 0);
  hub.importRecord(40, {}, {"b"}, "2[\"y\",\"p-14\"]", 0);
  EXPECT_EQ(errorCode([&] { hub.importRecord(40, {}, {}, "x", 0); }), codes::kOutOfRange);
  EXPECT_EQ(errorCode([&] { hub.importRecord(41, {""}, {}, "x", 0); }), codes::kInvalidArgument);
  EXPECT_EQ(hub.lastSeq(), 40u);
  hub.importSession("s", "sid", {"a"}, "{}", 0);
  auto d = copy(hub.publish(msg({"a"}), 10));
  EXPECT_EQ(d[0].seq, 41u);
  auto recs = hub.recordsSince(38);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].seq, 40u);
  EXPECT_EQ(names(recs[0].except), S({"b"}));
  FanoutRestore r = hub.restore("s", "p-0", 10);
  ASSERT_EQ(r.status, RestoreStatus::Recovered);
  EXPECT_EQ(r.packets, S({"2[\"x\",\"p-12\"]", "2[\"y\",\"p-14\"]", "2[\"ev\",1,\"p-15\"]"}));
  EXPECT_EQ(hub.stats().recorded, 1u);
  EXPECT_EQ(hub.stats().recoveryPackets, 3u);
  // a session saved long ago expires
  hub.importSession("old", "sid", {}, "{}", -5000);
  EXPECT_EQ(hub.restore("old", "p-0", 10).status, RestoreStatus::Expired);
}

TEST(FanoutRecoveryOff, NothingRecorded) {
  FanoutHub hub(opts(false));
  hub.publish(msg({}), 0);
  hub.saveSession("s", "sid", {}, "", 0);
  EXPECT_EQ(hub.restore("s", "p-0", 0).status, RestoreStatus::UnknownSession);
  EXPECT_EQ(hub.lastSeq(), 0u);
  EXPECT_TRUE(hub.recordsSince(0).empty());
}

// A room's index of seqs (a vector with a moving head, compacted as it goes) over many records:
// restores at every depth of the window match the log, across compactions, a shrink after a
// burst and the index emptying.
TEST(FanoutRecoveryIndex, LongIndexesRestoreExactly) {
  FanoutOptions o = opts();
  o.recovery->windowMs = 1000000;
  o.recovery->maxPackets = 300;
  FanoutHub hub(o);
  struct Rec {
    std::uint64_t seq;
    int room;  // 0: a, 1: b, 2: everyone
    std::string packet;
  };
  std::deque<Rec> log;
  std::uint64_t maxEvictedA = 0;
  auto publish = [&](int room, std::int64_t now) {
    SV rooms = room == 0 ? SV{"a"} : room == 1 ? SV{"b"} : SV{};
    auto d = copy(hub.publish(msg(rooms, "[" + std::to_string(log.empty() ? 0 : log.back().seq) + "]"), now));
    log.push_back({d[0].seq, room, d[0].packet});
    while (log.size() > 300) {
      if (log.front().room != 1) maxEvictedA = std::max(maxEvictedA, log.front().seq);
      log.pop_front();
    }
  };
  auto check = [&](std::uint64_t off) {
    hub.saveSession("s", "sid", {"a"}, "", 0);
    FanoutRestore r = hub.restore("s", hub.offsetOf(off), 0);
    if (maxEvictedA > off) {
      ASSERT_EQ(r.status, RestoreStatus::TooOld);
      return;
    }
    ASSERT_EQ(r.status, RestoreStatus::Recovered);
    std::vector<std::string> expect;
    for (const Rec& x : log)
      if (x.seq > off && x.room != 1) expect.push_back(x.packet);
    ASSERT_EQ(r.packets, expect);
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 4000; ++i) {
    unsigned k = rng() % 16;
    publish(k < 11 ? 0 : k < 15 ? 1 : 2, 0);
    if (i % 97 == 0) {
      SCOPED_TRACE("step " + std::to_string(i));
      std::uint64_t last = hub.lastSeq();
      for (std::uint64_t back : {0u, 1u, 17u, 150u, 299u, 300u, 400u}) check(last > back ? last - back : 0);
    }
  }
  // a burst into b pushes every record of a out: a's index empties (and is freed), then refills
  for (int i = 0; i < 300; ++i) publish(1, 0);
  check(hub.lastSeq());
  check(maxEvictedA);
  for (int i = 0; i < 40; ++i) publish(i % 2 == 0 ? 0 : 2, 0);
  check(maxEvictedA);
  check(hub.lastSeq() - 5);
  // a burst into a (over 1024 seqs kept), then b evicts all but a few of them: the index shrinks
  FanoutOptions big = opts();
  big.recovery->windowMs = 1000000;
  big.recovery->maxPackets = 3000;
  FanoutHub hub2(big);
  for (int i = 0; i < 3000; ++i) hub2.publish(msg({"a"}), 0);
  for (int i = 0; i < 2990; ++i) hub2.publish(msg({"b"}), 0);
  hub2.saveSession("s", "sid", {"a"}, "", 0);
  FanoutRestore r = hub2.restore("s", hub2.offsetOf(2990), 0);
  ASSERT_EQ(r.status, RestoreStatus::Recovered);
  ASSERT_EQ(r.packets.size(), 10u);
  EXPECT_EQ(r.packets.front(), "2[\"ev\",1,\"" + hub2.offsetOf(2991) + "\"]");
  hub2.saveSession("s", "sid", {"a"}, "", 0);
  EXPECT_EQ(hub2.restore("s", hub2.offsetOf(2989), 0).status, RestoreStatus::TooOld);
}

// Many connects, disconnects and reused handles (the per-handle arrays grow geometrically; the
// time it takes is measured by the benchmarks, not asserted here).
TEST(FanoutConnections, ManyConnectsAndReusedHandles) {
  FanoutOptions o = opts();
  FanoutHub hub(o);
  for (std::uint32_t i = 0; i < 300000; ++i) ASSERT_EQ(hub.connect(), i);
  for (std::uint32_t h = 0; h < 300000; h += 3) ASSERT_TRUE(hub.disconnect(h));
  for (std::uint32_t i = 0; i < 100000; ++i) hub.connect();
  EXPECT_EQ(hub.connectionCount(), 300000u);
  EXPECT_EQ(hub.connections().size(), 300000u);
  EXPECT_TRUE(hub.connected(299999));
  EXPECT_FALSE(hub.connected(300000));
}

// ---- model-based random test --------------------------------------------------------------------

// A naive model of the connections/rooms/targets/backlog/recovery rules, compared op by op.
struct Model {
  std::uint32_t maxBacklog = 3;
  std::int64_t window = 50;
  std::size_t maxPackets = 12;
  std::vector<std::uint32_t> freeList;
  std::uint32_t nextHandle = 0;
  std::vector<std::uint32_t> conns;                      // connect order
  std::map<std::uint32_t, std::vector<std::string>> joined;  // join order
  std::vector<std::string> roomOrder;
  std::map<std::string, std::vector<std::uint32_t>> members;
  std::map<std::uint32_t, std::uint32_t> backlog;
  std::set<std::uint32_t> slow;
  struct Rec {
    std::uint64_t seq;
    std::vector<std::string> rooms, except;
    std::string packet;
    std::int64_t at;
  };
  std::deque<Rec> recs;
  std::map<std::string, std::uint64_t> maxEvicted;
  std::uint64_t everyoneEvicted = 0, seq = 0;
  struct Sess {
    std::vector<std::string> rooms;
    std::int64_t at;
  };
  std::map<std::string, Sess> sessions;

  bool referenced(const std::string& r) const {
    if (members.count(r)) return true;
    for (const auto& rec : recs) {
      if (std::count(rec.rooms.begin(), rec.rooms.end(), r) || std::count(rec.except.begin(), rec.except.end(), r))
        return true;
    }
    for (const auto& [id, s] : sessions)
      if (std::count(s.rooms.begin(), s.rooms.end(), r)) return true;
    return false;
  }
  void forgetUnreferenced() {
    for (auto it = maxEvicted.begin(); it != maxEvicted.end();)
      it = referenced(it->first) ? std::next(it) : maxEvicted.erase(it);
  }
  void evict(std::int64_t now) {
    while (!recs.empty() && (now - recs.front().at > window || recs.size() > maxPackets)) {
      Rec r = recs.front();
      recs.pop_front();
      if (r.rooms.empty()) everyoneEvicted = std::max(everyoneEvicted, r.seq);
      for (const auto& x : r.rooms) maxEvicted[x] = std::max(maxEvicted[x], r.seq);
      forgetUnreferenced();
    }
  }
  std::uint32_t connect() {
    std::uint32_t h;
    if (!freeList.empty()) {
      h = freeList.back();
      freeList.pop_back();
    } else {
      h = nextHandle++;
    }
    conns.push_back(h);
    joined[h];
    backlog[h] = 0;
    return h;
  }
  void leave(std::uint32_t h, const std::string& r) {
    auto& j = joined[h];
    j.erase(std::find(j.begin(), j.end(), r));
    auto& m = members[r];
    m.erase(std::find(m.begin(), m.end(), h));
    if (m.empty()) {
      members.erase(r);
      roomOrder.erase(std::find(roomOrder.begin(), roomOrder.end(), r));
      forgetUnreferenced();
    }
  }
  void join(std::uint32_t h, const std::string& r) {
    auto& j = joined[h];
    if (std::count(j.begin(), j.end(), r)) return;
    j.push_back(r);
    if (!members.count(r)) roomOrder.push_back(r);
    members[r].push_back(h);
  }
  void disconnect(std::uint32_t h) {
    auto rooms = joined[h];
    for (const auto& r : rooms) leave(h, r);
    joined.erase(h);
    conns.erase(std::find(conns.begin(), conns.end(), h));
    backlog.erase(h);
    slow.erase(h);
    freeList.push_back(h);
  }
  std::vector<std::uint32_t> targets(const std::vector<std::string>& rooms, const std::vector<std::string>& except) {
    std::vector<std::uint32_t> out;
    if (rooms.empty()) out = conns;
    for (const auto& r : rooms) {
      if (!members.count(r)) continue;
      for (auto h : members[r])
        if (!std::count(out.begin(), out.end(), h)) out.push_back(h);
    }
    std::vector<std::uint32_t> res;
    for (auto h : out) {
      bool ex = false;
      for (const auto& e : except)
        if (members.count(e) && std::count(members[e].begin(), members[e].end(), h)) ex = true;
      if (!ex) res.push_back(h);
    }
    return res;
  }
};

TEST(FanoutModel, RandomOpsMatchNaiveModel) {
  std::map<RestoreStatus, int> seen;
  std::uint64_t slowMarks = 0, evicted = 0;
  for (std::uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    Model model;
    FanoutOptions o = opts();
    o.maxBacklog = model.maxBacklog;
    o.recovery->windowMs = model.window;
    o.recovery->maxPackets = model.maxPackets;
    FanoutHub hub(o);
    const std::vector<std::string> roomPool = {"a", "b", "c", "d", "e"};
    auto pickRooms = [&](std::size_t maxN) {
      std::vector<std::string> out;
      std::size_t n = rng() % (maxN + 1);
      for (std::size_t i = 0; i < n; ++i) out.push_back(roomPool[rng() % roomPool.size()]);
      return out;
    };
    auto views = [](const std::vector<std::string>& v) { return SV(v.begin(), v.end()); };
    std::int64_t now = 0;
    for (int step = 0; step < 3000; ++step) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      unsigned op = rng() % 100;
      if (op < 12 && model.conns.size() < 40) {
        ASSERT_EQ(hub.connect(), model.connect());
      } else if (op < 18 && !model.conns.empty()) {
        std::uint32_t h = model.conns[rng() % model.conns.size()];
        auto got = hub.disconnect(h);
        ASSERT_TRUE(got);
        ASSERT_EQ(*got, model.joined[h]);
        model.disconnect(h);
      } else if (op < 35 && !model.conns.empty()) {
        std::uint32_t h = model.conns[rng() % model.conns.size()];
        auto rs = pickRooms(3);
        std::size_t before = model.joined[h].size();
        for (const auto& r : rs) model.join(h, r);
        ASSERT_EQ(hub.join(h, views(rs)), model.joined[h].size() - before);
      } else if (op < 45 && !model.conns.empty()) {
        std::uint32_t h = model.conns[rng() % model.conns.size()];
        std::string r = roomPool[rng() % roomPool.size()];
        bool member = std::count(model.joined[h].begin(), model.joined[h].end(), r) > 0;
        ASSERT_EQ(hub.leave(h, r), member);
        if (member) model.leave(h, r);
      } else if (op < 75) {
        auto rs = pickRooms(3), ex = pickRooms(1);
        FanoutMessage m = msg(views(rs), "[1]");
        m.except = views(ex);
        m.isVolatile = rng() % 4 == 0;
        const FanoutResult& r = hub.publish(m, now);
        auto d = copy(r);
        ASSERT_EQ(d.size(), 1u);
        std::vector<std::uint32_t> expect, slow;
        for (auto h : model.targets(rs, ex)) {
          if (model.slow.count(h)) continue;
          if (model.backlog[h] >= model.maxBacklog) {
            if (!m.isVolatile) {
              model.slow.insert(h);
              slow.push_back(h);
            }
            continue;
          }
          model.backlog[h]++;
          expect.push_back(h);
        }
        ASSERT_EQ(d[0].handles, expect);
        ASSERT_EQ(r.slow, slow);
        if (!m.isVolatile) {
          ++model.seq;
          ASSERT_EQ(d[0].seq, model.seq);
          model.recs.push_back({model.seq, rs, ex, d[0].packet, now});
        }
        model.evict(now);
      } else if (op < 80 && !model.conns.empty()) {
        std::uint32_t h = model.conns[rng() % model.conns.size()];
        hub.drained(&h, 1);
        model.backlog[h] = 0;
      } else if (op < 87) {
        std::string id = "s" + std::to_string(rng() % 4);
        auto rs = pickRooms(2);
        hub.saveSession(id, "sid", views(rs), "d", now);
        model.evict(now);
        model.sessions[id] = {rs, now};
        model.forgetUnreferenced();
      } else if (op < 95) {
        std::string id = "s" + std::to_string(rng() % 4);
        std::uint64_t off = model.seq > 0 ? model.seq - rng() % std::min<std::uint64_t>(model.seq, 15) : 0;
        FanoutRestore r = hub.restore(id, hub.offsetOf(off), now);
        ++seen[r.status];
        model.evict(now);
        auto it = model.sessions.find(id);
        if (it == model.sessions.end()) {
          ASSERT_EQ(r.status, RestoreStatus::UnknownSession);
          continue;
        }
        if (now - it->second.at > model.window) {
          ASSERT_EQ(r.status, RestoreStatus::Expired);
          model.sessions.erase(it);
          model.forgetUnreferenced();
          continue;
        }
        const auto& sr = it->second.rooms;
        bool tooOld = model.everyoneEvicted > off;
        for (const auto& x : sr)
          if (model.maxEvicted.count(x) && model.maxEvicted[x] > off) tooOld = true;
        if (tooOld) {
          ASSERT_EQ(r.status, RestoreStatus::TooOld);
          continue;
        }
        ASSERT_EQ(r.status, RestoreStatus::Recovered);
        std::vector<std::string> expect;
        for (const auto& rec : model.recs) {
          if (rec.seq <= off) continue;
          bool match = rec.rooms.empty();
          for (const auto& x : rec.rooms)
            if (std::count(sr.begin(), sr.end(), x)) match = true;
          for (const auto& x : rec.except)
            if (std::count(sr.begin(), sr.end(), x)) match = false;
          if (match) expect.push_back(rec.packet);
        }
        ASSERT_EQ(r.packets, expect);
        model.sessions.erase(it);
        model.forgetUnreferenced();
      } else {
        now += rng() % 20;
      }
      // invariants
      ASSERT_EQ(hub.connections(), model.conns);
      ASSERT_EQ(names(hub.roomNames()), model.roomOrder);
      if (step % 10 == 0) {
        for (const auto& r : roomPool) {
          auto it = model.members.find(r);
          ASSERT_EQ(hub.members(r), it == model.members.end() ? U{} : it->second);
        }
        for (auto h : model.conns) {
          ASSERT_EQ(names(hub.rooms(h)), model.joined[h]);
          ASSERT_EQ(hub.backlog(h), model.backlog[h]);
        }
        ASSERT_EQ(hub.stats().recoveryPackets, model.recs.size());
      }
    }
    slowMarks += hub.stats().slowConsumers;
    evicted += hub.stats().evicted;
  }
  // the run reached every branch
  EXPECT_GT(seen[RestoreStatus::Recovered], 20);
  EXPECT_GT(seen[RestoreStatus::TooOld], 20);
  EXPECT_GT(seen[RestoreStatus::Expired], 5);
  EXPECT_GT(seen[RestoreStatus::UnknownSession], 20);
  EXPECT_GT(slowMarks, 20u);
  EXPECT_GT(evicted, 100u);
}

}  // namespace
}  // namespace rtc
