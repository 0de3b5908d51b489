#include "merge_patch.h"

#include <utility>

namespace rtc {

Json mergePatchValue(Json patch) {
  if (!patch.is_object()) return patch;
  // Iterative: strip null members at every level, building a fresh object tree.
  Json root = makeObject();
  std::vector<std::pair<Json*, Json*>> stack;  // (source object, destination object)
  stack.emplace_back(&patch, &root);
  while (!stack.empty()) {
    auto [src, dst] = stack.back();
    stack.pop_back();
    std::vector<std::pair<Json*, const std::string*>> nested;
    for (auto& kv : src->get_ref<Object&>()) {
      if (kv.second.is_null()) continue;
      if (kv.second.is_object()) {
        objSet(*dst, kv.first, makeObject());
        nested.emplace_back(&kv.second, &kv.first);
      } else {
        objSet(*dst, kv.first, std::move(kv.second));
      }
    }
    // Only now are dst's members final, so pointers into it stay valid.
    // Members keep the source order (both are in JavaScript order), so try the expected slot.
    Members& out = members(*dst);
    std::size_t pos = 0;
    for (auto& [child, key] : nested) {
      while (pos < out.size() && out[pos].first != *key) ++pos;
      stack.emplace_back(child, pos < out.size() ? &out[pos].second : objGet(*dst, *key));
    }
  }
  return root;
}

namespace {

void mergeInto(Mutator& m, Json& target, Tokens& path, Json& patch, const Limits& limits) {
  if (path.size() > kMaxRecursionDepth) throw Error(codes::kTooDeep, "merge patch nesting is too deep");
  for (auto& kv : patch.get_ref<Object&>()) {
    const std::string& key = kv.first;
    Json& value = kv.second;
    if (value.is_null()) {
      if (objGet(target, key)) m.keyRemove(target, path, path.size(), key, nullptr);
      continue;
    }
    Json* existing = objGet(target, key);
    if (value.is_object() && existing && existing->is_object()) {
      path.push_back(key);
      mergeInto(m, *existing, path, value, limits);
      path.pop_back();
      continue;
    }
    Json written = mergePatchValue(std::move(value));
    if (path.size() + 1 + depth(written) > limits.maxDepth) {
      throw Error(codes::kTooDeep, "merge patch result nesting exceeds maxDepth");
    }
    m.keySet(target, path, path.size(), key, std::move(written));
  }
}

}  // namespace

void applyMergePatchTo(Mutator& m, Json patch, const Limits& limits) {
  if (!patch.is_object() || !m.root().is_object()) {
    Json written = mergePatchValue(std::move(patch));
    if (depth(written) > limits.maxDepth) throw Error(codes::kTooDeep, "merge patch result nesting exceeds maxDepth");
    m.rootSet(std::move(written));
    return;
  }
  Tokens path;
  mergeInto(m, m.root(), path, patch, limits);
}

Json applyMergePatch(Json doc, Json patch, const Limits& limits) {
  Mutator m(doc, false);
  applyMergePatchTo(m, std::move(patch), limits);
  return doc;
}

std::string applyMergePatchText(const char* doc, std::size_t docSize, const char* patch, std::size_t patchSize,
                                const Limits& limits) {
  Json d = parse(doc, docSize, limits);
  Json p = parse(patch, patchSize, limits);
  Mutator m(d, false);
  applyMergePatchTo(m, std::move(p), limits);
  std::string out = serialize(d);
  release(d);
  return out;
}

}  // namespace rtc
