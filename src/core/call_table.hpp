// The calls a connection awaits replies to, by serial: their completions, their deadlines, and
// the ids that cancel them. Pure bookkeeping: no I/O, no clock of its own (times come in).
#pragma once

#include "kbus/connection.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace kbus::detail {

class call_table {
 public:
  using clock = std::chrono::steady_clock;

  struct entry {
    std::uint64_t cancel_id = 0;  // 0: the call cannot be cancelled
    std::unique_ptr<call_completion> done;
    clock::time_point deadline;
    bool sent = false;  // handed to the transport (counts against its awaited replies)
  };

  void add(std::uint32_t serial, entry e);
  bool contains(std::uint32_t serial) const { return by_serial_.contains(serial); }
  void mark_sent(std::uint32_t serial);
  // Takes the call out (nullopt when there is none).
  std::optional<entry> take(std::uint32_t serial);
  std::optional<std::uint32_t> serial_of(std::uint64_t cancel_id) const;
  // Takes every call out, for a connection that ended.
  std::vector<entry> take_all();

  // The serials whose deadline is at or before `now`. The next deadline of those left is what
  // next_deadline() says afterwards.
  std::vector<std::uint32_t> due(clock::time_point now);
  // The earliest deadline of a call added since the last due(), or of those due() left: the
  // time the connection's one timer must fire at the latest. It stays set after the call ends
  // (a timer that fires early finds nothing due, which is cheaper than re-arming per reply).
  std::optional<clock::time_point> next_deadline() const noexcept { return next_deadline_; }

  std::size_t size() const noexcept { return by_serial_.size(); }
  // Calls handed to the transport that still await their reply.
  std::size_t awaiting() const noexcept { return awaiting_; }

 private:
  std::unordered_map<std::uint32_t, entry> by_serial_;
  std::unordered_map<std::uint64_t, std::uint32_t> serial_of_;  // cancellable calls only
  std::optional<clock::time_point> next_deadline_;
  std::size_t awaiting_ = 0;
};

}  // namespace kbus::detail
