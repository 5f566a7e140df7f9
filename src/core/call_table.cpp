#include "core/call_table.hpp"

namespace kbus::detail {

void call_table::add(std::uint32_t serial, entry e) {
  if (!next_deadline_ || e.deadline < *next_deadline_) next_deadline_ = e.deadline;
  if (e.cancel_id) serial_of_[e.cancel_id] = serial;
  if (e.sent) ++awaiting_;
  by_serial_.insert_or_assign(serial, std::move(e));
}

void call_table::mark_sent(std::uint32_t serial) {
  auto it = by_serial_.find(serial);
  if (it == by_serial_.end() || it->second.sent) return;
  it->second.sent = true;
  ++awaiting_;
}

std::optional<call_table::entry> call_table::take(std::uint32_t serial) {
  auto it = by_serial_.find(serial);
  if (it == by_serial_.end()) return std::nullopt;
  entry e = std::move(it->second);
  by_serial_.erase(it);
  if (e.cancel_id) serial_of_.erase(e.cancel_id);
  if (e.sent) --awaiting_;
  return e;
}

std::optional<std::uint32_t> call_table::serial_of(std::uint64_t cancel_id) const {
  auto it = serial_of_.find(cancel_id);
  if (it == serial_of_.end()) return std::nullopt;
  return it->second;
}

std::vector<call_table::entry> call_table::take_all() {
  std::vector<entry> all;
  all.reserve(by_serial_.size());
  for (auto& [serial, e] : by_serial_) all.push_back(std::move(e));
  by_serial_.clear();
  serial_of_.clear();
  awaiting_ = 0;
  next_deadline_.reset();
  return all;
}

std::vector<std::uint32_t> call_table::due(clock::time_point now) {
  // A scan of every call: the timer fires once per earliest deadline, not once per call.
  std::vector<std::uint32_t> serials;
  next_deadline_.reset();
  for (const auto& [serial, e] : by_serial_) {
    if (e.deadline <= now) serials.push_back(serial);
    else if (!next_deadline_ || e.deadline < *next_deadline_) next_deadline_ = e.deadline;
  }
  return serials;
}

}  // namespace kbus::detail
