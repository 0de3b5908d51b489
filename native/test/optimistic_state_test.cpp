#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "diff.h"
#include "merge_patch.h"
#include "optimistic_state.h"
#include "optimistic_support.h"

namespace rtc {
namespace {

const Limits kLimits{};

Json P(const std::string& s) { return parse(s, kLimits); }

OptimisticOptions opts(std::size_t maxPending = 100, Overflow overflow = Overflow::Reject, double timeoutMs = 1000,
                       double baseVersion = 0) {
  OptimisticOptions o;
  o.maxPending = maxPending;
  o.overflow = overflow;
  o.timeoutMs = timeoutMs;
  o.baseVersion = baseVersion;
  return o;
}

OptimisticState make(const std::string& doc, OptimisticOptions o = opts()) {
  return OptimisticState(doc.data(), doc.size(), o);
}

std::string code(const std::function<void()>& f) { return rtc::test_util::errorCode(f); }

using optimistic_support::pathsOf;
using optimistic_support::replayed;

std::string snapshot(const OptimisticState& s) { return optimistic_support::snapshotOf(s); }

std::vector<std::string> pendingIds(const OptimisticState& s) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < s.pendingCount(); ++i) ids.push_back(s.pendingAt(i).id);
  return ids;
}

std::string rolled(const std::vector<RolledBack>& r) {
  std::string out;
  for (const RolledBack& x : r) out += (out.empty() ? "" : ",") + x.id + ":" + x.reason;
  return out;
}

std::string deltaOf(const OptimisticResult& r) { return r.delta ? *r.delta : "none"; }

OptimisticResult ap(OptimisticState& s, const std::string& id, const std::string& patch, double now = 0) {
  return s.apply(id, ChangeKind::Patch, patch.data(), patch.size(), now);
}

OptimisticResult am(OptimisticState& s, const std::string& id, const std::string& mergePatch, double now = 0) {
  return s.apply(id, ChangeKind::MergePatch, mergePatch.data(), mergePatch.size(), now);
}

OptimisticResult rb(OptimisticState& s, ChangeKind kind, const std::string& text, std::optional<double> version = {},
                    const std::vector<std::string>& confirms = {}) {
  return s.rebase(kind, text.data(), text.size(), version, confirms);
}

BatchOp bop(BatchOpType type, std::string id = "", std::optional<ChangeKind> kind = std::nullopt,
           std::string_view text = "", std::optional<double> version = std::nullopt) {
  BatchOp op;
  op.type = type;
  op.id = std::move(id);
  op.kind = kind;
  op.text = text;
  op.version = version;
  return op;
}

std::optional<ChangeText> canon(ChangeKind kind, const std::string& text) {
  return ChangeText{kind, text.data(), text.size()};
}

// ---------------------------------------------------------------------------------------------

TEST(OptimisticState, Construct) {
  auto s = make(R"({"title":"Lobby","items":[]})", opts(100, Overflow::Reject, 1000, 7));
  EXPECT_EQ(serialize(s.visible()), R"({"title":"Lobby","items":[]})");
  EXPECT_EQ(serialize(s.base()), R"({"title":"Lobby","items":[]})");
  EXPECT_EQ(s.baseVersion(), 7);
  EXPECT_EQ(s.pendingCount(), 0u);
  EXPECT_FALSE(s.nextDeadline());
  EXPECT_EQ(code([] { make("{"); }), codes::kInvalidJson);
  OptimisticOptions tiny = opts();
  tiny.limits.maxDocumentBytes = 3;
  EXPECT_EQ(code([&] { make("[1,2]", tiny); }), codes::kTooLarge);
}

TEST(OptimisticState, ApplyPatchAndMergePatch) {
  auto s = make(R"({"title":"Lobby","items":[]})");
  const std::string text = R"( [ {"op":"replace","path":"/title","value":"Hall"} ] )";
  OptimisticResult r = ap(s, "m1", text, 1000);
  EXPECT_EQ(deltaOf(r), R"({"title":"Hall"})");
  EXPECT_TRUE(r.rolledBack.empty());
  EXPECT_EQ(serialize(s.visible()), R"({"title":"Hall","items":[]})");
  EXPECT_EQ(serialize(s.base()), R"({"title":"Lobby","items":[]})");
  ASSERT_EQ(s.pendingCount(), 1u);
  EXPECT_EQ(s.pendingAt(0).text, text);  // exactly as given
  EXPECT_EQ(s.pendingAt(0).kind, ChangeKind::Patch);
  EXPECT_EQ(s.pendingAt(0).createdAt, 1000);
  EXPECT_EQ(*s.nextDeadline(), 2000);

  r = am(s, "m2", R"({"items":[1],"x":{"y":null,"z":2}})", 1500);
  EXPECT_EQ(deltaOf(r), R"({"items":[1],"x":{"z":2}})");
  EXPECT_EQ(serialize(s.visible()), R"({"title":"Hall","items":[1],"x":{"z":2}})");
  EXPECT_EQ(*s.nextDeadline(), 2000);
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"m1", "m2"}));
}

TEST(OptimisticState, ApplyDeltaIsNullWhenNothingChanges) {
  auto s = make(R"({"a":1})");
  OptimisticResult r = ap(s, "t", R"([{"op":"test","path":"/a","value":1}])");
  EXPECT_FALSE(r.delta);
  EXPECT_EQ(s.pendingCount(), 1u);
  r = ap(s, "same", R"([{"op":"replace","path":"/a","value":1.0}])");
  EXPECT_FALSE(r.delta);
  r = ap(s, "back", R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/b"}])");
  EXPECT_FALSE(r.delta);
  r = ap(s, "reorder", R"([{"op":"remove","path":"/a"},{"op":"add","path":"/a","value":1}])");
  EXPECT_FALSE(r.delta);  // deep-equal (key order is not compared)
}

TEST(OptimisticState, DeltaShapes) {
  auto s = make(R"({"a":{"b":1,"c":[1,2]},"d":"x","e":{"f":{"g":1}}})");
  // Key order of a merge diff: the old keys in their old order, then the new keys.
  EXPECT_EQ(deltaOf(ap(s, "1", R"([{"op":"add","path":"/z","value":1},{"op":"remove","path":"/d"},)"
                                R"({"op":"replace","path":"/a/b","value":2}])")),
            R"({"a":{"b":2},"d":null,"z":1})");
  // Arrays travel whole.
  EXPECT_EQ(deltaOf(ap(s, "2", R"([{"op":"add","path":"/a/c/1","value":9}])")), R"({"a":{"c":[1,9,2]}})");
  // An object replaced by an object: a merge diff of the two.
  EXPECT_EQ(deltaOf(ap(s, "3", R"([{"op":"replace","path":"/e","value":{"f":{"g":1,"h":2}}}])")),
            R"({"e":{"f":{"h":2}}})");
  // A scalar replacing an object and back inside one patch.
  EXPECT_FALSE(ap(s, "4", R"([{"op":"replace","path":"/e","value":1},{"op":"replace","path":"/e","value":{"f":{"g":1,"h":2}}}])")
                   .delta);
  // The whole document.
  EXPECT_EQ(deltaOf(ap(s, "5", R"([{"op":"replace","path":"","value":[1]}])")), "[1]");
  EXPECT_EQ(deltaOf(am(s, "6", R"({"k":1})")), R"({"k":1})");
  EXPECT_EQ(deltaOf(am(s, "7", "null")), "null");  // a document that became null
  EXPECT_EQ(serialize(s.visible()), "null");
  EXPECT_EQ(replayed(s), "null");
}

TEST(OptimisticState, DeltaInsideArraysAndIndexKeys) {
  auto s = make(R"({"list":[{"id":1,"v":{"x":1}},{"id":2}],"o":{"b":1,"a":2}})");
  EXPECT_EQ(deltaOf(ap(s, "1", R"([{"op":"replace","path":"/list/0/v/x","value":5}])")),
            R"({"list":[{"id":1,"v":{"x":5}},{"id":2}]})");
  EXPECT_FALSE(ap(s, "2", R"([{"op":"replace","path":"/list/0/v/x","value":6},{"op":"replace","path":"/list/0/v/x","value":5}])")
                   .delta);
  // New index-like keys go first in JavaScript order; the delta lists new keys in that order.
  EXPECT_EQ(deltaOf(ap(s, "3", R"([{"op":"add","path":"/o/x","value":1},{"op":"add","path":"/o/2","value":1}])")),
            R"({"o":{"2":1,"x":1}})");
  EXPECT_EQ(serialize(s.visible()), R"({"list":[{"id":1,"v":{"x":5}},{"id":2}],"o":{"2":1,"b":1,"a":2,"x":1}})");
  // Removing a key and adding it again moves it to the end; the delta only holds values.
  EXPECT_FALSE(ap(s, "4", R"([{"op":"move","from":"/o/b","path":"/o/b2"},{"op":"move","from":"/o/b2","path":"/o/b"}])")
                   .delta);
  EXPECT_EQ(serialize(s.visible()), R"({"list":[{"id":1,"v":{"x":5}},{"id":2}],"o":{"2":1,"a":2,"x":1,"b":1}})");
  EXPECT_EQ(replayed(s), serialize(s.visible()));
  // And rolling it back restores the key order exactly.
  EXPECT_FALSE(s.rollback("4").delta);
  EXPECT_EQ(serialize(s.visible()), R"({"list":[{"id":1,"v":{"x":5}},{"id":2}],"o":{"2":1,"b":1,"a":2,"x":1}})");
}

TEST(OptimisticState, ApplyCheckOrder) {
  auto s = make(R"({"a":1})", opts(2));
  ap(s, "x", R"([{"op":"replace","path":"/a","value":2}])");
  EXPECT_EQ(code([&] { ap(s, "x", "not json"); }), codes::kDuplicateId);
  ap(s, "y", R"([{"op":"replace","path":"/a","value":3}])");
  const std::string before = snapshot(s);
  EXPECT_EQ(code([&] { ap(s, "x", "not json"); }), codes::kDuplicateId);
  EXPECT_EQ(code([&] { ap(s, "z", "not json"); }), codes::kTooManyPending);  // before parsing
  EXPECT_EQ(snapshot(s), before);

  auto o = make(R"({"a":1})", opts(2, Overflow::RollbackOldest));
  ap(o, "x", R"([{"op":"replace","path":"/a","value":2}])");
  ap(o, "y", R"([{"op":"add","path":"/b","value":3}])");
  const std::string full = snapshot(o);
  EXPECT_EQ(code([&] { ap(o, "y", "[]"); }), codes::kDuplicateId);
  EXPECT_EQ(code([&] { ap(o, "z", "[{]"); }), codes::kInvalidJson);
  EXPECT_EQ(code([&] { ap(o, "z", R"([{"op":"nope","path":""}])"); }), codes::kInvalidPatch);
  EXPECT_EQ(code([&] { ap(o, "z", R"([{"op":"add","path":"a","value":1}])"); }), codes::kInvalidPointer);
  EXPECT_EQ(snapshot(o), full);
  // The change fails after the overflow removal: nothing changed, not even the removal.
  EXPECT_EQ(code([&] { ap(o, "z", R"([{"op":"remove","path":"/missing"}])"); }), codes::kPathNotFound);
  EXPECT_EQ(snapshot(o), full);
  // ...even when the change fails only on the state without the removed change.
  EXPECT_EQ(code([&] { ap(o, "z", R"([{"op":"test","path":"/a","value":2}])"); }), codes::kTestFailed);
  EXPECT_EQ(snapshot(o), full);
  // The same test passes once x is gone.
  EXPECT_EQ(rolled(ap(o, "z", R"([{"op":"test","path":"/a","value":1}])").rolledBack), "x:overflow");
}

TEST(OptimisticState, ApplyFailureChangesNothing) {
  auto s = make(R"({"a":{"b":[1,2]}})");
  ap(s, "1", R"([{"op":"add","path":"/a/c","value":1}])");
  const std::string before = snapshot(s);
  // Partially applied, then fails.
  EXPECT_EQ(code([&] { ap(s, "2", R"([{"op":"remove","path":"/a/b/0"},{"op":"add","path":"/a/x","value":1},)"
                                  R"({"op":"test","path":"/a/c","value":2}])"); }),
            codes::kTestFailed);
  EXPECT_EQ(snapshot(s), before);
  EXPECT_EQ(code([&] { am(s, "2", "{"); }), codes::kInvalidJson);
  OptimisticOptions o = opts();
  o.limits.maxDepth = 3;
  auto d = make(R"({"a":{}})", o);
  EXPECT_EQ(code([&] { am(d, "1", R"({"a":{"b":{"c":{}}}})"); }), codes::kTooDeep);
  EXPECT_EQ(serialize(d.visible()), R"({"a":{}})");
  EXPECT_EQ(d.pendingCount(), 0u);
}

TEST(OptimisticState, OverflowRollbackOldestWithConflicts) {
  auto s = make(R"({"n":0})", opts(3, Overflow::RollbackOldest));
  ap(s, "a", R"([{"op":"add","path":"/x","value":{}}])", 10);
  ap(s, "b", R"([{"op":"add","path":"/x/y","value":1}])", 20);  // depends on a
  ap(s, "c", R"([{"op":"replace","path":"/n","value":3}])", 30);
  OptimisticResult r = ap(s, "d", R"([{"op":"add","path":"/z","value":4}])", 40);
  EXPECT_EQ(rolled(r.rolledBack), "a:overflow,b:conflict");
  EXPECT_EQ(deltaOf(r), R"({"x":null,"z":4})");
  EXPECT_EQ(serialize(s.visible()), R"({"n":3,"z":4})");
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(*s.nextDeadline(), 1030);
  EXPECT_EQ(replayed(s), serialize(s.visible()));
  // b's id is free again, a's too.
  ap(s, "a", "[]");
  EXPECT_EQ(code([&] { ap(s, "c", "[]"); }), codes::kDuplicateId);
}

TEST(OptimisticState, RollbackCascades) {
  auto s = make(R"({"items":[]})");
  ap(s, "A", R"([{"op":"add","path":"/items/-","value":{"id":"a"}}])");
  ap(s, "B", R"([{"op":"replace","path":"/items/0/id","value":"b"}])");  // needs A
  ap(s, "C", R"([{"op":"add","path":"/c","value":true}])");
  ap(s, "D", R"([{"op":"test","path":"/items/0/id","value":"b"}])");  // needs B
  OptimisticResult r = s.rollback("A");
  EXPECT_EQ(rolled(r.rolledBack), "A:explicit,B:conflict,D:conflict");
  EXPECT_EQ(deltaOf(r), R"({"items":[]})");
  EXPECT_EQ(serialize(s.visible()), R"({"items":[],"c":true})");
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"C"}));
  EXPECT_EQ(code([&] { s.rollback("A"); }), codes::kUnknownId);
  EXPECT_EQ(code([&] { s.rollback("B"); }), codes::kUnknownId);
  r = s.rollback("C");
  EXPECT_EQ(deltaOf(r), R"({"c":null})");
  EXPECT_EQ(serialize(s.visible()), serialize(s.base()));
}

TEST(OptimisticState, RollbackFromTheMiddleKeepsTheOthers) {
  auto s = make(R"({"v":[]})");
  for (int i = 0; i < 10; ++i) ap(s, "m" + std::to_string(i), R"([{"op":"add","path":"/v/-","value":)" + std::to_string(i) + "}]");
  OptimisticResult r = s.rollback("m4");
  EXPECT_EQ(deltaOf(r), R"({"v":[0,1,2,3,5,6,7,8,9]})");
  EXPECT_EQ(rolled(r.rolledBack), "m4:explicit");
  EXPECT_EQ(s.pendingCount(), 9u);
  EXPECT_EQ(replayed(s), serialize(s.visible()));
}

TEST(OptimisticState, CommitOldest) {
  auto s = make(R"({"a":1})");
  ap(s, "m1", R"([{"op":"replace","path":"/a","value":2}])");
  ap(s, "m2", R"([{"op":"add","path":"/b","value":3}])");
  OptimisticResult r = s.commit("m1", std::nullopt, std::nullopt);
  EXPECT_FALSE(r.delta);
  EXPECT_EQ(r.version, 1);
  EXPECT_TRUE(r.rolledBack.empty());
  EXPECT_EQ(serialize(s.base()), R"({"a":2})");
  EXPECT_EQ(serialize(s.visible()), R"({"a":2,"b":3})");
  EXPECT_EQ(s.baseVersion(), 1);
  r = s.commit("m2", std::nullopt, 7);
  EXPECT_FALSE(r.delta);
  EXPECT_EQ(r.version, 7);
  EXPECT_EQ(s.baseVersion(), 7);
  EXPECT_EQ(serialize(s.base()), R"({"a":2,"b":3})");
  EXPECT_EQ(s.pendingCount(), 0u);
  EXPECT_FALSE(s.nextDeadline());
}

TEST(OptimisticState, CommitLaterChangeReorders) {
  auto s = make(R"({"items":[]})");
  ap(s, "A", R"([{"op":"add","path":"/items/-","value":"a"}])");
  ap(s, "B", R"([{"op":"add","path":"/items/-","value":"b"}])");
  OptimisticResult r = s.commit("B", std::nullopt, std::nullopt);
  EXPECT_EQ(deltaOf(r), R"({"items":["b","a"]})");
  EXPECT_EQ(serialize(s.base()), R"({"items":["b"]})");
  EXPECT_EQ(serialize(s.visible()), R"({"items":["b","a"]})");
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"A"}));

  // A later change committed first can make an older one fail.
  auto t = make(R"({"x":1})");
  ap(t, "old", R"([{"op":"test","path":"/x","value":1},{"op":"add","path":"/y","value":1}])");
  ap(t, "new", R"([{"op":"replace","path":"/x","value":2}])");
  r = t.commit("new", std::nullopt, 5);
  EXPECT_EQ(rolled(r.rolledBack), "old:conflict");
  EXPECT_EQ(deltaOf(r), R"({"y":null})");
  EXPECT_EQ(serialize(t.visible()), R"({"x":2})");
  EXPECT_EQ(t.baseVersion(), 5);

  // A later change that does not apply to the base: thrown, nothing changes.
  auto u = make(R"({})");
  ap(u, "mk", R"([{"op":"add","path":"/o","value":{}}])");
  ap(u, "in", R"([{"op":"add","path":"/o/k","value":1}])");
  const std::string before = snapshot(u);
  EXPECT_EQ(code([&] { u.commit("in", std::nullopt, std::nullopt); }), codes::kPathNotFound);
  EXPECT_EQ(snapshot(u), before);
}

TEST(OptimisticState, CommitWithCanonicalChange) {
  auto s = make(R"({"n":1})");
  ap(s, "inc", R"([{"op":"replace","path":"/n","value":2}])");
  ap(s, "other", R"([{"op":"add","path":"/o","value":1}])");
  // The server applied it differently.
  OptimisticResult r = s.commit("inc", canon(ChangeKind::MergePatch, R"({"n":5})"), 3);
  EXPECT_EQ(deltaOf(r), R"({"n":5})");
  EXPECT_EQ(serialize(s.base()), R"({"n":5})");
  EXPECT_EQ(serialize(s.visible()), R"({"n":5,"o":1})");
  EXPECT_EQ(s.baseVersion(), 3);

  const std::string before = snapshot(s);
  EXPECT_EQ(code([&] { s.commit("nope", canon(ChangeKind::Patch, "garbage"), 9); }), codes::kUnknownId);
  EXPECT_EQ(code([&] { s.commit("other", canon(ChangeKind::Patch, "garbage"), 9); }), codes::kInvalidJson);
  // Parsed even when the version says it is already in the base.
  EXPECT_EQ(code([&] { s.commit("other", canon(ChangeKind::Patch, "{}"), 1); }), codes::kInvalidPatch);
  EXPECT_EQ(code([&] { s.commit("other", canon(ChangeKind::Patch, R"([{"op":"remove","path":"/zz"}])"), 9); }),
            codes::kPathNotFound);
  EXPECT_EQ(snapshot(s), before);
}

TEST(OptimisticState, CommitAlreadyInBase) {
  auto s = make(R"({"n":1})", opts(100, Overflow::Reject, 1000, 10));
  ap(s, "a", R"([{"op":"add","path":"/a","value":1}])");
  ap(s, "b", R"([{"op":"add","path":"/b","value":1}])");
  ap(s, "c", R"([{"op":"test","path":"/b","value":1}])");
  OptimisticResult r = s.commit("b", std::nullopt, 9);
  EXPECT_EQ(r.version, 10);  // the base version, which stays
  EXPECT_EQ(deltaOf(r), R"({"b":null})");
  EXPECT_EQ(rolled(r.rolledBack), "c:conflict");
  EXPECT_EQ(s.baseVersion(), 10);
  EXPECT_EQ(serialize(s.base()), R"({"n":1})");
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"a"}));
}

TEST(OptimisticState, Rebase) {
  auto s = make(R"({"title":"Lobby","n":1})", opts(100, Overflow::Reject, 1000, 4));
  ap(s, "m1", R"([{"op":"replace","path":"/title","value":"Hall"}])");
  ap(s, "m2", R"([{"op":"test","path":"/n","value":1},{"op":"add","path":"/flag","value":true}])");
  ap(s, "m3", R"([{"op":"add","path":"/x","value":0}])");
  OptimisticResult r = rb(s, ChangeKind::MergePatch, R"({"n":2,"y":1})", 8);
  EXPECT_STREQ(r.status, "applied");
  EXPECT_EQ(r.version, 8);
  EXPECT_EQ(rolled(r.rolledBack), "m2:conflict");
  EXPECT_EQ(deltaOf(r), R"({"n":2,"flag":null,"y":1})");
  EXPECT_EQ(serialize(s.base()), R"({"title":"Lobby","n":2,"y":1})");
  EXPECT_EQ(serialize(s.visible()), R"({"title":"Hall","n":2,"y":1,"x":0})");
  EXPECT_EQ(s.baseVersion(), 8);

  // Duplicate: nothing at all is looked at past the parse.
  const std::string before = snapshot(s);
  r = rb(s, ChangeKind::Patch, R"([{"op":"remove","path":"/nope"}])", 7, {"unknown", "unknown"});
  EXPECT_STREQ(r.status, "duplicate");
  EXPECT_EQ(r.version, 8);  // the base version
  EXPECT_FALSE(r.delta);
  EXPECT_EQ(snapshot(s), before);
  EXPECT_EQ(code([&] { rb(s, ChangeKind::Patch, "[", 3); }), codes::kInvalidJson);

  // confirms
  EXPECT_EQ(code([&] { rb(s, ChangeKind::MergePatch, "{}", 9, {"m1", "zz"}); }), codes::kUnknownId);
  EXPECT_EQ(code([&] { rb(s, ChangeKind::MergePatch, "{}", 9, {"m3", "m3"}); }), codes::kInvalidArgument);
  EXPECT_EQ(code([&] { rb(s, ChangeKind::Patch, R"([{"op":"remove","path":"/nope"}])", 9, {"m1"}); }),
            codes::kPathNotFound);
  EXPECT_EQ(snapshot(s), before);

  r = rb(s, ChangeKind::Patch, R"([{"op":"replace","path":"/title","value":"Hall"},{"op":"add","path":"/x","value":0}])",
         std::nullopt, {"m3", "m1"});
  EXPECT_EQ(r.version, 9);
  EXPECT_EQ(r.committed, (std::vector<std::string>{"m1", "m3"}));
  EXPECT_TRUE(r.rolledBack.empty());
  EXPECT_FALSE(r.delta);
  EXPECT_EQ(s.pendingCount(), 0u);
  EXPECT_EQ(serialize(s.base()), serialize(s.visible()));
}

TEST(OptimisticState, RebaseSnapshot) {
  auto s = make(R"({"a":1,"list":[1]})");
  ap(s, "p", R"([{"op":"add","path":"/list/-","value":2}])");
  ap(s, "q", R"([{"op":"replace","path":"/a","value":5}])");
  OptimisticResult r = rb(s, ChangeKind::Snapshot, R"({"list":[0],"b":true})", 3);
  EXPECT_EQ(rolled(r.rolledBack), "q:conflict");
  EXPECT_EQ(deltaOf(r), R"({"a":null,"list":[0,2],"b":true})");
  EXPECT_EQ(serialize(s.base()), R"({"list":[0],"b":true})");
  EXPECT_EQ(serialize(s.visible()), R"({"list":[0,2],"b":true})");
  EXPECT_EQ(replayed(s), serialize(s.visible()));
  // Then the normal operations work on the new tree.
  r = s.rollback("p");
  EXPECT_EQ(deltaOf(r), R"({"list":[0]})");
  r = rb(s, ChangeKind::Snapshot, "[1]");
  EXPECT_EQ(deltaOf(r), "[1]");
  EXPECT_EQ(s.baseVersion(), 4);
}

TEST(OptimisticState, Expire) {
  auto s = make(R"({})", opts(100, Overflow::Reject, 100));
  ap(s, "a", R"([{"op":"add","path":"/a","value":{}}])", 1000);
  ap(s, "b", R"([{"op":"add","path":"/b","value":1}])", 1050);
  ap(s, "c", R"([{"op":"add","path":"/a/c","value":1}])", 1080);
  ap(s, "d", R"([{"op":"add","path":"/d","value":1}])", 990);
  EXPECT_EQ(*s.nextDeadline(), 1090);
  OptimisticResult r = s.expire(1089);
  EXPECT_TRUE(r.rolledBack.empty());
  EXPECT_FALSE(r.delta);
  r = s.expire(1100);  // now - createdAt >= timeoutMs
  EXPECT_EQ(rolled(r.rolledBack), "a:timeout,d:timeout,c:conflict");
  EXPECT_EQ(deltaOf(r), R"({"a":null,"d":null})");
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"b"}));
  EXPECT_EQ(*s.nextDeadline(), 1150);
  r = s.expire(5000);
  EXPECT_EQ(rolled(r.rolledBack), "b:timeout");
  EXPECT_FALSE(s.nextDeadline());
}

TEST(OptimisticState, RollbackAll) {
  auto s = make(R"({"k":0})");
  EXPECT_FALSE(s.rollbackAll().delta);
  ap(s, "a", R"([{"op":"replace","path":"/k","value":1}])");
  ap(s, "b", R"([{"op":"add","path":"/z","value":1}])");
  OptimisticResult r = s.rollbackAll();
  EXPECT_EQ(rolled(r.rolledBack), "a:explicit,b:explicit");
  EXPECT_EQ(deltaOf(r), R"({"k":0,"z":null})");
  EXPECT_EQ(serialize(s.visible()), R"({"k":0})");
  EXPECT_EQ(s.pendingCount(), 0u);
  ap(s, "a", "[]");  // ids are free again
}

TEST(OptimisticState, GrowthLimitOnReapply) {
  OptimisticOptions o = opts();
  o.limits.maxPatchGrowthBytes = 40;
  auto s = make(R"({"a":"x","b":[]})", o);
  ap(s, "copy", R"([{"op":"copy","from":"/a","path":"/b/-"}])");
  // The base grows: copying /a now inserts more than the growth limit.
  OptimisticResult r = rb(s, ChangeKind::MergePatch, R"({"a":"0123456789012345678901234567890123456789"})");
  EXPECT_EQ(rolled(r.rolledBack), "copy:conflict");
  EXPECT_EQ(serialize(s.visible()), R"({"a":"0123456789012345678901234567890123456789","b":[]})");
}

TEST(OptimisticState, Batch) {
  auto s = make(R"({"n":0,"items":[]})");
  std::vector<BatchOp> ops{
      bop(BatchOpType::Apply, "a", ChangeKind::Patch, R"([{"op":"replace","path":"/n","value":1}])"),
      bop(BatchOpType::Apply, "b", ChangeKind::MergePatch, R"({"m":true})"),
      bop(BatchOpType::Commit, "a", std::nullopt, "", 5),
      bop(BatchOpType::Rebase, "", ChangeKind::Patch,
          R"([{"op":"add","path":"/items/-","value":1},{"op":"add","path":"/m","value":true}])")};
  ops[3].confirms = {"b"};
  BatchResult r = s.batch(ops, 100);
  ASSERT_EQ(r.results.size(), 4u);
  EXPECT_EQ(deltaOf(r.results[0]), R"({"n":1})");
  EXPECT_EQ(deltaOf(r.results[1]), R"({"m":true})");
  EXPECT_FALSE(r.results[2].delta);
  EXPECT_EQ(r.results[2].version, 5);
  EXPECT_EQ(deltaOf(r.results[3]), R"({"items":[1]})");
  EXPECT_EQ(r.results[3].version, 6);
  EXPECT_EQ(r.results[3].committed, (std::vector<std::string>{"b"}));
  ASSERT_TRUE(r.delta);
  EXPECT_EQ(*r.delta, R"({"n":1,"items":[1],"m":true})");
  EXPECT_EQ(serialize(s.base()), R"({"n":1,"items":[1],"m":true})");
  EXPECT_EQ(s.baseVersion(), 6);
  EXPECT_EQ(s.pendingCount(), 0u);
}

TEST(OptimisticState, BatchFailureRestoresEverything) {
  auto s = make(R"({"n":0,"list":[1,2]})");
  ap(s, "p1", R"([{"op":"add","path":"/list/-","value":3}])", 10);
  ap(s, "p2", R"([{"op":"replace","path":"/n","value":2}])", 20);
  const std::string before = snapshot(s);
  std::vector<BatchOp> ops{bop(BatchOpType::Apply, "a", ChangeKind::Patch, R"([{"op":"remove","path":"/list/0"}])"),
                           bop(BatchOpType::Rebase, "", ChangeKind::Snapshot, R"({"n":1,"list":[9,9]})"),
                           bop(BatchOpType::Rollback, "p2"), bop(BatchOpType::Commit, "a"),
                           bop(BatchOpType::RollbackAll),
                           bop(BatchOpType::Commit, "p1")};  // gone after rollbackAll
  try {
    s.batch(ops, 50);
    FAIL() << "expected a throw";
  } catch (const BatchError& e) {
    EXPECT_STREQ(e.code(), codes::kUnknownId);
    EXPECT_EQ(e.index(), 5u);
  }
  EXPECT_EQ(snapshot(s), before);
  EXPECT_EQ(replayed(s), serialize(s.visible()));
  // The state still works.
  EXPECT_EQ(deltaOf(s.rollback("p1")), R"({"list":[1,2]})");
  EXPECT_EQ(pendingIds(s), (std::vector<std::string>{"p2"}));

  // A failing apply in the middle.
  auto t = make(R"({"a":1})");
  std::vector<BatchOp> ops2{bop(BatchOpType::Apply, "x", ChangeKind::MergePatch, R"({"b":2})"),
                            bop(BatchOpType::Apply, "y", ChangeKind::Patch, R"([{"op":"test","path":"/b","value":3}])"),
                            bop(BatchOpType::Apply, "x", ChangeKind::MergePatch, R"({"b":2})")};
  const std::string tb = snapshot(t);
  try {
    t.batch(ops2, 0);
    FAIL();
  } catch (const BatchError& e) {
    EXPECT_STREQ(e.code(), codes::kTestFailed);
    EXPECT_EQ(e.index(), 1u);
  }
  EXPECT_EQ(snapshot(t), tb);
}

// ---------------------------------------------------------------------------------------------
// A naive model of the contract: every operation rebuilds the visible state from scratch on
// copies, re-parsing every change. The engine must agree with it on everything.

struct Outcome {
  std::string error = "";
  std::string status = "applied";
  double version = 0;
  std::string delta = "none";
  std::string rolledBack;
  std::vector<std::string> committed;
};

bool operator==(const Outcome& a, const Outcome& b) {
  return a.error == b.error && a.status == b.status && a.version == b.version && a.delta == b.delta &&
         a.rolledBack == b.rolledBack && a.committed == b.committed;
}

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{error " << o.error << ", status " << o.status << ", version " << o.version << ", delta " << o.delta
     << ", rolledBack " << o.rolledBack << ", committed";
  for (const std::string& c : o.committed) os << " " << c;
  return os << "}";
}

Outcome outcomeOf(const OptimisticResult& r) {
  Outcome o;
  o.status = r.status;
  o.version = r.version;
  o.delta = r.delta ? *r.delta : "none";
  o.rolledBack = rolled(r.rolledBack);
  o.committed = r.committed;
  return o;
}

std::string fullDelta(const Json& before, const Json& after) {
  return deepEqual(before, after) ? "none" : serialize(diffMergePatch(before, after));
}

class Model {
 public:
  struct Change {
    std::string id;
    ChangeKind kind;
    std::string text;
    double createdAt;
  };

  Model(const std::string& doc, OptimisticOptions o) : o_(o), base_(P(doc)), version_(o.baseVersion) { rebuild({}); }
  Model(const Model& m) : o_(m.o_), base_(deepCopy(m.base_)), version_(m.version_), pending_(m.pending_), visible_(deepCopy(m.visible_)) {}
  Model& operator=(const Model& m) {
    o_ = m.o_;
    base_ = deepCopy(m.base_);
    version_ = m.version_;
    pending_ = m.pending_;
    visible_ = deepCopy(m.visible_);
    return *this;
  }

  std::string snapshot() const {
    std::string out = serialize(base_) + "|" + serialize(visible_) + "|";
    appendNumber(out, version_);
    double min = 0;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const Change& p = pending_[i];
      out += "|" + p.id + ":" + changeKindName(p.kind) + ":" + p.text + ":";
      appendNumber(out, p.createdAt);
      min = i == 0 ? p.createdAt : std::min(min, p.createdAt);
    }
    out += "|deadline ";
    if (!pending_.empty()) appendNumber(out, min + o_.timeoutMs);
    return out;
  }

  // Each returns the outcome; on error the model is unchanged.
  Outcome apply(const std::string& id, ChangeKind kind, const std::string& text, double now) {
    return run([&](Outcome& out) {
      if (find(id) >= 0) throw Error(codes::kDuplicateId, "");
      const bool full = pending_.size() >= o_.maxPending;
      if (full && o_.overflow == Overflow::Reject) throw Error(codes::kTooManyPending, "");
      check(kind, text);
      std::vector<Change> rest = pending_;
      std::string removed;
      if (full) {
        std::size_t victims = pending_.size() - o_.maxPending + 1;
        for (std::size_t i = 0; i < victims; ++i) add(removed, rest[i].id, "overflow");
        rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(victims));
      }
      std::string conflicts = rebuild(rest);
      applyText(visible_, kind, text);
      pending_.push_back({id, kind, text, now});
      out.rolledBack = join(removed, conflicts);
    });
  }

  Outcome commit(const std::string& id, std::optional<ChangeKind> kind, const std::string& text,
                 std::optional<double> version) {
    return run([&](Outcome& out) {
      int k = find(id);
      if (k < 0) throw Error(codes::kUnknownId, "");
      if (kind) check(*kind, text);
      std::vector<Change> rest = pending_;
      Change c = rest[static_cast<std::size_t>(k)];
      rest.erase(rest.begin() + k);
      if (version && *version <= version_) {
        out.version = version_;
      } else {
        if (kind) applyText(base_, *kind, text);
        else applyText(base_, c.kind, c.text);
        version_ = version ? *version : version_ + 1;
        out.version = version_;
      }
      out.rolledBack = rebuild(rest);
    });
  }

  Outcome rollback(const std::string& id) {
    return run([&](Outcome& out) {
      int k = find(id);
      if (k < 0) throw Error(codes::kUnknownId, "");
      std::vector<Change> rest = pending_;
      rest.erase(rest.begin() + k);
      out.rolledBack = join(id + ":explicit", rebuild(rest));
    });
  }

  Outcome rollbackAll() {
    return run([&](Outcome& out) {
      for (const Change& c : pending_) add(out.rolledBack, c.id, "explicit");
      rebuild({});
    });
  }

  Outcome expire(double now) {
    return run([&](Outcome& out) {
      std::vector<Change> rest;
      std::string removed;
      for (const Change& c : pending_) {
        if (now - c.createdAt >= o_.timeoutMs) add(removed, c.id, "timeout");
        else rest.push_back(c);
      }
      if (rest.size() == pending_.size()) return;
      out.rolledBack = join(removed, rebuild(rest));
    });
  }

  Outcome rebase(ChangeKind kind, const std::string& text, std::optional<double> version,
                 const std::vector<std::string>& confirms) {
    return run([&](Outcome& out) {
      check(kind, text);
      if (version && *version <= version_) {
        out.status = "duplicate";
        out.version = version_;
        return;
      }
      for (std::size_t i = 0; i < confirms.size(); ++i) {
        if (find(confirms[i]) < 0) throw Error(codes::kUnknownId, "");
        for (std::size_t j = 0; j < i; ++j) {
          if (confirms[j] == confirms[i]) throw Error(codes::kInvalidArgument, "");
        }
      }
      if (kind == ChangeKind::Snapshot) base_ = P(text);
      else applyText(base_, kind, text);
      version_ = version ? *version : version_ + 1;
      out.version = version_;
      std::vector<Change> rest;
      for (const Change& c : pending_) {
        if (std::find(confirms.begin(), confirms.end(), c.id) != confirms.end()) out.committed.push_back(c.id);
        else rest.push_back(c);
      }
      out.rolledBack = rebuild(rest);
    });
  }

  const Json& visible() const { return visible_; }

 private:
  static void add(std::string& list, const std::string& id, const char* reason) {
    list += (list.empty() ? "" : ",") + id + ":" + reason;
  }
  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : b.empty() ? a : a + "," + b; }

  int find(const std::string& id) const {
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i].id == id) return static_cast<int>(i);
    }
    return -1;
  }

  void check(ChangeKind kind, const std::string& text) const {
    if (kind == ChangeKind::Patch) parsePatch(text.data(), text.size(), o_.limits);
    else parse(text, o_.limits);
  }

  // Atomic: on failure `doc` is unchanged.
  void applyText(Json& doc, ChangeKind kind, const std::string& text) const {
    Json copy = deepCopy(doc);
    Mutator m(copy, false);
    if (kind == ChangeKind::Patch) {
      Patch ops = parsePatch(text.data(), text.size(), o_.limits);
      applyOps(m, ops, o_.limits);
    } else {
      applyMergePatchTo(m, parse(text, o_.limits), o_.limits);
    }
    doc = std::move(copy);
  }

  std::string rebuild(const std::vector<Change>& candidates) {
    Json v = deepCopy(base_);
    std::string conflicts;
    std::vector<Change> kept;
    for (const Change& c : candidates) {
      try {
        applyText(v, c.kind, c.text);
        kept.push_back(c);
      } catch (const Error&) {
        add(conflicts, c.id, "conflict");
      }
    }
    pending_ = std::move(kept);
    visible_ = std::move(v);
    return conflicts;
  }

  template <typename F>
  Outcome run(F&& f) {
    Model saved(*this);
    Outcome out;
    try {
      f(out);
    } catch (const Error& e) {
      *this = saved;
      Outcome err;
      err.error = e.code();
      return err;
    }
    out.delta = fullDelta(saved.visible_, visible_);
    return out;
  }

  OptimisticOptions o_;
  Json base_;
  double version_;
  std::vector<Change> pending_;
  Json visible_;
};

// Random changes that often apply: paths taken from the current document.
class Gen {
 public:
  explicit Gen(unsigned seed) : rng_(seed) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }

  std::string value() {
    switch (pick(9)) {
      case 0: return "null";
      case 1: return "true";
      case 2: return std::to_string(pick(5));
      case 3: return "\"s" + std::to_string(pick(4)) + "\"";
      case 4: return "{}";
      case 5: return "[]";
      case 6: return R"({"k":)" + std::to_string(pick(3)) + R"(,"o":{"x":1}})";
      case 7: return "[1,{\"a\":[2]}]";
      default: return R"({")" + std::to_string(pick(3)) + R"(":"i","z":null})";
    }
  }

  std::string key() {
    static const char* keys[] = {"a", "b", "c", "list", "o", "0", "1", "k", "x", "z"};
    return keys[pick(10)];
  }

  std::string patch(const Json& doc) {
    std::vector<std::string> ps = pathsOf(doc);
    auto any = [&] { return ps[static_cast<std::size_t>(pick(static_cast<int>(ps.size())))]; };
    auto nonRoot = [&] {
      std::string p = any();
      return p.empty() ? "/" + key() : p;
    };
    std::string out = "[";
    int n = 1 + pick(3);
    for (int i = 0; i < n; ++i) {
      if (i) out += ",";
      switch (pick(12)) {
        case 0:
        case 1: out += R"({"op":"replace","path":")" + nonRoot() + R"(","value":)" + value() + "}"; break;
        case 2:
        case 3: out += R"({"op":"add","path":")" + any() + "/" + (chance(30) ? "-" : key()) + R"(","value":)" + value() + "}"; break;
        case 4: out += R"({"op":"add","path":")" + nonRoot() + R"(","value":)" + value() + "}"; break;
        case 5:
        case 6: out += R"({"op":"remove","path":")" + nonRoot() + R"("})"; break;
        case 7: {
          std::string p = any();
          const Json* v = resolve(doc, parsePointer(p));
          out += R"({"op":"test","path":")" + p + R"(","value":)" + (chance(70) && v ? serialize(*v) : value()) + "}";
          break;
        }
        case 8: out += R"({"op":"copy","from":")" + any() + R"(","path":")" + any() + "/" + key() + R"("})"; break;
        case 9: out += R"({"op":"move","from":")" + nonRoot() + R"(","path":")" + nonRoot() + R"("})"; break;
        case 10: out += R"({"op":"replace","path":"","value":)" + (chance(50) ? serialize(doc) : value()) + "}"; break;
        default: out += R"({"op":"test","path":"/nope","value":1})"; break;
      }
    }
    return out + "]";
  }

  std::string mergePatch() {
    if (chance(5)) return value();
    std::string out = "{";
    int n = 1 + pick(3);
    for (int i = 0; i < n; ++i) {
      if (i) out += ",";
      out += "\"" + key() + "\":" + (chance(30) ? "null" : chance(30) ? "{\"" + key() + "\":" + value() + "}" : value());
    }
    return out + "}";
  }

  ChangeKind kind() { return chance(70) ? ChangeKind::Patch : ChangeKind::MergePatch; }
  std::string change(ChangeKind k, const Json& doc) { return k == ChangeKind::Patch ? patch(doc) : mergePatch(); }
  std::string id() { return "c" + std::to_string(pick(12)); }

 private:
  std::mt19937 rng_;
};

TEST(OptimisticState, RandomAgainstNaiveModel) {
  // OS_SEEDS=n runs more seeds (a longer hunt than the default suite).
  const unsigned seeds = getenv("OS_SEEDS") ? static_cast<unsigned>(std::stoul(getenv("OS_SEEDS"))) : 40;
  for (unsigned seed = 1; seed <= seeds; ++seed) {
    Gen g(seed);
    const Overflow overflow = seed % 2 ? Overflow::RollbackOldest : Overflow::Reject;
    // Odd seeds: a small document where most changes interact. Even seeds: a wide one with many
    // pending changes, most of which commute (the in-place paths).
    const bool wide = seed % 2 == 0;
    OptimisticOptions o = opts(wide ? 12 + seed % 9 : 3 + seed % 5, overflow, wide ? 400 : 50);
    if (seed % 3 == 0) o.limits.maxPatchGrowthBytes = 60;
    if (seed % 4 == 0) o.limits.maxDepth = 4;
    const std::string init =
        wide ? R"({"a":{"x":1,"y":[1,2],"z":{"k":1}},"b":{"x":2,"y":[3],"z":{}},"c":{"x":3,"y":[],"z":{"o":{"k":2}}},)"
               R"("d":[{"k":1},{"x":2},{"z":[0]}],"e":{"1":1,"x":{"y":{"z":1}}},"k":0,"o":{"0":true},"x":[1,2,3]})"
             : R"({"a":1,"list":[1,{"k":2}],"o":{"x":{"y":1},"0":true}})";
    OptimisticState s(init.data(), init.size(), o);
    Model m(init, o);
    double now = 0;
    double version = 0;
    for (int step = 0; step < 300; ++step) {
      now += g.pick(20);
      const std::string before = snapshot(s);
      const std::string visibleBefore = serialize(s.visible());
      Outcome got, want;
      auto run = [&](const std::function<OptimisticResult()>& f) {
        try {
          got = outcomeOf(f());
        } catch (const Error& e) {
          got = Outcome();
          got.error = e.code();
        }
      };
      int what = g.pick(100);
      std::string desc;
      if (what < 40) {
        ChangeKind k = g.kind();
        std::string id = g.id();
        std::string text = g.change(k, s.visible());
        desc = "apply " + id + " " + text;
        run([&] { return s.apply(id, k, text.data(), text.size(), now); });
        want = m.apply(id, k, text, now);
      } else if (what < 55) {
        std::string id = g.pick(3) == 0 ? g.id() : s.pendingCount() ? s.pendingAt(static_cast<std::size_t>(g.pick(static_cast<int>(s.pendingCount())))).id : g.id();
        std::optional<double> v;
        if (g.chance(50)) v = version + g.pick(4) - 1;
        std::optional<ChangeKind> k;
        std::string text;
        if (g.chance(30)) {
          k = g.kind();
          text = g.change(*k, s.base());
        }
        desc = "commit " + id + " " + text;
        run([&] {
          std::optional<ChangeText> c;
          if (k) c = ChangeText{*k, text.data(), text.size()};
          return s.commit(id, c, v);
        });
        want = m.commit(id, k, text, v);
      } else if (what < 65) {
        std::string id = g.pick(4) == 0 ? g.id() : s.pendingCount() ? s.pendingAt(static_cast<std::size_t>(g.pick(static_cast<int>(s.pendingCount())))).id : g.id();
        desc = "rollback " + id;
        run([&] { return s.rollback(id); });
        want = m.rollback(id);
      } else if (what < 68) {
        desc = "rollbackAll";
        run([&] { return s.rollbackAll(); });
        want = m.rollbackAll();
      } else if (what < 75) {
        desc = "expire";
        run([&] { return s.expire(now); });
        want = m.expire(now);
      } else if (what < 95) {
        ChangeKind k = g.chance(15) ? ChangeKind::Snapshot : g.kind();
        std::string text = k == ChangeKind::Snapshot ? (g.chance(80) ? serialize(s.visible()) : g.value()) : g.change(k, s.base());
        std::optional<double> v;
        if (g.chance(60)) v = version + g.pick(4) - 1;
        std::vector<std::string> confirms;
        for (std::size_t i = 0; i < s.pendingCount(); ++i) {
          if (g.chance(25)) confirms.push_back(s.pendingAt(i).id);
        }
        if (g.chance(5)) confirms.push_back(g.id());
        desc = "rebase " + text;
        run([&] { return s.rebase(k, text.data(), text.size(), v, confirms); });
        want = m.rebase(k, text, v, confirms);
      } else {
        // A batch: the model runs the ops one by one and undoes everything on an error.
        std::vector<BatchOp> ops(static_cast<std::size_t>(1 + g.pick(4)));
        std::vector<std::string> texts(ops.size());
        Model saved(m);
        std::vector<Outcome> wants;
        std::string error;
        std::size_t failedAt = 0;
        for (std::size_t i = 0; i < ops.size(); ++i) {
          BatchOp& op = ops[i];
          int t = g.pick(5);
          op.type = static_cast<BatchOpType>(t);
          op.id = g.id();
          if (op.type == BatchOpType::Apply || (op.type == BatchOpType::Commit && g.chance(30)) || op.type == BatchOpType::Rebase) {
            op.kind = op.type == BatchOpType::Rebase && g.chance(15) ? ChangeKind::Snapshot : g.kind();
            texts[i] = *op.kind == ChangeKind::Snapshot ? g.value() : g.change(*op.kind, m.visible());
            op.text = texts[i];
          }
          if (g.chance(40)) op.version = version + g.pick(4);
          Outcome w;
          switch (op.type) {
            case BatchOpType::Apply: w = m.apply(op.id, *op.kind, texts[i], now); break;
            case BatchOpType::Commit: w = m.commit(op.id, op.kind, texts[i], op.version); break;
            case BatchOpType::Rollback: w = m.rollback(op.id); break;
            case BatchOpType::RollbackAll: w = m.rollbackAll(); break;
            case BatchOpType::Rebase: w = m.rebase(*op.kind, texts[i], op.version, op.confirms); break;
          }
          if (!w.error.empty() && error.empty()) {
            error = w.error;
            failedAt = i;
            ops.resize(i + 1);
            break;
          }
          wants.push_back(w);
        }
        desc = "batch of " + std::to_string(ops.size());
        try {
          BatchResult r = s.batch(ops, now);
          EXPECT_EQ(error, "") << "seed " << seed << " step " << step;
          ASSERT_EQ(r.results.size(), wants.size());
          for (std::size_t i = 0; i < wants.size(); ++i) {
            EXPECT_EQ(outcomeOf(r.results[i]), wants[i]) << "seed " << seed << " step " << step << " op " << i;
          }
          EXPECT_EQ(r.delta ? *r.delta : "none", fullDelta(saved.visible(), m.visible())) << "seed " << seed << " step " << step;
        } catch (const BatchError& e) {
          EXPECT_EQ(error, e.code()) << "seed " << seed << " step " << step;
          EXPECT_EQ(failedAt, e.index()) << "seed " << seed << " step " << step;
          m = saved;
          EXPECT_EQ(snapshot(s), before) << "seed " << seed << " step " << step;
        }
        ASSERT_EQ(snapshot(s), m.snapshot()) << "seed " << seed << " step " << step << ": " << desc;
        ASSERT_EQ(replayed(s), serialize(s.visible())) << "seed " << seed << " step " << step;
        if (s.baseVersion() > version) version = s.baseVersion();
        continue;
      }
      if (getenv("OS_TRACE")) fprintf(stderr, "step %d: %s -> %s\n", step, desc.c_str(), serialize(s.visible()).c_str());
      ASSERT_EQ(got, want) << "seed " << seed << " step " << step << ": " << desc;
      ASSERT_EQ(snapshot(s), m.snapshot()) << "seed " << seed << " step " << step << ": " << desc;
      ASSERT_EQ(replayed(s), serialize(s.visible())) << "seed " << seed << " step " << step;
      if (!got.error.empty()) {
        ASSERT_EQ(snapshot(s), before) << "seed " << seed << " step " << step << ": " << desc;
      }
      if (got.delta == "none") {
        ASSERT_TRUE(deepEqual(P(visibleBefore), s.visible()));
      }
      if (s.baseVersion() > version) version = s.baseVersion();
    }
  }
}

}  // namespace
}  // namespace rtc
