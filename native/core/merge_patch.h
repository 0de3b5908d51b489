// JSON Merge Patch (RFC 7396), docs/semantics.md section 4, through the primitive layer.
#pragma once

#include <string>

#include "json.h"
#include "patch.h"

namespace rtc {

// RFC 7396 applied to {} (a patch value with its nulls removed, recursively).
Json mergePatchValue(Json patch);

// Applies a merge patch through the mutator (consumes the patch). Throws ERR_RT_TOO_DEEP when a
// written member would make the document deeper than maxDepth.
void applyMergePatchTo(Mutator& m, Json patch, const Limits& limits);

Json applyMergePatch(Json doc, Json patch, const Limits& limits);
std::string applyMergePatchText(const char* doc, std::size_t docSize, const char* patch, std::size_t patchSize,
                                const Limits& limits);

}  // namespace rtc
