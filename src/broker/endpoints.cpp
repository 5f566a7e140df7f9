// Custom endpoints (kdbus ABI notes §2.2, §2.12): ENDPOINT_MAKE, ENDPOINT_UPDATE (their
// policy), and an endpoint's end when its owner's handle closes.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>

namespace kbus::broker {

using kdbus::item_type;

int domain::impl::endpoint_make(handle& h, std::span<std::uint8_t> cmd, const credentials& who) {
  static constexpr item_rule rules[] = {{item_type::make_name, false, true}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), kdbus::make::allowed, rules, p); r || p.negotiate) return r;
  if (h.ep->custom) return EBADFD;
  if (!is_owner(h.b, h.opener)) return EPERM;
  std::string_view name;
  p.items[0].as_string(name);
  if (const int r = check_make_name(name, who); r) return r;
  if (h.b->endpoints.count(name)) return EEXIST;
  auto ep = std::make_unique<endpoint>();
  ep->b = h.b;
  ep->name = std::string(name);
  ep->custom = true;
  ep->uid = who.ids.euid;
  ep->gid = who.ids.egid;
  h.ep = ep.get();
  h.b->endpoints.emplace(ep->name, std::move(ep));
  h.kind = handle_kind::endpoint_owner;
  return 0;
}

int domain::impl::endpoint_update(handle& h, std::span<std::uint8_t> cmd) {
  static constexpr item_rule rules[] = {{item_type::name, true, false}, {item_type::policy_access, true, false}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), 0, rules, p); r || p.negotiate) return r;
  policy_list add;
  if (const int r = collect_policy(p.items, false, add); r) return r;
  h.ep->policy.entries.clear();
  for (const auto& [name, list] : add) h.ep->policy.entries[name] = policy_db::entry{list, h.ep};
  // What the connections may see changed.
  for (auto& [id, c] : h.b->connections) wake(c);
  return 0;
}

// The endpoint owner's handle closed: every other handle on the endpoint goes dead.
void domain::impl::close_endpoint(handle& h) {
  endpoint* ep = h.ep;
  bus* b = h.b;
  for (auto& [hid, other] : handles) {
    if (other.ep != ep || &other == &h) continue;
    if (other.conn) disconnect(other);
    other.kind = handle_kind::dead;
    wakeups.insert(hid);
  }
  for (auto& [hid, other] : handles)
    if (other.ep == ep) other.ep = nullptr;
  b->endpoints.erase(ep->name);
}

}  // namespace kbus::broker
