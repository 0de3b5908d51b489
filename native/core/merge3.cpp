#include "merge3.h"

#include <list>
#include <unordered_map>
#include <utility>
#include <vector>

#include "equality_cache.h"
#include "hlc.h"
#include "patch.h"
#include "pointer.h"

namespace rtc {

bool parseStrategy(std::string_view name, Strategy* out) {
  if (name == "server-wins") *out = Strategy::ServerWins;
  else if (name == "client-wins") *out = Strategy::ClientWins;
  else if (name == "last-writer-wins") *out = Strategy::LastWriterWins;
  else if (name == "custom") *out = Strategy::Custom;
  else return false;
  return true;
}

namespace {

using Opt = std::optional<Json>;

Opt copyOpt(const Json* v) { return v ? Opt(deepCopy(*v)) : std::nullopt; }

// Ids compare by deep equality: numbers by value (so 0 and -0 agree), strings by content.
std::string idKey(const Json& id) {
  std::string k;
  if (id.is_string()) {
    k.push_back('s');
    k.append(id.get_ref<const std::string&>());
  } else {
    k.push_back('n');
    appendNumber(k, id.get<double>());
  }
  return k;
}

class Merger {
 public:
  Merger(const Merge3Options& o, Merge3Result& r, bool takeLocal, bool takeRemote)
      : o_(o), result_(r), takeLocal_(takeLocal), takeRemote_(takeRemote) {
    result_.conflictsText = "[";
    if (o_.strategy == Strategy::LastWriterWins) {
      validateTimestamp(o_.localTimestamp);
      validateTimestamp(o_.remoteTimestamp);
      localWins_ = compareTimestamps(o_.localTimestamp, o_.remoteTimestamp) > 0;
    }
    if (o_.strategy == Strategy::Custom && !o_.resolver) {
      throw Error(codes::kInvalidArgument, "strategy \"custom\" needs a resolver");
    }
  }

  void finish() { result_.conflictsText.push_back(']'); }

  Opt merge(const Json* b, const Json* l, const Json* r, const std::string& path, std::size_t level) {
    if ((l && r && eq_.equal(*l, *r)) || (!l && !r)) return takeRemote_ && !takeLocal_ ? takeR(r) : takeL(l);
    if (eq_.equal(l, b)) return takeR(r);
    if (eq_.equal(r, b)) return takeL(l);
    if (level > kMaxRecursionDepth) throw Error(codes::kTooDeep, "documents are nested too deeply to merge");
    if (!l || !r) return conflict(path, b, l, r);
    if (l->is_object() && r->is_object()) return objectMerge(b && b->is_object() ? b : nullptr, *l, *r, path, level);
    if (l->is_array() && r->is_array() && o_.arrayKey) {
      const Json* bArr = b && b->is_array() ? b : nullptr;
      // The id indexes built by the check are the ones the merge uses.
      Index bi, li, ri;
      if (indexIds(*l, li) && indexIds(*r, ri) && (!bArr || indexIds(*bArr, bi))) {
        return arrayMerge(bArr, *l, *r, path, level, bi, li, ri);
      }
    }
    return conflict(path, b, l, r);
  }

 private:
  Json objectMerge(const Json* b, const Json& l, const Json& r, const std::string& path, std::size_t level) {
    Json out = makeObject();
    auto one = [&](const std::string& k) {
      const Json* bv = b ? objGet(*b, k) : nullptr;
      Opt res = merge(bv, objGet(l, k), objGet(r, k), childPath(path, k), level + 1);
      if (res) objSet(out, k, std::move(*res));
    };
    for (const auto& kv : r.get_ref<const Object&>()) one(kv.first);
    for (const auto& kv : l.get_ref<const Object&>()) {
      if (!objGet(r, kv.first)) one(kv.first);
    }
    return out;
  }

  using Index = std::unordered_map<std::string, std::size_t>;

  // Position of every item by id; false when some item is not an object owning a string or
  // number id, or an id repeats.
  bool indexIds(const Json& arr, Index& out) const {
    const Array& a = arr.get_ref<const Array&>();
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_object()) return false;
      const Json* id = objGet(a[i], *o_.arrayKey);
      if (!id || !(id->is_string() || id->is_number())) return false;
      if (!out.emplace(idKey(*id), i).second) return false;
    }
    return true;
  }

  Json arrayMerge(const Json* b, const Json& l, const Json& r, const std::string& path, std::size_t level,
                  const Index& bi, const Index& li, const Index& ri) {
    static const Array kEmpty;
    const Array& ba = b ? b->get_ref<const Array&>() : kEmpty;
    const Array& la = l.get_ref<const Array&>();
    const Array& ra = r.get_ref<const Array&>();

    // Step 1: membership of base ids; delete/edit conflicts are resolved here, in base order.
    std::unordered_map<std::string, bool> keptBase;
    std::unordered_map<std::string, Opt> resolvedItems;
    for (std::size_t i = 0; i < ba.size(); ++i) {
      std::string id = idKey(*objGet(ba[i], *o_.arrayKey));
      auto lit = li.find(id);
      auto rit = ri.find(id);
      bool inL = lit != li.end(), inR = rit != ri.end();
      if (inL && inR) {
        keptBase[id] = true;
      } else if (!inL && !inR) {
        keptBase[id] = false;
      } else {
        const Json* side = inR ? &ra[rit->second] : &la[lit->second];
        if (eq_.equal(*side, ba[i])) {
          keptBase[id] = false;
        } else {
          Opt res = conflict(childPath(path, i), &ba[i], inL ? side : nullptr, inR ? side : nullptr);
          keptBase[id] = res.has_value();
          if (res) resolvedItems.emplace(id, std::move(res));
        }
      }
    }
    auto kept = [&](const std::string& id) {
      auto it = keptBase.find(id);
      return it == keptBase.end() ? true : it->second;
    };

    // Step 2: remote order, then local-only items after their nearest placed local predecessor.
    std::list<std::string> order;
    std::unordered_map<std::string, std::list<std::string>::iterator> placed;
    for (const Json& item : ra) {
      std::string id = idKey(*objGet(item, *o_.arrayKey));
      if (kept(id)) placed.emplace(id, order.insert(order.end(), id));
    }
    bool haveAnchor = false;
    std::list<std::string>::iterator anchor;
    for (const Json& item : la) {
      std::string id = idKey(*objGet(item, *o_.arrayKey));
      if (!kept(id)) continue;
      auto pit = placed.find(id);
      if (pit == placed.end()) {
        auto where = haveAnchor ? std::next(anchor) : order.begin();
        pit = placed.emplace(id, order.insert(where, id)).first;
      }
      anchor = pit->second;
      haveAnchor = true;
    }

    // Step 3: values, in result order.
    Json out = makeArray();
    Array& oa = out.get_ref<Array&>();
    oa.reserve(order.size());
    std::size_t index = 0;
    for (const std::string& id : order) {
      auto res = resolvedItems.find(id);
      if (res != resolvedItems.end()) {
        oa.push_back(std::move(*res->second));
        ++index;
        continue;
      }
      auto lit = li.find(id);
      auto rit = ri.find(id);
      if (lit != li.end() && rit != ri.end()) {
        auto bit = bi.find(id);
        const Json* bv = bit != bi.end() ? &ba[bit->second] : nullptr;
        Opt merged = merge(bv, &la[lit->second], &ra[rit->second], childPath(path, index), level + 1);
        if (merged) oa.push_back(std::move(*merged));
      } else if (rit != ri.end()) {
        oa.push_back(std::move(*takeR(&ra[rit->second])));
      } else {
        oa.push_back(std::move(*takeL(&la[lit->second])));
      }
      ++index;
    }
    return out;
  }

  Opt conflict(const std::string& path, const Json* b, const Json* l, const Json* r) {
    // The record starts with { path, base, local, remote }: exactly what a resolver receives.
    std::string rec = "{\"path\":";
    appendQuoted(rec, path);
    if (b) {
      rec.append(",\"base\":");
      serializeTo(rec, *b);
    }
    if (l) {
      rec.append(",\"local\":");
      serializeTo(rec, *l);
    }
    if (r) {
      rec.append(",\"remote\":");
      serializeTo(rec, *r);
    }
    Opt resolved;
    const char* winner = "remote";
    switch (o_.strategy) {
      case Strategy::ServerWins:
        resolved = copyOpt(r);
        break;
      case Strategy::ClientWins:
        resolved = copyOpt(l);
        winner = "local";
        break;
      case Strategy::LastWriterWins:
        if (localWins_) {
          resolved = copyOpt(l);
          winner = "local";
        } else {
          resolved = copyOpt(r);
        }
        break;
      case Strategy::Custom: {
        winner = "custom";
        std::optional<std::string> text = o_.resolver(rec + "}");
        if (text) resolved = parse(*text, o_.limits);
        break;
      }
    }
    if (resolved) {
      rec.append(",\"resolved\":");
      serializeTo(rec, *resolved);
    }
    rec.append(",\"winner\":\"");
    rec.append(winner);
    rec.append("\"}");
    if (result_.conflictCount++) result_.conflictsText.push_back(',');
    result_.conflictsText.append(rec);
    return resolved;
  }

  // A value of a side is taken at most once, after every read of it (equality, ids, conflict
  // records), so moving it out of a consumable side is safe. conflict() always copies: step 1 of
  // arrayMerge still reads the ids of items it reports on.
  Opt takeL(const Json* l) { return takeLocal_ && l ? Opt(std::move(*const_cast<Json*>(l))) : copyOpt(l); }
  Opt takeR(const Json* r) { return takeRemote_ && r ? Opt(std::move(*const_cast<Json*>(r))) : copyOpt(r); }

  const Merge3Options& o_;
  Merge3Result& result_;
  bool takeLocal_;
  bool takeRemote_;
  bool localWins_ = false;
  EqualityCache eq_;
};

}  // namespace

Merge3Result merge3(const Json& base, const Json& local, const Json& remote, const Merge3Options& options) {
  Merge3Result result;
  Merger m(options, result, false, false);
  Opt doc = m.merge(&base, &local, &remote, std::string(), 0);
  m.finish();
  result.doc = doc ? std::move(*doc) : Json(nullptr);
  return result;
}

Merge3Result merge3Consuming(const Json& base, Json& local, Json& remote, bool consumeRemote,
                             const Merge3Options& options) {
  Merge3Result result;
  Merger m(options, result, true, consumeRemote);
  Opt doc = m.merge(&base, &local, &remote, std::string(), 0);
  m.finish();
  result.doc = doc ? std::move(*doc) : Json(nullptr);
  return result;
}

}  // namespace rtc
