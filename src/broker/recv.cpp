// RECV and FREE (kdbus ABI notes §2.6): the next message of a connection's queue is published
// in its pool (with its files installed), peeked at or dropped; FREE hands a slice back.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>
#include <cstring>
#include <list>

namespace kbus::broker {

namespace {

// Messages lost since the last RECV are reported (and forgotten) whatever else RECV finds.
void report_lost(bus_connection* c, std::span<std::uint8_t> cmd) {
  if (!c->lost) return;
  kdbus::store(cmd, offsetof(kdbus::cmd_recv, dropped_msgs), c->lost);
  c->lost = 0;
  kdbus::store(cmd, offsetof(kdbus::cmd_recv, return_flags), kdbus::recv::return_dropped_msgs);
}

// The message RECV takes: the oldest, or with USE_PRIORITY the most urgent one if it is at
// least as urgent as asked; end() when none is.
std::list<queue_entry>::iterator next_message(bus_connection* c, std::uint64_t flags, std::int64_t priority) {
  auto pick = c->queue.begin();
  if (pick == c->queue.end() || !(flags & kdbus::recv::use_priority)) return pick;
  for (auto it = c->queue.begin(); it != c->queue.end(); ++it)
    if (it->priority < pick->priority) pick = it;
  return pick->priority > priority ? c->queue.end() : pick;
}

// Installs the message's files into the receiver and writes their fds into the slice.
std::uint64_t install_files(bus_connection* c, const queue_entry& e, peer_io& io) {
  std::uint64_t rflags = 0;
  auto s = c->p.slice(e.slice);
  for (std::size_t i = 0; i < e.files.size() && i < e.file_slots.size(); ++i) {
    const int fd = io.install_fd(e.files[i]);
    if (fd < 0) rflags |= kdbus::recv::return_incomplete_fds;
    const std::int32_t v = fd;
    if (e.file_slots[i] + 4 <= s.size()) std::memcpy(s.data() + e.file_slots[i], &v, 4);
  }
  return rflags;
}

}  // namespace

int domain::impl::recv(bus_connection* c, std::span<std::uint8_t> cmd, peer_io& io) {
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_recv), kdbus::recv::allowed, {}, p); r || p.negotiate)
    return r;
  if ((p.flags & kdbus::recv::drop) && (p.flags & kdbus::recv::use_priority)) return EINVAL;
  if (c->policy_holder()) return EOPNOTSUPP;
  kdbus::cmd_recv rc{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, rc);
  report_lost(c, cmd);
  auto pick = next_message(c, p.flags, rc.priority);
  if (pick == c->queue.end()) return EAGAIN;
  wake(c);
  if (p.flags & kdbus::recv::peek) {
    c->p.publish(pick->slice);
    const kdbus::msg_info mi{pick->slice, pick->size, 0};
    kdbus::store(cmd, offsetof(kdbus::cmd_recv, msg), mi);
    return 0;
  }
  queue_entry e = std::move(*pick);
  c->queue.erase(pick);
  unaccount(c, e);
  if (p.flags & kdbus::recv::drop) {
    // A dropped call gets no reply: its caller learns so now.
    if (e.expect_reply)
      if (auto t = find_tracker(e.src_id, c->id, e.cookie); t != trackers.end()) tracker_dead(t);
    c->p.release_kernel(e.slice);
    return 0;
  }
  const std::uint64_t rflags = install_files(c, e, io);
  c->p.publish(e.slice);
  c->p.release_kernel(e.slice);
  const kdbus::msg_info mi{e.slice, e.size, rflags};
  kdbus::store(cmd, offsetof(kdbus::cmd_recv, msg), mi);
  return 0;
}

int domain::impl::free_cmd(bus_connection* c, std::span<std::uint8_t> cmd) {
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_free), 0, {}, p); r || p.negotiate) return r;
  kdbus::cmd_free f{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, f);
  return c->p.release_user(f.offset);
}

}  // namespace kbus::broker
