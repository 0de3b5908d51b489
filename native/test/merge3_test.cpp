#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "json.h"
#include "merge3.h"

namespace rtc {
namespace {

Json P(const std::string& s) { return parse(s, Limits{}); }

struct Out {
  std::string doc;
  std::string conflicts;
};

// Every case also runs through merge3Consuming (taking from local only, and from both sides):
// moving subtrees out instead of copying them must not change any result. (Not with custom
// resolvers: the tests' resolvers count their calls.)
Out run(const std::string& b, const std::string& l, const std::string& r, Merge3Options o = {}) {
  Merge3Result res = merge3(P(b), P(l), P(r), o);
  Out want{serialize(res.doc), res.conflictsText};
  for (bool consumeRemote : {false, true}) {
    if (o.strategy == Strategy::Custom) break;
    Json bj = P(b), lj = P(l), rj = P(r);
    Merge3Result c = merge3Consuming(bj, lj, rj, consumeRemote, o);
    EXPECT_EQ(serialize(c.doc), want.doc);
    EXPECT_EQ(c.conflictsText, want.conflicts);
    if (!consumeRemote) EXPECT_EQ(serialize(rj), serialize(P(r)));
    release(lj);
    release(rj);
  }
  return want;
}

TEST(Merge3, TrivialCases) {
  Out o = run(R"({"a":1})", R"({"a":1})", R"({"a":1})");
  EXPECT_EQ(o.doc, R"({"a":1})");
  EXPECT_EQ(o.conflicts, "[]");
  EXPECT_EQ(run(R"({"a":1})", R"({"a":2})", R"({"a":1})").doc, R"({"a":2})");
  EXPECT_EQ(run(R"({"a":1})", R"({"a":1})", R"({"a":3})").doc, R"({"a":3})");
  EXPECT_EQ(run(R"({"a":1})", R"({"a":2})", R"({"a":2})").conflicts, "[]");
}

TEST(Merge3, ObjectMergeKeyOrderAndDeletes) {
  Out o = run(R"({"a":1,"b":1,"c":1,"d":1})", R"({"x":1,"a":2,"c":1,"b":1})", R"({"b":1,"y":2,"a":1})");
  // r's keys in r's order, then l's extra keys; "d" deleted on both sides, "c" deleted remotely.
  EXPECT_EQ(o.doc, R"({"b":1,"y":2,"a":2,"x":1})");
  EXPECT_EQ(o.conflicts, "[]");
}

TEST(Merge3, ConflictsAndStrategies) {
  const char* b = R"({"a":1,"n":{"x":1}})";
  const char* l = R"({"a":2,"n":{"x":2}})";
  const char* r = R"({"a":3,"n":{"x":3}})";
  Out sw = run(b, l, r);
  EXPECT_EQ(sw.doc, R"({"a":3,"n":{"x":3}})");
  EXPECT_EQ(sw.conflicts,
            R"([{"path":"/a","base":1,"local":2,"remote":3,"resolved":3,"winner":"remote"},{"path":"/n/x","base":1,"local":2,"remote":3,"resolved":3,"winner":"remote"}])");
  Merge3Options cw;
  cw.strategy = Strategy::ClientWins;
  EXPECT_EQ(run(b, l, r, cw).doc, R"({"a":2,"n":{"x":2}})");

  Merge3Options lww;
  lww.strategy = Strategy::LastWriterWins;
  lww.localTimestamp = "000000000002:0000:a";
  lww.remoteTimestamp = "000000000001:0000:b";
  Out o = run(b, l, r, lww);
  EXPECT_EQ(o.doc, R"({"a":2,"n":{"x":2}})");
  EXPECT_NE(o.conflicts.find(R"("winner":"local")"), std::string::npos);
  lww.remoteTimestamp = lww.localTimestamp;  // equal: remote wins
  EXPECT_EQ(run(b, l, r, lww).doc, R"({"a":3,"n":{"x":3}})");
  lww.remoteTimestamp = "bad";
  EXPECT_THROW(run(b, l, r, lww), Error);

  // Delete/edit: local deleted, remote edited.
  Out de = run(R"({"a":1})", R"({})", R"({"a":2})");
  EXPECT_EQ(de.doc, R"({"a":2})");
  EXPECT_EQ(de.conflicts, R"([{"path":"/a","base":1,"remote":2,"resolved":2,"winner":"remote"}])");
  cw.strategy = Strategy::ClientWins;
  Out dc = run(R"({"a":1})", R"({})", R"({"a":2})", cw);
  EXPECT_EQ(dc.doc, "{}");
  EXPECT_EQ(dc.conflicts, R"([{"path":"/a","base":1,"remote":2,"winner":"local"}])");
  // Added on both sides with different values: base absent.
  EXPECT_EQ(run("{}", R"({"k":1})", R"({"k":2})").conflicts,
            R"([{"path":"/k","local":1,"remote":2,"resolved":2,"winner":"remote"}])");
  // Type mismatch at the root.
  EXPECT_EQ(run("1", "[1]", R"({"a":1})").conflicts,
            R"([{"path":"","base":1,"local":[1],"remote":{"a":1},"resolved":{"a":1},"winner":"remote"}])");
}

TEST(Merge3, CustomResolver) {
  Merge3Options o;
  o.strategy = Strategy::Custom;
  std::vector<std::string> seen;
  o.resolver = [&](const std::string& text) -> std::optional<std::string> {
    seen.push_back(text);
    if (seen.size() == 1) return std::string(R"({"merged":true})");
    return std::nullopt;
  };
  Out out = run(R"({"a":1,"b":1})", R"({"a":2,"b":2})", R"({"a":3,"b":3})", o);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], R"({"path":"/a","base":1,"local":2,"remote":3})");
  EXPECT_EQ(out.doc, R"({"a":{"merged":true}})");
  EXPECT_EQ(out.conflicts,
            R"([{"path":"/a","base":1,"local":2,"remote":3,"resolved":{"merged":true},"winner":"custom"},{"path":"/b","base":1,"local":2,"remote":3,"winner":"custom"}])");
  o.resolver = [](const std::string&) -> std::optional<std::string> { return std::string("{bad"); };
  try {
    run(R"({"a":1})", R"({"a":2})", R"({"a":3})", o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.code(), "ERR_RT_INVALID_JSON");
  }
  o.resolver = [](const std::string&) -> std::optional<std::string> { throw std::runtime_error("user"); };
  EXPECT_THROW(run(R"({"a":1})", R"({"a":2})", R"({"a":3})", o), std::runtime_error);
}

TEST(Merge3, ArrayMergeById) {
  const char* b = R"({"list":[{"id":1,"v":0},{"id":2,"v":0},{"id":3,"v":0}]})";
  const char* l = R"({"list":[{"id":1,"v":1},{"id":4,"v":0},{"id":3,"v":0}]})";   // edit 1, delete 2, add 4
  const char* r = R"({"list":[{"id":3,"v":0},{"id":2,"v":0},{"id":1,"v":0},{"id":5}]})";  // reorder, add 5
  Out o = run(b, l, r);
  EXPECT_EQ(o.doc, R"({"list":[{"id":3,"v":0},{"id":1,"v":1},{"id":4,"v":0},{"id":5}]})");
  EXPECT_EQ(o.conflicts, "[]");

  // Local deleted an item that remote edited: conflict at the base index.
  Out c = run(R"([{"id":"a","v":0},{"id":"b","v":0}])", R"([{"id":"a","v":0}])", R"([{"id":"a","v":0},{"id":"b","v":1}])");
  EXPECT_EQ(c.doc, R"([{"id":"a","v":0},{"id":"b","v":1}])");
  EXPECT_EQ(c.conflicts, R"([{"path":"/1","base":{"id":"b","v":0},"remote":{"id":"b","v":1},"resolved":{"id":"b","v":1},"winner":"remote"}])");
  Merge3Options cw;
  cw.strategy = Strategy::ClientWins;
  EXPECT_EQ(run(R"([{"id":"a","v":0},{"id":"b","v":0}])", R"([{"id":"a","v":0}])", R"([{"id":"a","v":0},{"id":"b","v":1}])", cw).doc,
            R"([{"id":"a","v":0}])");

  // Both edited the same item: the conflict path uses the result index.
  Out e = run(R"([{"id":1,"v":0},{"id":2,"v":0}])", R"([{"id":2,"v":1},{"id":1,"v":0}])", R"([{"id":0},{"id":1,"v":0},{"id":2,"v":2}])");
  EXPECT_EQ(e.doc, R"([{"id":0},{"id":1,"v":0},{"id":2,"v":2}])");
  EXPECT_EQ(e.conflicts, R"([{"path":"/2/v","base":0,"local":1,"remote":2,"resolved":2,"winner":"remote"}])");

  // Local insertions keep their place after their local predecessor, or go first.
  EXPECT_EQ(run("[]", R"([{"id":"x"},{"id":"a"},{"id":"y"}])", R"([{"id":"a"},{"id":"b"}])").doc,
            R"([{"id":"x"},{"id":"a"},{"id":"y"},{"id":"b"}])");

  // Ids 1 and "1" differ; duplicate ids or missing ids make the array a plain value.
  EXPECT_EQ(run("[]", R"([{"id":1}])", R"([{"id":"1"}])").doc, R"([{"id":1},{"id":"1"}])");
  Out dup = run("[]", R"([{"id":1},{"id":1}])", R"([{"id":2}])");
  EXPECT_EQ(dup.doc, R"([{"id":2}])");
  EXPECT_NE(dup.conflicts, "[]");
  Merge3Options noKey;
  noKey.arrayKey.reset();
  EXPECT_EQ(run("[]", R"([{"id":1}])", R"([{"id":2}])", noKey).conflicts,
            R"([{"path":"","base":[],"local":[{"id":1}],"remote":[{"id":2}],"resolved":[{"id":2}],"winner":"remote"}])");
}

}  // namespace
}  // namespace rtc
