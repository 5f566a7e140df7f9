// HELLO (notes §2.3): one connection to the bus, its pool, the bus's bloom parameters, and the
// match entries that give a kdbus connection dbus1 semantics.
#include "transport/kdbus/kdbus_transport.hpp"

#include <cerrno>
#include <system_error>

namespace kbus::detail {

namespace {

kbus::error sys_error(int e, const std::string& what) {
  const std::error_code code(e, std::system_category());
  return kbus::error(code, what + ": " + code.message());
}

// The bloom parameters from the HELLO slice's one BLOOM_PARAMETER item.
std::optional<bloom_parameters> bloom_of(std::span<const std::uint8_t> items) {
  std::optional<bloom_parameters> found;
  kdbus::for_each_item(items, [&](const kdbus::item_ref& it) {
    kdbus::bloom_parameter bp{};
    if (it.kind() == kdbus::item_type::bloom_parameter && it.as(bp) && bp.size <= SIZE_MAX && bp.n_hash <= SIZE_MAX) {
      found.emplace();
      found->size = static_cast<std::size_t>(bp.size);
      found->hashes = static_cast<std::size_t>(bp.n_hash);
    }
    return 0;
  });
  return found;
}

// dbus1 semantics on kdbus: unicast signals to us are not subject to matches (a DST_ID=self
// entry, notes §2.8), and we learn of our own names' changes (NameAcquired / NameLost).
int add_internal_matches(kdbus_device& device, std::uint64_t self) {
  std::vector<std::uint8_t> items;
  auto add = [&](auto&& fill) {
    items.clear();
    kdbus::item_writer w(items);
    fill(w);
    kdbus::cmd_match c{};
    c.cookie = kdbus_internal_match_cookie;
    return kdbus_command(device, kdbus::ioctl::match_add, c, items);
  };
  if (const int r = add([&](kdbus::item_writer& w) { w.add_u64(kdbus::item_type::dst_id, self); })) return r;
  const kdbus::notify_id_change any{kdbus::match_id_any, 0}, us{self, 0};
  struct {
    kdbus::item_type type;
    bool old_is_self;
  } const own[] = {{kdbus::item_type::name_add, false},
                   {kdbus::item_type::name_change, false},
                   {kdbus::item_type::name_change, true},
                   {kdbus::item_type::name_remove, true}};
  for (const auto& o : own) {
    const kdbus::notify_name_change nc{o.old_is_self ? us : any, o.old_is_self ? any : us};
    if (const int r = add([&](kdbus::item_writer& w) { w.add_struct(o.type, nc); })) return r;
  }
  return 0;
}

}  // namespace

result<kdbus_transport::link> kdbus_transport::open_link(std::unique_ptr<kdbus_device> device,
                                                         const kdbus_options& options) {
  if (!device) return sys_error(EBADF, "no kdbus device");
  kdbus::cmd_hello h{};
  h.flags = options.hello_flags;
  h.attach_flags_send = options.attach_flags_send;
  h.attach_flags_recv = options.attach_flags_recv;
  h.pool_size = options.pool_size;
  std::vector<std::uint8_t> items;
  if (!options.description.empty()) {
    if (kdbus::check_sysname(options.description) != 0)
      return sys_error(EINVAL, "invalid kdbus connection description '" + options.description + "'");
    kdbus::item_writer(items).add_string(kdbus::item_type::conn_description, options.description);
  }
  if (const int r = kdbus_command(*device, kdbus::ioctl::hello, h, items); r != 0)
    return r == ENOTTY ? sys_error(ESOCKTNOSUPPORT, "incompatible kdbus API version (HELLO)")
                       : sys_error(r, "kdbus HELLO failed");
  // sd-bus refused buses with unknown features in the upper 32 bits of bus_flags (notes §2.3).
  if (h.bus_flags >> 32) return sys_error(EPROTONOSUPPORT, "the kdbus bus has incompatible features");
  if (h.id == 0 || h.id == kdbus::dst_id_broadcast) return sys_error(EPROTO, "kdbus HELLO returned an invalid id");
  link l;
  l.id = h.id;
  l.bus_flags = h.bus_flags;
  // NAMES is implicit metadata (notes §2.7): asked for, it comes with every message.
  l.names_attached = (options.attach_flags_recv & kdbus::attach::names) != 0;
  std::memcpy(l.id128.data(), h.id128, sizeof h.id128);
  l.unique_name = kdbus_unique_name(l.id);
  l.pool_size = options.pool_size;
  if (const int r = device->open_pool(l.pool_size); r != 0) return sys_error(r, "cannot open the kdbus pool");

  // The HELLO slice carries one BLOOM_PARAMETER item (notes §2.3).
  const bool inside = h.offset <= l.pool_size && h.items_size <= l.pool_size - h.offset;
  auto slice = inside ? device->slice(h.offset, h.items_size)
                      : result<received_slice>(sys_error(EPROTO, "kdbus HELLO returned a slice outside the pool"));
  const auto bloom = slice ? bloom_of(slice->bytes()) : std::nullopt;
  kdbus::cmd_free release{};
  release.offset = h.offset;
  kdbus_command(*device, kdbus::ioctl::free, release);
  if (!slice) return slice.error();
  if (!bloom) return sys_error(EPROTO, "kdbus HELLO returned no bloom parameters");
  if (auto ok = bloom->check(); !ok) return ok.error();
  l.bloom = *bloom;
  // A monitor gets everything and may add no match entries (notes §3, test 8).
  if (!(options.hello_flags & kdbus::hello::monitor)) {
    if (const int r = add_internal_matches(*device, l.id); r != 0) return sys_error(r, "cannot add the kdbus match entries");
  }
  l.device = std::move(device);
  return l;
}

}  // namespace kbus::detail
