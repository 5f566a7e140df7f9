// A kdbusfs domain (domain.hpp): its handles on the control node, endpoints and connections,
// and the dispatcher that gives each ioctl to the command it names.
#include "broker/domain.hpp"

#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>

namespace kbus::broker {

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

bool domain::uses_credentials(std::uint32_t number) noexcept {
  namespace io_ = kdbus::ioctl;
  return number == io_::bus_make || number == io_::endpoint_make || number == io_::hello || number == io_::send;
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
