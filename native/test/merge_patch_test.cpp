#include <gtest/gtest.h>

#include <string>

#include "json.h"
#include "merge_patch.h"

namespace rtc {
namespace {

std::string applyP(const std::string& doc, const std::string& patch, Limits l = Limits{}) {
  return applyMergePatchText(doc.data(), doc.size(), patch.data(), patch.size(), l);
}

std::string errorOf(const std::string& doc, const std::string& patch, Limits l = Limits{}) {
  try {
    applyP(doc, patch, l);
  } catch (const Error& e) {
    return e.code();
  }
  return "none";
}

// RFC 7396 appendix A, every example.
TEST(Rfc7396, AppendixA) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  } cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", R"(null)", R"(null)"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) EXPECT_EQ(applyP(c.target, c.patch), c.result) << c.target << " + " << c.patch;
}

TEST(MergePatch, Details) {
  EXPECT_EQ(applyP(R"({"a":1})", R"({"b":[1,null,{"c":null}]})"), R"({"a":1,"b":[1,null,{"c":null}]})");
  EXPECT_EQ(applyP(R"({"b":1,"a":2})", R"({"b":null,"c":1,"b2":{"x":null,"y":{}}})"), R"({"a":2,"c":1,"b2":{"y":{}}})");
  EXPECT_EQ(applyP(R"({"a":1})", R"({"5":1,"0":2})"), R"({"0":2,"5":1,"a":1})");
  EXPECT_EQ(applyP(R"({"a":5})", R"({"a":{"b":null,"c":1}})"), R"({"a":{"c":1}})");
  EXPECT_EQ(applyP(R"({"a":1})", R"({})"), R"({"a":1})");
  EXPECT_EQ(applyP(R"({"__proto__":{"x":1}})", R"({"__proto__":{"y":2}})"), R"({"__proto__":{"x":1,"y":2}})");
}

TEST(MergePatch, Depth) {
  Limits l;
  l.maxDepth = 3;
  EXPECT_EQ(applyP(R"({"a":{"b":{}}})", R"({"a":{"b":{"c":1}}})", l), R"({"a":{"b":{"c":1}}})");
  EXPECT_EQ(errorOf(R"({"a":{"b":{}}})", R"({"a":{"b":{"c":[]}}})", l), "ERR_RT_TOO_DEEP");
  EXPECT_EQ(errorOf(R"({"a":1})", R"({"a":{"b":{"c":{}}}})", l), "ERR_RT_TOO_DEEP");
  // Nulls that disappear do not count towards depth.
  EXPECT_EQ(applyP(R"({"a":1})", R"({"a":{"b":{"c":null}}})", l), R"({"a":{"b":{}}})");
  EXPECT_EQ(errorOf("[", "{}"), "ERR_RT_INVALID_JSON");
}

}  // namespace
}  // namespace rtc
