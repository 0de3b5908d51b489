#include "json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

namespace rtc {

using nlohmann::detail::value_t;

// ---------------------------------------------------------------------------------------------
// Object helpers

namespace {

using Container = Object::Container;

Container& vec(Json& obj) { return static_cast<Container&>(obj.get_ref<Object&>()); }
const Container& vec(const Json& obj) { return static_cast<const Container&>(obj.get_ref<const Object&>()); }

// Canonical index keys compare numerically; for canonical decimals that is (length, bytes).
bool indexKeyLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// Position where a new key goes in JavaScript order.
std::size_t newKeyPosition(const Container& v, std::string_view key) {
  if (!isArrayIndexKey(key)) return v.size();
  // Index keys form a prefix; find its end, then the sorted position inside it.
  std::size_t lo = 0, hi = v.size();
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (isArrayIndexKey(v[mid].first)) lo = mid + 1; else hi = mid;
  }
  std::size_t end = lo;
  lo = 0;
  hi = end;
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (indexKeyLess(v[mid].first, key)) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// std::vector would grow a vector of pair<const std::string, Json> by *copying* every member
// (the pair's move constructor may throw, since the const key can only be copied), which deep
// copies whole subtrees. Grow by hand instead: keys are copied, values are moved.
void reserveFor(Container& v, std::size_t extra) {
  if (v.size() + extra <= v.capacity()) return;
  Container grown;
  grown.reserve(std::max<std::size_t>(v.capacity() * 2, v.size() + extra));
  for (auto& kv : v) grown.emplace_back(kv.first, std::move(kv.second));
  v.swap(grown);
}

// pair<const std::string, Json> is not assignable, so shifting uses destroy + construct
// (the same technique nlohmann::ordered_map::erase uses).
Json& insertAtPosition(Container& v, std::size_t pos, std::string&& key, Json&& value) {
  reserveFor(v, 1);
  v.emplace_back(std::move(key), std::move(value));
  if (pos + 1 >= v.size()) return v.back().second;
  using Pair = Container::value_type;
  Pair tmp(std::move(v.back()));
  for (std::size_t i = v.size() - 1; i > pos; --i) {
    v[i].~Pair();
    new (&v[i]) Pair(std::move(v[i - 1]));
  }
  v[pos].~Pair();
  new (&v[pos]) Pair(std::move(tmp));
  return v[pos].second;
}

}  // namespace

bool isArrayIndexKey(std::string_view key, std::uint32_t* index) {
  if (key.empty() || key.size() > 10) return false;
  if (key[0] == '0') {
    if (key.size() != 1) return false;
    if (index) *index = 0;
    return true;
  }
  std::uint64_t n = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n > 4294967294ull) return false;
  if (index) *index = static_cast<std::uint32_t>(n);
  return true;
}

bool parseArrayIndexToken(std::string_view token, std::size_t* index) {
  if (token.empty() || token.size() > 16) return false;
  if (token[0] == '0' && token.size() != 1) return false;
  std::size_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  *index = n;
  return true;
}

std::ptrdiff_t objIndexOf(const Json& obj, std::string_view key) {
  const Container& v = vec(obj);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].first.size() == key.size() && std::string_view(v[i].first) == key) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

const Json* objGet(const Json& obj, std::string_view key) {
  std::ptrdiff_t i = objIndexOf(obj, key);
  return i < 0 ? nullptr : &vec(obj)[static_cast<std::size_t>(i)].second;
}

Json* objGet(Json& obj, std::string_view key) {
  std::ptrdiff_t i = objIndexOf(obj, key);
  return i < 0 ? nullptr : &vec(obj)[static_cast<std::size_t>(i)].second;
}

Json& objSet(Json& obj, std::string key, Json value) {
  Container& v = vec(obj);
  std::ptrdiff_t i = objIndexOf(obj, key);
  if (i >= 0) {
    Json& slot = v[static_cast<std::size_t>(i)].second;
    slot = std::move(value);
    return slot;
  }
  return insertAtPosition(v, newKeyPosition(v, key), std::move(key), std::move(value));
}

Json& objInsertAt(Json& obj, std::size_t pos, std::string key, Json value) {
  Container& v = vec(obj);
  if (pos > v.size()) pos = v.size();
  return insertAtPosition(v, pos, std::move(key), std::move(value));
}

bool objRemove(Json& obj, std::string_view key, Json* removed, std::size_t* position) {
  std::ptrdiff_t i = objIndexOf(obj, key);
  if (i < 0) return false;
  Object& o = obj.get_ref<Object&>();
  auto it = o.begin() + i;
  if (removed) *removed = std::move(it->second);
  if (position) *position = static_cast<std::size_t>(i);
  o.erase(it);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Parser

// One code point as UTF-8 (also used by the addon to turn UTF-16 into WTF-8).
void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

inline bool isWs(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
inline int hexVal(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


// Length of a well-formed UTF-8 sequence starting at p, or 0 (RFC 3629 table 3-7).
inline std::size_t utf8SeqLen(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  auto cont = [&](std::size_t i, unsigned char lo, unsigned char hi) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

// An open container while building. Its members live on the parser's scratch stacks (vals_,
// keys_) until it closes, so each container is allocated once with its final size and keys are
// moved, never copied (a vector of pair<const std::string, Json> copies keys when it grows).
struct Frame {
  std::size_t valStart;
  std::size_t keyStart;
  bool indexKeys;  // some key is an array index: JavaScript order differs from text order
};

// 1 for bytes a string token copies as they are: printable ASCII other than '"' and '\\'.
struct PlainTable {
  unsigned char t[256];
  constexpr PlainTable() : t() {
    for (int c = 0x20; c < 0x80; ++c) t[c] = 1;
    t[static_cast<unsigned char>('"')] = 0;
    t[static_cast<unsigned char>('\\')] = 0;
  }
};
constexpr PlainTable kPlain;

class Parser {
 public:
  Parser(const char* data, std::size_t size, const Limits& limits)
      : p_(reinterpret_cast<const unsigned char*>(data)),
        begin_(p_),
        end_(p_ + size),
        maxDepth_(limits.maxDepth) {
    // Scratch stacks sized for typical documents, so small parses do not regrow them.
    vals_.reserve(32);
    keys_.reserve(32);
    frames_.reserve(8);
    kinds_.reserve(8);
  }

  Json run() {
    Json result;
    bool haveResult = false;
    skipWs();
    for (;;) {
      // A value is expected here.
      if (p_ >= end_) fail();
      unsigned char c = *p_;
      Json scalar;
      bool scalarDone = true;
      switch (c) {
        case '{':
        case '[': {
          ++p_;
          kinds_.push_back(c);
          if (kinds_.size() > maxDepth_ && !depthError_) {
            depthError_ = true;
            stopBuilding();
          }
          if (building_) frames_.push_back({vals_.size(), keys_.size(), false});
          skipWs();
          if (p_ >= end_) fail();
          if (c == '{') {
            if (*p_ == '}') {
              ++p_;
              scalarDone = false;
              if (!closeContainer(result, haveResult, c)) goto after_value;
              goto finished;
            }
            readKey();
          } else {
            if (*p_ == ']') {
              ++p_;
              scalarDone = false;
              if (!closeContainer(result, haveResult, c)) goto after_value;
              goto finished;
            }
          }
          continue;
        }
        case '"':
          if (building_) {
            std::string s;
            readString(&s);
            scalar = Json(std::move(s));
          } else {
            readString(nullptr);
          }
          break;
        case 't':
          literal("true", 4);
          scalar = Json(true);
          break;
        case 'f':
          literal("false", 5);
          scalar = Json(false);
          break;
        case 'n':
          literal("null", 4);
          break;
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            scalar = Json(readNumber());
          } else {
            fail();
          }
      }
      if (scalarDone) {
        if (kinds_.empty()) {
          if (building_) result = std::move(scalar);
          haveResult = true;
          goto finished;
        }
        if (building_) attach(std::move(scalar));
      }
    after_value:
      // A value just completed inside a container: expect ',' or the closing bracket.
      for (;;) {
        skipWs();
        if (p_ >= end_) fail();
        unsigned char k = kinds_.back();
        unsigned char d = *p_;
        if (d == ',') {
          ++p_;
          skipWs();
          if (k == '{') readKey();
          break;
        }
        if ((k == '{' && d == '}') || (k == '[' && d == ']')) {
          ++p_;
          if (closeContainer(result, haveResult, k)) goto finished;
          continue;
        }
        fail();
      }
    }
  finished:
    skipWs();
    if (p_ != end_) fail();
    if (depthError_) throw Error(codes::kTooDeep, "JSON nesting exceeds maxDepth (" + std::to_string(maxDepth_) + ")");
    if (utf8Error_) throw Error(codes::kInvalidUtf8, "JSON text is not well-formed Unicode");
    (void)haveResult;
    return result;
  }

 private:
  [[noreturn]] void fail() {
    if (p_ >= end_) throw Error(codes::kInvalidJson, "Unexpected end of JSON input");
    throw Error(codes::kInvalidJson, "Unexpected token in JSON at position " + std::to_string(p_ - begin_));
  }

  void skipWs() {
    while (p_ < end_ && isWs(*p_)) ++p_;
  }

  void stopBuilding() {
    building_ = false;
    frames_.clear();
    vals_.clear();
    keys_.clear();
  }

  void literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      // Point at the first mismatching byte, like JSON.parse does.
      for (std::size_t i = 0; p_ < end_ && i < n && *p_ == static_cast<unsigned char>(word[i]); ++i) ++p_;
      fail();
    }
    for (std::size_t i = 0; i < n; ++i, ++p_) {
      if (*p_ != static_cast<unsigned char>(word[i])) fail();
    }
  }

  double readNumber() {
    const unsigned char* start = p_;
    bool neg = false;
    if (*p_ == '-') {
      neg = true;
      ++p_;
    }
    if (p_ >= end_) fail();
    std::uint64_t intPart = 0;
    std::size_t intDigits = 0;
    if (*p_ == '0') {
      ++p_;
      intDigits = 1;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        if (intDigits < 19) intPart = intPart * 10 + (*p_ - '0');
        ++intDigits;
        ++p_;
      }
    } else {
      fail();
    }
    bool simple = true;
    if (p_ < end_ && *p_ == '.') {
      simple = false;
      ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail();
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      simple = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail();
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (!building_) return 0;
    if (simple && intDigits <= 15) {
      double d = static_cast<double>(intPart);
      return neg ? -d : d;
    }
    double value = 0;
    auto res = std::from_chars(reinterpret_cast<const char*>(start), reinterpret_cast<const char*>(p_), value);
    if (res.ec == std::errc()) return value;
    // Out of range: strtod gives the JavaScript answer (Infinity, or 0 on underflow).
    std::string copy(reinterpret_cast<const char*>(start), static_cast<std::size_t>(p_ - start));
    return std::strtod(copy.c_str(), nullptr);
  }

  void readKey() {
    if (p_ >= end_ || *p_ != '"') fail();
    if (building_) {
      keys_.emplace_back();
      readString(&keys_.back());
      // readString may have stopped building (bad UTF-8), which clears the stacks.
      if (building_ && isArrayIndexKey(keys_.back())) frames_.back().indexKeys = true;
    } else {
      readString(nullptr);
    }
    skipWs();
    if (p_ >= end_ || *p_ != ':') fail();
    ++p_;
    skipWs();
  }

  bool readHex4(std::uint32_t* out) {
    if (end_ - p_ < 4) {
      while (p_ < end_ && hexVal(*p_) >= 0) ++p_;
      fail();
    }
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hexVal(p_[i]);
      if (h < 0) {
        p_ += i;
        fail();
      }
      v = (v << 4) | static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    *out = v;
    return true;
  }

  // p_ at the opening quote. out == nullptr: validate only.
  void readString(std::string* out) {
    ++p_;
    for (;;) {
      const unsigned char* run = p_;
      while (p_ < end_ && kPlain.t[*p_]) ++p_;
      if (out && p_ > run) out->append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p_ - run));
      if (p_ >= end_) fail();
      unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return;
      }
      if (c < 0x20) fail();
      if (c == '\\') {
        ++p_;
        if (p_ >= end_) fail();
        unsigned char e = *p_++;
        char simple = 0;
        switch (e) {
          case '"': simple = '"'; break;
          case '\\': simple = '\\'; break;
          case '/': simple = '/'; break;
          case 'b': simple = '\b'; break;
          case 'f': simple = '\f'; break;
          case 'n': simple = '\n'; break;
          case 'r': simple = '\r'; break;
          case 't': simple = '\t'; break;
          case 'u': {
            std::uint32_t cp;
            readHex4(&cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              // Only an immediately following low-surrogate escape completes the pair.
              std::uint32_t lo = 0;
              if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' && hexVal(p_[2]) >= 0 && hexVal(p_[3]) >= 0 &&
                  hexVal(p_[4]) >= 0 && hexVal(p_[5]) >= 0) {
                lo = static_cast<std::uint32_t>((hexVal(p_[2]) << 12) | (hexVal(p_[3]) << 8) | (hexVal(p_[4]) << 4) |
                                                hexVal(p_[5]));
              }
              if (lo >= 0xDC00 && lo <= 0xDFFF) {
                p_ += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              } else {
                markUtf8Error();
                out = nullptr;
                continue;
              }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              markUtf8Error();
              out = nullptr;
              continue;
            }
            if (out) appendUtf8(*out, cp);
            continue;
          }
          default:
            --p_;
            fail();
        }
        if (out) out->push_back(simple);
        continue;
      }
      // Non-ASCII byte.
      std::size_t n = utf8SeqLen(p_, end_);
      if (n == 0) {
        markUtf8Error();
        out = nullptr;
        ++p_;
        continue;
      }
      if (out) out->append(reinterpret_cast<const char*>(p_), n);
      p_ += n;
    }
  }

  void markUtf8Error() {
    if (!utf8Error_) {
      utf8Error_ = true;
      stopBuilding();
    }
  }

  void attach(Json&& v) { vals_.push_back(std::move(v)); }

  Json buildArray(const Frame& f) {
    Json out = makeArray();
    Array& a = out.get_ref<Array&>();
    a.reserve(vals_.size() - f.valStart);
    for (std::size_t i = f.valStart; i < vals_.size(); ++i) a.push_back(std::move(vals_[i]));
    return out;
  }

  bool hasDuplicateKey(std::size_t from, std::size_t to) {
    std::size_t n = to - from;
    if (n <= 8) {
      for (std::size_t i = from; i < to; ++i) {
        for (std::size_t j = i + 1; j < to; ++j) {
          if (keys_[i] == keys_[j]) return true;
        }
      }
      return false;
    }
    views_.assign(keys_.begin() + static_cast<std::ptrdiff_t>(from), keys_.begin() + static_cast<std::ptrdiff_t>(to));
    std::sort(views_.begin(), views_.end());
    return std::adjacent_find(views_.begin(), views_.end()) != views_.end();
  }

  Json buildObject(const Frame& f) {
    const std::size_t n = keys_.size() - f.keyStart;
    Json out = makeObject();
    Container& c = vec(out);
    const bool dup = n > 1 && hasDuplicateKey(f.keyStart, keys_.size());
    if (!dup && !f.indexKeys) {
      c.reserve(n);
      for (std::size_t i = 0; i < n; ++i) c.emplace_back(std::move(keys_[f.keyStart + i]), std::move(vals_[f.valStart + i]));
      return out;
    }
    // JSON.parse order: a duplicate keeps its first position and takes the last value; index
    // keys come first in ascending order, then the others in text order.
    std::vector<char> live(n, 1);
    if (dup) {
      std::unordered_map<std::string_view, std::size_t> first;
      first.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        auto ins = first.emplace(keys_[f.keyStart + i], i);
        if (!ins.second) {
          vals_[f.valStart + ins.first->second] = std::move(vals_[f.valStart + i]);
          live[i] = 0;
        }
      }
    }
    std::vector<std::size_t> order;
    order.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (live[i] && isArrayIndexKey(keys_[f.keyStart + i])) order.push_back(i);
    }
    std::sort(order.begin(), order.end(),
              [&](std::size_t x, std::size_t y) { return indexKeyLess(keys_[f.keyStart + x], keys_[f.keyStart + y]); });
    for (std::size_t i = 0; i < n; ++i) {
      if (live[i] && !isArrayIndexKey(keys_[f.keyStart + i])) order.push_back(i);
    }
    c.reserve(order.size());
    for (std::size_t i : order) c.emplace_back(std::move(keys_[f.keyStart + i]), std::move(vals_[f.valStart + i]));
    return out;
  }

  // Closes the innermost container; returns true when it was the top-level value.
  bool closeContainer(Json& result, bool& haveResult, unsigned char kind) {
    kinds_.pop_back();
    if (building_) {
      Frame f = frames_.back();
      frames_.pop_back();
      Json done = kind == '{' ? buildObject(f) : buildArray(f);
      keys_.resize(f.keyStart);
      vals_.resize(f.valStart);
      if (kinds_.empty()) {
        result = std::move(done);
        haveResult = true;
        return true;
      }
      vals_.push_back(std::move(done));
      return false;
    }
    if (kinds_.empty()) {
      haveResult = true;
      return true;
    }
    return false;
  }

  const unsigned char* p_;
  const unsigned char* begin_;
  const unsigned char* end_;
  std::uint64_t maxDepth_;
  bool building_ = true;
  bool depthError_ = false;
  bool utf8Error_ = false;
  std::vector<unsigned char> kinds_;
  std::vector<Frame> frames_;
  std::vector<Json> vals_;
  std::vector<std::string> keys_;
  std::vector<std::string_view> views_;
};

}  // namespace

Json parse(const char* data, std::size_t size, const Limits& limits) {
  if (size > limits.maxDocumentBytes) {
    throw Error(codes::kTooLarge, "JSON text is " + std::to_string(size) + " bytes, more than maxDocumentBytes (" +
                                      std::to_string(limits.maxDocumentBytes) + ")");
  }
  Parser parser(data, size, limits);
  return parser.run();
}

// ---------------------------------------------------------------------------------------------
// Serializer

namespace {

// Number::toString of d into buf (at least 32 bytes); returns the end.
char* formatNumber(char* out, double d) {
  if (!std::isfinite(d)) {
    std::memcpy(out, "null", 4);
    return out + 4;
  }
  if (d == 0) {
    *out = '0';
    return out + 1;
  }
  if (std::fabs(d) < 1e15 && d == std::trunc(d)) {
    return std::to_chars(out, out + 32, static_cast<std::int64_t>(d)).ptr;
  }
  // Shortest round-trip digits, then ECMAScript Number::toString layout.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const char* p = buf;
  const char* end = r.ptr;
  bool neg = false;
  if (*p == '-') {
    neg = true;
    ++p;
  }
  char digits[32];
  int k = 0;
  while (p < end && *p != 'e') {
    if (*p != '.') digits[k++] = *p;
    ++p;
  }
  int e = 0;
  if (p < end) {
    ++p;
    bool eneg = false;
    if (*p == '+' || *p == '-') eneg = *p++ == '-';
    while (p < end) e = e * 10 + (*p++ - '0');
    if (eneg) e = -e;
  }
  while (k > 1 && digits[k - 1] == '0') --k;
  int n = e + 1;
  char* o = out;
  if (neg) *o++ = '-';
  if (k <= n && n <= 21) {
    std::memcpy(o, digits, static_cast<std::size_t>(k));
    o += k;
    std::memset(o, '0', static_cast<std::size_t>(n - k));
    o += n - k;
  } else if (0 < n && n <= 21) {
    std::memcpy(o, digits, static_cast<std::size_t>(n));
    o += n;
    *o++ = '.';
    std::memcpy(o, digits + n, static_cast<std::size_t>(k - n));
    o += k - n;
  } else if (-6 < n && n <= 0) {
    *o++ = '0';
    *o++ = '.';
    std::memset(o, '0', static_cast<std::size_t>(-n));
    o += -n;
    std::memcpy(o, digits, static_cast<std::size_t>(k));
    o += k;
  } else {
    *o++ = digits[0];
    if (k > 1) {
      *o++ = '.';
      std::memcpy(o, digits + 1, static_cast<std::size_t>(k - 1));
      o += k - 1;
    }
    *o++ = 'e';
    int x = n - 1;
    *o++ = x < 0 ? '-' : '+';
    o = std::to_chars(o, o + 8, x < 0 ? -x : x).ptr;
  }
  return o;
}

// Appends to a std::string through a raw pointer: the string is grown geometrically and cut to
// length at the end, so each byte costs no capacity check and no out-of-line call.
class Writer {
 public:
  explicit Writer(std::string& s) : s_(s), start_(s.size()), len_(s.size()), buf_(&s[0]), cap_(s.size()) {}
  ~Writer() { s_.resize(len_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  char* room(std::size_t n) {
    if (cap_ - len_ < n) grow(n);
    return buf_ + len_;
  }
  void setEnd(char* p) { len_ = static_cast<std::size_t>(p - buf_); }
  void put(char c) { *room(1) = c; ++len_; }
  void put(const char* p, std::size_t n) {
    std::memcpy(room(n), p, n);
    len_ += n;
  }

 private:
  // Grows by what this writer has written so far (geometric), never by the size of what the
  // string held before: many small serializations into one long string stay linear.
  void grow(std::size_t n) {
    std::size_t step = std::max<std::size_t>({n, 64, len_ - start_});
    s_.resize(len_ + step);
    buf_ = &s_[0];
    cap_ = s_.size();
  }

  std::string& s_;
  std::size_t start_;
  std::size_t len_;
  char* buf_;
  std::size_t cap_;
};

// 1 for bytes JSON.stringify escapes.
struct EscapeTable {
  unsigned char t[256];
  constexpr EscapeTable() : t() {
    for (int c = 0; c < 0x20; ++c) t[c] = 1;
    t[static_cast<unsigned char>('"')] = 1;
    t[static_cast<unsigned char>('\\')] = 1;
  }
};
constexpr EscapeTable kEscape;

void writeQuoted(Writer& w, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  char* o = w.room(s.size() + 2);
  *o++ = '"';
  for (;;) {
    const unsigned char* run = p;
    while (p < end && !kEscape.t[*p]) ++p;
    std::memcpy(o, run, static_cast<std::size_t>(p - run));
    o += p - run;
    if (p >= end) break;
    // An escape needs up to 6 bytes; make room for it and the rest of the string.
    w.setEnd(o);
    o = w.room(static_cast<std::size_t>(end - p) + 7);
    unsigned char c = *p++;
    *o++ = '\\';
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      default:
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = kHex[c >> 4];
        *o++ = kHex[c & 15];
    }
  }
  *o++ = '"';
  w.setEnd(o);
}

void writeScalar(Writer& w, const Json& v) {
  switch (v.type()) {
    case value_t::null: w.put("null", 4); break;
    case value_t::boolean:
      if (v.get<bool>()) w.put("true", 4);
      else w.put("false", 5);
      break;
    case value_t::number_float: w.setEnd(formatNumber(w.room(32), v.get<double>())); break;
    case value_t::number_integer: w.setEnd(formatNumber(w.room(32), static_cast<double>(v.get<std::int64_t>()))); break;
    case value_t::number_unsigned: w.setEnd(formatNumber(w.room(32), static_cast<double>(v.get<std::uint64_t>()))); break;
    case value_t::string: writeQuoted(w, v.get_ref<const std::string&>()); break;
    default: w.put("null", 4); break;  // binary/discarded never occur; keep output valid
  }
}

// Iterative: documents may be nested as deep as maxDepth allows. A number_unsigned node stands
// for *refs[n] when refs is given (see serializeWithRefs).
void writeValue(Writer& w, const Json& value, const Json* const* refs) {
  struct Item {
    const Json* node;
    std::size_t next;
  };
  auto resolved = [refs](const Json* v) {
    return refs && v->type() == value_t::number_unsigned ? refs[v->get<std::uint64_t>()] : v;
  };
  const Json* root = resolved(&value);
  if (!root->is_structured()) {
    writeScalar(w, *root);
    return;
  }
  std::vector<Item> stack;
  stack.reserve(16);
  stack.push_back({root, 0});
  w.put(root->is_object() ? '{' : '[');
  while (!stack.empty()) {
    Item& top = stack.back();
    const Json* child;
    if (top.node->is_object()) {
      const Container& c = vec(*top.node);
      if (top.next == c.size()) {
        w.put('}');
        stack.pop_back();
        continue;
      }
      if (top.next) w.put(',');
      writeQuoted(w, c[top.next].first);
      w.put(':');
      child = &c[top.next].second;
    } else {
      const Array& a = top.node->get_ref<const Array&>();
      if (top.next == a.size()) {
        w.put(']');
        stack.pop_back();
        continue;
      }
      if (top.next) w.put(',');
      child = &a[top.next];
    }
    ++top.next;
    child = resolved(child);
    if (child->is_structured()) {
      w.put(child->is_object() ? '{' : '[');
      stack.push_back({child, 0});  // may invalidate `top`; not used after this point
    } else {
      writeScalar(w, *child);
    }
  }
}

}  // namespace

void appendNumber(std::string& out, double d) {
  char buf[48];
  out.append(buf, formatNumber(buf, d));
}

void appendQuoted(std::string& out, std::string_view s) {
  Writer w(out);
  writeQuoted(w, s);
}


void serializeTo(std::string& out, const Json& value) {
  Writer w(out);
  writeValue(w, value, nullptr);
}

void serializeWithRefs(std::string& out, const Json& value, const Json* const* refs) {
  Writer w(out);
  writeValue(w, value, refs);
}

std::string serialize(const Json& value) {
  std::string out;
  serializeTo(out, value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Equality, copy, size, depth

namespace {

inline bool isNumber(const Json& v) { return v.is_number(); }
inline double numberOf(const Json& v) {
  switch (v.type()) {
    case value_t::number_integer: return static_cast<double>(v.get<std::int64_t>());
    case value_t::number_unsigned: return static_cast<double>(v.get<std::uint64_t>());
    default: return v.get<double>();
  }
}
}  // namespace

bool deepEqual(const Json& a, const Json& b) {
  // Scalars (and mismatched kinds) without the heap stack.
  if (!a.is_structured() || !b.is_structured() || a.type() != b.type()) {
    if (isNumber(a) || isNumber(b)) return isNumber(a) && isNumber(b) && numberOf(a) == numberOf(b);
    if (a.type() != b.type()) return false;
    switch (a.type()) {
      case value_t::null: return true;
      case value_t::boolean: return a.get<bool>() == b.get<bool>();
      case value_t::string: return a.get_ref<const std::string&>() == b.get_ref<const std::string&>();
      default: return false;
    }
  }
  std::vector<std::pair<const Json*, const Json*>> stack;
  stack.emplace_back(&a, &b);
  while (!stack.empty()) {
    auto [x, y] = stack.back();
    stack.pop_back();
    if (isNumber(*x) || isNumber(*y)) {
      if (!isNumber(*x) || !isNumber(*y) || numberOf(*x) != numberOf(*y)) return false;
      continue;
    }
    if (x->type() != y->type()) return false;
    switch (x->type()) {
      case value_t::null: break;
      case value_t::boolean:
        if (x->get<bool>() != y->get<bool>()) return false;
        break;
      case value_t::string:
        if (x->get_ref<const std::string&>() != y->get_ref<const std::string&>()) return false;
        break;
      case value_t::array: {
        const Array& xa = x->get_ref<const Array&>();
        const Array& ya = y->get_ref<const Array&>();
        if (xa.size() != ya.size()) return false;
        for (std::size_t i = 0; i < xa.size(); ++i) stack.emplace_back(&xa[i], &ya[i]);
        break;
      }
      case value_t::object: {
        const Container& xo = vec(*x);
        const Container& yo = vec(*y);
        if (xo.size() != yo.size()) return false;
        for (std::size_t i = 0; i < xo.size(); ++i) {
          // Same position first: documents usually share key order.
          const Json* other = xo[i].first == yo[i].first ? &yo[i].second : objGet(*y, xo[i].first);
          if (!other) return false;
          stack.emplace_back(&xo[i].second, other);
        }
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

void release(Json& value) {
  if (!value.is_structured()) return;
  // Breadth-first order puts every container before its descendants, so clearing in reverse
  // only ever destroys scalars and empty containers, which nlohmann frees without its stack.
  std::vector<Json*> nodes;
  nodes.push_back(&value);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    Json* n = nodes[i];
    if (n->is_array()) {
      for (Json& c : n->get_ref<Array&>()) {
        if (c.is_structured() && !c.empty()) nodes.push_back(&c);
      }
    } else {
      for (auto& kv : vec(*n)) {
        if (kv.second.is_structured() && !kv.second.empty()) nodes.push_back(&kv.second);
      }
    }
  }
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    if ((*it)->is_array()) (*it)->get_ref<Array&>().clear();
    else vec(**it).clear();
  }
  value = Json();
}

Json deepCopy(const Json& value) {
  if (!value.is_structured()) return Json(value);
  Json root = value.is_object() ? makeObject() : makeArray();
  std::vector<std::pair<const Json*, Json*>> stack;
  stack.emplace_back(&value, &root);
  while (!stack.empty()) {
    auto [src, dst] = stack.back();
    stack.pop_back();
    // Children are all emplaced before any is descended into, so the pointers stay valid.
    if (src->is_array()) {
      const Array& sa = src->get_ref<const Array&>();
      Array& da = dst->get_ref<Array&>();
      da.reserve(sa.size());
      for (const Json& c : sa) {
        if (c.is_structured()) da.push_back(c.is_object() ? makeObject() : makeArray());
        else da.push_back(Json(c));
      }
      for (std::size_t i = 0; i < sa.size(); ++i) {
        if (sa[i].is_structured()) stack.emplace_back(&sa[i], &da[i]);
      }
    } else {
      const Container& so = vec(*src);
      Container& dobj = vec(*dst);
      dobj.reserve(so.size());
      for (const auto& kv : so) {
        if (kv.second.is_structured()) dobj.emplace_back(kv.first, kv.second.is_object() ? makeObject() : makeArray());
        else dobj.emplace_back(kv.first, Json(kv.second));
      }
      for (std::size_t i = 0; i < so.size(); ++i) {
        if (so[i].second.is_structured()) stack.emplace_back(&so[i].second, &dobj[i].second);
      }
    }
  }
  return root;
}

std::uint64_t sizeOf(const Json& value) {
  std::uint64_t total = 0;
  std::vector<const Json*> stack;
  stack.push_back(&value);
  while (!stack.empty()) {
    const Json* v = stack.back();
    stack.pop_back();
    switch (v->type()) {
      case value_t::string: total += 2 + v->get_ref<const std::string&>().size(); break;
      case value_t::array: {
        const Array& a = v->get_ref<const Array&>();
        total += 2 + a.size();
        for (const Json& c : a) stack.push_back(&c);
        break;
      }
      case value_t::object: {
        total += 2;
        for (const auto& kv : vec(*v)) {
          total += 2 + kv.first.size() + 2;
          stack.push_back(&kv.second);
        }
        break;
      }
      default: total += 8; break;
    }
  }
  return total;
}

std::uint64_t depth(const Json& value) {
  std::uint64_t best = 0;
  std::vector<std::pair<const Json*, std::uint64_t>> stack;
  stack.emplace_back(&value, 0);
  while (!stack.empty()) {
    auto [v, level] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) continue;
    std::uint64_t d = level + 1;
    if (d > best) best = d;
    if (v->is_array()) {
      for (const Json& c : v->get_ref<const Array&>()) {
        if (c.is_structured()) stack.emplace_back(&c, d);
      }
    } else {
      for (const auto& kv : vec(*v)) {
        if (kv.second.is_structured()) stack.emplace_back(&kv.second, d);
      }
    }
  }
  return best;
}

}  // namespace rtc
