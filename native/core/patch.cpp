#include "patch.h"

#include <algorithm>
#include <utility>

namespace rtc {

const char* opName(OpKind kind) {
  switch (kind) {
    case OpKind::Add: return "add";
    case OpKind::Remove: return "remove";
    case OpKind::Replace: return "replace";
    case OpKind::Move: return "move";
    case OpKind::Copy: return "copy";
    case OpKind::Test: return "test";
  }
  return "?";
}

namespace {

bool opKindFromName(const std::string& s, OpKind* out) {
  static const std::pair<const char*, OpKind> kNames[] = {
      {"add", OpKind::Add},   {"remove", OpKind::Remove}, {"replace", OpKind::Replace},
      {"move", OpKind::Move}, {"copy", OpKind::Copy},     {"test", OpKind::Test}};
  for (const auto& n : kNames) {
    if (s == n.first) {
      *out = n.second;
      return true;
    }
  }
  return false;
}

[[noreturn]] void invalidOp(std::size_t i, const std::string& why) {
  throw Error(codes::kInvalidPatch, "op " + std::to_string(i) + ": " + why);
}

}  // namespace

Patch patchFromJson(Json&& value, const Limits& limits) {
  if (!value.is_array()) throw Error(codes::kInvalidPatch, "patch must be an array of operations");
  Array& items = value.get_ref<Array&>();
  if (items.size() > limits.maxPatchOps) {
    throw Error(codes::kTooManyOps, "patch has " + std::to_string(items.size()) + " operations, more than maxPatchOps (" +
                                        std::to_string(limits.maxPatchOps) + ")");
  }
  Patch ops;
  ops.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    Json& item = items[i];
    if (!item.is_object()) invalidOp(i, "must be an object");
    PatchOp op;
    const Json* name = objGet(item, "op");
    if (!name || !name->is_string() || !opKindFromName(name->get_ref<const std::string&>(), &op.kind)) {
      invalidOp(i, "\"op\" must be one of add, remove, replace, move, copy, test");
    }
    Json* path = objGet(item, "path");
    if (!path || !path->is_string()) invalidOp(i, "\"path\" must be a string");
    Json* from = nullptr;
    bool needsFrom = op.kind == OpKind::Move || op.kind == OpKind::Copy;
    if (needsFrom) {
      from = objGet(item, "from");
      if (!from || !from->is_string()) invalidOp(i, "\"from\" must be a string");
    }
    Json* val = nullptr;
    if (op.kind == OpKind::Add || op.kind == OpKind::Replace || op.kind == OpKind::Test) {
      val = objGet(item, "value");
      if (!val) invalidOp(i, "\"value\" is required");
    }
    // The op objects are discarded after conversion: take their strings instead of copying.
    op.path = std::move(path->get_ref<std::string&>());
    if (!isValidPointer(op.path)) {
      throw Error(codes::kInvalidPointer, "op " + std::to_string(i) + ": invalid JSON pointer in \"path\"");
    }
    op.pathTokens = parsePointer(op.path);
    if (needsFrom) {
      op.from = std::move(from->get_ref<std::string&>());
      if (!isValidPointer(op.from)) {
        throw Error(codes::kInvalidPointer, "op " + std::to_string(i) + ": invalid JSON pointer in \"from\"");
      }
      op.fromTokens = parsePointer(op.from);
    }
    if (val) op.value = std::move(*val);
    ops.push_back(std::move(op));
  }
  return ops;
}

Patch parsePatch(const char* data, std::size_t size, const Limits& limits) {
  Json tree = parse(data, size, limits);
  Patch ops = patchFromJson(std::move(tree), limits);
  release(tree);  // the op objects, their values already moved into ops
  return ops;
}

void serializeOpTo(std::string& out, const PatchOp& op, const Json* const* refs) {
  out.append("{\"op\":\"");
  out.append(opName(op.kind));
  out.append("\",\"path\":");
  appendQuoted(out, op.path);
  if (op.kind == OpKind::Move || op.kind == OpKind::Copy) {
    out.append(",\"from\":");
    appendQuoted(out, op.from);
  }
  if (op.kind == OpKind::Add || op.kind == OpKind::Replace || op.kind == OpKind::Test) {
    out.append(",\"value\":");
    serializeWithRefs(out, op.value, refs);
  }
  out.push_back('}');
}

std::string serializePatch(const Patch& patch, bool dropTests) {
  std::string out = "[";
  bool first = true;
  for (const PatchOp& op : patch) {
    if (dropTests && op.kind == OpKind::Test) continue;
    if (!first) out.push_back(',');
    first = false;
    serializeOpTo(out, op);
  }
  out.push_back(']');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutator

void Mutator::record(Primitive&& p, const Json* newValue) {
  changed_ = true;
  if (observer_) observer_->changed(p, root_, newValue);
  if (keepLog_) log_.push_back(std::move(p));
}

namespace {
Tokens prefix(const Tokens& path, std::size_t count) { return Tokens(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(count)); }
}  // namespace

void Mutator::keySet(Json& obj, const Tokens& path, std::size_t count, std::string key, Json value) {
  Json* existing = objGet(obj, key);
  Primitive p;
  p.kind = PrimKind::KeySet;
  if (existing) {
    if (deepEqual(*existing, value)) return;  // a no-op changes nothing and records nothing
    p.hadOld = true;
    p.old = std::move(*existing);
    *existing = std::move(value);
    if (keepLog_ || observer_) {
      p.container = prefix(path, count);
      p.key = std::move(key);
    }
    record(std::move(p), existing);
    return;
  }
  if (keepLog_ || observer_) {
    p.container = prefix(path, count);
    p.key = key;
  }
  Json& slot = objSet(obj, std::move(key), std::move(value));
  record(std::move(p), &slot);
}

void Mutator::keyRemove(Json& obj, const Tokens& path, std::size_t count, const std::string& key, Json* takeOut) {
  Primitive p;
  p.kind = PrimKind::KeyRemove;
  p.hadOld = true;
  Json removed;
  std::size_t pos = 0;
  objRemove(obj, key, &removed, &pos);
  if (takeOut) {
    if (keepLog_) p.old = deepCopy(removed);
    *takeOut = std::move(removed);
  } else {
    p.old = std::move(removed);
  }
  if (keepLog_ || observer_) {
    p.container = prefix(path, count);
    p.key = key;
    p.index = pos;
  }
  record(std::move(p), nullptr);
}

void Mutator::itemInsert(Json& arr, const Tokens& path, std::size_t count, std::size_t index, Json value) {
  Array& a = arr.get_ref<Array&>();
  a.insert(a.begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
  Primitive p;
  p.kind = PrimKind::ItemInsert;
  p.index = index;
  if (keepLog_ || observer_) p.container = prefix(path, count);
  record(std::move(p), &a[index]);
}

void Mutator::itemRemove(Json& arr, const Tokens& path, std::size_t count, std::size_t index, Json* takeOut) {
  Array& a = arr.get_ref<Array&>();
  Primitive p;
  p.kind = PrimKind::ItemRemove;
  p.index = index;
  p.hadOld = true;
  Json removed = std::move(a[index]);
  a.erase(a.begin() + static_cast<std::ptrdiff_t>(index));
  if (takeOut) {
    if (keepLog_) p.old = deepCopy(removed);
    *takeOut = std::move(removed);
  } else {
    p.old = std::move(removed);
  }
  if (keepLog_ || observer_) p.container = prefix(path, count);
  record(std::move(p), nullptr);
}

void Mutator::itemReplace(Json& arr, const Tokens& path, std::size_t count, std::size_t index, Json value) {
  Json& slot = arr.get_ref<Array&>()[index];
  if (deepEqual(slot, value)) return;
  Primitive p;
  p.kind = PrimKind::ItemReplace;
  p.index = index;
  p.hadOld = true;
  p.old = std::move(slot);
  slot = std::move(value);
  if (keepLog_ || observer_) p.container = prefix(path, count);
  record(std::move(p), &slot);
}

void Mutator::rootSet(Json value) {
  if (deepEqual(root_, value)) return;
  Primitive p;
  p.kind = PrimKind::RootSet;
  p.hadOld = true;
  p.old = std::move(root_);
  root_ = std::move(value);
  record(std::move(p), &root_);
}

void Mutator::undo() {
  for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
    Primitive& p = *it;
    if (p.kind == PrimKind::RootSet) {
      root_ = std::move(p.old);
      continue;
    }
    Json* c = resolve(root_, p.container);
    if (!c) continue;  // cannot happen: the log is replayed in reverse on the same states
    switch (p.kind) {
      case PrimKind::KeySet:
        if (p.hadOld) *objGet(*c, p.key) = std::move(p.old);
        else objRemove(*c, p.key);
        break;
      case PrimKind::KeyRemove:
        objInsertAt(*c, p.index, p.key, std::move(p.old));
        break;
      case PrimKind::ItemInsert: {
        Array& a = c->get_ref<Array&>();
        a.erase(a.begin() + static_cast<std::ptrdiff_t>(p.index));
        break;
      }
      case PrimKind::ItemRemove: {
        Array& a = c->get_ref<Array&>();
        a.insert(a.begin() + static_cast<std::ptrdiff_t>(p.index), std::move(p.old));
        break;
      }
      case PrimKind::ItemReplace:
        c->get_ref<Array&>()[p.index] = std::move(p.old);
        break;
      default:
        break;
    }
  }
  log_.clear();
  changed_ = false;
}

Patch Mutator::takeInverse() {
  Patch inv;
  inv.reserve(log_.size());
  for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
    Primitive& p = *it;
    PatchOp op;
    op.pathTokens = std::move(p.container);
    switch (p.kind) {
      case PrimKind::KeySet:
        op.pathTokens.push_back(std::move(p.key));
        op.kind = p.hadOld ? OpKind::Replace : OpKind::Remove;
        break;
      case PrimKind::KeyRemove:
        op.pathTokens.push_back(std::move(p.key));
        op.kind = OpKind::Add;
        break;
      case PrimKind::ItemInsert:
        op.pathTokens.push_back(std::to_string(p.index));
        op.kind = OpKind::Remove;
        break;
      case PrimKind::ItemRemove:
        op.pathTokens.push_back(std::to_string(p.index));
        op.kind = OpKind::Add;
        break;
      case PrimKind::ItemReplace:
        op.pathTokens.push_back(std::to_string(p.index));
        op.kind = OpKind::Replace;
        break;
      case PrimKind::RootSet:
        op.kind = OpKind::Replace;
        break;
    }
    if (op.kind != OpKind::Remove) op.value = std::move(p.old);
    op.path = formatPointer(op.pathTokens);
    inv.push_back(std::move(op));
  }
  log_.clear();
  return inv;
}

// ---------------------------------------------------------------------------------------------
// Applying ops

namespace {

struct OpContext {
  std::size_t index;
  const PatchOp* op;
  [[noreturn]] void fail(const char* code, const std::string& why) const {
    throw Error(code, "op " + std::to_string(index) + " (" + opName(op->kind) + " " + op->path + "): " + why);
  }
};

class Applier {
 public:
  Applier(Mutator& m, const Limits& limits, ApplyOptions options) : m_(m), limits_(limits), options_(options) {}

  void run(Patch& ops) {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      OpContext ctx{i, &ops[i]};
      applyOne(ctx, ops[i]);
    }
  }

 private:
  void checkInsert(const OpContext& ctx, std::size_t tokens, const Json& v, bool countGrowth) {
    if (tokens + depth(v) > limits_.maxDepth) ctx.fail(codes::kTooDeep, "result nesting exceeds maxDepth");
    if (countGrowth && options_.enforceGrowth) {
      std::uint64_t s = sizeOf(v);
      if (growth_ + s > limits_.maxPatchGrowthBytes) {
        ctx.fail(codes::kGrowthLimit, "patch inserts more than maxPatchGrowthBytes");
      }
      growth_ += s;
    }
  }

  Json* parentOf(const OpContext& ctx, const Tokens& t) {
    Json* parent = resolve(m_.root(), t, t.size() - 1);
    if (!parent || !parent->is_structured()) ctx.fail(codes::kPathNotFound, "path not found");
    return parent;
  }

  // The add half shared by add, copy and move. `value` is produced lazily so a copy bomb is
  // refused before it allocates.
  template <typename Produce>
  void addAt(const OpContext& ctx, const Tokens& t, const Json& sizing, bool countGrowth, Produce produce) {
    if (t.empty()) {
      checkInsert(ctx, 0, sizing, countGrowth);
      m_.rootSet(produce());
      return;
    }
    Json* parent = parentOf(ctx, t);
    const std::string& last = t.back();
    if (parent->is_object()) {
      checkInsert(ctx, t.size(), sizing, countGrowth);
      m_.keySet(*parent, t, t.size() - 1, last, produce());
      return;
    }
    std::size_t size = parent->size();
    std::size_t idx;
    if (last == "-") {
      idx = size;
    } else if (!parseArrayIndexToken(last, &idx) || idx > size) {
      ctx.fail(codes::kPathNotFound, "path not found");
    }
    checkInsert(ctx, t.size(), sizing, countGrowth);
    m_.itemInsert(*parent, t, t.size() - 1, idx, produce());
  }

  // Removes the target and returns it through `out`.
  void removeAt(const OpContext& ctx, const Tokens& t, Json* out) {
    Json* parent = parentOf(ctx, t);
    const std::string& last = t.back();
    if (parent->is_object()) {
      if (!objGet(*parent, last)) ctx.fail(codes::kPathNotFound, "path not found");
      m_.keyRemove(*parent, t, t.size() - 1, last, out);
      return;
    }
    std::size_t idx;
    if (!parseArrayIndexToken(last, &idx) || idx >= parent->size()) ctx.fail(codes::kPathNotFound, "path not found");
    m_.itemRemove(*parent, t, t.size() - 1, idx, out);
  }

  void applyOne(const OpContext& ctx, PatchOp& op) {
    const Tokens& t = op.pathTokens;
    switch (op.kind) {
      case OpKind::Add:
        addAt(ctx, t, op.value, true, [&] { return std::move(op.value); });
        return;
      case OpKind::Remove:
        if (t.empty()) ctx.fail(codes::kInvalidPatch, "cannot remove the document root");
        removeAt(ctx, t, nullptr);
        return;
      case OpKind::Replace: {
        if (t.empty()) {
          checkInsert(ctx, 0, op.value, true);
          m_.rootSet(std::move(op.value));
          return;
        }
        Json* parent = parentOf(ctx, t);
        const std::string& last = t.back();
        if (parent->is_object()) {
          if (!objGet(*parent, last)) ctx.fail(codes::kPathNotFound, "path not found");
          checkInsert(ctx, t.size(), op.value, true);
          m_.keySet(*parent, t, t.size() - 1, last, std::move(op.value));
          return;
        }
        std::size_t idx;
        if (!parseArrayIndexToken(last, &idx) || idx >= parent->size()) ctx.fail(codes::kPathNotFound, "path not found");
        checkInsert(ctx, t.size(), op.value, true);
        m_.itemReplace(*parent, t, t.size() - 1, idx, std::move(op.value));
        return;
      }
      case OpKind::Test: {
        const Json* target = resolve(m_.root(), t);
        if (!target) ctx.fail(codes::kPathNotFound, "path not found");
        if (!deepEqual(*target, op.value)) ctx.fail(codes::kTestFailed, "test failed");
        return;
      }
      case OpKind::Copy: {
        const Json* source = resolve(m_.root(), op.fromTokens);
        if (!source) ctx.fail(codes::kPathNotFound, "from path not found");
        addAt(ctx, t, *source, true, [&] { return deepCopy(*source); });
        return;
      }
      case OpKind::Move: {
        const Json* source = resolve(m_.root(), op.fromTokens);
        if (!source) ctx.fail(codes::kPathNotFound, "from path not found");
        if (op.from == op.path) return;
        if (op.path.size() > op.from.size() && op.path.compare(0, op.from.size(), op.from) == 0 &&
            op.path[op.from.size()] == '/') {
          ctx.fail(codes::kInvalidPatch, "cannot move a value into itself");
        }
        Json moved;
        if (op.fromTokens.empty()) {
          // Unreachable: every non-empty path has "" as a proper prefix.
          ctx.fail(codes::kInvalidPatch, "cannot move a value into itself");
        }
        removeAt(ctx, op.fromTokens, &moved);
        addAt(ctx, t, moved, false, [&] { return std::move(moved); });
        return;
      }
    }
  }

  Mutator& m_;
  const Limits& limits_;
  ApplyOptions options_;
  std::uint64_t growth_ = 0;
};

}  // namespace

void applyOps(Mutator& m, Patch& ops, const Limits& limits, ApplyOptions options) {
  Applier(m, limits, options).run(ops);
}

Json applyPatch(Json doc, Patch& ops, const Limits& limits) {
  Mutator m(doc, false);
  applyOps(m, ops, limits);
  return doc;
}

std::string applyPatchText(const char* doc, std::size_t docSize, const char* patch, std::size_t patchSize,
                           const Limits& limits) {
  Json d = parse(doc, docSize, limits);
  Patch ops = parsePatch(patch, patchSize, limits);
  Mutator m(d, false);
  applyOps(m, ops, limits);
  std::string out = serialize(d);
  release(d);
  return out;
}

}  // namespace rtc
