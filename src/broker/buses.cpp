// Buses (kdbus ABI notes §2.1): BUS_MAKE on the control node, and a bus's end when its
// owner's handle closes.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>
#include <string>

namespace kbus::broker {

using kdbus::item_type;

// A bus or endpoint name starts with the maker's euid and a dash.
int domain::impl::check_make_name(std::string_view name, const credentials& who) {
  if (const int r = kdbus::check_sysname(name); r) return r;
  const std::string prefix = std::to_string(who.ids.euid) + "-";
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return EINVAL;
  return 0;
}

bool domain::impl::is_owner(const bus* b, const credentials& who) const {
  return who.privileged || who.ids.euid == b->creator.ids.euid;
}

int domain::impl::bus_make(handle& h, std::span<std::uint8_t> cmd, const credentials& who) {
  static constexpr item_rule rules[] = {{item_type::make_name, false, true},
                                        {item_type::bloom_parameter, false, true},
                                        {item_type::attach_flags_send, false, false}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), kdbus::make::allowed, rules, p); r || p.negotiate) return r;
  std::string_view name;
  kdbus::bloom_parameter bloom{};
  std::uint64_t attach = 0;
  for (const auto& it : p.items) {
    if (it.kind() == item_type::make_name) it.as_string(name);
    if (it.kind() == item_type::bloom_parameter) it.as(bloom);
    if (it.kind() == item_type::attach_flags_send) it.as_u64(attach);
  }
  if (const int r = check_make_name(name, who); r) return r;
  if (bloom.size < kdbus::bus_bloom_min_size || bloom.size > kdbus::bus_bloom_max_size || bloom.size % 8 ||
      bloom.n_hash < 1)
    return EINVAL;
  if (const int r = check_attach(attach); r) return r;
  if (buses.count(name)) return EEXIST;
  if (user_buses[who.ids.euid] >= kdbus::user_max_buses) return EMFILE;
  auto b = std::make_unique<bus>();
  b->id = next_id++;
  b->name = std::string(name);
  b->flags = p.flags;
  b->bloom = bloom;
  b->attach_send = attach;
  b->creator = who;
  for (auto& x : b->id128) x = static_cast<std::uint8_t>(rng());
  b->id128[6] = static_cast<std::uint8_t>((b->id128[6] & 0x0f) | 0x40);  // UUID v4
  b->id128[8] = static_cast<std::uint8_t>((b->id128[8] & 0x3f) | 0x80);
  auto ep = std::make_unique<endpoint>();
  ep->b = b.get();
  ep->name = "bus";
  ep->uid = who.ids.euid;
  ep->gid = who.ids.egid;
  b->endpoints.emplace("bus", std::move(ep));
  user_buses[who.ids.euid]++;
  h.kind = handle_kind::bus_owner;
  h.b = b.get();
  buses.emplace(b->name, std::move(b));
  return 0;
}

// Every handle on the bus goes dead; its connections disconnect first.
void domain::impl::destroy_bus(bus* b) {
  for (auto& [id, hh] : handles) {
    if (hh.b != b) continue;
    if (hh.conn && !hh.byebye) disconnect(hh);
    hh.kind = handle_kind::dead;
    wakeups.insert(id);
  }
  for (auto& [id, hh] : handles)
    if (hh.b == b) {
      hh.b = nullptr;
      hh.ep = nullptr;
    }
  if (auto u = user_buses.find(b->creator.ids.euid); u != user_buses.end() && --u->second == 0) user_buses.erase(u);
  buses.erase(b->name);
}

}  // namespace kbus::broker
