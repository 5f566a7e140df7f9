// HELLO (kdbus ABI notes §2.3), in steps: read the request, check the caller's rights and
// what is already on the bus, make the connection and its pool, write the result, join the bus.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>
#include <cstring>

namespace kbus::broker {

using kdbus::item_type;

// What HELLO asks for.
struct domain::impl::hello_request {
  parsed_command p;
  kdbus::cmd_hello cmd{};
  std::string_view name, description, seclabel;
  const kdbus::item_ref* creds = nullptr;  // CREDS and PIDS: faked by a privileged proxy
  const kdbus::item_ref* pids = nullptr;
  bool has_name = false, has_policy = false;
  bool activator = false, holder = false, monitor = false;
  bool owner = false;  // the bus's owner on its default endpoint
  policy_list policy;  // an activator's or policy holder's
};

namespace {

// The command and its items, and whether they fit together; all EINVAL.
int read_hello(std::span<std::uint8_t> cmd, std::uint64_t page_size, domain::impl::hello_request& rq) {
  static constexpr item_rule rules[] = {
      {item_type::name, false, false},  {item_type::creds, false, false},
      {item_type::pids, false, false},  {item_type::seclabel, false, false},
      {item_type::conn_description, false, false}, {item_type::policy_access, true, false}};
  auto& p = rq.p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd_hello), kdbus::hello::allowed, rules, p); r || p.negotiate)
    return r;
  kdbus::load(std::span<const std::uint8_t>(cmd), 0, rq.cmd);
  const std::uint64_t special =
      p.flags & (kdbus::hello::activator | kdbus::hello::policy_holder | kdbus::hello::monitor);
  if (special & (special - 1)) return EINVAL;
  if (!rq.cmd.pool_size || rq.cmd.pool_size % page_size) return EINVAL;
  if (check_attach(rq.cmd.attach_flags_send) || check_attach(rq.cmd.attach_flags_recv)) return EINVAL;
  for (const auto& it : p.items) {
    switch (it.kind()) {
      case item_type::name:
        it.as_string(rq.name);
        rq.has_name = true;
        break;
      case item_type::conn_description: it.as_string(rq.description); break;
      case item_type::seclabel: it.as_string(rq.seclabel); break;
      case item_type::creds: rq.creds = &it; break;
      case item_type::pids: rq.pids = &it; break;
      case item_type::policy_access: rq.has_policy = true; break;
      default: break;
    }
  }
  rq.activator = p.flags & kdbus::hello::activator;
  rq.holder = p.flags & kdbus::hello::policy_holder;
  rq.monitor = p.flags & kdbus::hello::monitor;
  if ((rq.activator || rq.holder) && !rq.has_name) return EINVAL;
  if (!(rq.activator || rq.holder) && (rq.has_name || rq.has_policy)) return EINVAL;
  if (rq.has_name && !kdbus::is_valid_well_known_name(rq.name, rq.holder)) return EINVAL;
  return 0;
}

// Faked credentials replace the process metadata entirely (§2.7): what was not faked is unknown.
void apply_faked_credentials(const domain::impl::hello_request& rq, bus_connection& c) {
  if (rq.creds) {
    rq.creds->as(c.creds.ids);
    c.faked = true;
  }
  if (rq.pids) {
    rq.pids->as(c.creds.pids);
    c.faked = true;
  }
  if (!rq.seclabel.empty()) {
    c.creds.seclabel = std::string(rq.seclabel);
    c.faked = true;
  }
  if (!c.faked) return;
  credentials f;
  f.ids = c.creds.ids;
  f.pids = c.creds.pids;
  f.seclabel = c.creds.seclabel;
  if (!rq.creds) f.ids = kdbus::creds{~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};
  f.privileged = c.creds.privileged;
  c.creds = f;
}

}  // namespace

int domain::impl::hello(handle_id hid, handle& h, std::span<std::uint8_t> cmd, const credentials&) {
  hello_request rq;
  if (const int r = read_hello(cmd, opt.page_size, rq); r || rq.p.negotiate) return r;
  if (const int r = check_hello_rights(h, rq); r) return r;
  if (const int r = check_hello_conflicts(h, rq); r) return r;
  auto c = make_connection(hid, h, rq);
  if (const int r = map_connection_pool(hid, *c, rq.cmd.pool_size); r) return r;
  if (const int r = write_hello_result(hid, h, *c, rq, cmd); r) return r;
  join_bus(h, std::move(c), rq);
  return 0;
}

// Activators, policy holders, monitors and faked credentials are for the bus's owner on the
// default endpoint; the uploaded policy is read here.
int domain::impl::check_hello_rights(const handle& h, hello_request& rq) {
  rq.owner = is_owner(h.b, h.opener) && !h.ep->custom;
  const bool special = rq.activator || rq.holder || rq.monitor;
  if (special && !rq.owner) return h.ep->custom && rq.monitor ? EOPNOTSUPP : EPERM;
  if ((rq.creds || rq.pids || !rq.seclabel.empty()) && !rq.owner) return EPERM;
  return collect_policy(rq.p.items, rq.holder, rq.policy);
}

// A policy holder's names and an activator's name must be free, and the user may not have
// too many connections.
int domain::impl::check_hello_conflicts(const handle& h, const hello_request& rq) {
  if (rq.holder)
    for (const auto& [n, list] : rq.policy)
      if (h.b->policy.entries.count(n)) return EEXIST;
  if (rq.activator)
    if (auto it = h.b->names.find(rq.name); it != h.b->names.end() && it->second.activator) return EEXIST;
  const std::uint64_t user = h.opener.ids.euid;
  if (user_conns[user] >= kdbus::user_max_conn) {
    if (!user_conns[user]) user_conns.erase(user);
    return EMFILE;
  }
  return 0;
}

std::unique_ptr<bus_connection> domain::impl::make_connection(handle_id hid, const handle& h,
                                                              const hello_request& rq) {
  auto c = std::make_unique<bus_connection>();
  c->id = next_id;  // taken only when HELLO succeeds
  c->b = h.b;
  c->ep = h.ep;
  c->handle = hid;
  c->flags = rq.p.flags;
  c->attach_send = rq.cmd.attach_flags_send;
  c->attach_recv = rq.cmd.attach_flags_recv;
  c->owner = rq.owner;
  c->privileged = h.opener.privileged;
  c->user = h.opener.ids.euid;
  c->creds = h.opener;
  apply_faked_credentials(rq, *c);
  c->description = std::string(rq.description);
  return c;
}

// The pool's memory: the front's (mapped by the caller), or the core's own.
int domain::impl::map_connection_pool(handle_id hid, bus_connection& c, std::uint64_t size) {
  if (opt.map_pool) {
    c.pool_memory = opt.map_pool(hid, size);
    if (c.pool_memory.size() < size) return ENOMEM;
  } else {
    c.own_memory.assign(static_cast<std::size_t>(size), 0);
    c.pool_memory = c.own_memory;
  }
  c.p = pool(c.pool_memory);
  return 0;
}

// The HELLO result: the connection's id, the bus's flags and id128, and one BLOOM_PARAMETER
// item in the new pool.
int domain::impl::write_hello_result(handle_id hid, const handle& h, bus_connection& c, hello_request& rq,
                                     std::span<std::uint8_t> cmd) {
  std::vector<std::uint8_t> items;
  kdbus::item_writer{items}.add_struct(item_type::bloom_parameter, h.b->bloom);
  std::uint64_t off = 0;
  if (const int r = pool_result(&c, items, off); r) {
    if (opt.release_pool) opt.release_pool(hid, c.pool_memory);
    return r;
  }
  next_id++;
  auto& hc = rq.cmd;
  hc.bus_flags = h.b->flags;
  hc.id = c.id;
  hc.offset = off;
  hc.items_size = items.size();
  std::memcpy(hc.id128, h.b->id128.data(), 16);
  hc.return_flags = 0;
  kdbus::store(cmd, 0, hc);
  return 0;
}

// The connection is on the bus: its policy installed, an activator's name taken, and the bus
// told (ID_ADD, NAME_ADD).
void domain::impl::join_bus(handle& h, std::unique_ptr<bus_connection> c, const hello_request& rq) {
  user_conns[c->user]++;
  bus_connection* raw = c.get();
  h.conn = std::move(c);
  h.kind = handle_kind::connection;
  h.b->connections.emplace(raw->id, raw);
  conns.emplace(raw->id, raw);
  if (rq.holder) install_policy(h.b->policy, raw, rq.policy);
  if (rq.activator) {
    install_policy(h.b->policy, raw, rq.policy);
    raw->special_name = std::string(rq.name);
    auto [it, fresh] = h.b->names.try_emplace(std::string(rq.name));
    it->second.activator = raw;
    if (it->second.queue.empty())
      notify(h.b, item_type::name_add, 0, 0, raw->id, kdbus::name_flags::activator | kdbus::name_flags::primary,
             rq.name);
  }
  if (!rq.monitor) notify(h.b, item_type::id_add, 0, 0, raw->id, raw->flags, {});
}

}  // namespace kbus::broker
