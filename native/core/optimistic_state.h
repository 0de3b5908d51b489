// Optimistic changes over a confirmed base, docs/optimistic-state.md (engine level: JSON text in,
// JSON text out; argument checks, events and the expiry timer belong to lib/api).
//
// State: the confirmed base, its version, the ordered pending changes (kept parsed, never
// re-parsed) and the visible document = the base with every pending change applied in order.
//
// The visible document is never rebuilt by copying the base. Each pending change keeps the undo
// log of its application to the visible document (relative to the changes below it), so
// removing or reordering changes means undoing logs from the top down to the first affected
// change and re-applying the rest in place. When the changes involved commute (their footprints,
// the locations they write and read, do not overlap), re-applying would reproduce the very same
// primitives, so the operation only undoes the removed changes' logs where they stand and applies
// a new base change on top. Every primitive change an operation makes to the visible document
// goes into a journal; the delta (a merge-patch diff of the visible document before and after) is
// computed from the journal: the touched locations are collected in a trie, the journal is undone
// to read the old values there, and redone. Cost is proportional to what changed, not to the
// document size. The same journal undoes a failed operation or batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "json.h"
#include "patch.h"

namespace rtc {

enum class ChangeKind { Patch, MergePatch, Snapshot };
enum class Overflow { Reject, RollbackOldest };

const char* changeKindName(ChangeKind kind);
// "patch", "merge-patch", "snapshot".
bool parseChangeKind(std::string_view name, ChangeKind* out);

struct OptimisticOptions {
  Limits limits;
  double timeoutMs = 30000;
  std::size_t maxPending = 100;
  Overflow overflow = Overflow::Reject;
  double baseVersion = 0;
};

// A change as JSON text (not owned).
struct ChangeText {
  ChangeKind kind = ChangeKind::Patch;
  const char* data = "";
  std::size_t size = 0;
};

struct RolledBack {
  std::string id;
  const char* reason;  // "overflow", "conflict", "explicit", "timeout"
};

struct OptimisticResult {
  const char* status = "applied";       // rebase: "applied" or "duplicate"
  double version = 0;                   // commit and rebase: the base version after the operation
  std::optional<std::string> delta;     // merge-patch JSON text; nullopt: the visible state did not change
  std::vector<std::string> committed;   // rebase
  std::vector<RolledBack> rolledBack;
};

enum class BatchOpType { Apply, Commit, Rollback, RollbackAll, Rebase };

struct BatchOp {
  BatchOpType type = BatchOpType::Apply;
  std::string id;                      // apply, commit, rollback
  std::optional<ChangeKind> kind;      // absent: a commit without a canonical change
  std::string_view text;               // the change's JSON text when `kind` is set (not owned)
  std::optional<double> version;       // commit, rebase
  std::vector<std::string> confirms;   // rebase
};

struct BatchResult {
  std::optional<std::string> delta;
  std::vector<OptimisticResult> results;
};

// A failed batch operation: its error, and its position in the batch.
class BatchError : public Error {
 public:
  BatchError(const Error& cause, std::size_t index) : Error(cause.code(), cause.what()), index_(index) {}
  std::size_t index() const noexcept { return index_; }

 private:
  std::size_t index_;
};

struct PendingChange {
  std::string id;
  ChangeKind kind = ChangeKind::Patch;
  std::string text;     // exactly as given
  double createdAt = 0;
  Patch ops;            // kind == Patch; the values of add/replace ops are in `values`
  std::vector<Json> values;     // the values add/replace ops insert, in op order (copied at each use)
  Json mergePatch;      // kind == MergePatch (the snapshot document for a rebase)
  std::vector<Tokens> reads;    // kind == MergePatch: its members' paths (at every level) that it
  std::vector<Tokens> looks;    // writes compared with the old value / only recurses into or deletes
};

// A change's application to a document: its primitives (the undo log) and its footprint.
struct OptimisticLog;

class OptimisticState {
 public:
  // Throws the parse errors of the initial document.
  OptimisticState(const char* text, std::size_t size, OptimisticOptions options);
  ~OptimisticState();
  OptimisticState(const OptimisticState&) = delete;
  OptimisticState& operator=(const OptimisticState&) = delete;

  OptimisticResult apply(const std::string& id, ChangeKind kind, const char* text, std::size_t size, double nowMs);
  OptimisticResult commit(const std::string& id, const std::optional<ChangeText>& canonical,
                          std::optional<double> version);
  OptimisticResult rollback(const std::string& id);
  OptimisticResult rollbackAll();
  OptimisticResult rebase(ChangeKind kind, const char* text, std::size_t size, std::optional<double> version,
                          const std::vector<std::string>& confirms);
  OptimisticResult expire(double nowMs);
  // All or nothing; a failing op throws BatchError with its index.
  BatchResult batch(const std::vector<BatchOp>& ops, double nowMs);

  const Json& visible() const { return visible_; }
  const Json& base() const { return base_; }
  double baseVersion() const { return baseVersion_; }
  std::size_t pendingCount() const { return pending_.size(); }
  const PendingChange& pendingAt(std::size_t i) const { return *pending_[i].change; }
  // min(createdAt) + timeoutMs, or nullopt when nothing is pending.
  std::optional<double> nextDeadline() const;
  const OptimisticOptions& options() const { return options_; }

 private:
  using Log = OptimisticLog;
  struct Slot {
    std::shared_ptr<PendingChange> change;
    std::shared_ptr<Log> log;  // its application to the visible document
  };
  struct Txn;

  std::size_t indexOf(const std::string& id) const;
  std::shared_ptr<PendingChange> parseChange(ChangeKind kind, const char* text, std::size_t size) const;
  std::shared_ptr<Log> applyToBase(Txn& t, PendingChange& change);
  std::shared_ptr<Log> applyToVisible(Txn& t, PendingChange& change);
  void undoFrom(Txn& t, std::size_t from);
  void reapply(Txn* t, Json& doc, const std::vector<Slot>& candidates, std::vector<Slot>& kept,
               std::vector<RolledBack>& conflicts);
  bool reorder(Txn& t, const std::vector<std::size_t>& removed, PendingChange* below, const Log* belowLog,
               std::vector<RolledBack>& conflicts);
  void rebuild(Txn& t, const std::vector<std::size_t>& removed, PendingChange* below, std::vector<RolledBack>& conflicts);
  void replacePending(Txn& t, std::vector<Slot> next);
  void appendPending(Txn& t, Slot slot);
  std::optional<std::string> deltaSince(Txn& t, std::size_t mark);

  OptimisticResult applyOp(Txn& t, const std::string& id, ChangeKind kind, const char* text, std::size_t size,
                           double nowMs);
  OptimisticResult commitOp(Txn& t, const std::string& id, const std::optional<ChangeText>& canonical,
                            std::optional<double> version);
  OptimisticResult rollbackOp(Txn& t, const std::string& id);
  OptimisticResult rollbackAllOp(Txn& t);
  OptimisticResult rebaseOp(Txn& t, ChangeKind kind, const char* text, std::size_t size,
                            std::optional<double> version, const std::vector<std::string>& confirms);
  OptimisticResult expireOp(Txn& t, double nowMs);
  template <typename F>
  OptimisticResult single(F&& op);

  OptimisticOptions options_;
  Json base_;
  double baseVersion_ = 0;
  std::vector<Slot> pending_;
  Json visible_;
  std::unordered_set<std::string_view> ids_;  // views of the pending changes' ids
  mutable std::optional<double> minCreatedAt_;
  mutable bool minValid_ = true;
};

}  // namespace rtc
