// Hybrid logical clock, docs/semantics.md section 7. The engine never reads the time itself:
// every call takes the wall clock in milliseconds from the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtc {

// Validates "LLLLLLLLLLLL:CCCC:nodeId"; returns false when malformed.
bool parseTimestamp(std::string_view ts, std::uint64_t* l, std::uint32_t* c);
// Throws ERR_RT_INVALID_TIMESTAMP when malformed.
void validateTimestamp(std::string_view ts);
bool isValidNodeId(std::string_view nodeId);
// -1, 0, 1 in JavaScript string order (UTF-16 code units); validates both.
int compareTimestamps(std::string_view a, std::string_view b);

class HybridLogicalClock {
 public:
  struct State {
    std::int64_t l = 0;
    std::uint32_t c = 0;
    bool issued = false;
  };

  HybridLogicalClock(std::string nodeId, std::int64_t maxDriftMs = 60000);

  std::string now(std::int64_t wallMs);
  std::string receive(std::string_view ts, std::int64_t wallMs);
  std::optional<std::string> last() const;

  const std::string& nodeId() const { return nodeId_; }
  State state() const { return state_; }
  void restore(const State& s) { state_ = s; }

 private:
  std::string issue(std::int64_t l, std::uint32_t c);
  std::string format() const;

  std::string nodeId_;
  std::int64_t maxDriftMs_;
  State state_;
};

}  // namespace rtc
