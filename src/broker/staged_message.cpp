// A message being sent, read and checked step by step (staged_message.hpp).
#include "broker/staged_message.hpp"

#include "broker/command_parser.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

namespace kbus::broker {

using kdbus::item_type;

int read_send_command(std::span<std::uint8_t> cmd, send_request& rq) {
  static constexpr item_rule rules[] = {{item_type::cancel_fd, false, false}};
  parsed_command p;
  // With NEGOTIATE the message is still read: its own flags may negotiate too.
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_send), kdbus::send::allowed, rules, p); r) return r;
  rq.negotiate = p.negotiate;
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, rq.cmd);
  for (const auto& it : p.items)
    if (it.kind() == item_type::cancel_fd) {
      std::int32_t fd = -1;
      kdbus::load(it.payload, 0, fd);
      rq.cancel_fd = fd;
    }
  return 0;
}

int copy_message_in(peer_io& io, std::uint64_t address, std::vector<std::uint8_t>& raw) {
  if (address % 8) return EFAULT;
  kdbus::msg head{};
  if (io.read_user(address, &head, sizeof head)) return EFAULT;
  if (head.size < sizeof(kdbus::msg)) return EINVAL;
  if (head.size > kdbus::cmd_max_size) return EMSGSIZE;
  raw.assign(static_cast<std::size_t>(head.size), 0);
  if (io.read_user(address, raw.data(), raw.size())) return EFAULT;
  // The caller may have changed the size between the two reads.
  std::memcpy(&head, raw.data(), sizeof head);
  return head.size == raw.size() ? 0 : EINVAL;
}

int scan_message_items(std::span<const std::uint8_t> raw, std::uint64_t max_vec_total, std::vector<kdbus::item_ref>& items,
                       std::size_t& n_bloom) {
  static constexpr item_type accepted[] = {item_type::payload_vec, item_type::payload_memfd, item_type::fds,
                                           item_type::bloom_filter, item_type::dst_name};
  std::size_t n_fds_items = 0, n_dst = 0, n_memfd = 0;
  std::uint64_t vec_total = 0;
  n_bloom = 0;
  const int r = kdbus::for_each_item(raw.subspan(sizeof(kdbus::msg)), [&](const kdbus::item_ref& it) {
    bool known = false;
    for (const auto t : accepted) known = known || t == it.kind();
    if (!known) return EINVAL;
    if (it.kind() == item_type::bloom_filter && (it.payload.size() - 8) % 8)
      return it.payload.size() < 8 ? EINVAL : EFAULT;
    if (const int e = validate_item(it); e) return e;
    switch (it.kind()) {
      case item_type::fds: n_fds_items++; break;
      case item_type::bloom_filter: n_bloom++; break;
      case item_type::dst_name: n_dst++; break;
      case item_type::payload_memfd: n_memfd++; break;
      case item_type::payload_vec: {
        kdbus::vec v{};
        it.as(v);
        vec_total += v.size;
        if (vec_total > max_vec_total) return EMSGSIZE;
        break;
      }
      default: break;
    }
    if (n_fds_items > 1 || n_bloom > 1 || n_dst > 1) return EEXIST;
    items.push_back(it);
    return 0;
  });
  if (r) return r;
  return n_memfd > kdbus::msg_max_memfd_items ? E2BIG : 0;
}

int classify_message(const kdbus::msg& head, std::uint64_t sender_id, const send_request& rq, std::size_t n_bloom,
                     send_kind& kind) {
  if (head.payload_type == kdbus::payload_kernel) return EINVAL;
  if (head.src_id && head.src_id != sender_id) return EINVAL;
  kind.broadcast = head.dst_id == kdbus::dst_id_broadcast;
  kind.signal = head.flags & kdbus::msg_flags::signal;
  kind.expect_reply = head.flags & kdbus::msg_flags::expect_reply;
  kind.sync = rq.cmd.flags & kdbus::send::sync_reply;
  if (kind.broadcast && !kind.signal) return EBADMSG;
  if (kind.broadcast && head.timeout_ns) return ENOTUNIQ;
  if (kind.expect_reply && !head.timeout_ns) return EINVAL;
  if (kind.expect_reply && kind.signal) return ENOTUNIQ;
  if (kind.sync && !kind.expect_reply) return EINVAL;
  kind.reply = !kind.expect_reply && head.cookie_reply;
  if (kind.reply && kind.signal) return EINVAL;
  if (kind.signal != (n_bloom == 1)) return EBADMSG;
  return 0;
}

int stage_routing_items(const bus& b, const std::vector<kdbus::item_ref>& items, const send_kind& kind,
                        staged_message& m) {
  kdbus::item_writer w(m.items);
  for (const auto& it : items) {
    switch (it.kind()) {
      case item_type::bloom_filter: {
        if (it.payload.size() - 8 != b.bloom.size) return EDOM;
        kdbus::load(it.payload, 0, m.generation);
        m.bloom.resize((it.payload.size() - 8) / 8);
        std::memcpy(m.bloom.data(), it.payload.data() + 8, it.payload.size() - 8);
        m.has_bloom = true;
        w.add(item_type::bloom_filter, it.payload);
        break;
      }
      case item_type::dst_name: {
        std::string_view n;
        it.as_string(n);
        if (!kdbus::is_valid_well_known_name(n)) return EINVAL;
        if (kind.broadcast) return EBADMSG;
        m.dst_name = std::string(n);
        w.add_string(item_type::dst_name, n);
        break;
      }
      case item_type::fds: {
        const std::size_t n = it.payload.size() / 4;
        if (kind.broadcast && n) return ENOTUNIQ;
        if (n > kdbus::conn_max_fds_per_user) return EMFILE;
        m.nfds = n;
        break;
      }
      default: break;
    }
  }
  if (m.head.dst_id == kdbus::dst_id_name && m.dst_name.empty()) return EDESTADDRREQ;
  return 0;
}

namespace {

// FDS: the files are taken now; the receiver's item keeps their slots.
int take_fds(peer_io& io, const kdbus::item_ref& it, kdbus::item_writer& w, staged_message& m) {
  std::vector<std::int32_t> fds(it.payload.size() / 4);
  std::memcpy(fds.data(), it.payload.data(), it.payload.size());
  for (auto fd : fds) {
    file_ref f;
    if (const int r = io.take_fd(fd, f); r) return r;
    m.files.push_back(std::move(f));
  }
  const std::size_t at = w.add(item_type::fds, it.payload);
  for (std::size_t i = 0; i < fds.size(); ++i) m.file_slots.push_back(at + kdbus::item_header_size + 4 * i);
  return 0;
}

// PAYLOAD_VEC: its bytes copied into the payload stream (padding only when it has no address);
// the receiver gets a PAYLOAD_OFF item, filled in per receiver.
int copy_vec(peer_io& io, const kdbus::item_ref& it, kdbus::item_writer& w, staged_message& m) {
  kdbus::vec v{};
  it.as(v);
  staged_vec sv;
  sv.size = v.size;
  if (v.address) {
    sv.data = true;
    sv.at = m.payload.size();
    const std::size_t old = m.payload.size();
    m.payload.resize(old + static_cast<std::size_t>(v.size));
    if (io.read_user(v.address, m.payload.data() + old, static_cast<std::size_t>(v.size))) return EFAULT;
  } else {
    m.payload.resize(m.payload.size() + static_cast<std::size_t>(v.size % 8), 0);
  }
  m.off_items.push_back(w.add_struct(item_type::payload_off, kdbus::vec{}));
  m.vecs.push_back(sv);
  return 0;
}

// PAYLOAD_MEMFD: the memfd is taken now; the receiver's item gets its fd at RECV.
int take_memfd(peer_io& io, const kdbus::item_ref& it, kdbus::item_writer& w, staged_message& m,
               std::vector<file_ref>& files, std::vector<std::size_t>& slots) {
  kdbus::memfd mf{};
  it.as(mf);
  file_ref f;
  if (const int r = io.take_memfd(mf.fd, mf.start, mf.size, f); r) return r;
  files.push_back(std::move(f));
  m.payload.resize(m.payload.size() + static_cast<std::size_t>(mf.size % 8), 0);
  mf.fd = -1;
  const std::size_t at = w.add_struct(item_type::payload_memfd, mf);
  slots.push_back(at + kdbus::item_header_size + offsetof(kdbus::memfd, fd));
  return 0;
}

}  // namespace

int take_payload_and_files(peer_io& io, const std::vector<kdbus::item_ref>& items, staged_message& m) {
  kdbus::item_writer w(m.items);
  std::vector<file_ref> memfd_files;
  std::vector<std::size_t> memfd_slots;
  for (const auto& it : items) {
    int r = 0;
    switch (it.kind()) {
      case item_type::fds: r = take_fds(io, it, w, m); break;
      case item_type::payload_vec: r = copy_vec(io, it, w, m); break;
      case item_type::payload_memfd: r = take_memfd(io, it, w, m, memfd_files, memfd_slots); break;
      default: break;
    }
    if (r) return r;
  }
  // FDS first, then the memfds.
  m.files.insert(m.files.end(), memfd_files.begin(), memfd_files.end());
  m.file_slots.insert(m.file_slots.end(), memfd_slots.begin(), memfd_slots.end());
  return 0;
}

}  // namespace kbus::broker
