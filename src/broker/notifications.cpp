// Kernel messages (kdbus ABI notes §2.6, §2.11): name and id notifications to the connections
// whose matches want them, and REPLY_TIMEOUT / REPLY_DEAD to a caller.
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cstring>

namespace kbus::broker {

using kdbus::item_type;

namespace {

// A pseudo user that kernel-generated messages are accounted to in a receiver's quota.
constexpr std::uint64_t kernel_user = ~std::uint64_t{0};

}  // namespace

// A kernel message: src 0, payload KERNEL, one notification item, then TIMESTAMP.
std::vector<std::uint8_t> domain::impl::kernel_message(const bus_connection* to, std::uint64_t dst,
                                                       std::uint64_t flags, std::uint64_t cookie_reply,
                                                       const std::vector<std::uint8_t>& item) {
  // Sized once and copied into: GCC 12 at -O3 misreads insert() after a sized constructor.
  std::vector<std::uint8_t> out(sizeof(kdbus::msg) + item.size(), 0);
  std::copy(item.begin(), item.end(), out.begin() + sizeof(kdbus::msg));
  if (to->attach_recv & kdbus::attach::timestamp) {
    kdbus::timestamp ts{to->b->seqnum, mono(), real()};
    kdbus::item_writer{out}.add_struct(item_type::timestamp, ts);
  }
  kdbus::msg m{};
  m.size = out.size();
  m.flags = flags;
  m.dst_id = dst;
  m.src_id = kdbus::src_id_kernel;
  m.payload_type = kdbus::payload_kernel;
  m.cookie_reply = cookie_reply;
  std::memcpy(out.data(), &m, sizeof m);
  out.resize(kdbus::align8(out.size()), 0);
  return out;
}

// A name or id notification to every connection whose matches want it.
void domain::impl::notify(bus* b, item_type type, std::uint64_t old_id, std::uint64_t old_flags, std::uint64_t new_id,
                          std::uint64_t new_flags, std::string_view name) {
  std::vector<std::uint8_t> item;
  kdbus::item_writer e{item};
  match_subject s;
  s.kernel = true;
  s.notify = type;
  s.name = name;
  if (type == item_type::id_add || type == item_type::id_remove) {
    const kdbus::notify_id_change ic{type == item_type::id_add ? new_id : old_id,
                                     type == item_type::id_add ? new_flags : old_flags};
    e.add_struct(type, ic);
    s.id = ic.id;
  } else {
    kdbus::notify_name_change nc{{old_id, old_flags}, {new_id, new_flags}};
    e.add_struct_string(type, nc, name);
    s.old_id = old_id;
    s.new_id = new_id;
  }
  b->seqnum++;
  for (auto& [id, c] : b->connections) {
    if (!c->ordinary() || !matches(c, s)) continue;
    if (!name.empty() && !can_see_name(c, name)) continue;
    auto bytes = kernel_message(c, kdbus::dst_id_broadcast, kdbus::msg_flags::signal, 0, item);
    queue_entry q;
    q.quota_user = kernel_user;
    if (enqueue(c, bytes, std::move(q), true)) {
      c->lost++;
      wake(c);
    }
  }
}

// REPLY_TIMEOUT / REPLY_DEAD to an asynchronous caller.
void domain::impl::reply_notice(std::uint64_t caller_id, item_type type, std::uint64_t cookie) {
  auto it = conns.find(caller_id);
  if (it == conns.end()) return;
  bus_connection* c = it->second;
  std::vector<std::uint8_t> item;
  kdbus::item_writer{item}.add_raw(kdbus::to_u64(type), nullptr, 0);
  auto bytes = kernel_message(c, c->id, 0, cookie, item);
  queue_entry q;
  q.quota_user = kernel_user;
  if (enqueue(c, bytes, std::move(q), false)) {
    c->lost++;
    wake(c);
  }
}

}  // namespace kbus::broker
