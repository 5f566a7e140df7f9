// Matches (kdbus ABI notes §2.8): MATCH_ADD, MATCH_REMOVE, and whether a connection's matches
// want a message or a kernel notification.
#include "broker/matches.hpp"

#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kbus::broker {

using kdbus::item_type;

namespace {

// One rule from a MATCH_ADD item (checked by the command's parse); `bloom_size` is the bus's.
int read_match_rule(const kdbus::item_ref& it, std::uint64_t bloom_size, broker_match_rule& r) {
  r.type = it.kind();
  switch (it.kind()) {
    case item_type::bloom_mask: {
      if (it.payload.empty() || it.payload.size() % bloom_size) return EDOM;
      r.mask.resize(it.payload.size() / 8);
      std::memcpy(r.mask.data(), it.payload.data(), it.payload.size());
      return 0;
    }
    case item_type::name: {
      std::string_view n;
      it.as_string(n);
      if (!kdbus::is_valid_well_known_name(n)) return EINVAL;
      r.name = std::string(n);
      return 0;
    }
    case item_type::id:
    case item_type::dst_id: it.as_u64(r.id); return 0;
    case item_type::id_add:
    case item_type::id_remove: {
      kdbus::notify_id_change ic{};
      it.as(ic);
      r.id = ic.id;
      return 0;
    }
    default: {  // NAME_ADD / NAME_REMOVE / NAME_CHANGE
      kdbus::notify_name_change nc{};
      kdbus::load(it.payload, 0, nc);
      r.old_id = nc.old_id.id;
      r.new_id = nc.new_id.id;
      if (it.payload.size() > sizeof nc) {
        auto rest = it.payload.subspan(sizeof nc);
        const auto* s = reinterpret_cast<const char*>(rest.data());
        r.name = std::string(s, strnlen(s, rest.size()));
        r.has_name = true;
      }
      return 0;
    }
  }
}

}  // namespace

bool domain::impl::matches(const bus_connection* c, const match_subject& s) const {
  for (const auto& e : c->matches) {
    bool all = true;
    for (const auto& r : e.rules) {
      if (!rule_matches(c, r, s)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

bool domain::impl::rule_matches(const bus_connection* c, const broker_match_rule& r, const match_subject& s) const {
  const auto any_or = [](std::uint64_t rule, std::uint64_t v) { return rule == kdbus::match_id_any || rule == v; };
  switch (r.type) {
    case item_type::bloom_mask: {
      if (s.kernel || s.bloom.empty()) return false;
      const std::size_t words = s.bloom.size();
      const std::size_t gens = r.mask.size() / words;
      if (!gens) return false;
      const std::size_t g = static_cast<std::size_t>(std::min<std::uint64_t>(s.generation, gens - 1));
      for (std::size_t i = 0; i < words; ++i) {
        const std::uint64_t m = r.mask[g * words + i];
        if ((s.bloom[i] & m) != m) return false;
      }
      return true;
    }
    case item_type::id: return !s.kernel && s.sender && any_or(r.id, s.sender->id);
    case item_type::dst_id: return !s.kernel && any_or(r.id, s.dst_id);
    case item_type::name: {
      if (s.kernel || !s.sender) return false;
      auto it = c->b->names.find(r.name);
      return it != c->b->names.end() && !it->second.queue.empty() && it->second.queue.front().conn == s.sender;
    }
    case item_type::name_add:
    case item_type::name_remove:
    case item_type::name_change:
      return s.kernel && s.notify == r.type && any_or(r.old_id, s.old_id) && any_or(r.new_id, s.new_id) &&
             (!r.has_name || r.name == s.name);
    case item_type::id_add:
    case item_type::id_remove: return s.kernel && s.notify == r.type && any_or(r.id, s.id);
    default: return false;
  }
}

int domain::impl::match_add(bus_connection* c, std::span<std::uint8_t> cmd) {
  static constexpr item_rule rules[] = {
      {item_type::bloom_mask, true, false}, {item_type::name, true, false},
      {item_type::id, true, false},         {item_type::dst_id, true, false},
      {item_type::name_add, true, false},   {item_type::name_remove, true, false},
      {item_type::name_change, true, false}, {item_type::id_add, true, false},
      {item_type::id_remove, true, false}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_match), kdbus::match::allowed, rules, p); r || p.negotiate)
    return r;
  if (!c->ordinary()) return EOPNOTSUPP;
  kdbus::cmd_match m{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, m);
  match_entry entry;
  entry.cookie = m.cookie;
  for (const auto& it : p.items) {
    broker_match_rule r;
    if (const int e = read_match_rule(it, c->b->bloom.size, r); e) return e;
    entry.rules.push_back(std::move(r));
  }
  // REPLACE: the entries with the same cookie go, and do not count against the limit.
  const auto same_cookie = [&](const match_entry& e) { return e.cookie == m.cookie; };
  std::size_t replaced = 0;
  if (m.flags & kdbus::match::replace)
    replaced = static_cast<std::size_t>(std::count_if(c->matches.begin(), c->matches.end(), same_cookie));
  if (c->matches.size() - replaced >= kdbus::match_max) return EMFILE;
  if (m.flags & kdbus::match::replace) std::erase_if(c->matches, same_cookie);
  c->matches.push_back(std::move(entry));
  return 0;
}

int domain::impl::match_remove(bus_connection* c, std::span<std::uint8_t> cmd) {
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_match), 0, {}, p); r || p.negotiate) return r;
  if (!c->ordinary()) return EOPNOTSUPP;
  kdbus::cmd_match m{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, m);
  if (!std::erase_if(c->matches, [&](const match_entry& e) { return e.cookie == m.cookie; })) return EBADSLT;
  return 0;
}

}  // namespace kbus::broker
