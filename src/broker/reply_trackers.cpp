// Reply tracking (kdbus ABI notes §2.11): calls waiting for replies, their deadlines, a
// replier that went away, and callers waiting in a synchronous SEND.
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kbus::broker {

using kdbus::item_type;

// The tracker of a call from `caller` to `replier` with `cookie`, or trackers.end().
domain::impl::tracker_iterator domain::impl::find_tracker(std::uint64_t caller, std::uint64_t replier,
                                                          std::uint64_t cookie) {
  for (auto it = trackers.begin(); it != trackers.end(); ++it)
    if (!it->second.done && it->second.caller == caller && it->second.replier == replier &&
        it->second.cookie == cookie)
      return it;
  return trackers.end();
}

// The call is dead: the replier went away or dropped it.
void domain::impl::tracker_dead(tracker_iterator it) {
  auto& t = it->second;
  if (auto c = conns.find(t.caller); c != conns.end() && c->second->replies_pending) c->second->replies_pending--;
  if (t.sync) {
    t.done = true;
    t.error = EPIPE;
    wake_sync();
    return;
  }
  const auto caller = t.caller, cookie = t.cookie;
  trackers.erase(it);
  reply_notice(caller, item_type::reply_dead, cookie);
}

int domain::sync_result(std::uint64_t ticket, std::span<std::uint8_t> cmd, peer_io& io) {
  auto& d = *impl_;
  auto it = d.trackers.find(ticket);
  if (it == d.trackers.end()) return EBADSLT;
  if (!it->second.done) return in_progress;
  auto& t = it->second;
  const int r = t.error;
  if (!r) {
    auto c = d.conns.find(t.caller);
    const auto slice = c == d.conns.end() ? std::span<std::uint8_t>{} : c->second->p.slice(t.info.offset);
    for (std::size_t i = 0; i < t.files.size(); ++i) {
      const std::int32_t fd = io.install_fd(t.files[i]);
      if (fd < 0) t.info.return_flags |= kdbus::recv::return_incomplete_fds;
      if (t.file_slots[i] + 4 <= slice.size()) std::memcpy(slice.data() + t.file_slots[i], &fd, 4);
    }
    kdbus::store(cmd, offsetof(kdbus::cmd_send, reply), t.info);
  }
  d.trackers.erase(it);
  return r;
}

void domain::sync_abort(std::uint64_t ticket, int error) {
  auto& d = *impl_;
  auto it = d.trackers.find(ticket);
  if (it == d.trackers.end() || it->second.done) return;
  if (auto c = d.conns.find(it->second.caller); c != d.conns.end() && c->second->replies_pending)
    c->second->replies_pending--;
  it->second.done = true;
  it->second.error = error;
}

std::optional<int> domain::sync_cancel_fd(std::uint64_t ticket) const {
  auto it = impl_->trackers.find(ticket);
  return it == impl_->trackers.end() ? std::nullopt : it->second.cancel_fd;
}

bool domain::sync_finished(std::uint64_t ticket) const {
  auto it = impl_->trackers.find(ticket);
  return it == impl_->trackers.end() || it->second.done;
}

std::uint64_t domain::expire(std::uint64_t now) {
  auto& d = *impl_;
  for (auto it = d.trackers.begin(); it != d.trackers.end();) {
    auto& t = it->second;
    if (t.done || t.deadline > now) {
      ++it;
      continue;
    }
    if (auto c = d.conns.find(t.caller); c != d.conns.end() && c->second->replies_pending)
      c->second->replies_pending--;
    if (t.sync) {
      t.done = true;
      t.error = ETIMEDOUT;
      ++it;
      continue;
    }
    const auto caller = t.caller, cookie = t.cookie;
    it = d.trackers.erase(it);
    d.reply_notice(caller, item_type::reply_timeout, cookie);
  }
  return next_deadline();
}

std::uint64_t domain::next_deadline() const {
  std::uint64_t next = UINT64_MAX;
  for (const auto& [k, t] : impl_->trackers)
    if (!t.done) next = std::min(next, t.deadline);
  return next;
}

}  // namespace kbus::broker
