// Queries (commands of kdbus ABI notes §1.2): CONN_INFO, BUS_CREATOR_INFO and LIST, answered in the
// caller's pool.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>
#include <cstring>

namespace kbus::broker {

using kdbus::item_type;

int domain::impl::conn_info(bus_connection* c, std::span<std::uint8_t> cmd) {
  static constexpr item_rule rules[] = {{item_type::name, false, false}};
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_info), 0, rules, p); r || p.negotiate) return r;
  kdbus::cmd_info ci{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, ci);
  if (check_attach(ci.attach_flags)) return EINVAL;
  bus_connection* target = nullptr;
  if (!p.items.empty()) {
    std::string_view name;
    p.items[0].as_string(name);
    if (!kdbus::is_valid_well_known_name(name)) return EINVAL;
    auto it = c->b->names.find(name);
    if (it == c->b->names.end() || it->second.queue.empty() || !can_see_name(c, name)) return ESRCH;
    target = it->second.queue.front().conn;
    if (ci.id && ci.id != target->id) return ESRCH;
  } else {
    target = conn_by_id(c->b, ci.id);
    if (!target || target->monitor() || !can_see_conn(c, target)) return ENXIO;
  }
  std::vector<std::uint8_t> out(sizeof(kdbus::info), 0);
  emit_metadata(out, target, target->creds, granted(ci.attach_flags, target->attach_send), c->b->seqnum);
  out.resize(kdbus::align8(out.size()));
  const kdbus::info inf{out.size(), target->id, target->flags};
  std::memcpy(out.data(), &inf, sizeof inf);
  std::uint64_t off = 0;
  if (const int r = pool_result(c, out, off); r) return r;
  ci.offset = off;
  ci.info_size = out.size();
  kdbus::store(cmd, offsetof(kdbus::cmd_info, offset), ci.offset);
  kdbus::store(cmd, offsetof(kdbus::cmd_info, info_size), ci.info_size);
  return 0;
}

int domain::impl::bus_creator_info(bus_connection* c, std::span<std::uint8_t> cmd) {
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_info), 0, {}, p); r || p.negotiate) return r;
  kdbus::cmd_info ci{};
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, ci);
  if (check_attach(ci.attach_flags)) return EINVAL;
  std::vector<std::uint8_t> out(sizeof(kdbus::info), 0);
  emit_metadata(out, nullptr, c->b->creator, ci.attach_flags & c->b->attach_send, c->b->seqnum);
  kdbus::item_writer{out}.add_string(item_type::make_name, c->b->name);
  out.resize(kdbus::align8(out.size()));
  const kdbus::info inf{out.size(), c->b->id, c->b->flags};
  std::memcpy(out.data(), &inf, sizeof inf);
  std::uint64_t off = 0;
  if (const int r = pool_result(c, out, off); r) return r;
  kdbus::store(cmd, offsetof(kdbus::cmd_info, offset), off);
  kdbus::store(cmd, offsetof(kdbus::cmd_info, info_size), static_cast<std::uint64_t>(out.size()));
  return 0;
}

namespace {

// One LIST record: a kdbus_info, with the name it owns, queues for or activates.
void list_record(std::vector<std::uint8_t>& out, const bus_connection* peer, const std::string* name,
                 std::uint64_t nflags) {
  const std::size_t at = kdbus::align8(out.size());
  out.resize(at + sizeof(kdbus::info), 0);
  if (name) {
    std::vector<std::uint8_t> items;
    kdbus::item_writer{items}.add_struct_string(item_type::owned_name, kdbus::name{nflags}, *name);
    out.insert(out.end(), items.begin(), items.end());
  }
  const kdbus::info inf{out.size() - at, peer->id, peer->flags};
  std::memcpy(out.data() + at, &inf, sizeof inf);
  out.resize(kdbus::align8(out.size()));
}

// Whether LIST with `flags` wants a name held with `nflags`.
bool list_wants(std::uint64_t flags, std::uint64_t nflags) {
  if (nflags & kdbus::name_flags::activator) return flags & kdbus::list::activators;
  if (nflags & kdbus::name_flags::in_queue) return flags & kdbus::list::queued;
  return flags & kdbus::list::names;
}

}  // namespace

int domain::impl::list(bus_connection* c, std::span<std::uint8_t> cmd) {
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_list), kdbus::list::allowed, {}, p); r || p.negotiate)
    return r;
  std::vector<std::uint8_t> out;
  for (const auto& [id, peer] : c->b->connections) {
    if (peer->monitor() || !can_see_conn(c, peer)) continue;
    bool named = false;
    if (p.flags & (kdbus::list::names | kdbus::list::activators | kdbus::list::queued)) {
      for (const auto& [name, e] : c->b->names) {
        if (!can_see_name(c, name)) continue;
        const std::uint64_t nf = name_flags_of(peer, e);
        if (!nf || !list_wants(p.flags, nf)) continue;
        list_record(out, peer, &name, nf);
        named = true;
      }
    }
    if (!named && (p.flags & kdbus::list::unique)) list_record(out, peer, nullptr, 0);
  }
  std::uint64_t off = c->p.size();
  if (!out.empty())
    if (const int r = pool_result(c, out, off); r) return r;
  kdbus::store(cmd, offsetof(kdbus::cmd_list, offset), off);
  kdbus::store(cmd, offsetof(kdbus::cmd_list, list_size), static_cast<std::uint64_t>(out.size()));
  return 0;
}

}  // namespace kbus::broker
