// Policy (kdbus ABI notes §2.12): the policy databases of buses and custom endpoints, and what
// they let a connection see and talk to.
#include "broker/policy.hpp"

#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>

namespace kbus::broker {

using kdbus::item_type;
using kdbus::policy_access_kind;
using kdbus::policy_type;

int policy_db::grant(const std::vector<access_entry>& list, const credentials& who) {
  int best = -1;
  for (const auto& a : list) {
    bool applies = false;
    switch (static_cast<policy_type>(a.type)) {
      case policy_type::user: applies = a.id == who.ids.euid; break;
      case policy_type::group:
        applies = a.id == who.ids.egid ||
                  std::find(who.auxgroups.begin(), who.auxgroups.end(), a.id) != who.auxgroups.end();
        break;
      case policy_type::world: applies = true; break;
      default: break;
    }
    if (applies) best = std::max(best, static_cast<int>(a.access));
  }
  return best;
}

int policy_db::query(const credentials& who, std::string_view name) const {
  int best = -1;
  if (auto it = entries.find(name); it != entries.end()) best = std::max(best, grant(it->second.access, who));
  if (auto dot = name.rfind('.'); dot != std::string_view::npos) {
    std::string wild(name.substr(0, dot));
    wild += ".*";
    if (auto it = entries.find(wild); it != entries.end()) best = std::max(best, grant(it->second.access, who));
  }
  return best;
}

void policy_db::remove_owner(const void* owner) {
  std::erase_if(entries, [&](const auto& e) { return e.second.owner == owner; });
}

int collect_policy(const std::vector<kdbus::item_ref>& items, bool allow_wildcard, policy_list& out) {
  std::string current;
  bool have = false;
  for (const auto& it : items) {
    if (it.kind() == item_type::name) {
      std::string_view n;
      it.as_string(n);
      if (!kdbus::is_valid_well_known_name(n, allow_wildcard)) return EINVAL;
      current = std::string(n);
      have = true;
      out[current];
    } else if (it.kind() == item_type::policy_access) {
      if (!have) return EINVAL;
      kdbus::policy_access a{};
      it.as(a);
      if (a.type < static_cast<std::uint64_t>(policy_type::user) ||
          a.type > static_cast<std::uint64_t>(policy_type::world) ||
          a.access > static_cast<std::uint64_t>(policy_access_kind::own))
        return EINVAL;
      out[current].push_back({a.type, a.access, a.id});
    }
  }
  return 0;
}

int install_policy(policy_db& db, const void* owner, const policy_list& add) {
  for (const auto& [name, list] : add)
    if (auto it = db.entries.find(name); it != db.entries.end() && it->second.owner != owner) return EEXIST;
  db.remove_owner(owner);
  for (const auto& [name, list] : add) db.entries[name] = policy_db::entry{list, owner};
  return 0;
}

// On the default endpoint everything is visible; on a custom endpoint only the names its
// policy grants SEE (§2.2).
bool domain::impl::can_see_name(const bus_connection* c, std::string_view name) const {
  if (!c->ep->custom) return true;
  return c->ep->policy.query(c->creds, name) >= static_cast<int>(policy_access_kind::see);
}

// A peer is visible through a custom endpoint when one of the names it owns is.
bool domain::impl::can_see_conn(const bus_connection* c, const bus_connection* peer) const {
  if (!c->ep->custom || c == peer) return true;
  for (const auto& [name, e] : c->b->names)
    if (!e.queue.empty() && e.queue.front().conn == peer && can_see_name(c, name)) return true;
  return false;
}

bool domain::impl::can_talk(const bus_connection* from, const bus_connection* to) const {
  const auto talk = static_cast<int>(policy_access_kind::talk);
  if (from->ep->custom) {
    bool ok = false;
    for (const auto& [name, e] : to->b->names)
      if (!e.queue.empty() && e.queue.front().conn == to && from->ep->policy.query(from->creds, name) >= talk)
        ok = true;
    if (to->activator() && from->ep->policy.query(from->creds, to->special_name) >= talk) ok = true;
    if (!ok) return false;
  }
  if (from->owner) return true;
  if (from->creds.ids.euid == to->creds.ids.euid) return true;
  for (const auto& [name, e] : to->b->names) {
    const bool owns = (!e.queue.empty() && e.queue.front().conn == to) || (to->activator() && e.activator == to);
    if (owns && to->b->policy.query(from->creds, name) >= talk) return true;
  }
  return false;
}

}  // namespace kbus::broker
