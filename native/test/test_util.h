// Helpers shared by the GoogleTest files.
#pragma once

#include <functional>
#include <string>

#include "json.h"

namespace rtc::test_util {

// The ERR_RT_* code that f throws, or "none".
inline std::string errorCode(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return "none";
}

}  // namespace rtc::test_util
