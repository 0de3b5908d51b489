// Helpers shared by the OptimisticState tests (native/test) and its fuzz target (native/fuzz).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "merge_patch.h"
#include "optimistic_state.h"
#include "pointer.h"

namespace rtc {
namespace optimistic_support {

// The pointers of a document's values (the root first), at most `max` of them.
inline std::vector<std::string> pathsOf(const Json& doc, std::size_t max = ~std::size_t(0)) {
  std::vector<std::string> out;
  std::vector<std::pair<const Json*, std::string>> stack{{&doc, ""}};
  while (!stack.empty() && out.size() < max) {
    auto [v, p] = stack.back();
    stack.pop_back();
    out.push_back(p);
    if (v->is_object()) {
      for (const auto& kv : members(*v)) stack.emplace_back(&kv.second, childPath(p, kv.first));
    } else if (v->is_array()) {
      for (std::size_t i = 0; i < v->size(); ++i) stack.emplace_back(&(*v)[i], childPath(p, i));
    }
  }
  return out;
}

// The base with every pending change re-applied from its text, from scratch (each must apply).
inline std::string replayed(const OptimisticState& s) {
  const Limits& limits = s.options().limits;
  Json doc = deepCopy(s.base());
  for (std::size_t i = 0; i < s.pendingCount(); ++i) {
    const PendingChange& p = s.pendingAt(i);
    Mutator m(doc, false);
    if (p.kind == ChangeKind::Patch) {
      Patch ops = parsePatch(p.text.data(), p.text.size(), limits);
      applyOps(m, ops, limits);
    } else {
      applyMergePatchTo(m, parse(p.text, limits), limits);
    }
  }
  return serialize(doc);
}

// Everything observable about a state, as one string.
inline std::string snapshotOf(const OptimisticState& s) {
  std::string out = serialize(s.base()) + "|" + serialize(s.visible()) + "|";
  appendNumber(out, s.baseVersion());
  for (std::size_t i = 0; i < s.pendingCount(); ++i) {
    const PendingChange& p = s.pendingAt(i);
    out += "|" + p.id + ":" + changeKindName(p.kind) + ":" + p.text + ":";
    appendNumber(out, p.createdAt);
  }
  std::optional<double> d = s.nextDeadline();
  out += "|deadline ";
  if (d) appendNumber(out, *d);
  return out;
}

}  // namespace optimistic_support
}  // namespace rtc
