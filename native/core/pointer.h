// JSON Pointer (RFC 6901) as specified in docs/semantics.md section 2.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "json.h"

namespace rtc {

using Tokens = std::vector<std::string>;

// Splits and unescapes a pointer; throws ERR_RT_INVALID_POINTER.
Tokens parsePointer(std::string_view pointer);
bool isValidPointer(std::string_view pointer);

// Escapes one token (~ -> ~0, / -> ~1) and appends "/token".
void appendToken(std::string& path, std::string_view token);
std::string childPath(const std::string& path, std::string_view token);
std::string childPath(const std::string& path, std::size_t index);
std::string formatPointer(const Tokens& tokens, std::size_t count);
inline std::string formatPointer(const Tokens& tokens) { return formatPointer(tokens, tokens.size()); }

// Resolves tokens [0, count) against a value; nullptr when any step is missing. Array tokens
// must be canonical indices below the length ("-" never resolves).
const Json* resolve(const Json& root, const std::string* tokens, std::size_t count);
inline const Json* resolve(const Json& root, const Tokens& tokens, std::size_t count) {
  return resolve(root, tokens.data(), count);
}
Json* resolve(Json& root, const Tokens& tokens, std::size_t count);
inline const Json* resolve(const Json& root, const Tokens& tokens) { return resolve(root, tokens, tokens.size()); }
inline Json* resolve(Json& root, const Tokens& tokens) { return resolve(root, tokens, tokens.size()); }

}  // namespace rtc
