// The bus driver (org.freedesktop.DBus), typed. Each call takes a completion token and
// completes with (error_code, result); a D-Bus error from the bus is connection_errc::error_reply.
//
//   kbus::bus::async_request_name(conn, "org.example.App"_bus, kbus::bus::request_name_flags::do_not_queue,
//                                 [](auto ec, kbus::bus::request_name_reply r) { ... });
#pragma once

#include "kbus/connection.hpp"
#include "kbus/dbus_names.hpp"

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

enum class request_name_flags : std::uint32_t {
  none = 0,
  allow_replacement = 0x1,
  replace_existing = 0x2,
  do_not_queue = 0x4,
};
constexpr request_name_flags operator|(request_name_flags a, request_name_flags b) noexcept {
  return static_cast<request_name_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
enum class request_name_reply : std::uint32_t { primary_owner = 1, in_queue = 2, exists = 3, already_owner = 4 };
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
// Sends `call` and completes with its reply's single value as R (void: no value).
template <class R, class Token>
auto async_typed_call(connection& c, message call, Token&& token) {
  using signature = std::conditional_t<std::is_void_v<R>, void(boost::system::error_code),
                                       void(boost::system::error_code, std::conditional_t<std::is_void_v<R>, int, R>)>;
  return boost::asio::async_initiate<Token, signature>(
      [&c](auto handler, message m) {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        auto ex = boost::asio::get_associated_executor(handler, c.get_executor());
        c.async_call(std::move(m),
                     boost::asio::bind_cancellation_slot(
                         slot, boost::asio::bind_executor(ex, [h = std::move(handler)](boost::system::error_code ec,
                                                                                       message reply) mutable {
                           if constexpr (std::is_void_v<R>) {
                             std::move(h)(ec);
                           } else {
                             R out{};
                             if (!ec) {
                               auto r = reply.read<R>();
                               if (r) out = std::move(std::get<0>(*r));
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
  return boost::asio::async_initiate<Token, void(boost::system::error_code, request_name_reply)>(
      [&c](auto handler, message m) {
        detail::async_typed_call<std::uint32_t>(c, std::move(m), [h = std::move(handler)](auto ec, std::uint32_t v) mutable {
          std::move(h)(ec, static_cast<request_name_reply>(v));
        });
      },
      token, driver_call("RequestName", name.str(), static_cast<std::uint32_t>(flags)));
}
template <class Token>
auto async_release_name(connection& c, const bus_name& name, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, release_name_reply)>(
      [&c](auto handler, message m) {
        detail::async_typed_call<std::uint32_t>(c, std::move(m), [h = std::move(handler)](auto ec, std::uint32_t v) mutable {
          std::move(h)(ec, static_cast<release_name_reply>(v));
        });
      },
      token, driver_call("ReleaseName", name.str()));
}
template <class Token>
auto async_start_service_by_name(connection& c, const bus_name& name, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, start_service_reply)>(
      [&c](auto handler, message m) {
        detail::async_typed_call<std::uint32_t>(c, std::move(m), [h = std::move(handler)](auto ec, std::uint32_t v) mutable {
          std::move(h)(ec, static_cast<start_service_reply>(v));
        });
      },
      token, driver_call("StartServiceByName", name.str(), std::uint32_t{0}));
}
template <class Token>
auto async_get_name_owner(connection& c, const bus_name& name, Token&& token) {
  return detail::async_typed_call<std::string>(c, driver_call("GetNameOwner", name.str()), std::forward<Token>(token));
}
template <class Token>
auto async_name_has_owner(connection& c, const bus_name& name, Token&& token) {
  return detail::async_typed_call<bool>(c, driver_call("NameHasOwner", name.str()), std::forward<Token>(token));
}
template <class Token>
auto async_list_names(connection& c, Token&& token) {
  return detail::async_typed_call<std::vector<std::string>>(c, driver_call("ListNames"), std::forward<Token>(token));
}
template <class Token>
auto async_list_activatable_names(connection& c, Token&& token) {
  return detail::async_typed_call<std::vector<std::string>>(c, driver_call("ListActivatableNames"),
                                                            std::forward<Token>(token));
}
template <class Token>
auto async_list_queued_owners(connection& c, const bus_name& name, Token&& token) {
  return detail::async_typed_call<std::vector<std::string>>(c, driver_call("ListQueuedOwners", name.str()),
                                                            std::forward<Token>(token));
}
template <class Token>
auto async_get_connection_unix_user(connection& c, const bus_name& name, Token&& token) {
  return detail::async_typed_call<std::uint32_t>(c, driver_call("GetConnectionUnixUser", name.str()),
                                                 std::forward<Token>(token));
}
template <class Token>
auto async_get_connection_unix_process_id(connection& c, const bus_name& name, Token&& token) {
  return detail::async_typed_call<std::uint32_t>(c, driver_call("GetConnectionUnixProcessID", name.str()),
                                                 std::forward<Token>(token));
}
template <class Token>
auto async_get_connection_credentials(connection& c, const bus_name& name, Token&& token) {
  return detail::async_typed_call<std::map<std::string, variant>>(c, driver_call("GetConnectionCredentials", name.str()),
                                                                  std::forward<Token>(token));
}
template <class Token>
auto async_get_id(connection& c, Token&& token) {
  return detail::async_typed_call<std::string>(c, driver_call("GetId"), std::forward<Token>(token));
}
template <class Token>
auto async_add_match(connection& c, std::string_view rule, Token&& token) {
  return detail::async_typed_call<void>(c, driver_call("AddMatch", std::string(rule)), std::forward<Token>(token));
}
template <class Token>
auto async_remove_match(connection& c, std::string_view rule, Token&& token) {
  return detail::async_typed_call<void>(c, driver_call("RemoveMatch", std::string(rule)), std::forward<Token>(token));
}
// Turns the connection into a monitor of the messages the rules select (all when empty).
template <class Token>
auto async_become_monitor(connection& c, const std::vector<std::string>& rules, Token&& token) {
  auto call = message_builder::method_call(bus_name::unchecked(driver_name), object_path::unchecked(driver_path),
                                           interface_name::unchecked(monitoring_interface),
                                           member_name::unchecked("BecomeMonitor"))
                  .build(rules, std::uint32_t{0});
  return detail::async_typed_call<void>(c, std::move(call), std::forward<Token>(token));
}

}  // namespace kbus::bus
