#include "kbus/bus.hpp"

namespace kbus::bus {
namespace {

bool from_driver(const message& m, std::string_view member) {
  return m.type() == message_type::signal && m.interface() == driver_interface && m.member() == member &&
         m.sender() == driver_name;
}

}  // namespace

std::optional<name_owner_changed> as_name_owner_changed(const message& m) {
  if (!from_driver(m, "NameOwnerChanged")) return std::nullopt;
  auto r = m.read<std::string, std::string, std::string>();
  if (!r) return std::nullopt;
  auto& [name, old_owner, new_owner] = *r;
  return name_owner_changed{std::move(name), std::move(old_owner), std::move(new_owner)};
}

match_rule name_owner_changed_rule(std::string_view name) {
  match_rule r;
  r.type = message_type::signal;
  r.sender = std::string(driver_name);
  r.interface = std::string(driver_interface);
  r.member = "NameOwnerChanged";
  r.path = std::string(driver_path);
  r.args.push_back({0, false, std::string(name)});
  return r;
}

std::optional<std::string> as_name_acquired(const message& m) {
  if (!from_driver(m, "NameAcquired")) return std::nullopt;
  auto r = m.read<std::string>();
  if (!r) return std::nullopt;
  return std::get<0>(*r);
}

std::optional<std::string> as_name_lost(const message& m) {
  if (!from_driver(m, "NameLost")) return std::nullopt;
  auto r = m.read<std::string>();
  if (!r) return std::nullopt;
  return std::get<0>(*r);
}

}  // namespace kbus::bus
