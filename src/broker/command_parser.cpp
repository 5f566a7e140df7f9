// The common shape of a command (command_parser.hpp).
#include "broker/command_parser.hpp"

#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>

namespace kbus::broker {

using kdbus::item_type;
using kdbus::to_u64;

int check_attach(std::uint64_t& flags) {
  if (flags == kdbus::attach::any) {
    flags = kdbus::attach::all;
    return 0;
  }
  return (flags & ~kdbus::attach::all) ? EINVAL : 0;
}

namespace {

// NEGOTIATE (§1.3): the command's flags become what it allows, and every item type it does
// not know is zeroed in each NEGOTIATE item.
int negotiate(std::span<std::uint8_t> cmd, std::size_t fixed, std::uint64_t allowed,
              std::span<const item_rule> rules) {
  const std::uint64_t zero = 0;
  kdbus::store(cmd, offsetof(kdbus::cmd, flags), allowed);
  auto items = std::span<const std::uint8_t>(cmd).subspan(fixed);
  return kdbus::for_each_item(items, [&](const kdbus::item_ref& it) {
    if (it.kind() != item_type::negotiate) return 0;
    if (it.payload.size() % 8) return EINVAL;
    for (std::size_t i = 0; i < it.payload.size(); i += 8) {
      std::uint64_t t = 0;
      kdbus::load(it.payload, i, t);
      bool known = t == to_u64(item_type::negotiate);
      for (const auto& r : rules) known = known || to_u64(r.type) == t;
      if (!known) kdbus::store(cmd, fixed + it.offset + kdbus::item_header_size + i, zero);
    }
    return 0;
  });
}

}  // namespace

int parse_command(std::span<std::uint8_t> cmd, std::size_t fixed, std::uint64_t allowed,
                  std::span<const item_rule> rules, parsed_command& out) {
  if (cmd.size() < fixed) return EINVAL;
  kdbus::cmd head{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, head);
  if (head.size != cmd.size()) return EINVAL;
  const std::uint64_t zero = 0;
  kdbus::store(cmd, offsetof(kdbus::cmd, return_flags), zero);
  out.flags = head.flags;
  if (head.flags & kdbus::flag_negotiate) {
    out.negotiate = true;
    return negotiate(cmd, fixed, allowed, rules);
  }
  if (head.flags & ~allowed) return EINVAL;
  std::set<std::uint64_t> seen;
  const int r = kdbus::for_each_item(std::span<const std::uint8_t>(cmd).subspan(fixed), [&](const kdbus::item_ref& it) {
    if (it.kind() == item_type::negotiate) return it.payload.size() % 8 ? EINVAL : 0;
    const item_rule* rule = nullptr;
    for (const auto& x : rules)
      if (x.type == it.kind()) rule = &x;
    if (!rule) return EINVAL;
    if (!rule->multiple && !seen.insert(it.type).second) return EINVAL;
    seen.insert(it.type);
    if (const int e = validate_item(it); e) return e;
    out.items.push_back(it);
    return 0;
  });
  if (r) return r;
  for (const auto& x : rules)
    if (x.mandatory && !seen.count(to_u64(x.type))) return EINVAL;
  return 0;
}

int validate_item(const kdbus::item_ref& it) {
  std::string_view s;
  switch (it.kind()) {
    case item_type::payload_vec: {
      kdbus::vec v{};
      if (!it.as(v)) return EINVAL;
      return v.size ? 0 : EINVAL;
    }
    case item_type::payload_memfd: {
      kdbus::memfd m{};
      if (!it.as(m)) return EINVAL;
      if (!m.size) return EINVAL;
      return m.fd < 0 ? EBADF : 0;
    }
    case item_type::fds: return it.payload.size() % 4 ? EINVAL : 0;
    case item_type::cancel_fd: return it.payload.size() == 4 ? 0 : EINVAL;
    case item_type::bloom_parameter: return it.payload.size() == 16 ? 0 : EINVAL;
    case item_type::bloom_filter: return it.payload.size() >= 8 ? 0 : EINVAL;
    case item_type::dst_name:
    case item_type::name:
    case item_type::seclabel: return it.as_string(s) ? 0 : EINVAL;
    case item_type::make_name:
    case item_type::conn_description:
      if (!it.as_string(s)) return EINVAL;
      return kdbus::check_sysname(s);
    case item_type::attach_flags_send:
    case item_type::attach_flags_recv:
    case item_type::id:
    case item_type::dst_id: return it.payload.size() == 8 ? 0 : EINVAL;
    case item_type::creds: return it.payload.size() == sizeof(kdbus::creds) ? 0 : EINVAL;
    case item_type::pids: return it.payload.size() == sizeof(kdbus::pids) ? 0 : EINVAL;
    case item_type::policy_access: return it.payload.size() == sizeof(kdbus::policy_access) ? 0 : EINVAL;
    case item_type::name_add:
    case item_type::name_remove:
    case item_type::name_change:
      if (it.payload.size() < sizeof(kdbus::notify_name_change)) return EINVAL;
      if (it.payload.size() > sizeof(kdbus::notify_name_change)) {
        auto rest = it.payload.subspan(sizeof(kdbus::notify_name_change));
        if (!std::memchr(rest.data(), 0, rest.size())) return EINVAL;
      }
      return 0;
    case item_type::id_add:
    case item_type::id_remove: return it.payload.size() == sizeof(kdbus::notify_id_change) ? 0 : EINVAL;
    default: return 0;
  }
}

}  // namespace kbus::broker
