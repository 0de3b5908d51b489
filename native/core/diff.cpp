#include "diff.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "pointer.h"

namespace rtc {

namespace {

constexpr std::size_t kMyersMaxItems = 4096;
constexpr int kMyersMaxD = 1024;

// Key lookup that first tries the same position: diffed objects usually share key order.
const Json* findHinted(const Json& obj, const std::string& key, std::size_t hint) {
  const Members& o = members(obj);
  if (hint < o.size() && o[hint].first == key) return &o[hint].second;
  return objGet(obj, key);
}

struct Edit {
  enum Kind { Keep, Del, Ins } kind;
  std::size_t i;  // index in A (Keep, Del)
  std::size_t j;  // index in B (Keep, Ins)
};

class Differ {
 public:
  // With refs, op values are references to b's subtrees (see serializeWithRefs), not copies.
  Differ(const std::string* arrayKey, Patch& out, EqualityCache& eq, std::vector<const Json*>* refs = nullptr)
      : arrayKey_(arrayKey), out_(out), refs_(refs), eq_(eq) {}

  void value(const Json& a, const Json& b, const std::string& path, std::size_t level) {
    if (eq_.equal(a, b)) return;
    if (level > kMaxRecursionDepth) throw Error(codes::kTooDeep, "documents are nested too deeply to diff");
    if (a.is_object() && b.is_object()) {
      const Members& ao = members(a);
      const Members& bo = members(b);
      for (std::size_t i = 0; i < ao.size(); ++i) {
        const Json* bv = findHinted(b, ao[i].first, i);
        if (!bv) emit(OpKind::Remove, childPath(path, ao[i].first), nullptr);
        else value(ao[i].second, *bv, childPath(path, ao[i].first), level + 1);
      }
      for (std::size_t i = 0; i < bo.size(); ++i) {
        if (!findHinted(a, bo[i].first, i)) emit(OpKind::Add, childPath(path, bo[i].first), &bo[i].second);
      }
      return;
    }
    if (a.is_array() && b.is_array()) {
      array(a.get_ref<const Array&>(), b.get_ref<const Array&>(), path, level);
      return;
    }
    emit(OpKind::Replace, path, &b);
  }

 private:
  void emit(OpKind kind, std::string path, const Json* v) {
    PatchOp op;
    op.kind = kind;
    op.path = std::move(path);
    if (v && refs_) {
      op.value = makeRef(refs_->size());
      refs_->push_back(v);
    } else if (v) {
      op.value = deepCopy(*v);
    }
    out_.push_back(std::move(op));
  }

  bool match(const Json& x, const Json& y) const {
    if (arrayKey_ && x.is_object() && y.is_object()) {
      const Json* kx = objGet(x, *arrayKey_);
      const Json* ky = kx ? objGet(y, *arrayKey_) : nullptr;
      if (kx && ky) return eq_.equal(*kx, *ky);
    }
    return eq_.equal(x, y);
  }

  // Shortest edit script of A[p, n) -> B[p, m); false when the limits say "use the fallback".
  bool myers(const Array& A, const Array& B, std::size_t p, std::size_t n, std::size_t m, std::vector<Edit>& script) {
    const int N = static_cast<int>(n - p);
    const int M = static_cast<int>(m - p);
    if (static_cast<std::size_t>(N) > kMyersMaxItems || static_cast<std::size_t>(M) > kMyersMaxItems) return false;
    const int maxD = std::min(kMyersMaxD, N + M);
    const int off = maxD + 1;
    std::vector<int> V(static_cast<std::size_t>(2 * maxD + 3), 0);
    std::vector<std::vector<int>> trace;
    int found = -1;
    for (int d = 0; d <= maxD && found < 0; ++d) {
      for (int k = -d; k <= d; k += 2) {
        int x;
        if (k == -d || (k != d && V[off + k - 1] < V[off + k + 1])) x = V[off + k + 1];
        else x = V[off + k - 1] + 1;
        int y = x - k;
        while (x < N && y < M && match(A[p + x], B[p + y])) {
          ++x;
          ++y;
        }
        V[off + k] = x;
        if (x >= N && y >= M) {
          found = d;
          break;
        }
      }
      trace.push_back(V);
    }
    if (found < 0) return false;
    int x = N, y = M;
    std::vector<Edit> rev;
    for (int d = found; d > 0; --d) {
      const std::vector<int>& Vp = trace[static_cast<std::size_t>(d - 1)];
      int k = x - y;
      bool down = k == -d || (k != d && Vp[off + k - 1] < Vp[off + k + 1]);
      int prevK = down ? k + 1 : k - 1;
      int prevX = Vp[off + prevK];
      int prevY = prevX - prevK;
      int startX = down ? prevX : prevX + 1;
      while (x > startX) {
        --x;
        --y;
        rev.push_back({Edit::Keep, p + x, p + y});
      }
      if (down) rev.push_back({Edit::Ins, 0, p + prevY});
      else rev.push_back({Edit::Del, p + prevX, 0});
      x = prevX;
      y = prevY;
    }
    while (x > 0) {
      --x;
      --y;
      rev.push_back({Edit::Keep, p + x, p + y});
    }
    script.assign(rev.rbegin(), rev.rend());
    return true;
  }

  void array(const Array& A, const Array& B, const std::string& path, std::size_t level) {
    std::size_t n = A.size(), m = B.size(), p = 0;
    struct Pending {
      std::size_t index;
      const Json* oldItem;
      const Json* newItem;
    };
    std::vector<Pending> pending;
    while (p < n && p < m && match(A[p], B[p])) {
      if (!eq_.equal(A[p], B[p])) pending.push_back({p, &A[p], &B[p]});
      ++p;
    }
    std::vector<Pending> suffix;
    while (n > p && m > p && match(A[n - 1], B[m - 1])) {
      if (!eq_.equal(A[n - 1], B[m - 1])) suffix.push_back({m - 1, &A[n - 1], &B[m - 1]});
      --n;
      --m;
    }
    std::vector<Edit> script;
    if (!myers(A, B, p, n, m, script)) {
      script.clear();
      for (std::size_t i = p; i < n; ++i) script.push_back({Edit::Del, i, 0});
      for (std::size_t j = p; j < m; ++j) script.push_back({Edit::Ins, 0, j});
    }
    std::size_t pos = p;
    std::vector<std::size_t> dels, ins;
    auto flush = [&] {
      std::size_t pairs = std::min(dels.size(), ins.size());
      for (std::size_t t = 0; t < pairs; ++t) {
        const Json& o = A[dels[t]];
        const Json& nw = B[ins[t]];
        if ((o.is_object() && nw.is_object()) || (o.is_array() && nw.is_array())) value(o, nw, childPath(path, pos), level + 1);
        else emit(OpKind::Replace, childPath(path, pos), &nw);
        ++pos;
      }
      for (std::size_t t = pairs; t < dels.size(); ++t) emit(OpKind::Remove, childPath(path, pos), nullptr);
      for (std::size_t t = pairs; t < ins.size(); ++t) {
        emit(OpKind::Add, childPath(path, pos), &B[ins[t]]);
        ++pos;
      }
      dels.clear();
      ins.clear();
    };
    for (const Edit& e : script) {
      if (e.kind == Edit::Del) {
        dels.push_back(e.i);
      } else if (e.kind == Edit::Ins) {
        ins.push_back(e.j);
      } else {
        flush();
        if (!eq_.equal(A[e.i], B[e.j])) pending.push_back({pos, &A[e.i], &B[e.j]});
        ++pos;
      }
    }
    flush();
    for (auto it = suffix.rbegin(); it != suffix.rend(); ++it) pending.push_back(*it);
    for (const Pending& pd : pending) value(*pd.oldItem, *pd.newItem, childPath(path, pd.index), level + 1);
  }

  const std::string* arrayKey_;
  Patch& out_;
  std::vector<const Json*>* refs_;
  EqualityCache& eq_;
};

// With refs, values taken from b are references to b's subtrees (see serializeWithRefs).
Json mergeDiffAt(const Json& a, const Json& b, std::size_t level, std::vector<const Json*>* refs, EqualityCache& eq) {
  auto take = [refs](const Json& v) {
    if (!refs) return deepCopy(v);
    refs->push_back(&v);
    return makeRef(refs->size() - 1);
  };
  if (!a.is_object() || !b.is_object()) return take(b);
  if (level > kMaxRecursionDepth) throw Error(codes::kTooDeep, "documents are nested too deeply to diff");
  Json out = makeObject();
  const Members& ao = members(a);
  const Members& bo = members(b);
  for (std::size_t i = 0; i < ao.size(); ++i) {
    const Json* bv = findHinted(b, ao[i].first, i);
    if (!bv) objSet(out, ao[i].first, Json(nullptr));
    else if (!eq.equal(ao[i].second, *bv)) objSet(out, ao[i].first, mergeDiffAt(ao[i].second, *bv, level + 1, refs, eq));
  }
  for (std::size_t i = 0; i < bo.size(); ++i) {
    if (!findHinted(a, bo[i].first, i)) objSet(out, bo[i].first, take(bo[i].second));
  }
  return out;
}

}  // namespace

Patch diffJsonPatch(const Json& a, const Json& b, const std::string* arrayKey, EqualityCache* eq) {
  Patch out;
  EqualityCache own;
  Differ(arrayKey, out, eq ? *eq : own).value(a, b, std::string(), 0);
  for (PatchOp& op : out) op.pathTokens = parsePointer(op.path);
  return out;
}

Json mergeDiff(const Json& a, const Json& b) {
  EqualityCache eq;
  return mergeDiffAt(a, b, 0, nullptr, eq);
}

// Equal objects give {}; equal non-objects give b itself ({} would turn them into {}).
Json diffMergePatch(const Json& a, const Json& b) { return mergeDiff(a, b); }

// Only printed: the diff refers to b's values instead of copying them.
std::string diffToText(const Json& a, const Json& b, DiffFormat format, const std::string* arrayKey,
                       EqualityCache* eq) {
  EqualityCache own;
  EqualityCache& cache = eq ? *eq : own;
  std::vector<const Json*> refs;
  std::string out;
  if (format == DiffFormat::MergePatch) {
    Json d = mergeDiffAt(a, b, 0, &refs, cache);
    serializeWithRefs(out, d, refs.data());
    return out;
  }
  Patch ops;
  Differ(arrayKey, ops, cache, &refs).value(a, b, std::string(), 0);
  out.push_back('[');
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (i) out.push_back(',');
    serializeOpTo(out, ops[i], refs.data());
  }
  out.push_back(']');
  return out;
}

std::string diffText(const char* a, std::size_t aSize, const char* b, std::size_t bSize, DiffFormat format,
                     const std::string* arrayKey, const Limits& limits) {
  Json av = parse(a, aSize, limits);
  Json bv = parse(b, bSize, limits);
  std::string out = diffToText(av, bv, format, arrayKey);
  release(av);
  release(bv);
  return out;
}

}  // namespace rtc
