// kbusd's core (domain.hpp): what is not yet in a file of its own, defined out of line
// (domain_impl.hpp declares it).
#include "broker/domain.hpp"

#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <set>

namespace kbus::broker {

using kdbus::item_type;

// The receiver's slice: header + items + metadata, then the payload at ALIGN8(msg.size).
std::vector<std::uint8_t> domain::impl::build_slice(const staged_message& m, const bus_connection* sender, const credentials& who,
                                      const bus_connection* to, std::vector<std::size_t>& slots) {
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
  out.resize(payload_at, 0);
  out.insert(out.end(), m.payload.begin(), m.payload.end());
  out.resize(kdbus::align8(out.size()), 0);
  slots.clear();
  for (auto s : m.file_slots) slots.push_back(sizeof(kdbus::msg) + s);
  return out;
}

int domain::impl::deliver(const staged_message& m, bus_connection* sender, const credentials& who, bus_connection* to, bool accounted,
            bool expect_reply) {
  queue_entry e;
  e.priority = m.head.priority;
  e.src_id = sender->id;
  e.cookie = m.head.cookie;
  e.expect_reply = expect_reply;
  e.quota_user = sender->user;
  e.dst_name = m.dst_name;
  auto bytes = build_slice(m, sender, who, to, e.file_slots);
  // Files are passed only to receivers that accept them; memfds always.
  const bool accept = to->flags & kdbus::hello::accept_fd;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    if (i < m.nfds && !accept) continue;
    e.files.push_back(m.files[i]);
  }
  if (!accept && m.nfds) e.file_slots.erase(e.file_slots.begin(), e.file_slots.begin() + static_cast<std::ptrdiff_t>(m.nfds));
  // Until RECV installs them, fds read -1.
  for (auto s : e.file_slots) {
    const std::int32_t minus1 = -1;
    if (s + 4 <= bytes.size()) std::memcpy(bytes.data() + s, &minus1, 4);
  }
  if (m.nfds && !accept) {
    for (std::size_t i = 0; i < m.nfds; ++i) {
      const std::int32_t minus1 = -1;
      const std::size_t s = sizeof(kdbus::msg) + m.file_slots[i];
      if (s + 4 <= bytes.size()) std::memcpy(bytes.data() + s, &minus1, 4);
    }
  }
  return enqueue(to, bytes, std::move(e), accounted);
}

void domain::impl::copy_to_monitors(const staged_message& m, bus_connection* sender, const credentials& who) {
  for (auto& [id, mon] : sender->b->connections) {
    if (!mon->monitor()) continue;
    staged_message copy = m;
    copy.nfds = 0;
    if (deliver(copy, sender, who, mon, true, false)) {
      mon->lost++;
      wake(mon);
    }
  }
}

int domain::impl::send(bus_connection* c, std::span<std::uint8_t> cmd, const credentials& who, peer_io& io, std::uint64_t* ticket) {
  static constexpr item_rule rules[] = {{item_type::cancel_fd, false, false}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_send), kdbus::send::allowed, rules, p); r) return r;
  kdbus::cmd_send sc{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, sc);
  std::optional<int> cancel_fd;
  for (const auto& it : p.items)
    if (it.kind() == item_type::cancel_fd) {
      std::int32_t fd = -1;
      kdbus::load(it.payload, 0, fd);
      cancel_fd = fd;
    }
  // The message, from the caller's memory.
  if (sc.msg_address % 8) return EFAULT;
  kdbus::msg head{};
  if (io.read_user(sc.msg_address, &head, sizeof head)) return EFAULT;
  if (head.size < sizeof(kdbus::msg)) return EINVAL;
  if (head.size > kdbus::cmd_max_size) return EMSGSIZE;
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(head.size));
  if (io.read_user(sc.msg_address, raw.data(), raw.size())) return EFAULT;
  std::memcpy(&head, raw.data(), sizeof head);
  if (head.size != raw.size()) return EINVAL;
  if (head.flags & kdbus::flag_negotiate) {
    if (!p.negotiate) return EINVAL;
    return 0;  // the message's flags are not written back through the caller's memory
  }
  if (p.negotiate) return 0;
  if (head.flags & ~kdbus::msg_flags::allowed) return EINVAL;

  static constexpr item_rule msg_rules[] = {{item_type::payload_vec, true, false},
                                            {item_type::payload_memfd, true, false},
                                            {item_type::fds, true, false},
                                            {item_type::bloom_filter, true, false},
                                            {item_type::dst_name, true, false}};
  std::vector<kdbus::item_ref> items;
  std::size_t n_fds_items = 0, n_bloom = 0, n_dst = 0, n_memfd = 0;
  std::uint64_t vec_total = 0;
  const int wr = kdbus::for_each_item(std::span<const std::uint8_t>(raw).subspan(sizeof(kdbus::msg)),
                                      [&](const kdbus::item_ref& it) {
                                        bool known = false;
                                        for (const auto& r : msg_rules) known = known || r.type == it.kind();
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
                                            if (vec_total > kdbus::msg_max_payload_vec_size) return EMSGSIZE;
                                            break;
                                          }
                                          default: break;
                                        }
                                        if (n_fds_items > 1 || n_bloom > 1 || n_dst > 1) return EEXIST;
                                        items.push_back(it);
                                        return 0;
                                      });
  if (wr) return wr;
  if (n_memfd > kdbus::msg_max_memfd_items) return E2BIG;

  if (!c->ordinary()) return EOPNOTSUPP;
  if (head.payload_type == kdbus::payload_kernel) return EINVAL;
  if (head.src_id && head.src_id != c->id) return EINVAL;
  const bool broadcast = head.dst_id == kdbus::dst_id_broadcast;
  const bool is_signal = head.flags & kdbus::msg_flags::signal;
  const bool expect = head.flags & kdbus::msg_flags::expect_reply;
  const bool sync = sc.flags & kdbus::send::sync_reply;
  if (broadcast && !is_signal) return EBADMSG;
  if (broadcast && head.timeout_ns) return ENOTUNIQ;
  if (expect && !head.timeout_ns) return EINVAL;
  if (expect && is_signal) return ENOTUNIQ;
  if (sync && !expect) return EINVAL;
  const bool is_reply = !expect && head.cookie_reply;
  if (is_reply && is_signal) return EINVAL;
  if (is_signal != (n_bloom == 1)) return EBADMSG;

  staged_message m;
  m.head = head;
  m.head.src_id = c->id;
  kdbus::item_writer em{m.items};
  std::vector<kdbus::vec> vec_items;
  for (const auto& it : items) {
    switch (it.kind()) {
      case item_type::bloom_filter: {
        if (it.payload.size() - 8 != c->b->bloom.size) return EDOM;
        kdbus::load(it.payload, 0, m.generation);
        m.bloom.resize((it.payload.size() - 8) / 8);
        std::memcpy(m.bloom.data(), it.payload.data() + 8, it.payload.size() - 8);
        m.has_bloom = true;
        em.add(item_type::bloom_filter, it.payload);
        break;
      }
      case item_type::dst_name: {
        std::string_view n;
        it.as_string(n);
        if (!kdbus::is_valid_well_known_name(n)) return EINVAL;
        if (broadcast) return EBADMSG;
        m.dst_name = std::string(n);
        em.add_string(item_type::dst_name, n);
        break;
      }
      case item_type::fds: {
        const std::size_t n = it.payload.size() / 4;
        if (broadcast && n) return ENOTUNIQ;
        if (n > kdbus::conn_max_fds_per_user) return EMFILE;
        m.nfds = n;
        break;
      }
      default: break;
    }
  }
  if (head.dst_id == kdbus::dst_id_name && m.dst_name.empty()) return EDESTADDRREQ;

  // Resolve the destination before taking anything from the caller.
  bus* b = c->b;
  bus_connection* dst = nullptr;
  std::uint64_t tracker_ticket = 0;
  if (!broadcast) {
    if (!m.dst_name.empty()) {
      auto it = b->names.find(m.dst_name);
      if (it == b->names.end() || !it->second.primary() || !can_see_name(c, m.dst_name)) return ESRCH;
      dst = it->second.primary();
      if (head.dst_id != kdbus::dst_id_name && head.dst_id != dst->id) return EREMCHG;
      if (dst->activator() && (head.flags & kdbus::msg_flags::no_auto_start)) return EADDRNOTAVAIL;
    } else {
      dst = conn_by_id(b, head.dst_id);
      if (!dst || !dst->ordinary() || !can_see_conn(c, dst)) return ENXIO;
    }
    if (m.nfds && !(dst->flags & kdbus::hello::accept_fd) && !is_signal) return ECOMM;
    if (is_reply) {
      auto t = find_tracker(dst->id, c->id, head.cookie_reply);
      if (t == trackers.end()) return EBADSLT;
      tracker_ticket = t->first;
    } else if (!is_signal && !can_talk(c, dst)) {
      return EPERM;
    }
    if (expect && c->replies_pending >= kdbus::conn_max_requests_pending) return EMLINK;
  }

  // Items in the receiver's form: files, vecs (payload copied from the caller's memory).
  std::vector<file_ref> fds_files, memfd_files;
  std::vector<std::size_t> memfd_slots;
  for (const auto& it : items) {
    switch (it.kind()) {
      case item_type::fds: {
        std::vector<std::int32_t> fds(it.payload.size() / 4);
        std::memcpy(fds.data(), it.payload.data(), it.payload.size());
        for (auto fd : fds) {
          file_ref f;
          if (const int r = io.take_fd(fd, f); r) return r;
          fds_files.push_back(std::move(f));
        }
        m.items.resize(kdbus::align8(m.items.size()));
        const std::size_t at = m.items.size();
        em.add(item_type::fds, it.payload);
        for (std::size_t i = 0; i < fds.size(); ++i) m.file_slots.push_back(at + kdbus::item_header_size + 4 * i);
        break;
      }
      case item_type::payload_vec: {
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
        m.items.resize(kdbus::align8(m.items.size()));
        m.off_items.push_back(m.items.size());
        m.vecs.push_back(sv);
        em.add_struct(item_type::payload_off, kdbus::vec{});
        break;
      }
      case item_type::payload_memfd: {
        kdbus::memfd mf{};
        it.as(mf);
        file_ref f;
        if (const int r = io.take_memfd(mf.fd, mf.start, mf.size, f); r) return r;
        memfd_files.push_back(std::move(f));
        m.payload.resize(m.payload.size() + static_cast<std::size_t>(mf.size % 8), 0);
        m.items.resize(kdbus::align8(m.items.size()));
        const std::size_t at = m.items.size();
        mf.fd = -1;
        em.add_struct(item_type::payload_memfd, mf);
        memfd_slots.push_back(at + kdbus::item_header_size + offsetof(kdbus::memfd, fd));
        break;
      }
      default: break;
    }
  }
  m.files = std::move(fds_files);
  m.files.insert(m.files.end(), memfd_files.begin(), memfd_files.end());
  m.file_slots.insert(m.file_slots.end(), memfd_slots.begin(), memfd_slots.end());
  b->seqnum++;

  if (broadcast) {
    copy_to_monitors(m, c, who);
    match_subject s;
    s.sender = c;
    s.dst_id = head.dst_id;
    s.bloom = m.bloom;
    s.generation = m.generation;
    for (auto& [id, to] : b->connections) {
      if (!to->ordinary() || !matches(to, s) || !can_talk(to, c) || !can_see_conn(to, c)) continue;
      if (deliver(m, c, who, to, true, false)) {
        to->lost++;
        wake(to);
      }
    }
    return 0;
  }

  if (is_signal) {
    copy_to_monitors(m, c, who);
    match_subject s;
    s.sender = c;
    s.dst_id = head.dst_id;
    s.bloom = m.bloom;
    s.generation = m.generation;
    if (matches(dst, s) && can_talk(dst, c))
      if (deliver(m, c, who, dst, true, false)) {
        dst->lost++;
        wake(dst);
      }
    return 0;
  }

  if (is_reply) {
    auto& t = trackers.at(tracker_ticket);
    if (t.sync) {
      // Straight into the waiting caller's pool, no queue (§2.5).
      std::vector<std::size_t> slots;
      auto bytes = build_slice(m, c, who, dst, slots);
      std::uint64_t off = 0;
      if (dst->p.alloc(bytes.size(), false, off)) {
        t.done = true;
        t.error = EREMOTEIO;
      } else {
        auto s = dst->p.slice(off);
        std::memcpy(s.data(), bytes.data(), bytes.size());
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
      if (dst->replies_pending) dst->replies_pending--;
      wake_sync();
      copy_to_monitors(m, c, who);
      return 0;
    }
    if (const int r = deliver(m, c, who, dst, false, false); r) return r;
    if (dst->replies_pending) dst->replies_pending--;
    trackers.erase(tracker_ticket);
    copy_to_monitors(m, c, who);
    return 0;
  }

  if (const int r = deliver(m, c, who, dst, true, expect); r) return r;
  copy_to_monitors(m, c, who);
  if (expect) {
    reply_tracker t;
    t.caller = c->id;
    t.replier = dst->id;
    t.cookie = head.cookie;
    t.deadline = head.timeout_ns;
    t.sync = sync;
    t.cancel_fd = cancel_fd;
    const std::uint64_t tk = next_ticket++;
    trackers.emplace(tk, t);
    c->replies_pending++;
    if (sync) {
      if (ticket) *ticket = tk;
      return in_progress;
    }
  }
  return 0;
}

namespace {

std::uint64_t now_ns(auto clock_now) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_now.time_since_epoch()).count());
}

}  // namespace

std::uint64_t domain::impl::mono() const {
  return opt.monotonic_ns ? opt.monotonic_ns() : now_ns(std::chrono::steady_clock::now());
}
std::uint64_t domain::impl::real() const {
  return opt.realtime_ns ? opt.realtime_ns() : now_ns(std::chrono::system_clock::now());
}

bus_connection* domain::impl::conn_by_id(bus* b, std::uint64_t id) {
  auto it = b->connections.find(id);
  return it == b->connections.end() ? nullptr : it->second;
}

domain::domain(domain_options options) : impl_(std::make_unique<impl>()) { impl_->opt = std::move(options); }
domain::~domain() {
  while (!impl_->buses.empty()) impl_->destroy_bus(impl_->buses.begin()->second.get());
}

int domain::open(std::string_view node, const credentials& who, handle_id& out) {
  auto& d = *impl_;
  handle h;
  h.opener = who;
  if (node == "control") {
    h.kind = handle_kind::control;
  } else {
    const auto slash = node.find('/');
    if (slash == std::string_view::npos) return ENOENT;
    auto b = d.buses.find(node.substr(0, slash));
    if (b == d.buses.end()) return ENOENT;
    auto ep = b->second->endpoints.find(node.substr(slash + 1));
    if (ep == b->second->endpoints.end()) return ENOENT;
    // Node modes (§2.1): owner rw, plus group / world with MAKE_ACCESS_GROUP / WORLD.
    const std::uint64_t f = b->second->flags;
    const bool allowed = who.privileged || who.ids.euid == ep->second->uid ||
                         (f & kdbus::make::access_world) ||
                         ((f & kdbus::make::access_group) &&
                          (who.ids.egid == ep->second->gid ||
                           std::count(who.auxgroups.begin(), who.auxgroups.end(), ep->second->gid)));
    if (!allowed) return EACCES;
    h.kind = handle_kind::endpoint;
    h.b = b->second.get();
    h.ep = ep->second.get();
  }
  out = d.next_handle++;
  d.handles.emplace(out, std::move(h));
  return 0;
}

void domain::close(handle_id id) {
  auto& d = *impl_;
  auto it = d.handles.find(id);
  if (it == d.handles.end()) return;
  handle& h = it->second;
  if (h.kind == handle_kind::bus_owner && h.b) {
    d.destroy_bus(h.b);
  } else if (h.kind == handle_kind::endpoint_owner && h.ep && h.b) {
    d.close_endpoint(h);
  } else if (h.conn) {
    d.disconnect(h);
  }
  d.handles.erase(it);
  d.wakeups.erase(id);
}

int domain::ioctl(handle_id id, std::uint32_t number, std::span<std::uint8_t> cmd, const credentials& who,
                  peer_io& io, std::uint64_t* ticket) {
  auto& d = *impl_;
  namespace io_ = kdbus::ioctl;
  if (!known_command(number)) return ENOTTY;
  auto it = d.handles.find(id);
  if (it == d.handles.end()) return EBADF;
  handle& h = it->second;
  if (cmd.size() < kdbus::ioctl_fixed_size(number)) return EINVAL;
  if (cmd.size() > kdbus::cmd_max_size) return EMSGSIZE;
  // What a handle may do depends on what it was opened on and made into (§1.2).
  switch (h.kind) {
    case handle_kind::dead: return ESHUTDOWN;
    case handle_kind::control: return number == io_::bus_make ? d.bus_make(h, cmd, who) : EBADFD;
    case handle_kind::bus_owner: return EBADFD;
    case handle_kind::endpoint:
      if (number == io_::hello) return d.hello(id, h, cmd, who);
      if (number == io_::endpoint_make) return d.endpoint_make(h, cmd, who);
      return EBADFD;
    case handle_kind::endpoint_owner: return number == io_::endpoint_update ? d.endpoint_update(h, cmd) : EBADFD;
    case handle_kind::connection: break;
  }
  if (h.byebye) return ECONNRESET;
  return d.connection_command(h, number, cmd, who, io, ticket);
}

// The commands of a connection.
int domain::impl::connection_command(handle& h, std::uint32_t number, std::span<std::uint8_t> cmd,
                                     const credentials& who, peer_io& io, std::uint64_t* ticket) {
  namespace io_ = kdbus::ioctl;
  bus_connection* c = h.conn.get();
  if (number == io_::update) return update(c, cmd);
  if (number == io_::byebye) return byebye(h, cmd);
  if (number == io_::free) return free_cmd(c, cmd);
  if (number == io_::conn_info) return conn_info(c, cmd);
  if (number == io_::bus_creator_info) return bus_creator_info(c, cmd);
  if (number == io_::list) return list(c, cmd);
  if (number == io_::send) return send(c, cmd, who, io, ticket);
  if (number == io_::recv) return recv(c, cmd, io);
  if (number == io_::name_acquire) return name_acquire(c, cmd);
  if (number == io_::name_release) return name_release(c, cmd);
  if (number == io_::match_add) return match_add(c, cmd);
  if (number == io_::match_remove) return match_remove(c, cmd);
  return EBADFD;
}

bool domain::known_command(std::uint32_t number) noexcept {
  namespace io_ = kdbus::ioctl;
  static constexpr std::uint32_t known[] = {io_::bus_make, io_::endpoint_make, io_::endpoint_update, io_::hello,
                                            io_::update, io_::byebye, io_::free, io_::conn_info,
                                            io_::bus_creator_info, io_::list, io_::send, io_::recv,
                                            io_::name_acquire, io_::name_release, io_::match_add,
                                            io_::match_remove};
  return std::find(std::begin(known), std::end(known), number) != std::end(known);
}

poll_state domain::poll(handle_id id) const {
  poll_state s;
  auto it = impl_->handles.find(id);
  if (it == impl_->handles.end()) return {false, true};
  const handle& h = it->second;
  if (h.kind == handle_kind::dead || (h.kind == handle_kind::connection && h.byebye)) return {false, true};
  if (h.kind != handle_kind::connection) return s;
  s.readable = !h.conn->queue.empty() || h.conn->lost > 0;
  return s;
}

std::vector<handle_id> domain::take_wakeups() {
  std::vector<handle_id> out(impl_->wakeups.begin(), impl_->wakeups.end());
  impl_->wakeups.clear();
  return out;
}

std::span<const std::uint8_t> domain::pool_memory(handle_id id) const {
  auto it = impl_->handles.find(id);
  if (it == impl_->handles.end() || !it->second.conn || it->second.byebye) return {};
  return it->second.conn->pool_memory;
}

bool domain::connected(handle_id id) const {
  auto it = impl_->handles.find(id);
  return it != impl_->handles.end() && it->second.conn && !it->second.byebye;
}

}  // namespace kbus::broker
