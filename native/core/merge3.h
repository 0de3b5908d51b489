// Three-way merge with strategies, docs/semantics.md section 6.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "json.h"

namespace rtc {

enum class Strategy { ServerWins, ClientWins, LastWriterWins, Custom };

// Takes the JSON text of { path, base, local, remote } (absent sides omitted) and returns the
// JSON text of the resolution, or nullopt to delete. May throw (the error propagates as is).
using Resolver = std::function<std::optional<std::string>(const std::string& conflictText)>;

struct Merge3Options {
  Strategy strategy = Strategy::ServerWins;
  std::optional<std::string> arrayKey = std::string("id");
  std::string localTimestamp;
  std::string remoteTimestamp;
  Resolver resolver;
  Limits limits;
};

struct Merge3Result {
  Json doc;
  std::string conflictsText = "[]";  // JSON text of the conflict records, in report order
  std::size_t conflictCount = 0;
};

bool parseStrategy(std::string_view name, Strategy* out);

// A merge whose root resolves to a deletion (only a custom resolver can do that) yields null.
Merge3Result merge3(const Json& base, const Json& local, const Json& remote, const Merge3Options& options);
// The same merge, allowed to move subtrees out of `local` (and of `remote` if consumeRemote)
// instead of copying them into the result; what is left of a consumed side is unspecified
// (release it). Saves most of the copying when a side is a throwaway.
Merge3Result merge3Consuming(const Json& base, Json& local, Json& remote, bool consumeRemote,
                             const Merge3Options& options);

}  // namespace rtc
