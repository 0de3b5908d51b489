#include "optimistic_state.h"

#include <algorithm>
#include <utility>

#include "diff.h"
#include "equality_cache.h"
#include "merge_patch.h"
#include "pointer.h"

namespace rtc {

const char* changeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::Patch: return "patch";
    case ChangeKind::MergePatch: return "merge-patch";
    case ChangeKind::Snapshot: return "snapshot";
  }
  return "?";
}

bool parseChangeKind(std::string_view name, ChangeKind* out) {
  for (ChangeKind k : {ChangeKind::Patch, ChangeKind::MergePatch, ChangeKind::Snapshot}) {
    if (name == changeKindName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

namespace {

[[noreturn]] void outOfStep() {
  throw Error(codes::kInternal, "optimistic state: journal out of step with the document");
}

// ---------------------------------------------------------------------------------------------
// Flipping logged primitives. A Mutator log entry describes a change already made (its `old`
// holds the value it replaced or removed). Undo and redo swap values between the document and
// the entry instead of destroying them, so an entry can be undone and redone any number of
// times: after undo, `old` holds the value the change had put in.

Json& containerOf(Json& root, const Primitive& p) {
  Json* c = resolve(root, p.container);
  if (!c || !c->is_structured()) outOfStep();
  return *c;
}

Array& arrayAt(Json& root, const Primitive& p, std::size_t limit) {
  Json& c = containerOf(root, p);
  if (!c.is_array() || p.index > c.size() || (limit == 0 && p.index == c.size())) outOfStep();
  return c.get_ref<Array&>();
}

Json& memberAt(Json& root, const Primitive& p) {
  Json& c = containerOf(root, p);
  Json* slot = c.is_object() ? objGet(c, p.key) : nullptr;
  if (!slot) outOfStep();
  return *slot;
}

void takeKey(Json& root, Primitive& p) {
  Json& c = containerOf(root, p);
  if (!c.is_object() || !objRemove(c, p.key, &p.old, &p.index)) outOfStep();
}

void putKey(Json& root, Primitive& p) {
  Json& c = containerOf(root, p);
  if (!c.is_object()) outOfStep();
  objInsertAt(c, p.index, p.key, std::move(p.old));
}

void takeItem(Json& root, Primitive& p) {
  Array& a = arrayAt(root, p, 0);
  p.old = std::move(a[p.index]);
  a.erase(a.begin() + static_cast<std::ptrdiff_t>(p.index));
}

void putItem(Json& root, Primitive& p) {
  Array& a = arrayAt(root, p, 1);
  a.insert(a.begin() + static_cast<std::ptrdiff_t>(p.index), std::move(p.old));
}

// Makes the change of `p` again (the document is as right before it, after an undo) or undoes
// it (the document is as right after it).
void flip(Json& root, Primitive& p, bool redo) {
  switch (p.kind) {
    case PrimKind::RootSet: root.swap(p.old); return;
    case PrimKind::ItemReplace: arrayAt(root, p, 0)[p.index].swap(p.old); return;
    case PrimKind::KeySet:
      if (p.hadOld) memberAt(root, p).swap(p.old);
      else if (redo) putKey(root, p);
      else takeKey(root, p);
      return;
    case PrimKind::KeyRemove: return redo ? takeKey(root, p) : putKey(root, p);
    case PrimKind::ItemInsert: return redo ? putItem(root, p) : takeItem(root, p);
    case PrimKind::ItemRemove: return redo ? takeItem(root, p) : putItem(root, p);
  }
}

inline void undoPrim(Json& root, Primitive& p) { flip(root, p, false); }

// One step of an operation on the visible document: a log entry made (forward) or undone
// (reverse).
struct JRef {
  Primitive* p;
  bool reverse;
};

void rewind(Json& root, const JRef* begin, const JRef* end) {
  for (const JRef* it = end; it != begin;) {
    --it;
    flip(root, *it->p, it->reverse);
  }
}

// Undoes a log on `root` (newest first), recording the steps in `journal`.
void undoInto(Json& root, std::vector<Primitive>& prims, std::vector<JRef>& journal) {
  for (std::size_t j = prims.size(); j-- > 0;) {
    undoPrim(root, prims[j]);
    journal.push_back({&prims[j], true});
  }
}

void replay(Json& root, const JRef* begin, const JRef* end) {
  for (const JRef* it = begin; it != end; ++it) flip(root, *it->p, !it->reverse);
}

std::optional<std::string> wholeDelta(const Json& before, const Json& after) {
  EqualityCache eq;
  if (eq.equal(before, after)) return std::nullopt;
  return diffToText(before, after, DiffFormat::MergePatch, nullptr, &eq);
}

// ---------------------------------------------------------------------------------------------
// The merge-patch delta of a journal: mergeDiff(before, after) restricted to the touched
// locations.
//
// Every journal entry touches one location: a member (container + key) for key changes, the
// item for an item replacement, the whole array for an insertion or removal (indices shift),
// the root for a root change. Locations under another location are dropped; the rest are the
// leaves of a trie. Every inner node of the trie is a container that no entry created, removed
// or replaced, so it stands at the same path before and after, with every child that is not in
// the trie unchanged: mergeDiff only has to look at the trie. Before and after are read from the
// same document: the journal is undone to copy the leaves' old values (and the old positions of
// the inner objects' keys, which order the diff), then redone.
class DeltaTrie {
 public:
  DeltaTrie() { nodes_.emplace_back(); }

  void add(const Primitive& p) {
    switch (p.kind) {
      case PrimKind::RootSet: insert(p.container, nullptr); return;
      case PrimKind::KeySet:
      case PrimKind::KeyRemove: insert(p.container, &p.key); return;
      case PrimKind::ItemInsert:
      case PrimKind::ItemRemove: insert(p.container, nullptr); return;
      case PrimKind::ItemReplace: {
        const std::string index = std::to_string(p.index);
        insert(p.container, &index);
        return;
      }
    }
  }

  // The trie's inner nodes are containers in `doc` (a safety net: see the class comment).
  bool walkable(const Json& doc) { return walkable(0, &doc); }

  // In the "before" state: copies the leaves' values, records the inner keys' positions.
  bool capture(const Json& doc) { return capture(0, &doc); }

  // In the "after" state: appends mergeDiff(before, after) restricted to the trie; false when
  // before and after are deep-equal.
  bool emit(const Json& doc, std::string& out) const { return emit(0, &doc, out); }

 private:
  struct Node {
    std::string token;
    std::vector<std::size_t> children;
    bool leaf = false;
    bool present = false;            // leaf: the location existed before
    Json before;                     // leaf: its value before
    std::ptrdiff_t beforePos = -1;   // the key's position in its parent object before
    bool object = false;             // inner node: an object (else an array) after
  };

  void insert(const Tokens& container, const std::string* last) {
    const std::size_t count = container.size() + (last ? 1 : 0);
    std::size_t n = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (nodes_[n].leaf) return;  // covered by a location above
      n = child(n, i < container.size() ? container[i] : *last);
    }
    nodes_[n].leaf = true;
    nodes_[n].children.clear();
  }

  std::size_t child(std::size_t n, const std::string& token) {
    for (std::size_t c : nodes_[n].children) {
      if (nodes_[c].token == token) return c;
    }
    const std::size_t c = nodes_.size();
    nodes_.emplace_back();
    nodes_[c].token = token;
    nodes_[n].children.push_back(c);
    return c;
  }

  // The child `token` of container `v`, and its position for an object.
  static const Json* childOf(const Json& v, const std::string& token, std::ptrdiff_t* pos = nullptr) {
    if (v.is_object()) {
      std::ptrdiff_t i = objIndexOf(v, token);
      if (pos) *pos = i;
      return i < 0 ? nullptr : &members(v)[static_cast<std::size_t>(i)].second;
    }
    std::size_t idx;
    const Array& a = v.get_ref<const Array&>();
    if (!parseArrayIndexToken(token, &idx) || idx >= a.size()) return nullptr;
    return &a[idx];
  }

  bool walkable(std::size_t n, const Json* v) {
    Node& node = nodes_[n];
    if (node.leaf) return true;
    if (!v || !v->is_structured()) return false;
    node.object = v->is_object();
    for (std::size_t c : node.children) {
      if (!walkable(c, childOf(*v, nodes_[c].token))) return false;
    }
    return true;
  }

  bool capture(std::size_t n, const Json* v) {
    Node& node = nodes_[n];
    if (node.leaf) {
      node.present = v != nullptr;
      if (v) node.before = deepCopy(*v);
      return true;
    }
    if (!v || !v->is_structured() || v->is_object() != node.object) return false;
    for (std::size_t c : node.children) {
      if (!capture(c, childOf(*v, nodes_[c].token, &nodes_[c].beforePos))) return false;
    }
    return true;
  }

  bool differs(std::size_t n, const Json* after) const {
    const Node& node = nodes_[n];
    if (node.leaf) return node.present != (after != nullptr) || (after && !deepEqual(node.before, *after));
    for (std::size_t c : node.children) {
      if (differs(c, childOf(*after, nodes_[c].token))) return true;
    }
    return false;
  }

  bool emit(std::size_t n, const Json* after, std::string& out) const {
    const Node& node = nodes_[n];
    if (node.leaf) {
      if (!node.present && !after) return false;
      if (node.present && after && deepEqual(node.before, *after)) return false;
      if (!after) out.append("null");
      else if (node.present && node.before.is_object() && after->is_object())
        out.append(diffToText(node.before, *after, DiffFormat::MergePatch, nullptr));
      else serializeTo(out, *after);
      return true;
    }
    if (node.children.empty()) return false;
    if (after->is_array()) {
      // A merge patch carries arrays whole.
      if (!differs(n, after)) return false;
      serializeTo(out, *after);
      return true;
    }
    // mergeDiff's order: the keys of before in before's order, then the new keys in after's
    // order; and since the diff is a JavaScript object, array-index keys first, ascending.
    struct Entry {
      std::uint64_t rank;
      std::size_t node;
      const Json* after;
    };
    std::vector<Entry> order;
    order.reserve(node.children.size());
    for (std::size_t c : node.children) {
      std::ptrdiff_t afterPos = -1;
      const Json* cv = childOf(*after, nodes_[c].token, &afterPos);
      std::uint32_t index = 0;
      std::uint64_t rank;
      if (isArrayIndexKey(nodes_[c].token, &index)) rank = index;
      else if (nodes_[c].beforePos >= 0) rank = (std::uint64_t(1) << 32) + static_cast<std::uint64_t>(nodes_[c].beforePos);
      else rank = (std::uint64_t(1) << 62) + static_cast<std::uint64_t>(afterPos);
      order.push_back({rank, c, cv});
    }
    std::sort(order.begin(), order.end(), [](const Entry& a, const Entry& b) { return a.rank < b.rank; });
    const std::size_t start = out.size();
    bool any = false;
    out.push_back('{');
    for (const Entry& e : order) {
      const std::size_t mark = out.size();
      if (any) out.push_back(',');
      appendQuoted(out, nodes_[e.node].token);
      out.push_back(':');
      if (emit(e.node, e.after, out)) any = true;
      else out.resize(mark);
    }
    if (!any) {
      out.resize(start);
      return false;
    }
    out.push_back('}');
    return true;
  }

  std::vector<Node> nodes_;
};

// The delta of the journal [begin, end), which brought `doc` to its current state.
std::optional<std::string> journalDelta(Json& doc, const JRef* begin, const JRef* end) {
  if (begin == end) return std::nullopt;
  DeltaTrie trie;
  for (const JRef* it = begin; it != end; ++it) trie.add(*it->p);
  bool byTrie = trie.walkable(doc);
  Json whole;
  rewind(doc, begin, end);
  try {
    if (byTrie) byTrie = trie.capture(doc);
    if (!byTrie) whole = deepCopy(doc);
  } catch (...) {
    replay(doc, begin, end);
    throw;
  }
  replay(doc, begin, end);
  if (!byTrie) {
    std::optional<std::string> d = wholeDelta(whole, doc);
    release(whole);
    return d;
  }
  std::string out;
  if (!trie.emit(doc, out)) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Footprints. Two changes commute (applying them in either order gives the same document, with
// the same primitives and the same key order) when no location one of them writes is at, above
// or under a location the other writes or reads, no location one writes is at or above a
// location the other only looks at (the type or presence of a value), and they do not both
// change the key set of the same object. Written: a member for key changes, the array for item
// changes, the root for a root change. Read: every op's path (and from), for a merge patch every
// member that it sets to a value other than an object or null (compared to the old one);
// looked at: the root and the members a merge patch recurses into or deletes.

struct PathRef {
  const std::string* tokens;
  std::size_t n;
  const std::string* last;  // a last token after tokens[0, n), or nullptr
};

inline std::size_t lengthOf(const PathRef& p) { return p.n + (p.last ? 1 : 0); }
inline const std::string& tokenAt(const PathRef& p, std::size_t i) { return i < p.n ? p.tokens[i] : *p.last; }

// `a` is a prefix of `b` (or equal) over their common length: one is at or above the other.
bool related(const PathRef& a, const PathRef& b) {
  const std::size_t m = std::min(lengthOf(a), lengthOf(b));
  for (std::size_t i = 0; i < m; ++i) {
    if (tokenAt(a, i) != tokenAt(b, i)) return false;
  }
  return true;
}

struct Footprint {
  std::vector<PathRef> paths;           // written, and read whole
  std::vector<PathRef> looks;           // only the type or presence of the value there is read
  std::vector<const Tokens*> keySets;   // objects whose key set changed
};

bool disturbs(const Footprint& writer, const Footprint& looker) {
  for (const PathRef& w : writer.paths) {
    for (const PathRef& l : looker.looks) {
      if (lengthOf(w) <= lengthOf(l) && related(w, l)) return true;
    }
  }
  return false;
}

bool commute(const Footprint& a, const Footprint& b) {
  for (const PathRef& x : a.paths) {
    for (const PathRef& y : b.paths) {
      if (related(x, y)) return false;
    }
  }
  if (disturbs(a, b) || disturbs(b, a)) return false;
  for (const Tokens* x : a.keySets) {
    for (const Tokens* y : b.keySets) {
      if (*x == *y) return false;
    }
  }
  return true;
}

// The union of several footprints, as a trie, to test another footprint against all of them
// at once (the same relations as commute()).
class FootprintSet {
 public:
  FootprintSet() { nodes_.emplace_back(); }

  void add(const Footprint& f) {
    for (const PathRef& p : f.paths) nodes_[mark(p, &Node::fullIn)].full = true;
    for (const PathRef& p : f.looks) nodes_[mark(p, &Node::lookIn)].look = true;
    for (const Tokens* k : f.keySets) nodes_[mark({k->data(), k->size(), nullptr}, nullptr)].keySet = true;
  }

  bool conflicts(const Footprint& f) const {
    for (const PathRef& p : f.paths) {
      std::size_t end;
      if (fullOnTheWay(p, &end)) return true;               // a path of the set at or above p
      if (end != kNone && (nodes_[end].fullIn || nodes_[end].lookIn)) return true;  // under p
    }
    for (const PathRef& p : f.looks) {
      if (fullOnTheWay(p, nullptr)) return true;            // written at or above what p looks at
    }
    for (const Tokens* k : f.keySets) {
      std::size_t end = find({k->data(), k->size(), nullptr});
      if (end != kNone && nodes_[end].keySet) return true;
    }
    return false;
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t(0);
  struct Node {
    std::vector<std::pair<const std::string*, std::size_t>> children;
    bool full = false;     // a written or read path ends here
    bool fullIn = false;   // ... here or under
    bool look = false;
    bool lookIn = false;
    bool keySet = false;
  };

  std::size_t childOf(std::size_t n, const std::string& token) const {
    for (const auto& [t, c] : nodes_[n].children) {
      if (*t == token) return c;
    }
    return kNone;
  }

  std::size_t mark(const PathRef& p, bool Node::*in) {
    std::size_t n = 0;
    if (in) nodes_[n].*in = true;
    for (std::size_t i = 0; i < lengthOf(p); ++i) {
      const std::string& token = tokenAt(p, i);
      std::size_t c = childOf(n, token);
      if (c == kNone) {
        c = nodes_.size();
        nodes_.emplace_back();
        nodes_[n].children.emplace_back(&token, c);
      }
      n = c;
      if (in) nodes_[n].*in = true;
    }
    return n;
  }

  std::size_t find(const PathRef& p) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < lengthOf(p) && n != kNone; ++i) n = childOf(n, tokenAt(p, i));
    return n;
  }

  // A full path of the set ends at a node on p's way (root and p's end included). `end`: p's
  // node, or kNone when p leaves the trie.
  bool fullOnTheWay(const PathRef& p, std::size_t* end) const {
    std::size_t n = 0;
    if (nodes_[n].full) return true;
    for (std::size_t i = 0; i < lengthOf(p); ++i) {
      n = childOf(n, tokenAt(p, i));
      if (n == kNone) break;
      if (nodes_[n].full) return true;
    }
    if (end) *end = n;
    return false;
  }

  std::vector<Node> nodes_;
};

// Two logs made the same primitives at the same places (their footprints are the same).
bool sameShape(const std::vector<Primitive>& a, const std::vector<Primitive>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Primitive& x = a[i];
    const Primitive& y = b[i];
    if (x.kind != y.kind || x.hadOld != y.hadOld || x.container != y.container || x.key != y.key) return false;
    if (x.kind != PrimKind::KeySet && x.kind != PrimKind::KeyRemove && x.index != y.index) return false;
  }
  return true;
}

bool takesValue(const PatchOp& op) { return op.kind == OpKind::Add || op.kind == OpKind::Replace; }

// The paths of a merge patch's members, at every level: `looks` for the members it recurses
// into or deletes, `reads` for the others (compared with the old value before being written).
void memberPaths(const Json& patch, std::vector<Tokens>& reads, std::vector<Tokens>& looks) {
  std::vector<std::pair<const Json*, Tokens>> stack;
  stack.emplace_back(&patch, Tokens());
  while (!stack.empty()) {
    auto [v, path] = std::move(stack.back());
    stack.pop_back();
    for (const auto& kv : members(*v)) {
      Tokens child = path;
      child.push_back(kv.first);
      if (kv.second.is_object()) stack.emplace_back(&kv.second, child);
      (kv.second.is_object() || kv.second.is_null() ? looks : reads).push_back(std::move(child));
    }
  }
}

// Applies a change through the mutator, atomically with its log: on failure the caller undoes.
// The parsed change stays as it is: add/replace ops get fresh copies of their values.
void applyChange(Mutator& m, PendingChange& change, const Limits& limits) {
  if (change.kind == ChangeKind::Patch) {
    std::size_t j = 0;
    for (PatchOp& op : change.ops) {
      if (takesValue(op)) op.value = deepCopy(change.values[j++]);
    }
    applyOps(m, change.ops, limits);
  } else {
    applyMergePatchTo(m, deepCopy(change.mergePatch), limits);
  }
}

}  // namespace

struct OptimisticLog {
  std::vector<Primitive> prims;
  std::unique_ptr<Footprint> footprint;  // built on first use (prims never change after)
};

namespace {

using Log = OptimisticLog;

// Applies a change to `doc` with a fresh log; on failure `doc` is unchanged and the error thrown.
std::shared_ptr<Log> applyLogged(Json& doc, PendingChange& change, const Limits& limits) {
  Mutator m(doc, true);
  try {
    applyChange(m, change, limits);
  } catch (...) {
    m.undo();
    throw;
  }
  auto log = std::make_shared<Log>();
  log->prims = std::move(m.log());
  return log;
}

const Footprint& footprintOf(const PendingChange& change, Log& log) {
  if (log.footprint) return *log.footprint;
  auto f = std::make_unique<Footprint>();
  for (const Primitive& p : log.prims) {
    const Tokens& c = p.container;
    switch (p.kind) {
      case PrimKind::RootSet: f->paths.push_back({nullptr, 0, nullptr}); break;
      case PrimKind::KeySet:
      case PrimKind::KeyRemove:
        f->paths.push_back({c.data(), c.size(), &p.key});
        if (p.kind == PrimKind::KeyRemove || !p.hadOld) f->keySets.push_back(&c);
        break;
      default: f->paths.push_back({c.data(), c.size(), nullptr}); break;
    }
  }
  if (change.kind == ChangeKind::Patch) {
    for (const PatchOp& op : change.ops) {
      f->paths.push_back({op.pathTokens.data(), op.pathTokens.size(), nullptr});
      if (op.kind == OpKind::Move || op.kind == OpKind::Copy) {
        f->paths.push_back({op.fromTokens.data(), op.fromTokens.size(), nullptr});
      }
    }
  } else if (!change.mergePatch.is_object()) {
    f->paths.push_back({nullptr, 0, nullptr});
  } else {
    f->looks.push_back({nullptr, 0, nullptr});  // is the document an object?
    for (const Tokens& t : change.reads) f->paths.push_back({t.data(), t.size(), nullptr});
    for (const Tokens& t : change.looks) f->looks.push_back({t.data(), t.size(), nullptr});
  }
  log.footprint = std::move(f);
  return *log.footprint;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Transactions: what an operation (or a whole batch) did, to undo it on failure.

struct OptimisticState::Txn {
  explicit Txn(OptimisticState& state) : s(state), savedVersion(state.baseVersion_) {}

  OptimisticState& s;
  double savedVersion;
  std::vector<JRef> journal;                  // every change to the visible document, in order
  std::vector<std::shared_ptr<Log>> keep;     // the logs the journal points into (slots come and go)
  std::vector<std::shared_ptr<Log>> baseLogs; // every change to the base, in order
  struct Record {
    bool append;
    std::vector<Slot> old;                    // the list before a replacement
  };
  std::vector<Record> records;

  void rollback() {
    rewind(s.visible_, journal.data(), journal.data() + journal.size());
    for (auto log = baseLogs.rbegin(); log != baseLogs.rend(); ++log) {
      for (auto it = (*log)->prims.rbegin(); it != (*log)->prims.rend(); ++it) undoPrim(s.base_, *it);
    }
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      if (it->append) s.pending_.pop_back();
      else s.pending_ = std::move(it->old);
    }
    s.baseVersion_ = savedVersion;
    s.ids_.clear();
    for (const Slot& slot : s.pending_) s.ids_.insert(slot.change->id);
    s.minValid_ = false;
  }

  // Whole documents replaced by the operation die here, without nlohmann's recursive destructor.
  void finish() {
    records.clear();
    for (const std::shared_ptr<Log>& log : baseLogs) {
      for (Primitive& p : log->prims) {
        if (p.kind == PrimKind::RootSet) release(p.old);
      }
    }
    for (const std::shared_ptr<Log>& log : keep) {
      if (log.use_count() != 1) continue;  // a pending change's log: still needed
      for (Primitive& p : log->prims) {
        if (p.kind == PrimKind::RootSet) release(p.old);
      }
    }
  }
};

template <typename F>
OptimisticResult OptimisticState::single(F&& op) {
  Txn t(*this);
  OptimisticResult r;
  try {
    r = op(t);
  } catch (...) {
    t.rollback();
    throw;
  }
  t.finish();
  return r;
}

OptimisticState::OptimisticState(const char* text, std::size_t size, OptimisticOptions options)
    : options_(std::move(options)) {
  base_ = parse(text, size, options_.limits);
  baseVersion_ = options_.baseVersion;
  visible_ = deepCopy(base_);
}

OptimisticState::~OptimisticState() {
  release(visible_);
  release(base_);
}

std::optional<double> OptimisticState::nextDeadline() const {
  if (pending_.empty()) return std::nullopt;
  if (!minValid_) {
    double m = pending_.front().change->createdAt;
    for (const Slot& s : pending_) m = std::min(m, s.change->createdAt);
    minCreatedAt_ = m;
    minValid_ = true;
  }
  return *minCreatedAt_ + options_.timeoutMs;
}

std::size_t OptimisticState::indexOf(const std::string& id) const {
  if (ids_.count(id) == 0) throw Error(codes::kUnknownId, "no pending change \"" + id + "\"");
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i].change->id == id) return i;
  }
  throw Error(codes::kInternal, "optimistic state: id index out of step");
}

std::shared_ptr<PendingChange> OptimisticState::parseChange(ChangeKind kind, const char* text,
                                                            std::size_t size) const {
  auto c = std::make_shared<PendingChange>();
  c->kind = kind;
  if (kind == ChangeKind::Patch) {
    c->ops = parsePatch(text, size, options_.limits);
    for (PatchOp& op : c->ops) {
      if (takesValue(op)) c->values.push_back(std::move(op.value));
    }
  } else {
    c->mergePatch = parse(text, size, options_.limits);
    if (kind == ChangeKind::MergePatch && c->mergePatch.is_object()) memberPaths(c->mergePatch, c->reads, c->looks);
  }
  return c;
}

std::shared_ptr<OptimisticState::Log> OptimisticState::applyToBase(Txn& t, PendingChange& change) {
  std::shared_ptr<Log> log = applyLogged(base_, change, options_.limits);
  t.baseLogs.push_back(log);
  return log;
}

std::shared_ptr<OptimisticState::Log> OptimisticState::applyToVisible(Txn& t, PendingChange& change) {
  std::shared_ptr<Log> log = applyLogged(visible_, change, options_.limits);
  for (Primitive& p : log->prims) t.journal.push_back({&p, false});
  t.keep.push_back(log);
  return log;
}

// Undoes the pending changes from the top down to `from` (included) on the visible document.
void OptimisticState::undoFrom(Txn& t, std::size_t from) {
  for (std::size_t i = pending_.size(); i-- > from;) undoInto(visible_, pending_[i].log->prims, t.journal);
}

// Re-applies `candidates` in order on `doc`, each atomically; the ones that fail are dropped
// (conflicts). With a transaction, the changes go into its journal (doc is the visible document).
void OptimisticState::reapply(Txn* t, Json& doc, const std::vector<Slot>& candidates, std::vector<Slot>& kept,
                              std::vector<RolledBack>& conflicts) {
  for (const Slot& c : candidates) {
    std::shared_ptr<Log> log;
    try {
      log = applyLogged(doc, *c.change, options_.limits);
    } catch (const Error&) {
      conflicts.push_back({c.change->id, "conflict"});
      continue;
    }
    if (t) {
      for (Primitive& p : log->prims) t->journal.push_back({&p, false});
      t->keep.push_back(log);
    }
    kept.push_back({c.change, std::move(log)});
  }
}

// Removes the pending changes at `removed` (ascending) and puts `below` (already applied to the
// base, `belowLog`) under the remaining ones, re-applying only what it must. A remaining change
// that commutes with everything that moves (the removed changes and `below`, and the changes
// re-applied below it) behaves as before: it stays applied, its log valid. The others (closed
// upwards: whatever does not commute with one of them) are undone where they stand and
// re-applied on top, which is their order unless one now writes elsewhere and no longer
// commutes with a change it passes; then, and when most changes would be re-applied anyway,
// false: nothing done, the general way (rebuild) follows.
bool OptimisticState::reorder(Txn& t, const std::vector<std::size_t>& removed, PendingChange* below,
                              const Log* belowLog, std::vector<RolledBack>& conflicts) {
  const std::size_t n = pending_.size();
  enum Role : char { kKeep, kRemove, kRedo };
  std::vector<char> role(n, kKeep);
  for (std::size_t x : removed) role[x] = kRemove;
  auto footprint = [&](std::size_t i) -> const Footprint& { return footprintOf(*pending_[i].change, *pending_[i].log); };
  FootprintSet moving;
  bool any = false;
  if (below) {
    moving.add(footprintOf(*below, const_cast<Log&>(*belowLog)));
    any = true;
  }
  std::vector<std::size_t> redo;
  const std::size_t first = below ? 0 : removed.front();
  for (std::size_t m = first; m < n; ++m) {
    if (role[m] == kRemove) {
      moving.add(footprint(m));
      any = true;
    } else if (any && moving.conflicts(footprint(m))) {
      role[m] = kRedo;
      redo.push_back(m);
      moving.add(footprint(m));
    }
  }
  if (redo.size() * 2 > n - first) return false;

  const std::size_t mark = t.journal.size();
  auto abandon = [&] {
    rewind(visible_, t.journal.data() + mark, t.journal.data() + t.journal.size());
    t.journal.resize(mark);
    return false;
  };
  for (std::size_t i = n; i-- > first;) {
    if (role[i] != kKeep) undoInto(visible_, pending_[i].log->prims, t.journal);
  }
  if (below) {
    try {
      applyToVisible(t, *below);
    } catch (const Error&) {
      return abandon();  // cannot happen when the footprints are right
    }
  }
  std::vector<Slot> fresh(redo.empty() ? 0 : n);
  std::vector<RolledBack> dropped;
  for (std::size_t m : redo) {
    std::shared_ptr<Log> log;
    try {
      log = applyLogged(visible_, *pending_[m].change, options_.limits);
    } catch (const Error&) {
      dropped.push_back({pending_[m].change->id, "conflict"});
      continue;
    }
    for (Primitive& p : log->prims) t.journal.push_back({&p, false});
    t.keep.push_back(log);
    if (!sameShape(log->prims, pending_[m].log->prims)) {
      const Footprint& now = footprintOf(*pending_[m].change, *log);
      for (std::size_t q = m + 1; q < n; ++q) {
        if (role[q] == kKeep && !commute(now, footprint(q))) return abandon();
      }
    }
    fresh[m] = {pending_[m].change, std::move(log)};
  }
  if (removed.empty() && redo.empty()) return true;  // the same list, the same logs
  std::vector<Slot> next;
  next.reserve(n);
  for (std::size_t j = 0; j < n; ++j) {
    if (role[j] == kKeep) next.push_back(pending_[j]);
    else if (role[j] == kRedo && fresh[j].log) next.push_back(std::move(fresh[j]));
  }
  replacePending(t, std::move(next));
  conflicts.insert(conflicts.end(), dropped.begin(), dropped.end());
  return true;
}

// The general way: undoes the pending changes down to the first one affected, applies `below`
// (already applied to the base) and re-applies the remaining ones in order; those that fail are
// dropped (conflicts).
void OptimisticState::rebuild(Txn& t, const std::vector<std::size_t>& removed, PendingChange* below,
                              std::vector<RolledBack>& conflicts) {
  const std::size_t n = pending_.size();
  std::size_t first = below ? 0 : (removed.empty() ? n : removed.front());
  undoFrom(t, first);
  if (below) applyToVisible(t, *below);
  std::vector<Slot> next(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(first));
  std::vector<Slot> rest;
  rest.reserve(n - first);
  std::size_t r = 0;
  for (std::size_t j = first; j < n; ++j) {
    while (r < removed.size() && removed[r] < j) ++r;
    if (r < removed.size() && removed[r] == j) continue;
    rest.push_back(pending_[j]);
  }
  reapply(&t, visible_, rest, next, conflicts);
  replacePending(t, std::move(next));
}

void OptimisticState::replacePending(Txn& t, std::vector<Slot> next) {
  t.records.push_back({false, std::move(pending_)});
  pending_ = std::move(next);
  // The new list is the old one with some changes removed (order kept).
  const std::vector<Slot>& old = t.records.back().old;
  std::size_t j = 0;
  for (const Slot& s : old) {
    if (j < pending_.size() && pending_[j].change == s.change) ++j;
    else ids_.erase(s.change->id);
  }
  for (; j < pending_.size(); ++j) ids_.insert(pending_[j].change->id);
  minValid_ = false;
}

void OptimisticState::appendPending(Txn& t, Slot slot) {
  t.records.push_back({true, {}});
  const double at = slot.change->createdAt;
  pending_.push_back(std::move(slot));
  ids_.insert(pending_.back().change->id);
  if (minValid_) minCreatedAt_ = minCreatedAt_ ? std::min(*minCreatedAt_, at) : at;
}

std::optional<std::string> OptimisticState::deltaSince(Txn& t, std::size_t mark) {
  return journalDelta(visible_, t.journal.data() + mark, t.journal.data() + t.journal.size());
}

// ---------------------------------------------------------------------------------------------
// Operations

OptimisticResult OptimisticState::applyOp(Txn& t, const std::string& id, ChangeKind kind, const char* text,
                                          std::size_t size, double nowMs) {
  if (ids_.count(id)) throw Error(codes::kDuplicateId, "change \"" + id + "\" is already pending");
  const bool full = pending_.size() >= options_.maxPending;
  if (full && options_.overflow == Overflow::Reject) {
    throw Error(codes::kTooManyPending, "maxPending (" + std::to_string(options_.maxPending) +
                                            ") changes are already pending");
  }
  if (kind == ChangeKind::Snapshot) throw Error(codes::kInvalidArgument, "apply takes a patch or a merge patch");
  std::shared_ptr<PendingChange> change = parseChange(kind, text, size);
  change->id = id;
  change->text.assign(text, size);
  change->createdAt = nowMs;

  const std::size_t mark = t.journal.size();
  OptimisticResult r;
  if (full) {
    // rollback-oldest: make room (the others re-applied on the base), then apply the new change.
    std::vector<std::size_t> victims;
    for (std::size_t i = 0; i + options_.maxPending <= pending_.size(); ++i) {
      victims.push_back(i);
      r.rolledBack.push_back({pending_[i].change->id, "overflow"});
    }
    if (!reorder(t, victims, nullptr, nullptr, r.rolledBack)) rebuild(t, victims, nullptr, r.rolledBack);
  }
  appendPending(t, {change, applyToVisible(t, *change)});
  r.delta = deltaSince(t, mark);
  return r;
}

OptimisticResult OptimisticState::commitOp(Txn& t, const std::string& id, const std::optional<ChangeText>& canonical,
                                           std::optional<double> version) {
  const std::size_t k = indexOf(id);
  std::shared_ptr<PendingChange> canon;
  if (canonical) {
    if (canonical->kind == ChangeKind::Snapshot) {
      throw Error(codes::kInvalidArgument, "commit takes a patch or a merge patch");
    }
    canon = parseChange(canonical->kind, canonical->data, canonical->size);
  }
  const std::size_t mark = t.journal.size();
  OptimisticResult r;
  const std::vector<std::size_t> removed{k};
  if (version && *version <= baseVersion_) {
    // Already part of the base (it came through rebase): drop it, re-apply the ones above.
    if (!reorder(t, removed, nullptr, nullptr, r.rolledBack)) rebuild(t, removed, nullptr, r.rolledBack);
  } else if (canon) {
    // The server's version of the change goes into the base, under every pending change.
    std::shared_ptr<Log> baseLog = applyToBase(t, *canon);
    baseVersion_ = version ? *version : baseVersion_ + 1;
    if (!reorder(t, removed, canon.get(), baseLog.get(), r.rolledBack)) rebuild(t, removed, canon.get(), r.rolledBack);
  } else {
    // The change itself moves into the base, under the older pending ones. When it commutes
    // with them (always for the oldest), the visible state and every log stay as they are.
    std::shared_ptr<PendingChange> change = pending_[k].change;
    std::shared_ptr<Log> baseLog = applyToBase(t, *change);
    baseVersion_ = version ? *version : baseVersion_ + 1;
    const Footprint& fk = footprintOf(*change, *pending_[k].log);
    bool commutes = true;
    for (std::size_t j = 0; j < k && commutes; ++j) {
      commutes = commute(fk, footprintOf(*pending_[j].change, *pending_[j].log));
    }
    if (commutes) {
      std::vector<Slot> next = pending_;
      next.erase(next.begin() + static_cast<std::ptrdiff_t>(k));
      replacePending(t, std::move(next));
    } else if (!reorder(t, removed, change.get(), baseLog.get(), r.rolledBack)) {
      rebuild(t, removed, change.get(), r.rolledBack);
    }
  }
  r.version = baseVersion_;
  r.delta = deltaSince(t, mark);
  return r;
}

OptimisticResult OptimisticState::rollbackOp(Txn& t, const std::string& id) {
  const std::size_t k = indexOf(id);
  const std::size_t mark = t.journal.size();
  OptimisticResult r;
  r.rolledBack.push_back({id, "explicit"});
  const std::vector<std::size_t> removed{k};
  if (!reorder(t, removed, nullptr, nullptr, r.rolledBack)) rebuild(t, removed, nullptr, r.rolledBack);
  r.delta = deltaSince(t, mark);
  return r;
}

OptimisticResult OptimisticState::rollbackAllOp(Txn& t) {
  OptimisticResult r;
  if (pending_.empty()) return r;
  const std::size_t mark = t.journal.size();
  for (const Slot& s : pending_) r.rolledBack.push_back({s.change->id, "explicit"});
  undoFrom(t, 0);
  replacePending(t, {});
  r.delta = deltaSince(t, mark);
  return r;
}

OptimisticResult OptimisticState::expireOp(Txn& t, double nowMs) {
  OptimisticResult r;
  std::vector<std::size_t> removed;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (nowMs - pending_[i].change->createdAt >= options_.timeoutMs) {
      removed.push_back(i);
      r.rolledBack.push_back({pending_[i].change->id, "timeout"});
    }
  }
  if (removed.empty()) return r;
  const std::size_t mark = t.journal.size();
  if (!reorder(t, removed, nullptr, nullptr, r.rolledBack)) rebuild(t, removed, nullptr, r.rolledBack);
  r.delta = deltaSince(t, mark);
  return r;
}

OptimisticResult OptimisticState::rebaseOp(Txn& t, ChangeKind kind, const char* text, std::size_t size,
                                           std::optional<double> version, const std::vector<std::string>& confirms) {
  std::shared_ptr<PendingChange> change = parseChange(kind, text, size);
  OptimisticResult r;
  if (version && *version <= baseVersion_) {
    r.status = "duplicate";
    r.version = baseVersion_;
    return r;
  }
  std::unordered_set<std::string_view> confirmed;
  for (const std::string& id : confirms) {
    if (!ids_.count(id)) throw Error(codes::kUnknownId, "confirms: no pending change \"" + id + "\"");
    if (!confirmed.insert(id).second) throw Error(codes::kInvalidArgument, "confirms: \"" + id + "\" is repeated");
  }
  std::vector<std::size_t> removed;
  for (std::size_t i = 0; i < pending_.size() && removed.size() < confirmed.size(); ++i) {
    if (confirmed.count(pending_[i].change->id)) {
      removed.push_back(i);
      r.committed.push_back(pending_[i].change->id);
    }
  }

  const std::size_t mark = t.journal.size();
  if (kind != ChangeKind::Snapshot) {
    std::shared_ptr<Log> baseLog = applyToBase(t, *change);
    baseVersion_ = version ? *version : baseVersion_ + 1;
    r.version = baseVersion_;
    if (!reorder(t, removed, change.get(), baseLog.get(), r.rolledBack)) rebuild(t, removed, change.get(), r.rolledBack);
    r.delta = deltaSince(t, mark);
    return r;
  }

  // A new document: the base is replaced, the visible state built aside and swapped in whole.
  auto baseLog = std::make_shared<Log>();
  baseLog->prims.resize(1);
  Primitive& bp = baseLog->prims.front();
  bp.kind = PrimKind::RootSet;
  bp.hadOld = true;
  bp.old = std::move(change->mergePatch);
  base_.swap(bp.old);
  t.baseLogs.push_back(baseLog);
  baseVersion_ = version ? *version : baseVersion_ + 1;
  r.version = baseVersion_;

  std::vector<Slot> rest;
  rest.reserve(pending_.size());
  for (std::size_t i = 0, x = 0; i < pending_.size(); ++i) {
    if (x < removed.size() && removed[x] == i) ++x;
    else rest.push_back(pending_[i]);
  }
  std::vector<Slot> next;
  Json fresh = deepCopy(base_);
  try {
    reapply(nullptr, fresh, rest, next, r.rolledBack);
  } catch (...) {
    release(fresh);
    throw;
  }
  auto log = std::make_shared<Log>();
  log->prims.resize(1);
  Primitive& swap = log->prims.front();
  swap.kind = PrimKind::RootSet;
  swap.hadOld = true;
  swap.old = std::move(fresh);
  visible_.swap(swap.old);
  t.keep.push_back(log);
  t.journal.push_back({&swap, false});
  replacePending(t, std::move(next));
  r.delta = wholeDelta(swap.old, visible_);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Public entry points: one transaction each.

OptimisticResult OptimisticState::apply(const std::string& id, ChangeKind kind, const char* text, std::size_t size,
                                        double nowMs) {
  return single([&](Txn& t) { return applyOp(t, id, kind, text, size, nowMs); });
}

OptimisticResult OptimisticState::commit(const std::string& id, const std::optional<ChangeText>& canonical,
                                         std::optional<double> version) {
  return single([&](Txn& t) { return commitOp(t, id, canonical, version); });
}

OptimisticResult OptimisticState::rollback(const std::string& id) {
  return single([&](Txn& t) { return rollbackOp(t, id); });
}

OptimisticResult OptimisticState::rollbackAll() {
  return single([&](Txn& t) { return rollbackAllOp(t); });
}

OptimisticResult OptimisticState::rebase(ChangeKind kind, const char* text, std::size_t size,
                                         std::optional<double> version, const std::vector<std::string>& confirms) {
  return single([&](Txn& t) { return rebaseOp(t, kind, text, size, version, confirms); });
}

OptimisticResult OptimisticState::expire(double nowMs) {
  return single([&](Txn& t) { return expireOp(t, nowMs); });
}

BatchResult OptimisticState::batch(const std::vector<BatchOp>& ops, double nowMs) {
  Txn t(*this);
  BatchResult out;
  out.results.reserve(ops.size());
  std::size_t i = 0;
  try {
    for (; i < ops.size(); ++i) {
      const BatchOp& op = ops[i];
      switch (op.type) {
        case BatchOpType::Apply:
          if (!op.kind) throw Error(codes::kInvalidArgument, "apply needs a change");
          out.results.push_back(applyOp(t, op.id, *op.kind, op.text.data(), op.text.size(), nowMs));
          break;
        case BatchOpType::Commit: {
          std::optional<ChangeText> canonical;
          if (op.kind) canonical = ChangeText{*op.kind, op.text.data(), op.text.size()};
          out.results.push_back(commitOp(t, op.id, canonical, op.version));
          break;
        }
        case BatchOpType::Rollback: out.results.push_back(rollbackOp(t, op.id)); break;
        case BatchOpType::RollbackAll: out.results.push_back(rollbackAllOp(t)); break;
        case BatchOpType::Rebase:
          if (!op.kind) throw Error(codes::kInvalidArgument, "rebase needs a change");
          out.results.push_back(rebaseOp(t, *op.kind, op.text.data(), op.text.size(), op.version, op.confirms));
          break;
      }
    }
    out.delta = deltaSince(t, 0);
  } catch (const Error& e) {
    t.rollback();
    if (i < ops.size()) throw BatchError(e, i);
    throw;
  } catch (...) {
    t.rollback();
    throw;
  }
  t.finish();
  return out;
}

}  // namespace rtc
