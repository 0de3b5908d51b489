#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "equality_cache.h"
#include "json.h"

namespace rtc {
namespace {

Limits defaults() { return Limits{}; }
Json P(const std::string& text, Limits l = defaults()) { return parse(text, l); }
std::string RT(const std::string& text) { return serialize(P(text)); }

std::string errorCode(const std::string& text, Limits l = defaults()) {
  try {
    parse(text, l);
  } catch (const Error& e) {
    return e.code();
  }
  return "none";
}

TEST(JsonParse, Scalars) {
  EXPECT_EQ(RT("null"), "null");
  EXPECT_EQ(RT("true"), "true");
  EXPECT_EQ(RT("false"), "false");
  EXPECT_EQ(RT(" \t\r\n 1 \n"), "1");
  EXPECT_EQ(RT("\"abc\""), "\"abc\"");
  EXPECT_TRUE(P("1").is_number_float());
  EXPECT_TRUE(P("12345678901234567890").is_number_float());
}

TEST(JsonParse, NumbersAreDoubles) {
  EXPECT_EQ(RT("1.0"), "1");
  EXPECT_EQ(RT("1e0"), "1");
  EXPECT_EQ(RT("-0"), "0");
  EXPECT_EQ(RT("-0.0e5"), "0");
  EXPECT_EQ(RT("9007199254740993"), "9007199254740992");
  EXPECT_EQ(RT("123456789012345678901"), "123456789012345680000");
  EXPECT_EQ(RT("1e400"), "null");  // Infinity, which JSON.stringify writes as null
  EXPECT_EQ(RT("-1e400"), "null");
  EXPECT_EQ(RT("1e-400"), "0");
  EXPECT_EQ(RT("0.1"), "0.1");
  EXPECT_EQ(RT("2.5E-3"), "0.0025");
  EXPECT_TRUE(deepEqual(P("1"), P("1.0")));
  EXPECT_TRUE(deepEqual(P("-0"), P("0")));
}

TEST(JsonSerialize, JsNumberFormatting) {
  auto num = [](double d) {
    std::string s;
    appendNumber(s, d);
    return s;
  };
  EXPECT_EQ(num(1e21), "1e+21");
  EXPECT_EQ(num(1e20), "100000000000000000000");
  EXPECT_EQ(num(1.5e-7), "1.5e-7");
  EXPECT_EQ(num(1e-6), "0.000001");
  EXPECT_EQ(num(1e-7), "1e-7");
  EXPECT_EQ(num(5e-324), "5e-324");
  EXPECT_EQ(num(0.1), "0.1");
  EXPECT_EQ(num(100), "100");
  EXPECT_EQ(num(1000000000000000), "1000000000000000");
  EXPECT_EQ(num(-0.0), "0");
  EXPECT_EQ(num(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(num(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(num(-1.5), "-1.5");
  EXPECT_EQ(num(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(num(123.456), "123.456");
  EXPECT_EQ(num(1.2e-5), "0.000012");
  EXPECT_EQ(num(4.35), "4.35");
  EXPECT_EQ(num(2e15), "2000000000000000");
  EXPECT_EQ(num(1.5e300), "1.5e+300");
  EXPECT_EQ(num(9007199254740992.0), "9007199254740992");
}

TEST(JsonSerialize, StringEscaping) {
  EXPECT_EQ(RT("\"a\\\"b\\\\c\\/d\""), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(RT("\"\\b\\f\\n\\r\\t\""), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(RT("\"\\u0001\\u001f\\u0000\""), "\"\\u0001\\u001f\\u0000\"");
  EXPECT_EQ(RT("\"\\u2028\\u2029\\u007f\""), "\"\xE2\x80\xA8\xE2\x80\xA9\x7F\"");
  EXPECT_EQ(RT("\"\\u00e9\\uD83D\\uDE00\""), "\"\xC3\xA9\xF0\x9F\x98\x80\"");
  EXPECT_EQ(RT("\"\xF0\x9F\x98\x80\""), "\"\xF0\x9F\x98\x80\"");
}

TEST(JsonParse, KeyOrderIsJavaScripts) {
  EXPECT_EQ(RT("{\"b\":1,\"a\":2,\"10\":3,\"2\":4,\"01\":5,\"-1\":6,\"4294967294\":7,\"4294967295\":8}"),
            "{\"2\":4,\"10\":3,\"4294967294\":7,\"b\":1,\"a\":2,\"01\":5,\"-1\":6,\"4294967295\":8}");
  EXPECT_EQ(RT("{\"z\":1,\"0\":2}"), "{\"0\":2,\"z\":1}");
}

TEST(JsonParse, DuplicateKeysKeepFirstPositionLastValue) {
  EXPECT_EQ(RT("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\":3,\"b\":2}");
  EXPECT_EQ(RT("{\"__proto__\":1,\"constructor\":{},\"__proto__\":2}"), "{\"__proto__\":2,\"constructor\":{}}");
  // Large objects switch to a hash set for duplicate detection.
  std::string text = "{";
  for (int i = 0; i < 100; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += "\"k5\":\"dup\"}";
  Json v = P(text);
  EXPECT_EQ(v.size(), 100u);
  EXPECT_EQ(members(v)[5].first, "k5");
  EXPECT_EQ(serialize(members(v)[5].second), "\"dup\"");
}

TEST(JsonParse, SyntaxErrors) {
  for (const char* bad : {"", " ", "{", "[1,]", "{\"a\":1,}", "+1", "01", "1.", ".5", "1e", "NaN", "Infinity", "'a'",
                          "[1 2]", "{\"a\" 1}", "{a:1}", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12G4\"", "1 2",
                          "/*c*/1", "\xEF\xBB\xBF{}", "\"a\tb\"", "\"\n\"", "[\x80]", "\v1", "\f1", "-", "--1"}) {
    EXPECT_EQ(errorCode(bad), "ERR_RT_INVALID_JSON") << bad;
  }
}

TEST(JsonParse, Utf8Validation) {
  EXPECT_EQ(errorCode("\"\xC3\""), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("\"\xC0\xAF\""), "ERR_RT_INVALID_UTF8");      // overlong
  EXPECT_EQ(errorCode("\"\xED\xA0\x80\""), "ERR_RT_INVALID_UTF8");  // WTF-8 surrogate
  EXPECT_EQ(errorCode("\"\xF4\x90\x80\x80\""), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("\"\xFF\""), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("\"\\uD800\""), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("\"\\uDC00\\uD800\""), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("\"\\uD800x\\uDC00\""), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("{\"\\uD800\":1}"), "ERR_RT_INVALID_UTF8");
  EXPECT_EQ(errorCode("\"\\uD800\\u0041\""), "ERR_RT_INVALID_UTF8");
}

TEST(JsonParse, ErrorPrecedence) {
  Limits small;
  small.maxDocumentBytes = 5;
  EXPECT_EQ(errorCode("[[[[[[", small), "ERR_RT_TOO_LARGE");
  Limits shallow;
  shallow.maxDepth = 2;
  EXPECT_EQ(errorCode("[[[1]]]", shallow), "ERR_RT_TOO_DEEP");
  EXPECT_EQ(errorCode("[[[1]]", shallow), "ERR_RT_INVALID_JSON");  // syntax beats depth
  EXPECT_EQ(errorCode("[[[\"\xFF\"]]]", shallow), "ERR_RT_TOO_DEEP");    // depth beats UTF-8
  EXPECT_EQ(errorCode("[\"\xFF\",]", shallow), "ERR_RT_INVALID_JSON");  // syntax beats UTF-8
  EXPECT_EQ(errorCode("[\"\\uD800\", 1"), "ERR_RT_INVALID_JSON");
  EXPECT_EQ(errorCode("[[1]]", shallow), "none");
}

TEST(JsonParse, DeepNestingDoesNotCrash) {
  const int n = 100000;
  std::string deep(n, '[');
  deep.append(n, ']');
  EXPECT_EQ(errorCode(deep), "ERR_RT_TOO_DEEP");
  std::string unbalanced(n, '[');
  EXPECT_EQ(errorCode(unbalanced), "ERR_RT_INVALID_JSON");
  std::string objs;
  for (int i = 0; i < n; ++i) objs += "{\"a\":";
  objs += "1";
  objs.append(n, '}');
  EXPECT_EQ(errorCode(objs), "ERR_RT_TOO_DEEP");

  // With a limit that allows it, the deep value is built, copied, compared, serialized and
  // destroyed without recursion.
  Limits unlimited;
  unlimited.maxDepth = 1000000;
  Json v = P(deep, unlimited);
  EXPECT_EQ(depth(v), static_cast<std::uint64_t>(n));
  Json copy = deepCopy(v);
  EXPECT_TRUE(deepEqual(v, copy));
  EXPECT_EQ(serialize(copy), deep);
  EXPECT_EQ(sizeOf(v), static_cast<std::uint64_t>(3 * n - 1));
}

TEST(Json, SizeOfAndDepth) {
  EXPECT_EQ(sizeOf(P("null")), 8u);
  EXPECT_EQ(sizeOf(P("true")), 8u);
  EXPECT_EQ(sizeOf(P("1.5")), 8u);
  EXPECT_EQ(sizeOf(P("\"\xC3\xA9\"")), 4u);
  EXPECT_EQ(sizeOf(P("[]")), 2u);
  EXPECT_EQ(sizeOf(P("[1,2]")), 2u + 9u + 9u);
  EXPECT_EQ(sizeOf(P("{\"ab\":1}")), 2u + (4u + 8u + 2u));
  EXPECT_EQ(depth(P("1")), 0u);
  EXPECT_EQ(depth(P("[]")), 1u);
  EXPECT_EQ(depth(P("{}")), 1u);
  EXPECT_EQ(depth(P("{\"a\":[1]}")), 2u);
  EXPECT_EQ(depth(P("[1,[2,[3]],{}]")), 3u);
}

TEST(Json, DeepEqualityIgnoresKeyOrder) {
  EXPECT_TRUE(deepEqual(P("{\"a\":1,\"b\":[1,{\"c\":2}]}"), P("{\"b\":[1,{\"c\":2.0}],\"a\":1}")));
  EXPECT_FALSE(deepEqual(P("[1,2]"), P("[2,1]")));
  EXPECT_FALSE(deepEqual(P("{\"a\":1}"), P("{\"a\":1,\"b\":2}")));
  EXPECT_FALSE(deepEqual(P("{\"a\":1}"), P("{\"b\":1}")));
  EXPECT_FALSE(deepEqual(P("1"), P("\"1\"")));
  EXPECT_FALSE(deepEqual(P("null"), P("false")));
  EXPECT_TRUE(deepEqual(P("\"x\""), P("\"x\"")));
}

TEST(Json, ObjectHelpersKeepJsOrder) {
  Json o = P("{\"b\":1,\"a\":2}");
  objSet(o, "5", Json(1.0));
  objSet(o, "1", Json(2.0));
  objSet(o, "c", Json(3.0));
  objSet(o, "b", Json(4.0));
  EXPECT_EQ(serialize(o), "{\"1\":2,\"5\":1,\"b\":4,\"a\":2,\"c\":3}");
  Json removed;
  std::size_t pos = 0;
  EXPECT_TRUE(objRemove(o, "b", &removed, &pos));
  EXPECT_EQ(pos, 2u);
  objSet(o, "b", Json(9.0));
  EXPECT_EQ(serialize(o), "{\"1\":2,\"5\":1,\"a\":2,\"c\":3,\"b\":9}");
  objRemove(o, "b");
  objInsertAt(o, 2, "b", Json(4.0));
  EXPECT_EQ(serialize(o), "{\"1\":2,\"5\":1,\"b\":4,\"a\":2,\"c\":3}");
  EXPECT_TRUE(isArrayIndexKey("0"));
  EXPECT_TRUE(isArrayIndexKey("4294967294"));
  EXPECT_FALSE(isArrayIndexKey("4294967295"));
  EXPECT_FALSE(isArrayIndexKey("01"));
  EXPECT_FALSE(isArrayIndexKey("-1"));
  EXPECT_FALSE(isArrayIndexKey("1e0"));
  EXPECT_FALSE(isArrayIndexKey(""));
}

TEST(JsonParse, LargeObjectIndexKeys) {
  std::string text = "{";
  for (int i = 199; i >= 0; --i) text += "\"" + std::to_string(i) + "\":" + std::to_string(i) + (i ? "," : "");
  text += "}";
  Json v = P(text);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(members(v)[static_cast<std::size_t>(i)].first, std::to_string(i));
}

}  // namespace
TEST(JsonParse, IndexKeysAndDuplicatesInManyShapes) {
  EXPECT_EQ(RT(R"({"b":1,"2":2,"a":3,"10":4,"1":5})"), R"({"1":5,"2":2,"10":4,"b":1,"a":3})");
  EXPECT_EQ(RT(R"({"b":1,"a":2,"b":3})"), R"({"b":3,"a":2})");
  EXPECT_EQ(RT(R"({"1":1,"x":2,"1":3,"0":4})"), R"({"0":4,"1":3,"x":2})");
  EXPECT_EQ(RT(R"({"01":1,"4294967295":2,"4294967294":3,"-1":4})"), R"({"4294967294":3,"01":1,"4294967295":2,"-1":4})");
  // More than the small-object threshold, with a duplicate at the end.
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += "\"k3\":\"last\"}";
  Json v = P(text);
  ASSERT_EQ(v.size(), 40u);
  EXPECT_EQ(serialize(members(v)[3].second), "\"last\"");
  EXPECT_EQ(members(v)[39].first, "k39");
}

TEST(Json, ReleaseEmptiesAnyTree) {
  Json v = P(R"({"a":[1,{"b":[[],{}],"c":"x"}],"d":{"e":{"f":[null,true]}}})");
  release(v);
  EXPECT_TRUE(v.is_null());
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  Limits l;
  l.maxDepth = 100000;
  Json d = P(deep, l);
  release(d);
  EXPECT_TRUE(d.is_null());
  Json s = P("\"abc\"");
  release(s);  // scalars are left as they are
}

TEST(JsonSerialize, RefsStandForDocumentParts) {
  Json doc = P(R"({"items":[{"id":1,"t":"a\nb"}],"n":2})");
  const Json* refs[] = {objGet(doc, "items"), objGet(doc, "n")};
  Json tree = makeObject();
  objSet(tree, "x", makeRef(0));
  objSet(tree, "y", P("[1,2]"));
  objSet(tree, "z", makeRef(1));
  std::string out;
  serializeWithRefs(out, tree, refs);
  EXPECT_EQ(out, R"({"x":[{"id":1,"t":"a\nb"}],"y":[1,2],"z":2})");
  std::string top = "prefix:";
  serializeWithRefs(top, makeRef(0), refs);
  EXPECT_EQ(top, R"(prefix:[{"id":1,"t":"a\nb"}])");
}

TEST(JsonSerialize, AppendsToExistingText) {
  std::string out = "[";
  for (int i = 0; i < 1000; ++i) {
    if (i) out.push_back(',');
    serializeTo(out, P(R"({"a":"\u0001\"x"})"));
  }
  out.push_back(']');
  EXPECT_EQ(out.size(), 2u + 1000u * 17u + 999u);
  EXPECT_EQ(out.substr(0, 19), R"([{"a":"\u0001\"x"},)");
  std::string q = "k=";
  appendQuoted(q, std::string("\x7f\xe2\x80\xa8\t"));
  EXPECT_EQ(q, "k=\"\x7f\xe2\x80\xa8\\t\"");
}

}  // namespace rtc

// EqualityCache must agree with deepEqual whatever it has memoized, in either argument order.
namespace rtc {
namespace {
TEST(EqualityCache, AgreesWithDeepEqualAcrossRepeatedQueries) {
  const char* texts[] = {
      R"({"a":{"x":[1,{"y":-0}],"z":"s"},"b":[{"id":1,"v":[true,null]},{"id":2}]})",
      R"({"b":[{"id":1,"v":[true,null]},{"id":2}],"a":{"z":"s","x":[1,{"y":0}]}})",
      R"({"a":{"x":[1,{"y":1}],"z":"s"},"b":[{"id":1,"v":[true,null]},{"id":2}]})",
      R"({"a":{"x":[1,{"y":0}],"z":"s"},"b":[{"id":1,"v":[true,false]},{"id":2}]})",
      R"({"a":{"x":[1,{"y":0}],"z":"s"},"b":[{"id":1,"v":[true,null]},{"id":2,"w":{}}]})",
      R"({"a":{"x":[1,{"y":0}],"q":"s"},"b":[{"id":1,"v":[true,null]},{"id":2}]})",
  };
  std::vector<Json> docs;
  for (const char* t : texts) docs.push_back(parse(t, Limits{}));
  // Every node of a document, so sub-pairs are asked about after (and before) their parents.
  auto nodes = [](const Json& root) {
    std::vector<const Json*> out{&root};
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i]->is_array()) {
        for (const Json& c : out[i]->get_ref<const Array&>()) out.push_back(&c);
      } else if (out[i]->is_object()) {
        for (const auto& kv : members(*out[i])) out.push_back(&kv.second);
      }
    }
    return out;
  };
  for (int pass = 0; pass < 2; ++pass) {
    EqualityCache eq;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      for (std::size_t j = 0; j < docs.size(); ++j) {
        std::vector<const Json*> a = nodes(docs[i]), b = nodes(docs[j]);
        if (pass) std::reverse(a.begin(), a.end());
        for (const Json* x : a) {
          for (const Json* y : b) {
            ASSERT_EQ(eq.equal(*x, *y), deepEqual(*x, *y)) << serialize(*x) << " vs " << serialize(*y);
            ASSERT_EQ(eq.equal(y, x), deepEqual(*y, *x));
          }
        }
      }
    }
    EXPECT_TRUE(eq.equal(nullptr, nullptr));
    EXPECT_FALSE(eq.equal(&docs[0], nullptr));
  }
}
}  // namespace
}  // namespace rtc
