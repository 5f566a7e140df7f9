#include "kbus/bus.hpp"

#include <future>
#include <utility>

namespace kbus::bus {
namespace {

bool from_driver(const message& m, std::string_view member) {
  return m.type() == message_type::signal && m.interface() == driver_interface && m.member() == member &&
         m.sender() == driver_name;
}

// Waits for an asynchronous helper started by `start(handler)`: R (void: nothing), or ec; the
// D-Bus error of an error reply in `failure`.
template <class R, class Start>
R wait_for(connection& c, error_code& ec, dbus_error& failure, Start start) {
  if (kbus::detail::blocking_would_deadlock(c)) {
    ec = make_error_code(connection_errc::would_deadlock);
    if constexpr (!std::is_void_v<R>) return R{};
    else return;
  }
  if constexpr (std::is_void_v<R>) {
    std::promise<error_code> done;
    auto result = done.get_future();
    start(with_dbus_error(failure, [&done](error_code e) { done.set_value(e); }));
    ec = result.get();
  } else {
    std::promise<std::pair<error_code, R>> done;
    auto result = done.get_future();
    start(with_dbus_error(failure, [&done](error_code e, R r) { done.set_value({e, std::move(r)}); }));
    auto [e, r] = result.get();
    ec = e;
    return std::move(r);
  }
}
template <class R, class Start>
R wait_for(connection& c, error_code& ec, Start start) {
  dbus_error failure;
  return wait_for<R>(c, ec, failure, std::move(start));
}
// The throwing form: kbus::call_error for a D-Bus error, boost::system::system_error else.
template <class R, class Start>
R wait_or_throw(connection& c, Start start) {
  error_code ec;
  dbus_error failure;
  if constexpr (std::is_void_v<R>) wait_for<void>(c, ec, failure, std::move(start));
  else {
    R r = wait_for<R>(c, ec, failure, std::move(start));
    if (!ec) return r;
  }
  if (ec == make_error_code(connection_errc::error_reply) && !failure.name.empty()) throw call_error(failure);
  if (ec) throw boost::system::system_error(ec);
  if constexpr (!std::is_void_v<R>) return R{};
}

}  // namespace

std::string to_string(request_name_reply r) {
  switch (r) {
    case request_name_reply::primary_owner: return "primary_owner";
    case request_name_reply::in_queue: return "in_queue";
    case request_name_reply::exists: return "exists";
    case request_name_reply::already_owner: return "already_owner";
  }
  return "unknown reply " + std::to_string(static_cast<std::uint32_t>(r));
}

message become_monitor_call(const std::vector<std::string>& rules) {
  return message_builder::method_call(bus_name::unchecked(driver_name), object_path::unchecked(driver_path),
                                      interface_name::unchecked(monitoring_interface),
                                      member_name::unchecked("BecomeMonitor"))
      .build(rules, std::uint32_t{0});
}

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

// ---- blocking twins ----
// Each pair: the error_code& form, then the throwing form, over the same asynchronous helper.

request_name_reply request_name(connection& c, const bus_name& name, request_name_flags flags, error_code& ec) {
  return wait_for<request_name_reply>(c, ec, [&](auto h) { async_request_name(c, name, flags, std::move(h)); });
}
request_name_reply request_name(connection& c, const bus_name& name, request_name_flags flags) {
  return wait_or_throw<request_name_reply>(c, [&](auto h) { async_request_name(c, name, flags, std::move(h)); });
}
release_name_reply release_name(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<release_name_reply>(c, ec, [&](auto h) { async_release_name(c, name, std::move(h)); });
}
release_name_reply release_name(connection& c, const bus_name& name) {
  return wait_or_throw<release_name_reply>(c, [&](auto h) { async_release_name(c, name, std::move(h)); });
}
start_service_reply start_service_by_name(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<start_service_reply>(c, ec, [&](auto h) { async_start_service_by_name(c, name, std::move(h)); });
}
start_service_reply start_service_by_name(connection& c, const bus_name& name) {
  return wait_or_throw<start_service_reply>(c, [&](auto h) { async_start_service_by_name(c, name, std::move(h)); });
}
std::string get_name_owner(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<std::string>(c, ec, [&](auto h) { async_get_name_owner(c, name, std::move(h)); });
}
std::string get_name_owner(connection& c, const bus_name& name) {
  return wait_or_throw<std::string>(c, [&](auto h) { async_get_name_owner(c, name, std::move(h)); });
}
bool name_has_owner(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<bool>(c, ec, [&](auto h) { async_name_has_owner(c, name, std::move(h)); });
}
bool name_has_owner(connection& c, const bus_name& name) {
  return wait_or_throw<bool>(c, [&](auto h) { async_name_has_owner(c, name, std::move(h)); });
}
std::vector<std::string> list_names(connection& c, error_code& ec) {
  return wait_for<std::vector<std::string>>(c, ec, [&](auto h) { async_list_names(c, std::move(h)); });
}
std::vector<std::string> list_names(connection& c) {
  return wait_or_throw<std::vector<std::string>>(c, [&](auto h) { async_list_names(c, std::move(h)); });
}
std::vector<std::string> list_activatable_names(connection& c, error_code& ec) {
  return wait_for<std::vector<std::string>>(c, ec, [&](auto h) { async_list_activatable_names(c, std::move(h)); });
}
std::vector<std::string> list_activatable_names(connection& c) {
  return wait_or_throw<std::vector<std::string>>(c, [&](auto h) { async_list_activatable_names(c, std::move(h)); });
}
std::vector<std::string> list_queued_owners(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<std::vector<std::string>>(c, ec, [&](auto h) { async_list_queued_owners(c, name, std::move(h)); });
}
std::vector<std::string> list_queued_owners(connection& c, const bus_name& name) {
  return wait_or_throw<std::vector<std::string>>(c, [&](auto h) { async_list_queued_owners(c, name, std::move(h)); });
}
std::uint32_t get_connection_unix_user(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<std::uint32_t>(c, ec, [&](auto h) { async_get_connection_unix_user(c, name, std::move(h)); });
}
std::uint32_t get_connection_unix_user(connection& c, const bus_name& name) {
  return wait_or_throw<std::uint32_t>(c, [&](auto h) { async_get_connection_unix_user(c, name, std::move(h)); });
}
std::uint32_t get_connection_unix_process_id(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<std::uint32_t>(c, ec, [&](auto h) { async_get_connection_unix_process_id(c, name, std::move(h)); });
}
std::uint32_t get_connection_unix_process_id(connection& c, const bus_name& name) {
  return wait_or_throw<std::uint32_t>(c, [&](auto h) { async_get_connection_unix_process_id(c, name, std::move(h)); });
}
std::map<std::string, variant> get_connection_credentials(connection& c, const bus_name& name, error_code& ec) {
  return wait_for<std::map<std::string, variant>>(
      c, ec, [&](auto h) { async_get_connection_credentials(c, name, std::move(h)); });
}
std::map<std::string, variant> get_connection_credentials(connection& c, const bus_name& name) {
  return wait_or_throw<std::map<std::string, variant>>(
      c, [&](auto h) { async_get_connection_credentials(c, name, std::move(h)); });
}
std::string get_id(connection& c, error_code& ec) {
  return wait_for<std::string>(c, ec, [&](auto h) { async_get_id(c, std::move(h)); });
}
std::string get_id(connection& c) {
  return wait_or_throw<std::string>(c, [&](auto h) { async_get_id(c, std::move(h)); });
}
void add_match(connection& c, std::string_view rule, error_code& ec) {
  wait_for<void>(c, ec, [&](auto h) { async_add_match(c, rule, std::move(h)); });
}
void add_match(connection& c, std::string_view rule) {
  wait_or_throw<void>(c, [&](auto h) { async_add_match(c, rule, std::move(h)); });
}
void remove_match(connection& c, std::string_view rule, error_code& ec) {
  wait_for<void>(c, ec, [&](auto h) { async_remove_match(c, rule, std::move(h)); });
}
void remove_match(connection& c, std::string_view rule) {
  wait_or_throw<void>(c, [&](auto h) { async_remove_match(c, rule, std::move(h)); });
}
void become_monitor(connection& c, const std::vector<std::string>& rules, error_code& ec) {
  wait_for<void>(c, ec, [&](auto h) { async_become_monitor(c, rules, std::move(h)); });
}
void become_monitor(connection& c, const std::vector<std::string>& rules) {
  wait_or_throw<void>(c, [&](auto h) { async_become_monitor(c, rules, std::move(h)); });
}

}  // namespace kbus::bus
