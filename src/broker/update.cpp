// UPDATE (kdbus ABI notes §2.3): a connection's attach flags, and an activator's or policy
// holder's policy.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>

namespace kbus::broker {

using kdbus::item_type;

int domain::impl::update(bus_connection* c, std::span<std::uint8_t> cmd) {
  static constexpr item_rule rules[] = {{item_type::attach_flags_send, false, false},
                                        {item_type::attach_flags_recv, false, false},
                                        {item_type::name, true, false},
                                        {item_type::policy_access, true, false}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), 0, rules, p); r || p.negotiate) return r;
  std::optional<std::uint64_t> send, recv;
  bool policy = false;
  for (const auto& it : p.items) {
    std::uint64_t v = 0;
    if (it.kind() == item_type::attach_flags_send) {
      it.as_u64(v);
      if (check_attach(v)) return EINVAL;
      send = v;
    } else if (it.kind() == item_type::attach_flags_recv) {
      it.as_u64(v);
      if (check_attach(v)) return EINVAL;
      recv = v;
    } else {
      policy = true;
    }
  }
  policy_list pol;
  if (policy) {
    if (!c->policy_holder() && !c->activator()) return EOPNOTSUPP;
    if (const int r = collect_policy(p.items, c->policy_holder(), pol); r) return r;
    if (const int r = install_policy(c->b->policy, c, pol); r) return r;
  }
  if (send) c->attach_send = *send;
  if (recv) c->attach_recv = *recv;
  return 0;
}

}  // namespace kbus::broker
