// Delivery (kdbus ABI notes §2.5, §2.6): a staged message becomes a slice in each receiver's
// pool: to the matching connections of a broadcast, to one connection, or straight to a caller
// waiting in a synchronous SEND; monitors get a copy of everything.
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kbus::broker {

namespace {

// A signal as the receivers' matches see it.
match_subject signal_subject(const staged_message& m, const bus_connection* sender) {
  match_subject s;
  s.sender = sender;
  s.dst_id = m.head.dst_id;
  s.bloom = m.bloom;
  s.generation = m.generation;
  return s;
}

}  // namespace

// The receiver's slice: header + items + metadata, then (written by slice_bytes) the payload
// at ALIGN8(msg.size).
std::vector<std::uint8_t> domain::impl::build_slice_head(const staged_message& m, const bus_connection* sender,
                                                    const credentials& who, const bus_connection* to,
                                                    std::vector<std::size_t>& slots) {
  std::vector<std::uint8_t> out(sizeof(kdbus::msg) + m.items.size(), 0);
  std::copy(m.items.begin(), m.items.end(), out.begin() + sizeof(kdbus::msg));
  out.resize(kdbus::align8(out.size()));
  emit_metadata(out, sender, who, granted(to->attach_recv, sender->attach_send), sender->b->seqnum);
  kdbus::msg head = m.head;
  head.size = out.size();
  std::memcpy(out.data(), &head, sizeof head);
  const std::size_t payload_at = kdbus::align8(out.size());
  for (std::size_t i = 0; i < m.off_items.size(); ++i) {
    const std::size_t pos = sizeof(kdbus::msg) + m.off_items[i] + kdbus::item_header_size;
    kdbus::vec v{};
    v.size = m.vecs[i].size;
    v.offset = m.vecs[i].data ? payload_at + m.vecs[i].at : ~std::uint64_t{0};
    std::memcpy(out.data() + pos, &v, sizeof v);
  }
  slots.clear();
  for (auto s : m.file_slots) slots.push_back(sizeof(kdbus::msg) + s);
  return out;
}

int domain::impl::deliver(const staged_message& m, bus_connection* sender, const credentials& who,
                          bus_connection* to, bool accounted, bool expect_reply) {
  queue_entry e;
  e.priority = m.head.priority;
  e.src_id = sender->id;
  e.cookie = m.head.cookie;
  e.expect_reply = expect_reply;
  e.quota_user = sender->user;
  e.dst_name = m.dst_name;
  auto head = build_slice_head(m, sender, who, to, e.file_slots);  // the file slots lie in it
  // Files are passed only to receivers that accept them; memfds always.
  const bool accept = to->flags & kdbus::hello::accept_fd;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    if (i < m.nfds && !accept) continue;
    e.files.push_back(m.files[i]);
  }
  if (!accept && m.nfds)
    e.file_slots.erase(e.file_slots.begin(), e.file_slots.begin() + static_cast<std::ptrdiff_t>(m.nfds));
  // Until RECV installs them, fds read -1.
  for (auto s : e.file_slots) {
    const std::int32_t minus1 = -1;
    if (s + 4 <= head.size()) std::memcpy(head.data() + s, &minus1, 4);
  }
  if (m.nfds && !accept) {
    for (std::size_t i = 0; i < m.nfds; ++i) {
      const std::int32_t minus1 = -1;
      const std::size_t s = sizeof(kdbus::msg) + m.file_slots[i];
      if (s + 4 <= head.size()) std::memcpy(head.data() + s, &minus1, 4);
    }
  }
  return enqueue(to, slice_bytes(head, m.payload), std::move(e), accounted);
}

// A message nobody waits on: when it does not fit, the receiver learns that one was lost.
void domain::impl::deliver_or_count_lost(const staged_message& m, bus_connection* sender, const credentials& who,
                                         bus_connection* to) {
  if (deliver(m, sender, who, to, true, false)) {
    to->lost++;
    wake(to);
  }
}

void domain::impl::copy_to_monitors(const staged_message& m, bus_connection* sender, const credentials& who) {
  for (auto& [id, mon] : sender->b->connections) {
    if (!mon->monitor()) continue;
    staged_message copy = m;
    copy.nfds = 0;
    deliver_or_count_lost(copy, sender, who, mon);
  }
}

void domain::impl::deliver_broadcast(const staged_message& m, bus_connection* sender, const credentials& who) {
  copy_to_monitors(m, sender, who);
  const match_subject s = signal_subject(m, sender);
  for (auto& [id, to] : sender->b->connections) {
    if (!to->ordinary() || !matches(to, s) || !can_talk(to, sender) || !can_see_conn(to, sender)) continue;
    deliver_or_count_lost(m, sender, who, to);
  }
}

// A signal to one connection reaches it only through a match.
void domain::impl::deliver_signal(const staged_message& m, bus_connection* sender, const credentials& who,
                                  bus_connection* dst) {
  copy_to_monitors(m, sender, who);
  if (matches(dst, signal_subject(m, sender)) && can_talk(dst, sender)) deliver_or_count_lost(m, sender, who, dst);
}

// A reply ends its call's tracker: into the caller's queue, or to a caller waiting in SEND.
int domain::impl::deliver_reply(const staged_message& m, bus_connection* sender, const credentials& who,
                                bus_connection* dst, std::uint64_t tracker_ticket) {
  auto& t = trackers.at(tracker_ticket);
  if (t.sync) {
    reply_to_waiting_caller(m, sender, who, dst, t);
    if (dst->replies_pending) dst->replies_pending--;
    wake_sync();
    copy_to_monitors(m, sender, who);
    return 0;
  }
  if (const int r = deliver(m, sender, who, dst, false, false); r) return r;
  if (dst->replies_pending) dst->replies_pending--;
  trackers.erase(tracker_ticket);
  copy_to_monitors(m, sender, who);
  return 0;
}

// Straight into the waiting caller's pool, no queue (§2.5); the caller installs the files
// when it collects the reply (sync_result).
void domain::impl::reply_to_waiting_caller(const staged_message& m, bus_connection* sender, const credentials& who,
                                           bus_connection* dst, reply_tracker& t) {
  std::vector<std::size_t> slots;
  const auto head = build_slice_head(m, sender, who, dst, slots);
  const slice_bytes bytes(head, m.payload);
  std::uint64_t off = 0;
  if (dst->p.alloc(bytes.size(), false, off)) {
    t.done = true;
    t.error = EREMOTEIO;
    return;
  }
  auto s = dst->p.slice(off);
  bytes.write(s.data());
  const bool accept = dst->flags & kdbus::hello::accept_fd;
  for (std::size_t i = 0; i < m.files.size() && i < slots.size(); ++i) {
    const std::int32_t none = -1;
    std::memcpy(s.data() + slots[i], &none, 4);
    if (i >= m.nfds || accept) {
      t.files.push_back(m.files[i]);
      t.file_slots.push_back(slots[i]);
    }
  }
  dst->p.publish(off);
  dst->p.release_kernel(off);
  t.done = true;
  t.error = 0;
  t.info = kdbus::msg_info{off, bytes.size(), 0};
}

// A call (or a message that wants no reply) to one connection; a call is tracked until its
// reply, and a synchronous caller waits (in_progress, with the tracker's ticket).
int domain::impl::deliver_call(const staged_message& m, bus_connection* sender, const credentials& who,
                               bus_connection* dst, const send_kind& kind, const send_request& rq,
                               std::uint64_t* ticket) {
  if (const int r = deliver(m, sender, who, dst, true, kind.expect_reply); r) return r;
  copy_to_monitors(m, sender, who);
  if (!kind.expect_reply) return 0;
  reply_tracker t;
  t.caller = sender->id;
  t.replier = dst->id;
  t.cookie = m.head.cookie;
  t.deadline = m.head.timeout_ns;
  t.sync = kind.sync;
  t.cancel_fd = rq.cancel_fd;
  const std::uint64_t tk = next_ticket++;
  trackers.emplace(tk, t);
  sender->replies_pending++;
  if (!kind.sync) return 0;
  if (ticket) *ticket = tk;
  return in_progress;
}

}  // namespace kbus::broker
