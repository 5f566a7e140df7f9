// The driver's methods about names and connections: RequestName / ReleaseName (NAME_ACQUIRE,
// NAME_RELEASE), the owner and list queries (CONN_INFO, LIST) and the credentials of a
// connection (CONN_INFO with CREDS, PIDS, AUXGROUPS).
#include "transport/kdbus/driver.hpp"

#include "kbus/dbus_names.hpp"
#include "kbus/types.hpp"
#include "transport/kdbus/abi.hpp"

#include <algorithm>
#include <cerrno>
#include <map>

namespace kbus::detail {

namespace {

// A uid the kernel could not map ((uid_t)-1, notes §1.5).
constexpr std::uint64_t unknown_uid = 0xffffffffull;

bool is_activator(std::uint64_t conn_flags, std::uint64_t name_flags) noexcept {
  return (conn_flags & kdbus::hello::activator) || (name_flags & kdbus::name_flags::activator);
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
  if (slice && kdbus::load(slice->bytes(), 0, head) && head.size >= sizeof head && head.size <= slice->bytes().size()) {
    out.id = head.id;
    out.flags = head.flags;
    const auto rest = slice->bytes().subspan(sizeof head, static_cast<std::size_t>(head.size - sizeof head));
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
  const auto bytes = slice ? slice->bytes() : std::span<const std::uint8_t>();
  std::size_t pos = 0;
  while (result == 0 && pos < bytes.size()) {
    kdbus::info head{};
    if (!kdbus::load(bytes, pos, head) || head.size < sizeof head || head.size > bytes.size() - pos) {
      result = EPROTO;
      break;
    }
    const auto rest = bytes.subspan(pos + sizeof head, static_cast<std::size_t>(head.size - sizeof head));
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
    if (step >= bytes.size() - pos) break;
    pos += static_cast<std::size_t>(step);
  }
  t_.free_slice(c.offset);
  return result;
}

void kdbus_driver::request_name(driver_answer& a) {
  auto args = a.args<std::string, std::uint32_t>();
  if (!args) return;
  const auto& [name, flags] = *args;
  if (name == dbus_names::driver_name)
    return a.fail(dbus_errors::invalid_args, "Cannot acquire a service named like the bus driver");
  if (!name.empty() && name[0] == ':') return a.fail(dbus_errors::invalid_args, "Cannot acquire a unique name");
  if (!kdbus::is_valid_well_known_name(name))
    return a.fail(dbus_errors::invalid_args, "Requested bus name '" + name + "' is not valid");
  kdbus::cmd c{};
  if (flags & name_flag_allow_replacement) c.flags |= kdbus::name_flags::allow_replacement;
  if (flags & name_flag_replace_existing) c.flags |= kdbus::name_flags::replace_existing;
  if (!(flags & name_flag_do_not_queue)) c.flags |= kdbus::name_flags::queue;
  std::vector<std::uint8_t> items;
  kdbus::item_writer(items).add_string(kdbus::item_type::name, name);
  const int r = t_.command(kdbus::ioctl::name_acquire, c, items);
  if (r == EEXIST) return a.reply(request_exists);
  if (r != 0) return a.fail_errno(r, "Cannot acquire '" + name + "'");
  if (c.return_flags & kdbus::name_flags::in_queue) return a.reply(request_in_queue);
  if (c.return_flags & kdbus::name_flags::primary)
    return a.reply((c.return_flags & kdbus::name_flags::acquired) ? request_primary_owner : request_already_owner);
  a.reply(request_exists);  // was queued, asked not to queue: dropped from the queue
}

void kdbus_driver::release_name(driver_answer& a) {
  auto args = a.args<std::string>();
  if (!args) return;
  const std::string& name = std::get<0>(*args);
  if (!kdbus::is_valid_well_known_name(name))
    return a.fail(dbus_errors::invalid_args, "Given bus name '" + name + "' is not valid");
  kdbus::cmd c{};
  std::vector<std::uint8_t> items;
  kdbus::item_writer(items).add_string(kdbus::item_type::name, name);
  const int r = t_.command(kdbus::ioctl::name_release, c, items);
  if (r == 0) return a.reply(release_released);
  if (r == ESRCH) return a.reply(release_non_existent);
  if (r == EADDRINUSE) return a.reply(release_not_owner);
  a.fail_errno(r, "Cannot release '" + name + "'");
}

int kdbus_driver::owner_of(const std::string& name, std::optional<std::string>& owner) {
  if (name == dbus_names::driver_name) {
    owner = std::string(dbus_names::driver_name);
    return 0;
  }
  conn_info info;
  const int r = connection_info(name, 0, info);
  if (r == 0) owner = kdbus_unique_name(info.id);
  return r == ENXIO || r == ESRCH || r == EINVAL ? 0 : r;
}

void kdbus_driver::get_name_owner(driver_answer& a) {
  auto args = a.args<std::string>();
  if (!args) return;
  const std::string& name = std::get<0>(*args);
  std::optional<std::string> owner;
  if (const int r = owner_of(name, owner); r != 0) return a.fail_errno(r, "Cannot look up '" + name + "'");
  if (!owner) return a.fail(dbus_errors::name_has_no_owner, "Could not get owner of name '" + name + "': no such name");
  a.reply(*owner);
}

void kdbus_driver::name_has_owner(driver_answer& a) {
  auto args = a.args<std::string>();
  if (!args) return;
  const std::string& name = std::get<0>(*args);
  std::optional<std::string> owner;
  if (const int r = owner_of(name, owner); r != 0) return a.fail_errno(r, "Cannot look up '" + name + "'");
  a.reply(owner.has_value());
}

void kdbus_driver::list_names(driver_answer& a) {
  std::vector<list_entry> entries;
  if (const int r = list(kdbus::list::unique | kdbus::list::names, entries); r != 0)
    return a.fail_errno(r, "Cannot list names");
  std::vector<std::string> names{std::string(dbus_names::driver_name)};
  for (const auto& e : entries) {
    if (is_activator(e.conn_flags, e.name_flags)) continue;
    const std::string unique = kdbus_unique_name(e.id);
    if (names.back() != unique && std::find(names.begin(), names.end(), unique) == names.end()) names.push_back(unique);
    if (!e.name.empty() && !(e.name_flags & kdbus::name_flags::in_queue)) names.push_back(e.name);
  }
  a.reply(names);
}

void kdbus_driver::list_activatable_names(driver_answer& a) {
  std::vector<list_entry> entries;
  if (const int r = list(kdbus::list::activators, entries); r != 0) return a.fail_errno(r, "Cannot list names");
  std::vector<std::string> names{std::string(dbus_names::driver_name)};
  for (const auto& e : entries)
    if (is_activator(e.conn_flags, e.name_flags) && !e.name.empty()) names.push_back(e.name);
  a.reply(names);
}

void kdbus_driver::list_queued_owners(driver_answer& a) {
  auto args = a.args<std::string>();
  if (!args) return;
  const std::string& name = std::get<0>(*args);
  if (name == dbus_names::driver_name) return a.reply(std::vector<std::string>{std::string(dbus_names::driver_name)});
  std::vector<list_entry> entries;
  if (const int r = list(kdbus::list::names | kdbus::list::queued, entries); r != 0)
    return a.fail_errno(r, "Cannot list names");
  std::vector<std::string> owners;
  for (const auto& e : entries) {
    if (e.name != name || is_activator(e.conn_flags, e.name_flags)) continue;
    const std::string unique = kdbus_unique_name(e.id);
    if (!(e.name_flags & kdbus::name_flags::in_queue))
      owners.insert(owners.begin(), unique);  // the primary owner first
    else
      owners.push_back(unique);
  }
  if (owners.empty())
    return a.fail(dbus_errors::name_has_no_owner, "Could not get owners of name '" + name + "': no such name");
  a.reply(owners);
}

bool kdbus_driver::credentials_of(driver_answer& a, const std::string& name, conn_info& out) {
  const int r = name == dbus_names::driver_name
                    ? ESRCH
                    : connection_info(name, kdbus::attach::creds | kdbus::attach::pids | kdbus::attach::auxgroups, out);
  if (r == ENXIO || r == ESRCH || r == EINVAL) {
    a.fail(dbus_errors::name_has_no_owner, "Could not get the connection of name '" + name + "': no such name");
    return false;
  }
  if (r != 0) {
    a.fail_errno(r, "Cannot get the credentials of '" + name + "'");
    return false;
  }
  return true;
}

void kdbus_driver::get_connection_unix_user(driver_answer& a) {
  auto args = a.args<std::string>();
  conn_info info;
  if (!args || !credentials_of(a, std::get<0>(*args), info)) return;
  if (!info.uid || *info.uid > UINT32_MAX)
    return a.fail(dbus_errors::failed, "Could not determine the UID of '" + std::get<0>(*args) + "'");
  a.reply(static_cast<std::uint32_t>(*info.uid));
}

void kdbus_driver::get_connection_unix_process_id(driver_answer& a) {
  auto args = a.args<std::string>();
  conn_info info;
  if (!args || !credentials_of(a, std::get<0>(*args), info)) return;
  if (!info.pid || *info.pid > UINT32_MAX)
    return a.fail(dbus_errors::unix_process_id_unknown, "Could not determine the PID of '" + std::get<0>(*args) + "'");
  a.reply(static_cast<std::uint32_t>(*info.pid));
}

void kdbus_driver::get_connection_credentials(driver_answer& a) {
  auto args = a.args<std::string>();
  conn_info info;
  if (!args || !credentials_of(a, std::get<0>(*args), info)) return;
  std::map<std::string, kbus::variant> creds;
  if (info.uid && *info.uid <= UINT32_MAX) creds.emplace("UnixUserID", kbus::variant(static_cast<std::uint32_t>(*info.uid)));
  if (info.pid && *info.pid <= UINT32_MAX) creds.emplace("ProcessID", kbus::variant(static_cast<std::uint32_t>(*info.pid)));
  if (!info.groups.empty()) creds.emplace("UnixGroupIDs", kbus::variant(info.groups));
  a.reply(creds);
}

}  // namespace kbus::detail
