#include <gtest/gtest.h>

#include <string>

#include "json.h"
#include "patch.h"
#include "pointer.h"

namespace rtc {
namespace {

std::string applyP(const std::string& doc, const std::string& patch, Limits l = Limits{}) {
  return applyPatchText(doc.data(), doc.size(), patch.data(), patch.size(), l);
}

std::string errorOf(const std::string& doc, const std::string& patch, Limits l = Limits{}, std::string* message = nullptr) {
  try {
    applyP(doc, patch, l);
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return "none";
}

// RFC 6902 appendix A, every example.
TEST(Rfc6902, A1_AddObjectMember) {
  EXPECT_EQ(applyP(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"), R"({"foo":"bar","baz":"qux"})");
}
TEST(Rfc6902, A2_AddArrayElement) {
  EXPECT_EQ(applyP(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
            R"({"foo":["bar","qux","baz"]})");
}
TEST(Rfc6902, A3_RemoveObjectMember) {
  EXPECT_EQ(applyP(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"), R"({"foo":"bar"})");
}
TEST(Rfc6902, A4_RemoveArrayElement) {
  EXPECT_EQ(applyP(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"), R"({"foo":["bar","baz"]})");
}
TEST(Rfc6902, A5_ReplaceValue) {
  EXPECT_EQ(applyP(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
            R"({"baz":"boo","foo":"bar"})");
}
TEST(Rfc6902, A6_MoveValue) {
  EXPECT_EQ(applyP(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                  R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
            R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})");
}
TEST(Rfc6902, A7_MoveArrayElement) {
  EXPECT_EQ(applyP(R"({"foo":["all","grass","cows","eat"]})", R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])"),
            R"({"foo":["all","cows","eat","grass"]})");
}
TEST(Rfc6902, A8_TestSuccess) {
  EXPECT_EQ(applyP(R"({"baz":"qux","foo":["a",2,"c"]})",
                  R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])"),
            R"({"baz":"qux","foo":["a",2,"c"]})");
}
TEST(Rfc6902, A9_TestError) {
  EXPECT_EQ(errorOf(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"), "ERR_RT_TEST_FAILED");
}
TEST(Rfc6902, A10_AddNestedMemberObject) {
  EXPECT_EQ(applyP(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])"),
            R"({"foo":"bar","child":{"grandchild":{}}})");
}
TEST(Rfc6902, A11_IgnoreUnrecognizedElements) {
  EXPECT_EQ(applyP(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])"),
            R"({"foo":"bar","baz":"qux"})");
}
TEST(Rfc6902, A12_AddToNonexistentTarget) {
  EXPECT_EQ(errorOf(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"), "ERR_RT_PATH_NOT_FOUND");
}
TEST(Rfc6902, A13_InvalidPatchDocument) {
  // Duplicate "op": like JSON.parse the last one wins, so this is a remove of a missing member.
  EXPECT_EQ(errorOf(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","op":"remove"}])"),
            "ERR_RT_PATH_NOT_FOUND");
}
TEST(Rfc6902, A14_EscapeOrdering) {
  EXPECT_EQ(applyP(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])"), R"({"/":9,"~1":10})");
}
TEST(Rfc6902, A15_StringsAndNumbers) {
  EXPECT_EQ(errorOf(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])"), "ERR_RT_TEST_FAILED");
}
TEST(Rfc6902, A16_AddArrayValue) {
  EXPECT_EQ(applyP(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])"),
            R"({"foo":["bar",["abc","def"]]})");
}

TEST(Pointer, ParseAndEscape) {
  EXPECT_EQ(parsePointer("").size(), 0u);
  Tokens t = parsePointer("/a~1b/~0c/~01/");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0], "a/b");
  EXPECT_EQ(t[1], "~c");
  EXPECT_EQ(t[2], "~1");
  EXPECT_EQ(t[3], "");
  EXPECT_EQ(formatPointer(t), "/a~1b/~0c/~01/");
  EXPECT_THROW(parsePointer("a"), Error);
  EXPECT_THROW(parsePointer("/~2"), Error);
  EXPECT_THROW(parsePointer("/~"), Error);
  Json doc = parse(R"({"a":[10,20],"":{"01":1}})", Limits{});
  EXPECT_EQ(serialize(*resolve(doc, parsePointer("/a/1"))), "20");
  EXPECT_EQ(resolve(doc, parsePointer("/a/01")), nullptr);
  EXPECT_EQ(resolve(doc, parsePointer("/a/-")), nullptr);
  EXPECT_EQ(resolve(doc, parsePointer("/a/2")), nullptr);
  EXPECT_EQ(resolve(doc, parsePointer("/a/1e0")), nullptr);
  EXPECT_EQ(resolve(doc, parsePointer("/a/0/x")), nullptr);
  EXPECT_EQ(serialize(*resolve(doc, parsePointer("//01"))), "1");
}

TEST(Patch, StructuralValidationAndPrecedence) {
  const std::string d = R"({"a":1})";
  EXPECT_EQ(errorOf(d, R"({"op":"add"})"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([1])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"path":"/a"}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"nope","path":"/a"}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"add","path":1,"value":1}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"add","path":"/b"}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"move","path":"/b"}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"copy","path":"/b","from":5}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"add","path":"b","value":1}])"), "ERR_RT_INVALID_POINTER");
  EXPECT_EQ(errorOf(d, R"([{"op":"move","path":"/b","from":"/~x"}])"), "ERR_RT_INVALID_POINTER");
  EXPECT_EQ(applyP(d, R"([{"op":"add","path":"/b","value":null}])"), R"({"a":1,"b":null})");
  // Validation covers the whole patch before anything applies: op 0 would fail at apply time,
  // but the structurally invalid op 1 is reported.
  EXPECT_EQ(errorOf(d, R"([{"op":"remove","path":"/zz"},{"op":"bogus","path":"/a"}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(d, R"([{"op":"remove","path":"/zz"},{"op":"add","path":"x","value":1}])"), "ERR_RT_INVALID_POINTER");
  // The first invalid op wins.
  EXPECT_EQ(errorOf(d, R"([{"op":"add","path":"x","value":1},{"op":"bogus"}])"), "ERR_RT_INVALID_POINTER");
  // A document parse error comes before any patch error.
  EXPECT_EQ(errorOf("{", R"(5)"), "ERR_RT_INVALID_JSON");
  EXPECT_EQ(errorOf(d, "[,]"), "ERR_RT_INVALID_JSON");
  Limits few;
  few.maxPatchOps = 2;
  EXPECT_EQ(errorOf(d, R"([{"op":"test","path":"","value":1},{"op":"bogus"},{}])", few), "ERR_RT_TOO_MANY_OPS");
}

TEST(Patch, OpSemantics) {
  EXPECT_EQ(applyP(R"({"a":1})", R"([{"op":"add","path":"","value":[1]}])"), "[1]");
  EXPECT_EQ(applyP(R"({"a":1})", R"([{"op":"replace","path":"","value":3}])"), "3");
  EXPECT_EQ(applyP(R"({"a":1,"b":2})", R"([{"op":"add","path":"/a","value":5}])"), R"({"a":5,"b":2})");
  EXPECT_EQ(applyP(R"([1,2])", R"([{"op":"add","path":"/2","value":3}])"), "[1,2,3]");
  EXPECT_EQ(errorOf(R"([1,2])", R"([{"op":"add","path":"/3","value":3}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"([1,2])", R"([{"op":"add","path":"/01","value":3}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"([1,2])", R"([{"op":"replace","path":"/-","value":3}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"([1,2])", R"([{"op":"remove","path":"/2"}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"({"a":null})", R"([{"op":"add","path":"/a/b","value":1}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"({"a":"s"})", R"([{"op":"remove","path":"/a/0"}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(errorOf(R"({"a":1})", R"([{"op":"remove","path":""}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(errorOf(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])"), "ERR_RT_INVALID_PATCH");
  EXPECT_EQ(applyP(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a"}])"), R"({"a":{"b":1}})");
  EXPECT_EQ(errorOf(R"({"a":1})", R"([{"op":"move","from":"/x","path":"/x"}])"), "ERR_RT_PATH_NOT_FOUND");
EXPECT_EQ(applyP(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/ab"}])"), R"({"ab":1})");
  EXPECT_EQ(applyP(R"({"a":{"b":[1,2]}})", R"([{"op":"copy","from":"/a/b","path":"/a/c"}])"),
            R"({"a":{"b":[1,2],"c":[1,2]}})");
  EXPECT_EQ(applyP(R"({"a":[1,2,3]})", R"([{"op":"move","from":"/a/0","path":"/a/-"}])"), R"({"a":[2,3,1]})");
  EXPECT_EQ(applyP(R"({"a":{"x":1}})", R"([{"op":"move","from":"/a","path":""}])"), R"({"x":1})");
  EXPECT_EQ(applyP(R"({"b":1,"a":2})", R"([{"op":"remove","path":"/b"},{"op":"add","path":"/b","value":3}])"),
            R"({"a":2,"b":3})");
  EXPECT_EQ(applyP(R"({"b":1})", R"([{"op":"add","path":"/1","value":3},{"op":"add","path":"/0","value":4}])"),
            R"({"0":4,"1":3,"b":1})");
  EXPECT_EQ(applyP(R"({})", R"([{"op":"add","path":"/__proto__","value":{"x":1}}])"), R"({"__proto__":{"x":1}})");
  EXPECT_EQ(errorOf(R"({"a":[1]})", R"([{"op":"test","path":"/a/1","value":1}])"), "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(applyP(R"({"a":{"x":1,"y":[1,2]}})", R"([{"op":"test","path":"/a","value":{"y":[1,2.0],"x":1}}])"),
            R"({"a":{"x":1,"y":[1,2]}})");
}

TEST(Patch, MessagesNameOpAndPath) {
  std::string msg;
  EXPECT_EQ(errorOf(R"({"a":{}})",
                    R"([{"op":"test","path":"/a","value":{}},{"op":"add","path":"/a/x","value":1},{"op":"replace","path":"/a/b","value":1}])",
                    Limits{}, &msg),
            "ERR_RT_PATH_NOT_FOUND");
  EXPECT_EQ(msg, "op 2 (replace /a/b): path not found");
}

TEST(Patch, DepthLimit) {
  Limits l;
  l.maxDepth = 3;
  EXPECT_EQ(applyP(R"({"a":{}})", R"([{"op":"add","path":"/a/b","value":[1]}])", l), R"({"a":{"b":[1]}})");
  EXPECT_EQ(errorOf(R"({"a":{}})", R"([{"op":"add","path":"/a/b","value":[[1]]}])", l), "ERR_RT_TOO_DEEP");
  EXPECT_EQ(errorOf(R"({"a":{"b":[[1]]}})", R"([{"op":"copy","from":"/a","path":"/a/c"}])", l), "ERR_RT_TOO_DEEP");
  EXPECT_EQ(errorOf(R"({"a":{"b":[]},"c":{}})", R"([{"op":"move","from":"/a","path":"/c/d"}])", l), "ERR_RT_TOO_DEEP");
  // The patch text itself is parsed with maxDepth.
  EXPECT_EQ(errorOf(R"({})", R"([{"op":"add","path":"/a","value":[[1]]}])", l), "ERR_RT_TOO_DEEP");
}

TEST(Patch, GrowthLimitStopsCopyBombs) {
  std::string doc = R"({"a":"0123456789"})";
  std::string patch = "[";
  for (int i = 0; i < 40; ++i) {
    if (i) patch += ",";
    patch += R"({"op":"copy","from":"/a","path":"/a)" + std::to_string(i) + "\"}";
  }
  patch += "]";
  Limits l;
  l.maxPatchGrowthBytes = 100;  // each copy inserts 12 bytes
  std::string msg;
  EXPECT_EQ(errorOf(doc, patch, l, &msg), "ERR_RT_GROWTH_LIMIT");
  EXPECT_EQ(msg.rfind("op 8 (copy /a8)", 0), 0u) << msg;
  // The doubling bomb is refused long before it allocates much.
  std::string bomb = R"({"a":[1,2,3,4,5,6,7,8]})";
  std::string ops = "[";
  for (int i = 0; i < 60; ++i) {
    if (i) ops += ",";
    ops += R"({"op":"copy","from":"/a","path":"/a/0"})";
  }
  ops += "]";
  EXPECT_EQ(errorOf(bomb, ops), "ERR_RT_GROWTH_LIMIT");
  // Moves do not count as growth.
  Limits tiny;
  tiny.maxPatchGrowthBytes = 1;
  EXPECT_EQ(applyP(R"({"a":"long string value"})", R"([{"op":"move","from":"/a","path":"/b"}])", tiny),
            R"({"b":"long string value"})");
  EXPECT_EQ(errorOf(R"({})", R"([{"op":"add","path":"/a","value":1}])", tiny), "ERR_RT_GROWTH_LIMIT");
}

TEST(Patch, MutatorUndoRestoresExactly) {
  const char* docs[] = {R"({"b":1,"a":{"x":[1,2,{"y":3}]},"2":0})", R"([1,{"a":2},[3]])"};
  const char* patches[] = {
      R"([{"op":"remove","path":"/b"},{"op":"add","path":"/b","value":5},{"op":"move","from":"/a/x/2","path":"/c"},{"op":"copy","from":"/c","path":"/a/x/0"},{"op":"replace","path":"","value":1},{"op":"test","path":"","value":2}])",
      R"([{"op":"add","path":"/1","value":9},{"op":"remove","path":"/0"},{"op":"replace","path":"/1/a","value":[1]},{"op":"move","from":"/2","path":"/0"},{"op":"test","path":"/9","value":1}])",
  };
  for (int i = 0; i < 2; ++i) {
    Json doc = parse(docs[i], Limits{});
    std::string before = serialize(doc);
    std::string p = patches[i];
    Patch ops = parsePatch(p.data(), p.size(), Limits{});
    Mutator m(doc, true);
    EXPECT_THROW(applyOps(m, ops, Limits{}), Error);
    m.undo();
    EXPECT_EQ(serialize(doc), before);
  }
}

TEST(Patch, InverseRestoresOriginal) {
  Json doc = parse(R"({"b":1,"a":{"x":[1,2,{"y":3}]},"2":0})", Limits{});
  std::string before = serialize(doc);
  std::string p =
      R"([{"op":"remove","path":"/b"},{"op":"add","path":"/b","value":5},{"op":"move","from":"/a/x/2","path":"/c"},{"op":"copy","from":"/c","path":"/a/x/0"},{"op":"replace","path":"/2","value":7},{"op":"add","path":"/a/x/-","value":true}])";
  Patch ops = parsePatch(p.data(), p.size(), Limits{});
  Mutator m(doc, true);
  applyOps(m, ops, Limits{});
  Patch inv = m.takeInverse();
  Mutator back(doc, false);
  applyOps(back, inv, Limits{});
  // Equal in value; JSON Patch "add" cannot restore a member's position.
  EXPECT_TRUE(deepEqual(doc, parse(before, Limits{})));
}

}  // namespace
}  // namespace rtc
