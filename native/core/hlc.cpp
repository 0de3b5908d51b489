#include "hlc.h"

#include <algorithm>

#include "json.h"

namespace rtc {

namespace {

bool lowerHex(std::string_view s, std::uint64_t* out) {
  std::uint64_t v = 0;
  for (char ch : s) {
    int d;
    if (ch >= '0' && ch <= '9') d = ch - '0';
    else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
    else return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  *out = v;
  return true;
}

// Decodes the code point starting at byte i (input is valid UTF-8 or at least bytes of one).
std::uint32_t decodeAt(std::string_view s, std::size_t i, std::size_t* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (i + n > s.size()) n = 1;
  std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *len = n;
  return cp;
}

// JavaScript compares strings by UTF-16 code units; UTF-8 byte order differs only between
// U+E000..U+FFFF and supplementary code points.
std::uint32_t firstUnit(std::uint32_t cp) { return cp >= 0x10000 ? 0xD800 + ((cp - 0x10000) >> 10) : cp; }
std::uint32_t secondUnit(std::uint32_t cp) { return cp >= 0x10000 ? 0xDC00 + ((cp - 0x10000) & 0x3FF) : 0; }

int jsStringCompare(std::string_view a, std::string_view b) {
  std::size_t i = 0, n = std::min(a.size(), b.size());
  while (i < n && a[i] == b[i]) ++i;
  if (i == n) return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
  while (i > 0 && (static_cast<unsigned char>(a[i]) & 0xC0) == 0x80) --i;  // back to a code point start
  std::size_t la, lb;
  std::uint32_t ca = decodeAt(a, i, &la), cb = decodeAt(b, i, &lb);
  std::uint32_t ua = firstUnit(ca), ub = firstUnit(cb);
  if (ua != ub) return ua < ub ? -1 : 1;
  ua = secondUnit(ca);
  ub = secondUnit(cb);
  return ua < ub ? -1 : (ua > ub ? 1 : 0);
}

}  // namespace

bool isValidNodeId(std::string_view nodeId) {
  return !nodeId.empty() && nodeId.size() <= 64 && nodeId.find(':') == std::string_view::npos;
}

bool parseTimestamp(std::string_view ts, std::uint64_t* l, std::uint32_t* c) {
  if (ts.size() < 19 || ts[12] != ':' || ts[17] != ':') return false;
  std::uint64_t lv, cv;
  if (!lowerHex(ts.substr(0, 12), &lv) || !lowerHex(ts.substr(13, 4), &cv)) return false;
  if (!isValidNodeId(ts.substr(18))) return false;
  if (l) *l = lv;
  if (c) *c = static_cast<std::uint32_t>(cv);
  return true;
}

void validateTimestamp(std::string_view ts) {
  if (!parseTimestamp(ts, nullptr, nullptr)) {
    throw Error(codes::kInvalidTimestamp, "invalid HLC timestamp (expected LLLLLLLLLLLL:CCCC:nodeId)");
  }
}

int compareTimestamps(std::string_view a, std::string_view b) {
  validateTimestamp(a);
  validateTimestamp(b);
  return jsStringCompare(a, b);
}

HybridLogicalClock::HybridLogicalClock(std::string nodeId, std::int64_t maxDriftMs)
    : nodeId_(std::move(nodeId)), maxDriftMs_(maxDriftMs) {
  if (!isValidNodeId(nodeId_)) {
    throw Error(codes::kInvalidArgument, "nodeId must be a non-empty string of at most 64 bytes without \":\"");
  }
}

std::string HybridLogicalClock::format() const {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(18 + nodeId_.size());
  std::uint64_t l = static_cast<std::uint64_t>(state_.l);
  int digits = 12;
  while (digits < 16 && (l >> (4 * digits)) != 0) ++digits;  // never truncate a huge clock
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(l >> (4 * i)) & 15]);
  out.push_back(':');
  for (int i = 3; i >= 0; --i) out.push_back(kHex[(state_.c >> (4 * i)) & 15]);
  out.push_back(':');
  out.append(nodeId_);
  return out;
}

// The one place a timestamp is issued (the twin's #issue): a counter past 16 bits moves the
// logical time on instead of widening the fixed-width format.
std::string HybridLogicalClock::issue(std::int64_t l, std::uint32_t c) {
  if (c > 0xFFFF) {
    ++l;
    c = 0;
  }
  state_.l = l;
  state_.c = c;
  state_.issued = true;
  return format();
}

std::string HybridLogicalClock::now(std::int64_t wallMs) {
  std::int64_t next = std::max(state_.l, wallMs);
  std::uint32_t c = next == state_.l ? state_.c + 1 : 0;
  return issue(next, c);
}

std::string HybridLogicalClock::receive(std::string_view ts, std::int64_t wallMs) {
  std::uint64_t lr64;
  std::uint32_t cr;
  if (!parseTimestamp(ts, &lr64, &cr)) {
    throw Error(codes::kInvalidTimestamp, "invalid HLC timestamp (expected LLLLLLLLLLLL:CCCC:nodeId)");
  }
  std::int64_t lr = static_cast<std::int64_t>(lr64);
  if (lr - wallMs > maxDriftMs_) {
    throw Error(codes::kClockDrift, "remote timestamp is " + std::to_string(lr - wallMs) +
                                        " ms ahead of the wall clock, more than maxDriftMs (" +
                                        std::to_string(maxDriftMs_) + ")");
  }
  std::int64_t l = state_.l;
  std::int64_t next = std::max({l, lr, wallMs});
  std::uint32_t c;
  if (next == l && next == lr) c = std::max(state_.c, cr) + 1;
  else if (next == l) c = state_.c + 1;
  else if (next == lr) c = cr + 1;
  else c = 0;
  return issue(next, c);
}

std::optional<std::string> HybridLogicalClock::last() const {
  if (!state_.issued) return std::nullopt;
  return format();
}

}  // namespace rtc
