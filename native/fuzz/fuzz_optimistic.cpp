// libFuzzer target: an OptimisticState driven by a sequence of operations read from the input.
// The input is a JSON document (up to the first NUL), then operations: one byte picks the
// operation, the next bytes its arguments; changes are built from the input bytes over paths of
// the current document (so most of them apply), or, for some operations, taken as raw text up
// to the next NUL. Checks: nothing crashes; after each successful operation the visible state is
// the base with the pending changes re-applied from scratch, and the delta is the merge-patch
// diff of the visible state before and after; after each failed one, nothing changed.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../test/optimistic_support.h"
#include "diff.h"
#include "optimistic_state.h"

namespace {

using namespace rtc;
using optimistic_support::pathsOf;
using optimistic_support::replayed;
using optimistic_support::snapshotOf;

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  unsigned byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : byte() % n; }
  // Raw bytes up to the next NUL (or the end).
  std::string segment() {
    const std::size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != 0) ++pos_;
    std::string s(reinterpret_cast<const char*>(data_) + start, pos_ - start);
    if (pos_ < size_) ++pos_;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

const char* const kValues[] = {"null", "true", "0", "1", "\"s\"", "{}", "[]", "{\"k\":1,\"o\":{\"x\":[1]}}", "[1,{\"a\":2}]",
                               "{\"0\":\"i\",\"z\":null}"};
const char* const kKeys[] = {"a", "b", "k", "o", "x", "0", "1", "-", "z", "~1"};

std::string value(Input& in) { return kValues[in.pick(sizeof kValues / sizeof *kValues)]; }
std::string key(Input& in) { return kKeys[in.pick(sizeof kKeys / sizeof *kKeys)]; }

std::string quoted(const std::string& s) {
  std::string out;
  appendQuoted(out, s);
  return out;
}

std::string makePatch(Input& in, const Json& doc) {
  const std::vector<std::string> ps = pathsOf(doc, 64);
  auto any = [&] { return ps[in.pick(ps.size())]; };
  std::string out = "[";
  const unsigned n = 1 + in.byte() % 3;
  for (unsigned i = 0; i < n; ++i) {
    if (i) out += ",";
    const std::string p = any();
    switch (in.byte() % 8) {
      case 0: out += "{\"op\":\"replace\",\"path\":" + quoted(p) + ",\"value\":" + value(in) + "}"; break;
      case 1: out += "{\"op\":\"add\",\"path\":" + quoted(p + "/" + key(in)) + ",\"value\":" + value(in) + "}"; break;
      case 2: out += "{\"op\":\"remove\",\"path\":" + quoted(p) + "}"; break;
      case 3: {
        const Json* v = resolve(doc, parsePointer(p));
        out += "{\"op\":\"test\",\"path\":" + quoted(p) + ",\"value\":" + (v && in.byte() % 4 ? serialize(*v) : value(in)) + "}";
        break;
      }
      case 4: out += "{\"op\":\"copy\",\"from\":" + quoted(any()) + ",\"path\":" + quoted(p + "/" + key(in)) + "}"; break;
      case 5: out += "{\"op\":\"move\",\"from\":" + quoted(any()) + ",\"path\":" + quoted(p + "/" + key(in)) + "}"; break;
      case 6: out += "{\"op\":\"add\",\"path\":" + quoted(p) + ",\"value\":" + value(in) + "}"; break;
      default: out += "{\"op\":\"replace\",\"path\":\"\",\"value\":" + (in.byte() % 2 ? serialize(doc) : value(in)) + "}"; break;
    }
  }
  return out + "]";
}

std::string makeMergePatch(Input& in) {
  if (in.byte() % 16 == 0) return value(in);
  std::string out = "{";
  const unsigned n = 1 + in.byte() % 3;
  for (unsigned i = 0; i < n; ++i) {
    if (i) out += ",";
    out += quoted(key(in)) + ":";
    switch (in.byte() % 4) {
      case 0: out += "null"; break;
      case 1: out += "{" + quoted(key(in)) + ":" + value(in) + "}"; break;
      default: out += value(in); break;
    }
  }
  return out + "}";
}

struct Change {
  ChangeKind kind;
  std::string text;
};

Change makeChange(Input& in, const Json& doc, bool snapshots) {
  const unsigned b = in.byte();
  if (b % 16 == 15) return {b & 16 ? ChangeKind::MergePatch : ChangeKind::Patch, in.segment()};  // raw text
  if (snapshots && b % 8 == 7) return {ChangeKind::Snapshot, b & 32 ? serialize(doc) : value(in)};
  if (b % 3 == 0) return {ChangeKind::MergePatch, makeMergePatch(in)};
  return {ChangeKind::Patch, makePatch(in, doc)};
}

std::string idOf(Input& in, const OptimisticState& s) {
  const unsigned b = in.byte();
  if (s.pendingCount() > 0 && b % 4 != 0) return s.pendingAt(b % s.pendingCount()).id;
  return "i" + std::to_string(b % 12);
}

std::optional<double> versionOf(Input& in, const OptimisticState& s) {
  const unsigned b = in.byte();
  if (b % 2) return std::nullopt;
  return s.baseVersion() + static_cast<double>(b % 8) - 3;
}

void checkDelta(const std::optional<std::string>& delta, const Json& before, const Json& after) {
  if (!delta) {
    if (!deepEqual(before, after)) std::abort();
  } else if (deepEqual(before, after) || *delta != serialize(diffMergePatch(before, after))) {
    std::abort();
  }
}

struct Owned {
  BatchOp op;
  std::string text;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const unsigned flags = in.byte();
  OptimisticOptions o;
  o.maxPending = 1 + flags % 8;
  o.overflow = flags & 8 ? Overflow::RollbackOldest : Overflow::Reject;
  o.timeoutMs = 1 + (flags >> 4) * 4;
  o.limits.maxDepth = flags & 64 ? 6 : 32;
  o.limits.maxPatchGrowthBytes = flags & 128 ? 64 : 1 << 16;
  const std::string init = in.segment();
  std::optional<OptimisticState> state;
  try {
    state.emplace(init.data(), init.size(), o);
  } catch (const Error&) {
    return 0;
  }
  OptimisticState& s = *state;
  double now = 0;
  for (unsigned step = 0; step < 24 && !in.done(); ++step) {
    const std::string before = snapshotOf(s);
    const Json visibleBefore = deepCopy(s.visible());
    now += in.byte() % 8;
    try {
      switch (in.byte() % 8) {
        case 0:
        case 1: {
          const std::string id = "i" + std::to_string(in.byte() % 12);
          Change c = makeChange(in, s.visible(), false);
          checkDelta(s.apply(id, c.kind, c.text.data(), c.text.size(), now).delta, visibleBefore, s.visible());
          break;
        }
        case 2: {
          const std::string id = idOf(in, s);
          std::optional<Change> c;
          if (in.byte() % 3 == 0) c = makeChange(in, s.base(), false);
          std::optional<ChangeText> canonical;
          if (c) canonical = ChangeText{c->kind, c->text.data(), c->text.size()};
          checkDelta(s.commit(id, canonical, versionOf(in, s)).delta, visibleBefore, s.visible());
          break;
        }
        case 3: checkDelta(s.rollback(idOf(in, s)).delta, visibleBefore, s.visible()); break;
        case 4:
          if (in.byte() % 4 == 0) checkDelta(s.rollbackAll().delta, visibleBefore, s.visible());
          else checkDelta(s.expire(now).delta, visibleBefore, s.visible());
          break;
        case 5:
        case 6: {
          Change c = makeChange(in, s.base(), true);
          std::optional<double> version = versionOf(in, s);
          std::vector<std::string> confirms;
          const unsigned mask = in.byte();
          for (std::size_t i = 0; i < s.pendingCount() && i < 8; ++i) {
            if (mask & (1u << i)) confirms.push_back(s.pendingAt(i).id);
          }
          checkDelta(s.rebase(c.kind, c.text.data(), c.text.size(), version, confirms).delta, visibleBefore, s.visible());
          break;
        }
        default: {
          std::vector<Owned> owned(1 + in.byte() % 4);
          for (Owned& x : owned) {
            const unsigned t = in.byte() % 5;
            x.op.type = static_cast<BatchOpType>(t);
            x.op.id = t == 0 ? "i" + std::to_string(in.byte() % 12) : idOf(in, s);
            if (t == 0 || t == 4 || (t == 1 && in.byte() % 3 == 0)) {
              Change c = makeChange(in, t == 0 ? s.visible() : s.base(), t == 4);
              x.op.kind = c.kind;
              x.text = std::move(c.text);
            }
            if (t == 1 || t == 4) x.op.version = versionOf(in, s);
          }
          std::vector<BatchOp> ops;
          for (Owned& x : owned) {
            x.op.text = x.text;
            ops.push_back(x.op);
          }
          BatchResult r = s.batch(ops, now);
          if (r.results.size() != ops.size()) std::abort();
          checkDelta(r.delta, visibleBefore, s.visible());
          break;
        }
      }
    } catch (const Error&) {
      if (snapshotOf(s) != before) std::abort();
      continue;
    }
    if (replayed(s) != serialize(s.visible())) std::abort();
  }
  return 0;
}
