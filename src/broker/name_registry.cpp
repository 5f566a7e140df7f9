// The name registry (kdbus ABI notes §2.10): NAME_ACQUIRE and NAME_RELEASE, the queue of
// owners behind each well-known name, activators, and the notifications when owners change.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>

namespace kbus::broker {

using kdbus::item_type;

std::uint64_t domain::impl::name_flags_of(const bus_connection* c, const name_entry& e) const {
  if (e.activator == c && (e.queue.empty())) return kdbus::name_flags::activator | kdbus::name_flags::primary;
  if (e.activator == c) return kdbus::name_flags::activator | kdbus::name_flags::in_queue;
  bool first = true;
  for (const auto& o : e.queue) {
    if (o.conn == c) return o.flags | (first ? kdbus::name_flags::primary : kdbus::name_flags::in_queue);
    first = false;
  }
  return 0;
}

void domain::impl::name_notify_change(bus* b, std::string_view name, bus_connection* old_c, std::uint64_t old_f,
                                      bus_connection* new_c, std::uint64_t new_f) {
  if (!old_c && new_c)
    notify(b, item_type::name_add, 0, 0, new_c->id, new_f, name);
  else if (old_c && !new_c)
    notify(b, item_type::name_remove, old_c->id, old_f, 0, 0, name);
  else if (old_c && new_c)
    notify(b, item_type::name_change, old_c->id, old_f, new_c->id, new_f, name);
}

// Moves messages addressed to `name` from `from`'s queue to `to`'s (activator hand-over).
void domain::impl::move_name_messages(bus_connection* from, bus_connection* to, std::string_view name) {
  if (!from || !to || from == to) return;
  for (auto it = from->queue.begin(); it != from->queue.end();) {
    if (it->dst_name != name) {
      ++it;
      continue;
    }
    auto s = from->p.slice(it->slice);
    std::vector<std::uint8_t> bytes(s.begin(), s.end());
    queue_entry e = *it;
    // A call moves with its reply tracker: the new owner is the one expected to reply.
    if (e.expect_reply)
      if (auto t = find_tracker(e.src_id, from->id, e.cookie); t != trackers.end()) t->second.replier = to->id;
    unaccount(from, *it);
    from->p.release_kernel(it->slice);
    it = from->queue.erase(it);
    if (enqueue(to, bytes, std::move(e), true)) to->lost++;
  }
  wake(from);
  wake(to);
}

// Removes `c` from `name`'s queue; a new primary takes over. Returns whether it was there.
bool domain::impl::name_drop(bus* b, name_map::iterator it, bus_connection* c) {
  name_entry& e = it->second;
  const std::string name = it->first;
  auto pos = std::find_if(e.queue.begin(), e.queue.end(), [&](const name_owner& o) { return o.conn == c; });
  if (pos == e.queue.end()) return false;
  const bool was_primary = pos == e.queue.begin();
  const std::uint64_t old_flags = name_flags_of(c, e);
  e.queue.erase(pos);
  c->names--;
  if (was_primary) {
    bus_connection* next = e.primary();
    const std::uint64_t nf = next ? name_flags_of(next, e) : 0;
    if (next && next == e.activator) move_name_messages(c, next, name);
    if (!next) b->names.erase(it);
    name_notify_change(b, name, c, old_flags, next, nf);
  }
  return true;
}

int domain::impl::name_acquire(bus_connection* c, std::span<std::uint8_t> cmd) {
  static constexpr item_rule rules[] = {{item_type::name, false, true}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), kdbus::name_flags::acquire_allowed, rules, p);
      r || p.negotiate)
    return r;
  std::string_view name;
  p.items[0].as_string(name);
  if (!kdbus::is_valid_well_known_name(name)) return EINVAL;
  if (!c->ordinary()) return EOPNOTSUPP;
  const auto own = static_cast<int>(kdbus::policy_access_kind::own);
  if (c->ep->custom && c->ep->policy.query(c->creds, name) < own) return EPERM;
  if (!c->owner && c->b->policy.query(c->creds, name) < own) return EPERM;
  std::uint64_t ret = 0;
  auto it = c->b->names.find(name);
  const bool free = it == c->b->names.end() || it->second.queue.empty();
  const int r = free ? acquire_free_name(c, name, p.flags, ret) : acquire_taken_name(c, it->second, name, p.flags, ret);
  if (r) return r;
  kdbus::store(cmd, offsetof(kdbus::cmd, return_flags), ret);
  return 0;
}

// Nobody owns the name (an activator may hold it): `c` becomes its owner, and what was sent
// to the activator for it moves to `c`.
int domain::impl::acquire_free_name(bus_connection* c, std::string_view name, std::uint64_t flags,
                                    std::uint64_t& ret) {
  if (c->names >= kdbus::conn_max_names) return E2BIG;
  const std::uint64_t stored = flags & (kdbus::name_flags::queue | kdbus::name_flags::allow_replacement);
  bus* b = c->b;
  auto [e, fresh] = b->names.try_emplace(std::string(name));
  bus_connection* act = e->second.activator;
  const std::uint64_t act_flags = act ? name_flags_of(act, e->second) : 0;
  e->second.queue.push_back({c, stored});
  c->names++;
  ret = kdbus::name_flags::acquired | kdbus::name_flags::primary;
  if (act) move_name_messages(act, c, name);
  name_notify_change(b, name, act, act_flags, c, name_flags_of(c, e->second));
  return 0;
}

// Someone owns the name: `c` already does, replaces an owner that allows it, queues, leaves
// the queue (asking again without QUEUE), or gets EEXIST.
int domain::impl::acquire_taken_name(bus_connection* c, name_entry& e, std::string_view name, std::uint64_t flags,
                                     std::uint64_t& ret) {
  const std::uint64_t stored = flags & (kdbus::name_flags::queue | kdbus::name_flags::allow_replacement);
  auto pos = std::find_if(e.queue.begin(), e.queue.end(), [&](const name_owner& o) { return o.conn == c; });
  name_owner& head = e.queue.front();
  if (head.conn == c) {
    head.flags = stored;
    ret = kdbus::name_flags::primary;
  } else if ((head.flags & kdbus::name_flags::allow_replacement) && (flags & kdbus::name_flags::replace_existing)) {
    if (pos == e.queue.end() && c->names >= kdbus::conn_max_names) return E2BIG;
    bus_connection* old = head.conn;
    const std::uint64_t old_flags = name_flags_of(old, e);
    const bool old_stays = head.flags & kdbus::name_flags::queue;
    if (pos != e.queue.end()) e.queue.erase(pos);
    else c->names++;
    if (!old_stays) {
      e.queue.pop_front();
      old->names--;
    }
    e.queue.push_front({c, stored});
    ret = kdbus::name_flags::acquired | kdbus::name_flags::primary;
    name_notify_change(c->b, name, old, old_flags, c, name_flags_of(c, e));
  } else if (flags & kdbus::name_flags::queue) {
    if (pos == e.queue.end()) {
      if (c->names >= kdbus::conn_max_names) return E2BIG;
      e.queue.push_back({c, stored});
      c->names++;
      ret = kdbus::name_flags::acquired | kdbus::name_flags::in_queue;
    } else {
      pos->flags = stored;
      ret = kdbus::name_flags::in_queue;
    }
  } else if (pos != e.queue.end()) {
    e.queue.erase(pos);
    c->names--;
    ret = 0;
  } else {
    return EEXIST;
  }
  return 0;
}

int domain::impl::name_release(bus_connection* c, std::span<std::uint8_t> cmd) {
  static constexpr item_rule rules[] = {{item_type::name, false, true}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), 0, rules, p); r || p.negotiate) return r;
  std::string_view name;
  p.items[0].as_string(name);
  if (!c->ordinary()) return EOPNOTSUPP;
  auto it = c->b->names.find(name);
  if (it == c->b->names.end()) return ESRCH;
  if (!name_drop(c->b, it, c)) return EADDRINUSE;
  return 0;
}

}  // namespace kbus::broker
