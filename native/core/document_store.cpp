#include "document_store.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "merge_patch.h"
#include "pointer.h"

namespace rtc {

namespace {

Tokens withKey(const Tokens& path, const std::string& key) {
  Tokens t = path;
  t.push_back(key);
  return t;
}

// Path of the first array met walking `path` from the root (the root itself if an array).
std::optional<Tokens> outerArray(const Json& root, const Tokens& path) {
  const Json* cur = &root;
  if (cur->is_array()) return Tokens();
  for (std::size_t i = 0; i < path.size(); ++i) {
    cur = resolve(*cur, path.data() + i, 1);
    if (!cur) return std::nullopt;
    if (cur->is_array()) return Tokens(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(i + 1));
  }
  return std::nullopt;
}

using Opt = std::optional<Json>;

// `wholeDiff` is set when an object lands on a value an earlier primitive of the same patch
// replaced or removed: a merge patch cannot say "replace with this object" (it would merge into
// whatever the old document held there), so the delta falls back to a whole-document diff.
// (Section 8.2 says applyMergePatch(P, X) here, which loses that case; the JS twin agrees.)
Opt compose(Opt p, Json x, bool& wholeDiff) {
  if (!x.is_object() || !p) return Opt(std::move(x));
  if (!p->is_object()) {
    wholeDiff = true;
    return Opt(std::move(x));
  }
  for (auto& kv : x.get_ref<Object&>()) {
    Json* existing = objGet(*p, kv.first);
    Opt prev = existing ? Opt(std::move(*existing)) : std::nullopt;
    objSet(*p, kv.first, std::move(*compose(std::move(prev), std::move(kv.second), wholeDiff)));
  }
  return p;
}

// Section 8.2, merge-patch format: built live from the primitives as they happen.
class MergeDeltaBuilder : public ChangeObserver {
 public:
  void changed(const Primitive& p, const Json& root, const Json* newValue) override {
    switch (p.kind) {
      case PrimKind::RootSet:
        contribute(Tokens(), mergeDiff(p.old, *newValue));
        return;
      case PrimKind::KeySet: {
        if (auto outer = outerArray(root, p.container)) return touch(std::move(*outer));
        bool bothObjects = p.hadOld && p.old.is_object() && newValue->is_object();
        contribute(withKey(p.container, p.key), bothObjects ? mergeDiff(p.old, *newValue) : deepCopy(*newValue));
        return;
      }
      case PrimKind::KeyRemove:
        if (auto outer = outerArray(root, p.container)) return touch(std::move(*outer));
        contribute(withKey(p.container, p.key), Json(nullptr));
        return;
      default:
        if (auto outer = outerArray(root, p.container)) touch(std::move(*outer));
        return;
    }
  }

  bool needsWholeDiff() const { return wholeDiff_; }

  Opt finish(const Json& root) {
    for (std::size_t i = 0; i < touched_.size(); ++i) {
      const Tokens& t = touched_[i];
      bool covered = false;
      for (std::size_t j = 0; j < touched_.size() && !covered; ++j) {
        const Tokens& o = touched_[j];
        covered = o.size() < t.size() && std::equal(o.begin(), o.end(), t.begin());
      }
      if (covered) continue;
      // The touched array is final and only printed: refer to it instead of copying it.
      if (const Json* v = resolve(root, t)) {
        contribute(t, makeRef(refs_.size()));
        refs_.push_back(v);
      }
    }
    return std::move(delta_);
  }

  // Valid until the document changes again.
  const Json* const* refs() const { return refs_.data(); }

 private:
  void touch(Tokens t) {
    for (const Tokens& o : touched_) {
      if (o == t) return;
    }
    touched_.push_back(std::move(t));
  }

  void contribute(const Tokens& tokens, Json x) {
    if (tokens.empty()) {
      delta_ = compose(std::move(delta_), std::move(x), wholeDiff_);
      return;
    }
    if (!delta_ || !delta_->is_object()) delta_ = makeObject();
    Json* node = &*delta_;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      Json* child = objGet(*node, tokens[i]);
      if (!child || !child->is_object()) child = &objSet(*node, tokens[i], makeObject());
      node = child;
    }
    Json* existing = objGet(*node, tokens.back());
    Opt prev = existing ? Opt(std::move(*existing)) : std::nullopt;
    objSet(*node, tokens.back(), std::move(*compose(std::move(prev), std::move(x), wholeDiff_)));
  }

  Opt delta_;
  std::vector<Tokens> touched_;
  std::vector<const Json*> refs_;
  bool wholeDiff_ = false;
};

// Section 8.2, json-patch format for merge-patch mutations: one op per changing primitive.
class PatchDeltaBuilder : public ChangeObserver {
 public:
  void changed(const Primitive& p, const Json&, const Json* newValue) override {
    PatchOp op;
    switch (p.kind) {
      case PrimKind::KeySet:
        op.kind = p.hadOld ? OpKind::Replace : OpKind::Add;
        op.path = formatPointer(withKey(p.container, p.key));
        break;
      case PrimKind::KeyRemove:
        op.kind = OpKind::Remove;
        op.path = formatPointer(withKey(p.container, p.key));
        break;
      case PrimKind::RootSet:
        op.kind = OpKind::Replace;
        break;
      default:
        return;  // merge patches produce no array primitives
    }
    text_.push_back(text_.empty() ? '[' : ',');
    if (newValue) {
      // Serialize in place: the value lives in the document, no copy needed.
      text_.append("{\"op\":\"");
      text_.append(opName(op.kind));
      text_.append("\",\"path\":");
      appendQuoted(text_, op.path);
      text_.append(",\"value\":");
      serializeTo(text_, *newValue);
      text_.push_back('}');
    } else {
      serializeOpTo(text_, op);
    }
  }
  std::string finish() { return text_.empty() ? "[]" : text_ + "]"; }

 private:
  std::string text_;
};

Patch copyPatch(const Patch& p) {
  Patch out;
  out.reserve(p.size());
  for (const PatchOp& op : p) {
    PatchOp c;
    c.kind = op.kind;
    c.path = op.path;
    c.from = op.from;
    c.pathTokens = op.pathTokens;
    c.fromTokens = op.fromTokens;
    c.value = deepCopy(op.value);
    out.push_back(std::move(c));
  }
  return out;
}

bool isPatchFailure(const char* code) {
  std::string_view c(code);
  return c == codes::kPathNotFound || c == codes::kTestFailed || c == codes::kInvalidPatch || c == codes::kTooDeep ||
         c == codes::kGrowthLimit;
}

void reject(ApplyResult& out, const char* code, const std::string& message) {
  out.status = "rejected";
  out.delta.reset();
  out.conflicts = "[]";
  out.hasError = true;
  out.errorCode = code;
  out.errorMessage = message;
}

class BusyGuard {
 public:
  explicit BusyGuard(bool& flag) : flag_(flag) { flag_ = true; }
  ~BusyGuard() { flag_ = false; }

 private:
  bool& flag_;
};

}  // namespace

void validateDocumentId(const std::string& id) {
  if (id.empty() || id.size() > 1024) {
    throw Error(codes::kInvalidArgument, "document id must be a non-empty string of at most 1024 bytes");
  }
}

DocumentStore::DocumentStore(StoreOptions options)
    : options_(std::move(options)), clock_(options_.nodeId, options_.maxDriftMs) {}

void DocumentStore::ensureNotBusy() const {
  if (busy_) {
    throw Error(codes::kInternal, "DocumentStore is busy: a resolver cannot modify the store it resolves for");
  }
}

void DocumentStore::pushHistory(Entry& e, std::string delta, Patch inverse, std::string timestamp) {
  ++e.version;
  e.history.push_back({e.version, std::move(delta), std::move(inverse), std::move(timestamp)});
  while (e.history.size() > options_.historyLimit) e.history.pop_front();
}

PutResult DocumentStore::put(const std::string& id, const char* text, std::size_t size, std::int64_t wallMs) {
  ensureNotBusy();
  validateDocumentId(id);
  Json doc = parse(text, size, options_.limits);
  auto it = docs_.find(id);
  if (it == docs_.end()) {
    order_.push_back(id);
    Entry e;
    e.doc = std::move(doc);
    e.orderIt = std::prev(order_.end());
    docs_.emplace(id, std::move(e));
    return {1, std::nullopt};
  }
  Entry& e = it->second;
  if (deepEqual(e.doc, doc)) return {e.version, std::nullopt};
  std::string delta = diffToText(e.doc, doc, options_.deltaFormat, arrayKey());
  Patch inverse = diffJsonPatch(doc, e.doc, arrayKey());
  std::string ts = clock_.now(wallMs);
  e.doc = std::move(doc);
  pushHistory(e, delta, std::move(inverse), std::move(ts));
  return {e.version, std::move(delta)};
}

const Json* DocumentStore::find(const std::string& id) const {
  auto it = docs_.find(id);
  return it == docs_.end() ? nullptr : &it->second.doc;
}

std::optional<std::string> DocumentStore::get(const std::string& id) const {
  const Json* d = find(id);
  if (!d) return std::nullopt;
  return serialize(*d);
}

bool DocumentStore::remove(const std::string& id) {
  ensureNotBusy();
  auto it = docs_.find(id);
  if (it == docs_.end()) return false;
  order_.erase(it->second.orderIt);
  docs_.erase(it);
  return true;
}

std::optional<std::uint64_t> DocumentStore::version(const std::string& id) const {
  auto it = docs_.find(id);
  if (it == docs_.end()) return std::nullopt;
  return it->second.version;
}

ApplyResult DocumentStore::apply(const std::string& id, const Mutation& m, std::int64_t wallMs) {
  ensureNotBusy();
  // Step 1: everything that can be refused is refused before anything changes.
  ParsedMutation pm;
  if (m.mergePatch) pm.mergePatch = parse(m.text, m.size, options_.limits);
  else pm.ops = parsePatch(m.text, m.size, options_.limits);
  if (m.timestamp) validateTimestamp(*m.timestamp);
  if (m.clientId.has_value() != m.mutationId.has_value()) {
    throw Error(codes::kInvalidArgument, "clientId and mutationId must be given together");
  }
  auto it = docs_.find(id);
  if (it == docs_.end()) throw Error(codes::kNotFound, "document not found");
  Entry& e = it->second;

  // Step 2: deduplication.
  ClientState* client = nullptr;
  bool hadLast = false;
  if (m.clientId) {
    auto cit = clients_.find(*m.clientId);
    if (cit != clients_.end()) {
      client = &cit->second;
      hadLast = true;
      if (*m.mutationId <= client->lastMutationId) {
        for (auto& [mid, remembered] : client->window) {
          if (mid == *m.mutationId) {
            ApplyResult dup = remembered;
            dup.status = "duplicate";
            return dup;
          }
        }
        ApplyResult dup;
        dup.status = "duplicate";
        dup.version = e.version;
        return dup;
      }
    }
  }

  BusyGuard guard(busy_);
  HybridLogicalClock::State saved = clock_.state();
  ApplyResult out;
  try {
    // Step 3. A writer's own timestamp is what last-writer-wins compares and what the history
    // records; receiving it still moves this clock past it (and checks drift).
    std::string ts;
    if (m.timestamp) {
      clock_.receive(*m.timestamp, wallMs);
      ts = *m.timestamp;
    } else {
      ts = clock_.now(wallMs);
    }
    // Step 4/5.
    const std::uint64_t C = e.version;
    out.version = C;
    if (m.baseVersion) {
      double bv = *m.baseVersion;
      if (!(bv >= 0) || bv != std::floor(bv) || bv > static_cast<double>(C)) {
        throw Error(codes::kOutOfRange, "baseVersion must be an integer between 0 and the current version (" +
                                            std::to_string(C) + ")");
      }
    }
    if (!m.baseVersion || static_cast<std::uint64_t>(*m.baseVersion) == C) {
      applyFresh(e, m, pm, ts, "applied", out);
    } else {
      std::uint64_t base = static_cast<std::uint64_t>(*m.baseVersion);
      if (base + e.history.size() >= C) {
        applyStale(e, m, pm, ts, base, out);
      } else if (options_.staleBase == StaleBase::Reject) {
        reject(out, codes::kStaleBase, "baseVersion " + std::to_string(base) + " is older than the history (current " +
                                           std::to_string(C) + ")");
      } else {
        applyFresh(e, m, pm, ts, "merged", out);
      }
    }
  } catch (...) {
    clock_.restore(saved);
    throw;
  }

  // Step 7.
  if (m.clientId) {
    if (hadLast && *m.mutationId > client->lastMutationId + 1) {
      out.hasGap = true;
      out.gapExpected = client->lastMutationId + 1;
      out.gapReceived = *m.mutationId;
    }
    ClientState& cs = client ? *client : clients_[*m.clientId];
    cs.lastMutationId = *m.mutationId;
    cs.window.emplace_back(*m.mutationId, out);
    while (cs.window.size() > options_.dedupWindow) cs.window.pop_front();
  }
  return out;
}

void DocumentStore::applyFresh(Entry& e, const Mutation& m, ParsedMutation& pm, const std::string& ts,
                               const char* status, ApplyResult& out) {
  const bool mergeFormat = options_.deltaFormat == DiffFormat::MergePatch;
  MergeDeltaBuilder mergeDelta;
  PatchDeltaBuilder patchDelta;
  ChangeObserver* observer = nullptr;
  std::string opsDelta;
  if (mergeFormat) observer = &mergeDelta;
  else if (m.mergePatch) observer = &patchDelta;
  else opsDelta = serializePatch(pm.ops, true);  // before the values move into the document

  Mutator mut(e.doc, true, observer);
  try {
    if (m.mergePatch) applyMergePatchTo(mut, std::move(pm.mergePatch), options_.limits);
    else applyOps(mut, pm.ops, options_.limits);
  } catch (const Error& err) {
    mut.undo();
    if (!isPatchFailure(err.code())) throw;
    reject(out, err.code(), err.what());
    return;
  } catch (...) {
    mut.undo();
    throw;
  }
  out.status = status;
  if (!mut.changed()) return;
  std::string delta;
  Patch inverse = mut.takeInverse();
  if (mergeFormat && mergeDelta.needsWholeDiff()) {
    // Rebuild the previous document from the inverse (rare path) and diff the whole thing.
    Json before = deepCopy(e.doc);
    Patch undo = copyPatch(inverse);
    Mutator mb(before, false);
    ApplyOptions noGrowth;
    noGrowth.enforceGrowth = false;
    Limits unbounded = options_.limits;
    unbounded.maxDepth = ~std::uint64_t(0);
    applyOps(mb, undo, unbounded, noGrowth);
    delta = serialize(mergeDiff(before, e.doc));
  } else if (mergeFormat) {
    Opt d = mergeDelta.finish(e.doc);
    if (d) serializeWithRefs(delta, *d, mergeDelta.refs());
    else delta = "{}";
  } else {
    delta = m.mergePatch ? patchDelta.finish() : std::move(opsDelta);
  }
  pushHistory(e, delta, std::move(inverse), ts);
  out.version = e.version;
  out.delta = std::move(delta);
}

void DocumentStore::applyStale(Entry& e, const Mutation& m, ParsedMutation& pm, const std::string& ts,
                               std::uint64_t baseVersion, ApplyResult& out) {
  Limits unbounded = options_.limits;
  ApplyOptions noGrowth;
  noGrowth.enforceGrowth = false;

  Json base = deepCopy(e.doc);
  const HistoryEntry* newest = nullptr;
  for (auto h = e.history.rbegin(); h != e.history.rend() && h->version > baseVersion; ++h) {
    // Writers' timestamps need not arrive in order: search the newest, not the last.
    if (!newest || compareTimestamps(h->timestamp, newest->timestamp) > 0) newest = &*h;
    Patch inv = copyPatch(h->inverse);
    Mutator mm(base, false);
    try {
      applyOps(mm, inv, unbounded, noGrowth);
    } catch (const Error& err) {
      throw Error(codes::kInternal, std::string("history reconstruction failed: ") + err.what());
    }
  }

  Json local = deepCopy(base);
  try {
    Mutator ml(local, false);
    if (m.mergePatch) applyMergePatchTo(ml, std::move(pm.mergePatch), options_.limits);
    else applyOps(ml, pm.ops, options_.limits, noGrowth);
  } catch (const Error& err) {
    if (!isPatchFailure(err.code())) throw;
    reject(out, err.code(), err.what());
    return;
  }

  Merge3Options mo;
  mo.strategy = options_.strategy;
  mo.arrayKey = options_.arrayKey;
  mo.localTimestamp = ts;
  mo.remoteTimestamp = newest ? newest->timestamp : ts;
  mo.resolver = options_.resolver;
  mo.limits = options_.limits;
  Merge3Result merged = merge3Consuming(base, local, e.doc, false, mo);
  release(local);
  release(base);
  if (depth(merged.doc) > options_.limits.maxDepth) {
    reject(out, codes::kTooDeep, "merged document nesting exceeds maxDepth");
    return;
  }
  out.status = "merged";
  out.conflicts = std::move(merged.conflictsText);
  // One equality cache for the three walks over the same two (unchanged) trees.
  EqualityCache eq;
  if (eq.equal(merged.doc, e.doc)) return;
  std::string delta = diffToText(e.doc, merged.doc, options_.deltaFormat, arrayKey(), &eq);
  Patch inverse = diffJsonPatch(merged.doc, e.doc, arrayKey(), &eq);
  release(e.doc);
  e.doc = std::move(merged.doc);
  pushHistory(e, delta, std::move(inverse), ts);
  out.version = e.version;
  out.delta = std::move(delta);
}

ChangesResult DocumentStore::changesSince(const std::string& id, double version) const {
  auto it = docs_.find(id);
  if (it == docs_.end()) throw Error(codes::kNotFound, "document not found");
  const Entry& e = it->second;
  ChangesResult r;
  r.version = e.version;
  const double C = static_cast<double>(e.version);
  if (version == C) return r;
  const double oldest = C - static_cast<double>(e.history.size());
  if (version > C || version <= 0 || version < oldest || version != std::floor(version)) {
    r.isSnapshot = true;
    r.snapshot = serialize(e.doc);
    return r;
  }
  for (const HistoryEntry& h : e.history) {
    if (static_cast<double>(h.version) > version) r.changes.push_back({h.version, h.delta, h.timestamp});
  }
  return r;
}

}  // namespace rtc
