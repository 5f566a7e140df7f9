#include "transport/kdbus/driver.hpp"

#include "kbus/dbus_errors.hpp"
#include "kbus/match.hpp"
#include "kbus/names.hpp"
#include "kbus/types.hpp"
#include "match/bloom.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/kdbus_transport.hpp"
#include "transport/machine_id.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

namespace kbus::detail {

namespace {

constexpr std::string_view driver_name = "org.freedesktop.DBus";
constexpr std::string_view driver_path = "/org/freedesktop/DBus";
constexpr std::string_view driver_interface = "org.freedesktop.DBus";
constexpr std::string_view peer_interface = "org.freedesktop.DBus.Peer";
constexpr std::string_view introspectable_interface = "org.freedesktop.DBus.Introspectable";
constexpr std::string_view monitoring_interface = "org.freedesktop.DBus.Monitoring";
// A uid the kernel could not map ((uid_t)-1, notes §1.5).
constexpr std::uint64_t unknown_uid = 0xffffffffull;
// StartServiceByName results (D-Bus specification).
constexpr std::uint32_t start_reply_already_running = 2;

constexpr std::string_view introspection_xml =
    "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n"
    "<node>\n"
    " <interface name=\"org.freedesktop.DBus\">\n"
    "  <method name=\"Hello\"><arg direction=\"out\" type=\"s\"/></method>\n"
    "  <method name=\"RequestName\"><arg direction=\"in\" type=\"s\"/><arg direction=\"in\" type=\"u\"/>"
    "<arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"ReleaseName\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"GetNameOwner\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"s\"/></method>\n"
    "  <method name=\"NameHasOwner\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"b\"/></method>\n"
    "  <method name=\"ListNames\"><arg direction=\"out\" type=\"as\"/></method>\n"
    "  <method name=\"ListActivatableNames\"><arg direction=\"out\" type=\"as\"/></method>\n"
    "  <method name=\"ListQueuedOwners\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"as\"/></method>\n"
    "  <method name=\"AddMatch\"><arg direction=\"in\" type=\"s\"/></method>\n"
    "  <method name=\"RemoveMatch\"><arg direction=\"in\" type=\"s\"/></method>\n"
    "  <method name=\"GetConnectionUnixUser\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"GetConnectionUnixProcessID\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"GetConnectionCredentials\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"a{sv}\"/></method>\n"
    "  <method name=\"GetId\"><arg direction=\"out\" type=\"s\"/></method>\n"
    "  <method name=\"StartServiceByName\"><arg direction=\"in\" type=\"s\"/><arg direction=\"in\" type=\"u\"/>"
    "<arg direction=\"out\" type=\"u\"/></method>\n"
    "  <signal name=\"NameOwnerChanged\"><arg type=\"s\"/><arg type=\"s\"/><arg type=\"s\"/></signal>\n"
    "  <signal name=\"NameLost\"><arg type=\"s\"/></signal>\n"
    "  <signal name=\"NameAcquired\"><arg type=\"s\"/></signal>\n"
    " </interface>\n"
    " <interface name=\"org.freedesktop.DBus.Peer\">\n"
    "  <method name=\"Ping\"/>\n"
    "  <method name=\"GetMachineId\"><arg direction=\"out\" type=\"s\"/></method>\n"
    " </interface>\n"
    " <interface name=\"org.freedesktop.DBus.Introspectable\">\n"
    "  <method name=\"Introspect\"><arg direction=\"out\" type=\"s\"/></method>\n"
    " </interface>\n"
    "</node>\n";

// Could a rule match NameOwnerChanged from the driver? Then it needs the kernel's name and id
// notifications (notes §2.8, §2.15).
bool wants_name_owner_changed(const match_rule& r) {
  if (r.type && *r.type != message_type::signal) return false;
  if (r.sender && *r.sender != driver_name) return false;
  if (r.interface && *r.interface != driver_interface) return false;
  if (r.member && *r.member != "NameOwnerChanged") return false;
  if (r.path && *r.path != driver_path) return false;
  if (r.path_namespace && *r.path_namespace != "/" && *r.path_namespace != driver_path &&
      !(*r.path_namespace == "/org" || *r.path_namespace == "/org/freedesktop"))
    return false;
  return true;
}

// Could a rule match a signal some connection sends?
bool wants_peer_signals(const match_rule& r) {
  if (r.type && *r.type != message_type::signal) return false;  // calls and replies always come
  if (r.sender && *r.sender == driver_name) return false;
  return true;
}

const match_rule::arg_condition* string_arg(const match_rule& r, unsigned index) {
  for (const auto& a : r.args)
    if (a.index == index && !a.path) return &a;
  return nullptr;
}

}  // namespace

int kdbus_driver::connection_info(std::string_view name, std::uint64_t attach, conn_info& out) {
  kdbus::cmd_info c{};
  c.attach_flags = attach;
  std::vector<std::uint8_t> items;
  if (const auto id = kdbus_parse_unique_name(name)) {
    c.id = *id;
  } else if (!name.empty() && name[0] != ':' && kdbus::is_valid_well_known_name(name)) {
    kdbus::item_writer(items).add_string(kdbus::item_type::name, name);
  } else {
    return name.empty() || name[0] == ':' ? ENXIO : EINVAL;
  }
  if (const int r = t_.command(kdbus::ioctl::conn_info, c, items); r != 0) return r;
  const auto slice = t_.pool_slice(c.offset, c.info_size);
  int result = EPROTO;
  kdbus::info head{};
  if (slice && kdbus::load(*slice, 0, head) && head.size >= sizeof head && head.size <= slice->size()) {
    out.id = head.id;
    out.flags = head.flags;
    const auto rest = slice->subspan(sizeof head, static_cast<std::size_t>(head.size - sizeof head));
    result = kdbus::for_each_item(rest, [&](const kdbus::item_ref& it) {
      if (it.kind() == kdbus::item_type::creds) {
        kdbus::creds cr{};
        if (it.as(cr) && cr.euid != ~std::uint64_t{0} && cr.euid != unknown_uid) out.uid = cr.euid;
      } else if (it.kind() == kdbus::item_type::pids) {
        kdbus::pids p{};
        if (it.as(p) && p.pid != 0) out.pid = p.pid;
      } else if (it.kind() == kdbus::item_type::auxgroups) {
        for (std::size_t i = 0; i + 8 <= it.payload.size() && out.groups.size() < kdbus::conn_max_names; i += 8) {
          std::uint64_t g = 0;
          kdbus::load(it.payload, i, g);
          if (g <= UINT32_MAX) out.groups.push_back(static_cast<std::uint32_t>(g));
        }
      }
      return 0;
    });
    if (result != 0) result = EPROTO;
  }
  t_.free_slice(c.offset);
  // An activator holds a name without implementing it: no owner (notes §2.10).
  if (result == 0 && (out.flags & kdbus::hello::activator)) return ESRCH;
  return result;
}

int kdbus_driver::list(std::uint64_t flags, std::vector<list_entry>& out) {
  kdbus::cmd_list c{};
  c.flags = flags;
  if (const int r = t_.command(kdbus::ioctl::list, c); r != 0) return r;
  const auto slice = t_.pool_slice(c.offset, c.list_size);
  int result = slice ? 0 : EPROTO;
  std::size_t pos = 0;
  while (result == 0 && slice && pos < slice->size()) {
    kdbus::info head{};
    if (!kdbus::load(*slice, pos, head) || head.size < sizeof head || head.size > slice->size() - pos) {
      result = EPROTO;
      break;
    }
    const auto rest = slice->subspan(pos + sizeof head, static_cast<std::size_t>(head.size - sizeof head));
    bool named = false;
    if (kdbus::for_each_item(rest, [&](const kdbus::item_ref& it) {
          if (it.kind() != kdbus::item_type::owned_name) return 0;
          kdbus::name nf{};
          if (!kdbus::load(it.payload, 0, nf)) return EPROTO;
          kdbus::item_ref s = it;
          s.payload = it.payload.subspan(sizeof nf);
          std::string_view n;
          if (!s.as_string(n)) return EPROTO;
          out.push_back({head.id, head.flags, std::string(n), nf.flags});
          named = true;
          return 0;
        }) != 0) {
      result = EPROTO;
      break;
    }
    if (!named) out.push_back({head.id, head.flags, {}, 0});
    const std::uint64_t step = kdbus::align8(head.size);
    if (step >= slice->size() - pos) break;
    pos += static_cast<std::size_t>(step);
  }
  t_.free_slice(c.offset);
  return result;
}

int kdbus_driver::add_match(std::string_view text, std::string& error_text) {
  auto parsed = match_rule::parse(text);
  if (!parsed) {
    error_text = parsed.error().message;
    return EINVAL;
  }
  const match_rule& rule = *parsed;
  const std::uint64_t cookie = next_cookie_++;
  std::vector<std::uint8_t> items;
  auto add_entry = [&](auto&& fill) {
    items.clear();
    kdbus::item_writer w(items);
    fill(w);
    kdbus::cmd_match c{};
    c.cookie = cookie;
    return t_.command(kdbus::ioctl::match_add, c, items);
  };
  int r = 0;
  if (wants_peer_signals(rule)) {
    r = add_entry([&](kdbus::item_writer& w) {
      const auto mask = bloom_mask_for_rule(rule, t_.bloom());
      if (!mask.none()) {
        const auto& words = mask.words();
        w.add_raw(kdbus::to_u64(kdbus::item_type::bloom_mask), words.data(), words.size() * 8);
      }
      if (rule.sender) {
        if (const auto id = kdbus_parse_unique_name(*rule.sender))
          w.add_u64(kdbus::item_type::id, *id);
        else if (kdbus::is_valid_well_known_name(*rule.sender))
          w.add_string(kdbus::item_type::name, *rule.sender);
      }
    });
  }
  if (r == 0 && wants_name_owner_changed(rule)) {
    // arg0 = the name, arg1 = the old owner, arg2 = the new owner.
    const auto* a0 = string_arg(rule, 0);
    const auto* a1 = string_arg(rule, 1);
    const auto* a2 = string_arg(rule, 2);
    auto owner_id = [](const match_rule::arg_condition* a) -> std::optional<std::uint64_t> {
      if (!a) return kdbus::match_id_any;
      if (a->value.empty()) return 0;
      return kdbus_parse_unique_name(a->value);  // a well-known owner never matches
    };
    const auto old_id = owner_id(a1), new_id = owner_id(a2);
    const bool unique_arg0 = a0 && !a0->value.empty() && a0->value[0] == ':';
    if (old_id && new_id && (!a0 || !unique_arg0)) {
      for (const auto type : {kdbus::item_type::name_add, kdbus::item_type::name_remove, kdbus::item_type::name_change}) {
        if (r) break;
        if (type == kdbus::item_type::name_add && *old_id != 0 && *old_id != kdbus::match_id_any) continue;
        if (type == kdbus::item_type::name_remove && *new_id != 0 && *new_id != kdbus::match_id_any) continue;
        const kdbus::notify_name_change nc{{*old_id == 0 ? kdbus::match_id_any : *old_id, 0},
                                           {*new_id == 0 ? kdbus::match_id_any : *new_id, 0}};
        r = add_entry([&](kdbus::item_writer& w) {
          if (a0 && kdbus::is_valid_well_known_name(a0->value))
            w.add_struct_string(type, nc, a0->value);
          else
            w.add_struct(type, nc);
        });
      }
    }
    if (r == 0 && (!a0 || unique_arg0)) {
      std::uint64_t id = kdbus::match_id_any;
      bool possible = true;
      if (a0) {
        const auto parsed_id = kdbus_parse_unique_name(a0->value);
        possible = parsed_id.has_value();
        if (parsed_id) id = *parsed_id;
      }
      if (possible) {
        r = add_entry([&](kdbus::item_writer& w) { w.add_struct(kdbus::item_type::id_add, kdbus::notify_id_change{id, 0}); });
        if (r == 0)
          r = add_entry(
              [&](kdbus::item_writer& w) { w.add_struct(kdbus::item_type::id_remove, kdbus::notify_id_change{id, 0}); });
      }
    }
  }
  if (r != 0) {
    kdbus::cmd_match c{};
    c.cookie = cookie;
    t_.command(kdbus::ioctl::match_remove, c);  // whatever part of it got in
    return r;
  }
  rules_.emplace(rule.to_string(), added_rule{cookie, index_.add(rule)});
  return 0;
}

void kdbus_driver::monitor_with(std::vector<match_rule> rules) {
  monitoring_ = true;
  for (auto& r : rules) index_.add(std::move(r));
}

bool kdbus_driver::wanted(const message& broadcast, const std::vector<std::string_view>* sender_names) {
  // A rule's sender='well.known.Name' holds when the sender owned the name as it sent.
  if (monitoring_ && index_.empty()) return true;
  auto owner_of = [&](std::string_view name) -> std::optional<std::string> {
    if (sender_names) {
      if (std::find(sender_names->begin(), sender_names->end(), name) != sender_names->end())
        return std::string(broadcast.sender());
      return std::nullopt;
    }
    conn_info info;
    if (connection_info(name, 0, info) != 0) return std::nullopt;
    return kdbus_unique_name(info.id);
  };
  const name_owner_function names(owner_of);
  bool any = false;
  index_.for_each_match(broadcast, [&](match_index::id, const match_rule&) { any = true; }, &names);
  return any;
}

void kdbus_driver::handle(const message& call) {
  const bool want_reply = call.expects_reply();
  auto finish = [&](message_builder& b, auto&&... args) {
    if (!want_reply) return;
    b.sender(bus_name::unchecked(driver_name));
    if (call.sender().empty()) b.destination(bus_name::unchecked(t_.unique_name()));
    message m = b.build(args...);
    m.set_serial(kdbus_synthetic_serial);
    t_.queue_local(std::move(m));
  };
  auto reply = [&](auto&&... args) {
    auto b = message_builder::method_return(call);
    finish(b, args...);
  };
  auto fail = [&](std::string_view name, std::string text) {
    auto b = message_builder::error(call, error_name::unchecked(name));
    finish(b, std::move(text));
  };
  auto errno_error = [&](int e, std::string what) {
    switch (e) {
      case EPERM:
      case EACCES: return fail(dbus_errors::access_denied, what + ": access denied");
      case E2BIG:
      case EMFILE:
      case ENOBUFS: return fail(dbus_errors::limits_exceeded, what + ": limits exceeded");
      case EINVAL: return fail(dbus_errors::invalid_args, what + ": invalid arguments");
      case ENOMEM: return fail(dbus_errors::no_memory, what + ": out of memory");
      default: return fail(dbus_errors::failed, what + ": " + std::error_code(e, std::system_category()).message());
    }
  };
  const std::string_view iface = call.interface();
  const std::string_view member = call.member();

  if (iface == peer_interface || (iface.empty() && (member == "Ping" || member == "GetMachineId"))) {
    if (member == "Ping") return reply();
    if (member == "GetMachineId") {
      if (const auto& id = machine_id()) return reply(*id);
      return fail(dbus_errors::failed, "this machine has no machine id");
    }
    return fail(dbus_errors::unknown_method, "Unknown method '" + std::string(member) + "' on " + std::string(iface));
  }
  if (iface == introspectable_interface && member == "Introspect") return reply(std::string(introspection_xml));
  if (iface == monitoring_interface && member == "BecomeMonitor")
    return fail(dbus_errors::not_supported,
                "On kdbus a monitor is a connection made as one (HELLO with KDBUS_HELLO_MONITOR): a kdbus "
                "transport cannot become one (kbus::connection opens a monitor connection for BecomeMonitor)");
  if (!iface.empty() && iface != driver_interface)
    return fail(dbus_errors::unknown_interface, "Unknown interface '" + std::string(iface) + "'");

  // Reads one argument of type T, or answers InvalidArgs.
  auto arg = [&]<class... Ts>(std::tuple<Ts...>* tag) -> std::optional<std::tuple<Ts...>> {
    (void)tag;
    auto r = call.read<Ts...>();
    if (!r) {
      fail(dbus_errors::invalid_args, r.error().message);
      return std::nullopt;
    }
    return *r;
  };
  auto name_arg = [&]() -> std::optional<std::string> {
    auto a = arg(static_cast<std::tuple<std::string>*>(nullptr));
    if (!a) return std::nullopt;
    return std::get<0>(*a);
  };

  if (member == "Hello") {
    if (hello_done_) return fail(dbus_errors::failed, "Already handled an Hello message");
    hello_done_ = true;
    reply(t_.unique_name());
    // dbus-daemon tells a new connection its unique name (NameAcquired).
    auto b = message_builder::signal(object_path::unchecked(driver_path), interface_name::unchecked(driver_interface),
                                     member_name::unchecked("NameAcquired"));
    b.sender(bus_name::unchecked(driver_name)).destination(bus_name::unchecked(t_.unique_name()));
    message m = b.build(t_.unique_name());
    m.set_serial(kdbus_synthetic_serial);
    t_.queue_local(std::move(m));
    return;
  }
  if (member == "RequestName") {
    auto a = arg(static_cast<std::tuple<std::string, std::uint32_t>*>(nullptr));
    if (!a) return;
    const auto& [name, flags] = *a;
    if (name == driver_name) return fail(dbus_errors::invalid_args, "Cannot acquire a service named like the bus driver");
    if (!name.empty() && name[0] == ':') return fail(dbus_errors::invalid_args, "Cannot acquire a unique name");
    if (!kdbus::is_valid_well_known_name(name))
      return fail(dbus_errors::invalid_args, "Requested bus name '" + name + "' is not valid");
    kdbus::cmd c{};
    if (flags & name_flag_allow_replacement) c.flags |= kdbus::name_flags::allow_replacement;
    if (flags & name_flag_replace_existing) c.flags |= kdbus::name_flags::replace_existing;
    if (!(flags & name_flag_do_not_queue)) c.flags |= kdbus::name_flags::queue;
    std::vector<std::uint8_t> items;
    kdbus::item_writer(items).add_string(kdbus::item_type::name, name);
    const int r = t_.command(kdbus::ioctl::name_acquire, c, items);
    if (r == EEXIST) return reply(request_exists);
    if (r != 0) return errno_error(r, "Cannot acquire '" + name + "'");
    if (c.return_flags & kdbus::name_flags::in_queue) return reply(request_in_queue);
    if (c.return_flags & kdbus::name_flags::primary)
      return reply((c.return_flags & kdbus::name_flags::acquired) ? request_primary_owner : request_already_owner);
    return reply(request_exists);  // was queued, asked not to queue: dropped from the queue
  }
  if (member == "ReleaseName") {
    const auto name = name_arg();
    if (!name) return;
    if (!kdbus::is_valid_well_known_name(*name))
      return fail(dbus_errors::invalid_args, "Given bus name '" + *name + "' is not valid");
    kdbus::cmd c{};
    std::vector<std::uint8_t> items;
    kdbus::item_writer(items).add_string(kdbus::item_type::name, *name);
    const int r = t_.command(kdbus::ioctl::name_release, c, items);
    if (r == 0) return reply(release_released);
    if (r == ESRCH) return reply(release_non_existent);
    if (r == EADDRINUSE) return reply(release_not_owner);
    return errno_error(r, "Cannot release '" + *name + "'");
  }
  if (member == "GetNameOwner" || member == "NameHasOwner") {
    const auto name = name_arg();
    if (!name) return;
    std::optional<std::string> owner;
    if (*name == driver_name) {
      owner = std::string(driver_name);
    } else {
      conn_info info;
      const int r = connection_info(*name, 0, info);
      if (r == 0) owner = kdbus_unique_name(info.id);
      else if (r != ENXIO && r != ESRCH && r != EINVAL) return errno_error(r, "Cannot look up '" + *name + "'");
    }
    if (member == "NameHasOwner") return reply(owner.has_value());
    if (!owner) return fail(dbus_errors::name_has_no_owner, "Could not get owner of name '" + *name + "': no such name");
    return reply(*owner);
  }
  if (member == "ListNames" || member == "ListActivatableNames") {
    const bool activatable = member == "ListActivatableNames";
    std::vector<list_entry> entries;
    const int r = list(activatable ? kdbus::list::activators : (kdbus::list::unique | kdbus::list::names), entries);
    if (r != 0) return errno_error(r, "Cannot list names");
    std::vector<std::string> names{std::string(driver_name)};
    for (const auto& e : entries) {
      const bool is_activator = (e.conn_flags & kdbus::hello::activator) || (e.name_flags & kdbus::name_flags::activator);
      if (activatable) {
        if (is_activator && !e.name.empty()) names.push_back(e.name);
        continue;
      }
      if (is_activator) continue;
      const std::string unique = kdbus_unique_name(e.id);
      if (names.back() != unique && std::find(names.begin(), names.end(), unique) == names.end()) names.push_back(unique);
      if (!e.name.empty() && !(e.name_flags & kdbus::name_flags::in_queue)) names.push_back(e.name);
    }
    return reply(names);
  }
  if (member == "ListQueuedOwners") {
    const auto name = name_arg();
    if (!name) return;
    if (*name == driver_name) return reply(std::vector<std::string>{std::string(driver_name)});
    std::vector<list_entry> entries;
    const int r = list(kdbus::list::names | kdbus::list::queued, entries);
    if (r != 0) return errno_error(r, "Cannot list names");
    std::vector<std::string> owners;
    for (const auto& e : entries) {
      if (e.name != *name || (e.conn_flags & kdbus::hello::activator) || (e.name_flags & kdbus::name_flags::activator))
        continue;
      const std::string unique = kdbus_unique_name(e.id);
      if (!(e.name_flags & kdbus::name_flags::in_queue))
        owners.insert(owners.begin(), unique);  // the primary owner first
      else
        owners.push_back(unique);
    }
    if (owners.empty())
      return fail(dbus_errors::name_has_no_owner, "Could not get owners of name '" + *name + "': no such name");
    return reply(owners);
  }
  if (member == "GetConnectionUnixUser" || member == "GetConnectionUnixProcessID" ||
      member == "GetConnectionCredentials") {
    const auto name = name_arg();
    if (!name) return;
    conn_info info;
    const int r = *name == driver_name ? ESRCH
                                       : connection_info(*name, kdbus::attach::creds | kdbus::attach::pids | kdbus::attach::auxgroups, info);
    if (r == ENXIO || r == ESRCH || r == EINVAL)
      return fail(dbus_errors::name_has_no_owner, "Could not get the connection of name '" + *name + "': no such name");
    if (r != 0) return errno_error(r, "Cannot get the credentials of '" + *name + "'");
    if (member == "GetConnectionUnixUser") {
      if (!info.uid || *info.uid > UINT32_MAX) return fail(dbus_errors::failed, "Could not determine the UID of '" + *name + "'");
      return reply(static_cast<std::uint32_t>(*info.uid));
    }
    if (member == "GetConnectionUnixProcessID") {
      if (!info.pid || *info.pid > UINT32_MAX)
        return fail(dbus_errors::unix_process_id_unknown, "Could not determine the PID of '" + *name + "'");
      return reply(static_cast<std::uint32_t>(*info.pid));
    }
    std::map<std::string, kbus::variant> creds;
    if (info.uid && *info.uid <= UINT32_MAX) creds.emplace("UnixUserID", kbus::variant(static_cast<std::uint32_t>(*info.uid)));
    if (info.pid && *info.pid <= UINT32_MAX) creds.emplace("ProcessID", kbus::variant(static_cast<std::uint32_t>(*info.pid)));
    if (!info.groups.empty()) creds.emplace("UnixGroupIDs", kbus::variant(info.groups));
    return reply(creds);
  }
  if (member == "GetConnectionSELinuxSecurityContext")
    return fail(dbus_errors::selinux_security_context_unknown, "No SELinux security context known");
  if (member == "GetConnectionAdtAuditSessionData")
    return fail(dbus_errors::adt_audit_data_unknown, "No audit session data known");
  if (member == "GetId") return reply(t_.bus_id());
  if (member == "AddMatch") {
    const auto text = name_arg();
    if (!text) return;
    std::string why;
    const int r = add_match(*text, why);
    if (r == EINVAL && !why.empty()) return fail(dbus_errors::match_rule_invalid, why);
    if (r != 0) return errno_error(r, "Cannot add match rule");
    return reply();
  }
  if (member == "RemoveMatch") {
    const auto text = name_arg();
    if (!text) return;
    auto parsed = match_rule::parse(*text);
    if (!parsed) return fail(dbus_errors::match_rule_invalid, parsed.error().message);
    const auto it = rules_.find(parsed->to_string());
    if (it == rules_.end()) return fail(dbus_errors::match_rule_not_found, "The given match rule was not found");
    kdbus::cmd_match c{};
    c.cookie = it->second.cookie;
    index_.remove(it->second.in_index);
    rules_.erase(it);
    const int r = t_.command(kdbus::ioctl::match_remove, c);
    if (r != 0 && r != EBADSLT) return errno_error(r, "Cannot remove match rule");
    return reply();
  }
  if (member == "StartServiceByName") {
    auto a = arg(static_cast<std::tuple<std::string, std::uint32_t>*>(nullptr));
    if (!a) return;
    conn_info info;
    if (connection_info(std::get<0>(*a), 0, info) == 0) return reply(start_reply_already_running);
    return fail(dbus_errors::service_unknown, "The name " + std::get<0>(*a) + " was not provided by any activatable service");
  }
  if (member == "ReloadConfig") return reply();
  if (member == "UpdateActivationEnvironment")
    return fail(dbus_errors::not_supported, "Activation environments are not supported on kdbus");
  return fail(dbus_errors::unknown_method, "Unknown method '" + std::string(member) + "' on org.freedesktop.DBus");
}

}  // namespace kbus::detail
