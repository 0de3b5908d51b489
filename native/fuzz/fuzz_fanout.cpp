// libFuzzer target: random operation sequences on rtc::FanoutHub, with hostile strings (any
// bytes, empty, over 256 bytes, unframed args, invalid offsets) and tiny limits. Nothing may
// crash; a call that throws must leave the hub exactly as it was (compared through a
// fingerprint of everything observable); invariants between the views must hold after each op.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fanout.h"

namespace {

class Input {
 public:
  Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool done() const { return i_ >= n_; }
  std::uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
  std::uint32_t small(std::uint32_t mod) { return byte() % mod; }
  std::string str() {
    std::uint8_t b = byte();
    std::size_t len = b < 200 ? b % 8 : (b < 250 ? 250 + b % 12 : b);  // short, near 256, or long
    std::string s;
    static const char* kPool[] = {"a", "b", "room", "\xED\xA0\x80", "[", "]", "\"", "p-", "p-1", "\xF0\x9F\x98\x80"};
    if (b % 3 == 0 && len < 8) {
      for (std::size_t k = 0; k < len % 3; ++k) s += kPool[byte() % 10];
      return s;
    }
    for (std::size_t k = 0; k < len && !done(); ++k) s.push_back(static_cast<char>(byte()));
    return s;
  }
  std::vector<std::string> list() {
    std::vector<std::string> out;
    std::uint32_t n = small(4);
    for (std::uint32_t k = 0; k < n; ++k) out.push_back(str());
    return out;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t i_ = 0;
};

std::vector<std::string_view> views(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

std::string fingerprint(rtc::FanoutHub& hub) {
  std::string f;
  auto num = [&](std::uint64_t v) {
    f += std::to_string(v);
    f += ',';
  };
  rtc::FanoutStats s = hub.stats();
  for (std::uint64_t v : {s.connections, s.rooms, s.memberships, s.published, s.deliveries, s.packets, s.bytes,
                          s.coalesced, s.pendingKeys, s.batchedItems, s.bulks, s.openBatches, s.droppedVolatile,
                          s.slowConsumers, s.backlog, s.maxBacklog, s.recorded, s.recoveryPackets, s.recoveryBytes,
                          s.evicted, s.sessions, s.recoveries, s.recoveryFailures})
    num(v);
  num(hub.lastSeq());
  auto due = hub.nextDue();
  num(due ? static_cast<std::uint64_t>(*due) + 1 : 0);
  for (std::uint32_t h : hub.connections()) {
    num(h);
    num(hub.backlog(h));
    for (std::string_view r : hub.rooms(h)) {
      f += r;
      f += '|';
    }
  }
  for (std::string_view r : hub.roomNames()) {
    f += r;
    f += ':';
    for (std::uint32_t h : hub.members(r)) num(h);
  }
  for (const auto& rec : hub.recordsSince(0)) {
    num(rec.seq);
    f += rec.packet;
  }
  return f;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void invariants(rtc::FanoutHub& hub) {
  std::vector<std::uint32_t> conns = hub.connections();
  check(conns.size() == hub.connectionCount());
  std::size_t memberships = 0;
  for (std::string_view r : hub.roomNames()) {
    std::vector<std::uint32_t> m = hub.members(r);
    check(!m.empty() && m.size() == hub.roomSize(r));
    memberships += m.size();
    for (std::uint32_t h : m) check(hub.connected(h));
  }
  check(memberships == hub.stats().memberships);
  check(hub.roomNames().size() == hub.roomCount());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  rtc::FanoutOptions o;
  std::uint8_t cfg = in.byte();
  o.nspPrefix = cfg & 1 ? "" : "/n,";
  o.offsetPrefix = cfg & 2 ? "p-" : in.str();
  o.throttleMs = in.small(20);
  o.batchMaxItems = in.small(4);  // 0 is clamped to 1
  o.batchMaxDelayMs = in.small(20);
  o.maxBacklog = in.small(4);
  o.maxPayloadBytes = in.small(64);
  o.maxConnections = 1 + in.small(16);
  o.maxRooms = 1 + in.small(8);
  o.maxSessions = in.small(4);
  o.startSeq = cfg & 4 ? 0 : in.byte() * 1000003ull;
  if (cfg & 8) {
    rtc::FanoutRecoveryOptions r;
    r.windowMs = in.small(50);
    r.maxPackets = in.small(10);
    r.maxBytes = in.small(400);
    o.recovery = r;
  }
  rtc::FanoutHub hub(o);
  std::int64_t now = 0;
  for (int steps = 0; !in.done() && steps < 400; ++steps) {
    std::uint8_t op = in.small(16);
    std::uint32_t h = in.small(20);
    std::string before = fingerprint(hub);
    try {
      switch (op) {
        case 0:
        case 1: hub.connect(); break;
        case 2: hub.disconnect(h); break;
        case 3: {
          auto l = in.list();
          hub.join(h, views(l));
          break;
        }
        case 4: hub.leave(h, in.str()); break;
        case 5:
        case 6:
        case 7: {
          auto rooms = in.list(), except = in.list();
          std::string ev = in.small(4) ? "\"ev\"" : in.str();
          std::string args = in.small(3) ? "[" + in.str() + "]" : in.str();
          std::string key = in.str();
          rtc::FanoutMessage m;
          m.rooms = views(rooms);
          m.except = views(except);
          m.eventJson = ev;
          m.args = args;
          std::uint8_t flags = in.byte();
          if (flags & 1) m.key = key;
          m.isVolatile = flags & 2;
          m.batch = flags & 4;
          if (flags & 8) m.ackId = flags & 16 ? 0x80000000u : flags;
          m.recoverable = !(flags & 32);
          const rtc::FanoutResult& r = hub.publish(m, now);
          for (const auto& d : r.deliveries) check(d.handlesBegin <= d.handlesEnd && d.handlesEnd <= r.handles.size());
          break;
        }
        case 8: hub.flush(now, in.small(4) == 0); break;
        case 9: {
          std::vector<std::uint32_t> hs;
          for (std::uint32_t k = in.small(5); k > 0; --k) hs.push_back(in.small(24));
          hub.drained(hs.data(), hs.size());
          break;
        }
        case 10: {
          std::string id = in.str(), sid = in.str(), data = in.str();
          auto rooms = in.list();
          hub.saveSession(id, sid, views(rooms), data, now);
          break;
        }
        case 11: {
          std::string id = in.str();
          std::string off = in.small(2) ? hub.offsetOf(hub.lastSeq() - in.small(3) * (hub.lastSeq() > 2)) : in.str();
          rtc::FanoutRestore r = hub.restore(id, off, now);
          if (r.status != rtc::RestoreStatus::Recovered) check(r.packets.empty());
          break;
        }
        case 12: hub.sweep(now); break;
        case 13: {
          auto rooms = in.list(), except = in.list();
          hub.targets(views(rooms), views(except));
          break;
        }
        case 14: {
          auto rooms = in.list(), except = in.list();
          std::string packet = in.str();
          hub.importRecord(hub.lastSeq() + in.small(3), views(rooms), views(except), packet, now - in.small(60));
          break;
        }
        default: now += in.small(2) ? in.small(30) : -static_cast<std::int64_t>(in.small(10)); break;
      }
    } catch (const rtc::Error&) {
      check(fingerprint(hub) == before);
    }
    invariants(hub);
  }
  return 0;
}
