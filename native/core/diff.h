// Diffs between two documents, docs/semantics.md section 5.
#pragma once

#include <optional>
#include <string>

#include "equality_cache.h"
#include "json.h"
#include "patch.h"

namespace rtc {

enum class DiffFormat { JsonPatch, MergePatch };

// Section 5.1. arrayKey == nullptr: items match by deep equality only. The ops hold copies of
// b's values and have their path tokens filled, so they can be applied directly.
// eq: an optional equality cache shared by several diffs of the same unchanged trees.
Patch diffJsonPatch(const Json& a, const Json& b, const std::string* arrayKey, EqualityCache* eq = nullptr);

// Section 5.2: mergeDiff(a, b), and the top-level form that gives {} for equal documents.
Json mergeDiff(const Json& a, const Json& b);
Json diffMergePatch(const Json& a, const Json& b);

// Serialized diff in the requested format.
std::string diffToText(const Json& a, const Json& b, DiffFormat format, const std::string* arrayKey,
                       EqualityCache* eq = nullptr);
std::string diffText(const char* a, std::size_t aSize, const char* b, std::size_t bSize, DiffFormat format,
                     const std::string* arrayKey, const Limits& limits);

}  // namespace rtc
