// SEND (kdbus ABI notes §2.5), in steps: read the command and the message, check it, resolve
// the destination, check that the sender may send there, take the payload and files, deliver.
#include "broker/domain_impl.hpp"

#include <cerrno>
#include <cstring>

namespace kbus::broker {

int domain::impl::send(bus_connection* c, std::span<std::uint8_t> cmd, const credentials& who, peer_io& io,
                       std::uint64_t* ticket) {
  send_request rq;
  if (const int r = read_send_command(cmd, rq); r) return r;
  std::vector<std::uint8_t> raw;
  if (const int r = copy_message_in(io, rq.cmd.msg_address, raw); r) return r;
  kdbus::msg head{};
  std::memcpy(&head, raw.data(), sizeof head);
  if (head.flags & kdbus::flag_negotiate) {
    if (!rq.negotiate) return EINVAL;
    return 0;  // the message's flags are not written back through the caller's memory
  }
  if (rq.negotiate) return 0;
  if (head.flags & ~kdbus::msg_flags::allowed) return EINVAL;

  std::vector<kdbus::item_ref> items;
  std::size_t n_bloom = 0;
  if (const int r = scan_message_items(raw, opt.max_payload_vec_size, items, n_bloom); r) return r;
  if (!c->ordinary()) return EOPNOTSUPP;
  send_kind kind;
  if (const int r = classify_message(head, c->id, rq, n_bloom, kind); r) return r;
  staged_message m;
  m.head = head;
  m.head.src_id = c->id;
  if (const int r = stage_routing_items(*c->b, items, kind, m); r) return r;

  // The destination is resolved before anything is taken from the caller.
  bus_connection* dst = nullptr;
  std::uint64_t tracker_ticket = 0;
  if (!kind.broadcast) {
    if (const int r = resolve_destination(c, m, dst); r) return r;
    if (const int r = check_may_send(c, dst, m, kind, tracker_ticket); r) return r;
  }
  if (const int r = take_payload_and_files(io, items, m); r) return r;
  c->b->seqnum++;

  if (kind.broadcast) {
    deliver_broadcast(m, c, who);
    return 0;
  }
  if (kind.signal) {
    deliver_signal(m, c, who, dst);
    return 0;
  }
  if (kind.reply) return deliver_reply(m, c, who, dst, tracker_ticket);
  return deliver_call(m, c, who, dst, kind, rq, ticket);
}

// The receiver of a unicast message: the owner of its DST_NAME (the activator while nobody
// owns it), or the connection with its DST_ID.
int domain::impl::resolve_destination(const bus_connection* c, const staged_message& m, bus_connection*& dst) {
  if (!m.dst_name.empty()) {
    auto it = c->b->names.find(m.dst_name);
    if (it == c->b->names.end() || !it->second.primary() || !can_see_name(c, m.dst_name)) return ESRCH;
    dst = it->second.primary();
    if (m.head.dst_id != kdbus::dst_id_name && m.head.dst_id != dst->id) return EREMCHG;
    if (dst->activator() && (m.head.flags & kdbus::msg_flags::no_auto_start)) return EADDRNOTAVAIL;
    return 0;
  }
  dst = conn_by_id(c->b, m.head.dst_id);
  if (!dst || !dst->ordinary() || !can_see_conn(c, dst)) return ENXIO;
  return 0;
}

// Whether `c` may send `m` to `dst`: fds only to receivers that take them, a reply only to a
// call waiting for it (whose tracker is returned), a call only where policy lets `c` TALK, and
// no more calls in flight than the limit.
int domain::impl::check_may_send(const bus_connection* c, const bus_connection* dst, const staged_message& m,
                                 const send_kind& kind, std::uint64_t& tracker_ticket) {
  if (m.nfds && !(dst->flags & kdbus::hello::accept_fd) && !kind.signal) return ECOMM;
  if (kind.reply) {
    auto t = find_tracker(dst->id, c->id, m.head.cookie_reply);
    if (t == trackers.end()) return EBADSLT;
    tracker_ticket = t->first;
  } else if (!kind.signal && !can_talk(c, dst)) {
    return EPERM;
  }
  if (kind.expect_reply && c->replies_pending >= kdbus::conn_max_requests_pending) return EMLINK;
  return 0;
}

}  // namespace kbus::broker
