// Versioned documents with history, deduplication and stale-base merging,
// docs/semantics.md section 8.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "diff.h"
#include "hlc.h"
#include "json.h"
#include "merge3.h"
#include "patch.h"

namespace rtc {

enum class StaleBase { Reject, Current };

struct StoreOptions {
  Strategy strategy = Strategy::ServerWins;
  std::optional<std::string> arrayKey = std::string("id");
  std::size_t historyLimit = 100;
  StaleBase staleBase = StaleBase::Reject;
  DiffFormat deltaFormat = DiffFormat::MergePatch;
  Limits limits;
  std::string nodeId = "00000000";
  std::int64_t maxDriftMs = 60000;
  std::size_t dedupWindow = 64;
  Resolver resolver;
};

struct Mutation {
  bool mergePatch = false;
  const char* text = nullptr;  // the patch as JSON text
  std::size_t size = 0;
  std::optional<double> baseVersion;
  std::optional<std::string> clientId;
  std::optional<double> mutationId;
  std::optional<std::string> timestamp;
};

struct ApplyResult {
  std::string status;
  std::uint64_t version = 0;
  std::optional<std::string> delta;  // JSON text
  std::string conflicts = "[]";      // JSON text
  bool hasError = false;
  std::string errorCode;
  std::string errorMessage;
  bool hasGap = false;
  double gapExpected = 0;
  double gapReceived = 0;
};

struct PutResult {
  std::uint64_t version = 0;
  std::optional<std::string> delta;
};

struct Change {
  std::uint64_t version;
  std::string delta;
  std::string timestamp;
};

struct ChangesResult {
  std::uint64_t version = 0;
  bool isSnapshot = false;
  std::string snapshot;
  std::vector<Change> changes;
};

class DocumentStore {
 public:
  explicit DocumentStore(StoreOptions options);

  PutResult put(const std::string& id, const char* text, std::size_t size, std::int64_t wallMs);
  std::optional<std::string> get(const std::string& id) const;
  const Json* find(const std::string& id) const;
  bool has(const std::string& id) const { return docs_.count(id) != 0; }
  bool remove(const std::string& id);
  std::optional<std::uint64_t> version(const std::string& id) const;
  std::vector<std::string> ids() const { return {order_.begin(), order_.end()}; }
  std::size_t size() const { return docs_.size(); }
  ApplyResult apply(const std::string& id, const Mutation& m, std::int64_t wallMs);
  ChangesResult changesSince(const std::string& id, double version) const;

  const StoreOptions& options() const { return options_; }

 private:
  struct HistoryEntry {
    std::uint64_t version;
    std::string delta;
    Patch inverse;
    std::string timestamp;
  };
  struct Entry {
    Json doc;
    std::uint64_t version = 1;
    std::deque<HistoryEntry> history;
    std::list<std::string>::iterator orderIt;
  };
  struct ClientState {
    double lastMutationId = 0;
    std::deque<std::pair<double, ApplyResult>> window;
  };
  struct ParsedMutation {
    Patch ops;
    Json mergePatch;
  };

  void ensureNotBusy() const;
  void pushHistory(Entry& e, std::string delta, Patch inverse, std::string timestamp);
  void applyFresh(Entry& e, const Mutation& m, ParsedMutation& pm, const std::string& ts, const char* status,
                  ApplyResult& out);
  void applyStale(Entry& e, const Mutation& m, ParsedMutation& pm, const std::string& ts, std::uint64_t baseVersion,
                  ApplyResult& out);
  const std::string* arrayKey() const { return options_.arrayKey ? &*options_.arrayKey : nullptr; }

  StoreOptions options_;
  HybridLogicalClock clock_;
  std::unordered_map<std::string, Entry> docs_;
  std::list<std::string> order_;  // insertion order, as a JavaScript Map keeps it
  std::unordered_map<std::string, ClientState> clients_;
  bool busy_ = false;
};

void validateDocumentId(const std::string& id);

}  // namespace rtc
