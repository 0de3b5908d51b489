// Memoized deep equality for algorithms that ask about the same subtree pairs at several levels
// (merge3, diff). Internal to native/core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "json.h"

namespace rtc {

inline std::uint64_t eqMix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// deepEqual with memory. merge3 asks about the same subtree pairs again at every level it
// descends (l/r, l/b, r/b), and diff at every level and again per array item; a plain deepEqual
// re-walks them each time. Here every container pair compared is remembered (symmetrically):
// equal once all its children compared equal, unequal (with every enclosing pair being
// compared) at the first difference. Answers stay exact (each is the outcome of a full
// comparison), and a pair is walked at most once. Nodes are keyed by address, so the trees must
// not be changed while a cache is in use, except for moving out a subtree that is never asked
// about again (merge3 does that; see takeL there). Iterative: no recursion per nesting level.
class EqualityCache {
 public:
  bool equal(const Json* a, const Json* b) {
    if (!a || !b) return !a && !b;
    return equal(*a, *b);
  }

  bool equal(const Json& a, const Json& b) {
    if (!a.is_structured() || !b.is_structured() || a.type() != b.type()) return deepEqual(a, b);
    if (&a == &b) return true;
    int known = lookup(&a, &b);
    if (known >= 0) return known != 0;
    if (a.size() != b.size()) {
      insert(&a, &b, 0);
      return false;
    }
    frames_.clear();
    frames_.push_back({&a, &b, 0});
    while (!frames_.empty()) {
      Frame& f = frames_.back();
      const Json* xc;
      const Json* yc;
      if (f.x->is_array()) {
        const Array& xa = f.x->get_ref<const Array&>();
        if (f.i == xa.size()) {
          insert(f.x, f.y, 1);
          frames_.pop_back();
          continue;
        }
        xc = &xa[f.i];
        yc = &f.y->get_ref<const Array&>()[f.i];
      } else {
        const Members& xo = members(*f.x);
        if (f.i == xo.size()) {
          insert(f.x, f.y, 1);
          frames_.pop_back();
          continue;
        }
        const Members& yo = members(*f.y);
        // Same position first: documents usually share key order.
        xc = &xo[f.i].second;
        yc = xo[f.i].first == yo[f.i].first ? &yo[f.i].second : objGet(*f.y, xo[f.i].first);
        if (!yc) return fail();
      }
      ++f.i;
      if (!xc->is_structured() || !yc->is_structured() || xc->type() != yc->type()) {
        if (!deepEqual(*xc, *yc)) return fail();
        continue;
      }
      int k = lookup(xc, yc);
      if (k == 1) continue;
      if (k == 0 || xc->size() != yc->size()) return fail();
      frames_.push_back({xc, yc, 0});
    }
    return true;
  }

 private:
  struct Frame {
    const Json* x;
    const Json* y;
    std::size_t i;
  };
  struct Slot {
    const Json* a = nullptr;
    const Json* b = nullptr;
    int value = 0;
  };

  bool fail() {
    for (const Frame& f : frames_) insert(f.x, f.y, 0);
    frames_.clear();
    return false;
  }

  static std::size_t slotHash(const Json* a, const Json* b) {
    return static_cast<std::size_t>(eqMix(reinterpret_cast<std::uintptr_t>(a) * 0x9e3779b97f4a7c15ULL ^
                                        reinterpret_cast<std::uintptr_t>(b)));
  }

  int lookup(const Json* a, const Json* b) const {
    if (slots_.empty()) return -1;
    if (b < a) std::swap(a, b);
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slotHash(a, b) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.a) return -1;
      if (s.a == a && s.b == b) return s.value;
    }
  }

  void insert(const Json* a, const Json* b, int value) {
    if ((used_ + 1) * 2 > slots_.size()) grow();
    if (b < a) std::swap(a, b);
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slotHash(a, b) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.a) {
        s = {a, b, value};
        ++used_;
        return;
      }
      if (s.a == a && s.b == b) {
        s.value = value;
        return;
      }
    }
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 32 : old.size() * 2, Slot{});
    used_ = 0;
    for (const Slot& s : old) {
      if (s.a) insert(s.a, s.b, s.value);
    }
  }

  std::vector<Frame> frames_;
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

}  // namespace rtc
