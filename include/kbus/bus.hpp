// The bus driver (org.freedesktop.DBus), typed. Each helper comes asynchronous and blocking, as
// connection's operations do:
//  - async_X(conn, ..., token) completes with (error_code, result). A D-Bus error from the bus is
//    connection_errc::error_reply, its name and message reachable through kbus::with_dbus_error
//    (kbus/with_dbus_error.hpp); cancellation through the token's cancellation slot ends the
//    call with operation_aborted (timeouts: a timer that emits the cancellation signal).
//  - X(conn, ..., ec) and X(conn, ...) block, from a thread that does not run the connection's
//    executor (there they fail with connection_errc::would_deadlock instead of hanging). The
//    throwing form throws kbus::call_error for a D-Bus error, boost::system::system_error else.
//
//   auto r = kbus::bus::request_name(conn, "org.example.App"_bus);   // r == request_name_reply::primary_owner
//   kbus::bus::async_request_name(conn, "org.example.App"_bus, kbus::bus::request_name_flags::do_not_queue,
//                                 [](auto ec, kbus::bus::request_name_reply r) { ... });
#pragma once

#include "kbus/connection.hpp"
#include "kbus/dbus_names.hpp"
#include "kbus/with_dbus_error.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kbus::bus {

using dbus_names::driver_interface;
using dbus_names::driver_name;
using dbus_names::driver_path;
using dbus_names::monitoring_interface;
using kbus::request_name_flags;  // connection.hpp: connect_options names them too

// What RequestName did: we own the name now (primary_owner), owned it before (already_owner),
// wait in its queue (in_queue), or it has another owner and we did not queue (exists).
enum class request_name_reply : std::uint32_t { primary_owner = 1, in_queue = 2, exists = 3, already_owner = 4 };
// Whether the reply means this connection owns the name.
constexpr bool owns_name(request_name_reply r) noexcept {
  return r == request_name_reply::primary_owner || r == request_name_reply::already_owner;
}
// "primary_owner", "in_queue", "exists", "already_owner" (or "unknown reply N").
std::string to_string(request_name_reply r);
enum class release_name_reply : std::uint32_t { released = 1, non_existent = 2, not_owner = 3 };
enum class start_service_reply : std::uint32_t { success = 1, already_running = 2 };

// The bus's signals, decoded (nullopt when `m` is not that signal from the driver).
struct name_owner_changed {
  std::string name, old_owner, new_owner;
};
std::optional<name_owner_changed> as_name_owner_changed(const message& m);
// The rule that selects the driver's NameOwnerChanged for one name (arg0).
match_rule name_owner_changed_rule(std::string_view name);
std::optional<std::string> as_name_acquired(const message& m);
std::optional<std::string> as_name_lost(const message& m);

// A call to the driver with a typed body.
template <class... Args>
message driver_call(std::string_view member, const Args&... args) {
  return message_builder::method_call(bus_name::unchecked(driver_name), object_path::unchecked(driver_path),
                                      interface_name::unchecked(driver_interface), member_name::unchecked(member))
      .build(args...);
}

namespace detail {
// Sends `call` and completes with its reply's single value, read as Wire and given as Out
// (void: no value). Keeps the handler's executor and cancellation slot, and writes a D-Bus
// error where the handler asks for it (with_dbus_error).
template <class Wire, class Out = Wire, class Token>
auto async_driver_call(connection& c, message call, Token&& token) {
  using signature = std::conditional_t<std::is_void_v<Out>, void(boost::system::error_code),
                                       void(boost::system::error_code, std::conditional_t<std::is_void_v<Out>, int, Out>)>;
  return boost::asio::async_initiate<Token, signature>(
      [&c](auto handler, message m) {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        auto ex = boost::asio::get_associated_executor(handler, c.get_executor());
        dbus_error* failure = get_associated_dbus_error(handler);
        c.async_call(std::move(m),
                     boost::asio::bind_cancellation_slot(
                         slot, boost::asio::bind_executor(ex, [h = std::move(handler), failure](boost::system::error_code ec,
                                                                                                message reply) mutable {
                           kbus::detail::note_dbus_error(failure, ec, reply);
                           if constexpr (std::is_void_v<Out>) {
                             std::move(h)(ec);
                           } else {
                             Out out{};
                             if (!ec) {
                               auto r = reply.read<Wire>();
                               if (r) out = static_cast<Out>(std::move(std::get<0>(*r)));
                               else ec = boost::system::error_code(r.error().code);
                             }
                             std::move(h)(ec, std::move(out));
                           }
                         })));
      },
      token, std::move(call));
}
}  // namespace detail

template <class Token>
auto async_request_name(connection& c, const bus_name& name, request_name_flags flags, Token&& token) {
  return detail::async_driver_call<std::uint32_t, request_name_reply>(
      c, driver_call("RequestName", name.str(), static_cast<std::uint32_t>(flags)), std::forward<Token>(token));
}
template <class Token>
auto async_release_name(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::uint32_t, release_name_reply>(c, driver_call("ReleaseName", name.str()),
                                                                      std::forward<Token>(token));
}
template <class Token>
auto async_start_service_by_name(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::uint32_t, start_service_reply>(
      c, driver_call("StartServiceByName", name.str(), std::uint32_t{0}), std::forward<Token>(token));
}
template <class Token>
auto async_get_name_owner(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::string>(c, driver_call("GetNameOwner", name.str()), std::forward<Token>(token));
}
template <class Token>
auto async_name_has_owner(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<bool>(c, driver_call("NameHasOwner", name.str()), std::forward<Token>(token));
}
template <class Token>
auto async_list_names(connection& c, Token&& token) {
  return detail::async_driver_call<std::vector<std::string>>(c, driver_call("ListNames"), std::forward<Token>(token));
}
template <class Token>
auto async_list_activatable_names(connection& c, Token&& token) {
  return detail::async_driver_call<std::vector<std::string>>(c, driver_call("ListActivatableNames"),
                                                             std::forward<Token>(token));
}
template <class Token>
auto async_list_queued_owners(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::vector<std::string>>(c, driver_call("ListQueuedOwners", name.str()),
                                                             std::forward<Token>(token));
}
template <class Token>
auto async_get_connection_unix_user(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::uint32_t>(c, driver_call("GetConnectionUnixUser", name.str()),
                                                  std::forward<Token>(token));
}
template <class Token>
auto async_get_connection_unix_process_id(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::uint32_t>(c, driver_call("GetConnectionUnixProcessID", name.str()),
                                                  std::forward<Token>(token));
}
template <class Token>
auto async_get_connection_credentials(connection& c, const bus_name& name, Token&& token) {
  return detail::async_driver_call<std::map<std::string, variant>>(
      c, driver_call("GetConnectionCredentials", name.str()), std::forward<Token>(token));
}
template <class Token>
auto async_get_id(connection& c, Token&& token) {
  return detail::async_driver_call<std::string>(c, driver_call("GetId"), std::forward<Token>(token));
}
template <class Token>
auto async_add_match(connection& c, std::string_view rule, Token&& token) {
  return detail::async_driver_call<void>(c, driver_call("AddMatch", std::string(rule)), std::forward<Token>(token));
}
template <class Token>
auto async_remove_match(connection& c, std::string_view rule, Token&& token) {
  return detail::async_driver_call<void>(c, driver_call("RemoveMatch", std::string(rule)), std::forward<Token>(token));
}
// The call BecomeMonitor makes.
message become_monitor_call(const std::vector<std::string>& rules);
// Turns the connection into a monitor of the messages the rules select (all when empty).
template <class Token>
auto async_become_monitor(connection& c, const std::vector<std::string>& rules, Token&& token) {
  return detail::async_driver_call<void>(c, become_monitor_call(rules), std::forward<Token>(token));
}

// ---- blocking twins (see the top of this file) ----
using boost::system::error_code;

request_name_reply request_name(connection& c, const bus_name& name, request_name_flags flags, error_code& ec);
request_name_reply request_name(connection& c, const bus_name& name, request_name_flags flags = request_name_flags::none);
release_name_reply release_name(connection& c, const bus_name& name, error_code& ec);
release_name_reply release_name(connection& c, const bus_name& name);
start_service_reply start_service_by_name(connection& c, const bus_name& name, error_code& ec);
start_service_reply start_service_by_name(connection& c, const bus_name& name);
std::string get_name_owner(connection& c, const bus_name& name, error_code& ec);
std::string get_name_owner(connection& c, const bus_name& name);
bool name_has_owner(connection& c, const bus_name& name, error_code& ec);
bool name_has_owner(connection& c, const bus_name& name);
std::vector<std::string> list_names(connection& c, error_code& ec);
std::vector<std::string> list_names(connection& c);
std::vector<std::string> list_activatable_names(connection& c, error_code& ec);
std::vector<std::string> list_activatable_names(connection& c);
std::vector<std::string> list_queued_owners(connection& c, const bus_name& name, error_code& ec);
std::vector<std::string> list_queued_owners(connection& c, const bus_name& name);
std::uint32_t get_connection_unix_user(connection& c, const bus_name& name, error_code& ec);
std::uint32_t get_connection_unix_user(connection& c, const bus_name& name);
std::uint32_t get_connection_unix_process_id(connection& c, const bus_name& name, error_code& ec);
std::uint32_t get_connection_unix_process_id(connection& c, const bus_name& name);
std::map<std::string, variant> get_connection_credentials(connection& c, const bus_name& name, error_code& ec);
std::map<std::string, variant> get_connection_credentials(connection& c, const bus_name& name);
std::string get_id(connection& c, error_code& ec);
std::string get_id(connection& c);
void add_match(connection& c, std::string_view rule, error_code& ec);
void add_match(connection& c, std::string_view rule);
void remove_match(connection& c, std::string_view rule, error_code& ec);
void remove_match(connection& c, std::string_view rule);
void become_monitor(connection& c, const std::vector<std::string>& rules, error_code& ec);
void become_monitor(connection& c, const std::vector<std::string>& rules);

}  // namespace kbus::bus
