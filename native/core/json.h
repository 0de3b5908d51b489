// JSON values with JavaScript semantics (docs/semantics.md section 1).
//
// The value type is nlohmann::basic_json over an insertion-ordered map, but every number is a
// double and every object insertion goes through objSet/objInsertAt so the key order is the one
// JavaScript gives (array-index keys first, ascending). The parser, serializer, equality, copy,
// sizeOf and depth below never recurse on the C stack per nesting level.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rtc {

using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool, std::int64_t,
                                  std::uint64_t, double>;
using Object = Json::object_t;
using Array = Json::array_t;

struct Limits {
  std::uint64_t maxDepth = 100;
  std::uint64_t maxDocumentBytes = 16u * 1024u * 1024u;
  std::uint64_t maxPatchOps = 10000;
  std::uint64_t maxPatchGrowthBytes = 4u * 1024u * 1024u;
};

// Every failure the engine reports carries one of the stable ERR_RT_* codes.
class Error : public std::runtime_error {
 public:
  Error(const char* code, const std::string& message) : std::runtime_error(message), code_(code) {}
  const char* code() const noexcept { return code_; }

 private:
  const char* code_;
};

namespace codes {
inline constexpr const char* kInvalidJson = "ERR_RT_INVALID_JSON";
inline constexpr const char* kInvalidUtf8 = "ERR_RT_INVALID_UTF8";
inline constexpr const char* kInvalidValue = "ERR_RT_INVALID_VALUE";
inline constexpr const char* kTooDeep = "ERR_RT_TOO_DEEP";
inline constexpr const char* kTooLarge = "ERR_RT_TOO_LARGE";
inline constexpr const char* kTooManyOps = "ERR_RT_TOO_MANY_OPS";
inline constexpr const char* kGrowthLimit = "ERR_RT_GROWTH_LIMIT";
inline constexpr const char* kInvalidPatch = "ERR_RT_INVALID_PATCH";
inline constexpr const char* kInvalidPointer = "ERR_RT_INVALID_POINTER";
inline constexpr const char* kPathNotFound = "ERR_RT_PATH_NOT_FOUND";
inline constexpr const char* kTestFailed = "ERR_RT_TEST_FAILED";
inline constexpr const char* kNotFound = "ERR_RT_NOT_FOUND";
inline constexpr const char* kStaleBase = "ERR_RT_STALE_BASE";
inline constexpr const char* kInvalidTimestamp = "ERR_RT_INVALID_TIMESTAMP";
inline constexpr const char* kClockDrift = "ERR_RT_CLOCK_DRIFT";
inline constexpr const char* kDuplicateId = "ERR_RT_DUPLICATE_ID";
inline constexpr const char* kUnknownId = "ERR_RT_UNKNOWN_ID";
inline constexpr const char* kTooManyPending = "ERR_RT_TOO_MANY_PENDING";
inline constexpr const char* kQueueFull = "ERR_RT_QUEUE_FULL";
inline constexpr const char* kInvalidOffset = "ERR_RT_INVALID_OFFSET";
inline constexpr const char* kDisk = "ERR_RT_DISK";
inline constexpr const char* kClosed = "ERR_RT_CLOSED";
inline constexpr const char* kInvalidArgument = "ERR_RT_INVALID_ARGUMENT";
inline constexpr const char* kOutOfRange = "ERR_RT_OUT_OF_RANGE";
inline constexpr const char* kInternal = "ERR_RT_INTERNAL";
}  // namespace codes

// Appends one code point (0..0x10FFFF; surrogates too, as WTF-8) as UTF-8.
void appendUtf8(std::string& out, std::uint32_t cp);

// Parses UTF-8 JSON text with JSON.parse semantics and the error precedence of section 1.2.
Json parse(const char* data, std::size_t size, const Limits& limits);
inline Json parse(std::string_view text, const Limits& limits) { return parse(text.data(), text.size(), limits); }

// JSON.stringify(value) with no indentation.
std::string serialize(const Json& value);
void serializeTo(std::string& out, const Json& value);
// Like serializeTo, but a number_unsigned node u (never produced by the parser or any algorithm
// here, where every number is a double) stands for *refs[u] and is written as that value. Lets a
// result refer to parts of a document instead of deep-copying them just to print them.
void serializeWithRefs(std::string& out, const Json& value, const Json* const* refs);
inline Json makeRef(std::size_t index) { return Json(static_cast<std::uint64_t>(index)); }
// Number::toString for a double (NaN/Infinity print as JSON.stringify does: null).
void appendNumber(std::string& out, double d);
void appendQuoted(std::string& out, std::string_view s);

bool deepEqual(const Json& a, const Json& b);
Json deepCopy(const Json& value);
// Destroys a tree bottom-up without the per-node moves (and the heap stack) of nlohmann's
// destructor; leaves `value` null. Use where large or many trees die.
void release(Json& value);
std::uint64_t sizeOf(const Json& value);
std::uint64_t depth(const Json& value);

inline Json makeNumber(double d) { return Json(d); }
inline Json makeObject() { return Json(nlohmann::detail::value_t::object); }
inline Json makeArray() { return Json(nlohmann::detail::value_t::array); }

// Positional access to an object's members (ordered_map's operator[] takes a key).
using Members = Object::Container;
inline Members& members(Json& obj) { return static_cast<Members&>(obj.get_ref<Object&>()); }
inline const Members& members(const Json& obj) { return static_cast<const Members&>(obj.get_ref<const Object&>()); }

// A key that is a canonical array index (0 .. 4294967294) sorts first in JavaScript objects.
bool isArrayIndexKey(std::string_view key, std::uint32_t* index = nullptr);

// Object helpers that keep JavaScript key order. Never use operator[] to add keys.
const Json* objGet(const Json& obj, std::string_view key);
Json* objGet(Json& obj, std::string_view key);
std::ptrdiff_t objIndexOf(const Json& obj, std::string_view key);
// Sets a key: an existing key keeps its position; a new key goes where JavaScript puts it.
// Returns a reference to the stored value.
Json& objSet(Json& obj, std::string key, Json value);
// Inserts a key known to be absent at a given position (used to undo a removal exactly).
Json& objInsertAt(Json& obj, std::size_t pos, std::string key, Json value);
// Removes a key, returning its value and its former position through the out-parameters.
bool objRemove(Json& obj, std::string_view key, Json* removed = nullptr, std::size_t* position = nullptr);

// Number of digits-only check used by pointers: [0] or [1-9][0-9]*.
bool parseArrayIndexToken(std::string_view token, std::size_t* index);

}  // namespace rtc
