// JSON Patch (RFC 6902) as specified in docs/semantics.md section 3, plus the primitive-change
// layer of section 8.1 that the store uses for atomicity, history and deltas.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json.h"
#include "pointer.h"

namespace rtc {

enum class OpKind { Add, Remove, Replace, Move, Copy, Test };

struct PatchOp {
  OpKind kind = OpKind::Add;
  std::string path;
  std::string from;
  Tokens pathTokens;
  Tokens fromTokens;
  Json value;
};
using Patch = std::vector<PatchOp>;

const char* opName(OpKind kind);

// Parses patch text and validates it structurally (all of it, before anything applies).
Patch parsePatch(const char* data, std::size_t size, const Limits& limits);
Patch patchFromJson(Json&& value, const Limits& limits);

// Writes ops with members in the order op, path, from, value.
// refs: see serializeWithRefs.
void serializeOpTo(std::string& out, const PatchOp& op, const Json* const* refs = nullptr);
std::string serializePatch(const Patch& patch, bool dropTests = false);

// ---- primitive changes (section 8.1) ----

enum class PrimKind { KeySet, KeyRemove, ItemInsert, ItemRemove, ItemReplace, RootSet };

struct Primitive {
  PrimKind kind = PrimKind::RootSet;
  Tokens container;   // path of the object/array changed (empty: the root)
  std::string key;    // KeySet / KeyRemove
  std::size_t index = 0;  // item index; for KeyRemove the key's former position
  bool hadOld = false;
  Json old;           // the previous value, moved out of the document
};

// Notified after every primitive that changed something. newValue points into the document.
class ChangeObserver {
 public:
  virtual ~ChangeObserver() = default;
  virtual void changed(const Primitive& prim, const Json& root, const Json* newValue) = 0;
};

// Performs primitive changes on a document. With a log it records what is needed to undo
// them (atomicity without copying the document) and to build inverse patches.
class Mutator {
 public:
  Mutator(Json& root, bool keepLog, ChangeObserver* observer = nullptr)
      : root_(root), keepLog_(keepLog), observer_(observer) {}

  Json& root() { return root_; }
  bool changed() const { return changed_; }
  std::vector<Primitive>& log() { return log_; }

  void keySet(Json& obj, const Tokens& path, std::size_t count, std::string key, Json value);
  void keyRemove(Json& obj, const Tokens& path, std::size_t count, const std::string& key, Json* takeOut);
  void itemInsert(Json& arr, const Tokens& path, std::size_t count, std::size_t index, Json value);
  void itemRemove(Json& arr, const Tokens& path, std::size_t count, std::size_t index, Json* takeOut);
  void itemReplace(Json& arr, const Tokens& path, std::size_t count, std::size_t index, Json value);
  void rootSet(Json value);

  // Reverts every logged primitive, newest first.
  void undo();
  // Inverse JSON Patch of the logged primitives (consumes the log's old values).
  Patch takeInverse();

 private:
  void record(Primitive&& p, const Json* newValue);

  Json& root_;
  bool keepLog_;
  ChangeObserver* observer_;
  bool changed_ = false;
  std::vector<Primitive> log_;
};

struct ApplyOptions {
  bool enforceGrowth = true;
};

// Applies ops in order through the mutator; values are moved out of the ops. Throws rtc::Error
// naming the op index and path. On failure the caller undoes (store) or discards (applyPatch).
void applyOps(Mutator& m, Patch& ops, const Limits& limits, ApplyOptions options = {});

// Section 3: text in, document out.
Json applyPatch(Json doc, Patch& ops, const Limits& limits);
std::string applyPatchText(const char* doc, std::size_t docSize, const char* patch, std::size_t patchSize,
                           const Limits& limits);

// Recursion guard for the algorithms that walk two or three documents at once (diff, merge3,
// merge patch). Documents deeper than this can only exist when maxDepth is set above it.
inline constexpr std::size_t kMaxRecursionDepth = 4096;

}  // namespace rtc
