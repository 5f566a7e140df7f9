// Messages the kdbus transport makes in the bus driver's name, since there is no driver peer on
// a kdbus bus (notes §2.15): the driver's signals, its answers to calls, and errors for calls
// the bus could not deliver. They come from org.freedesktop.DBus with serial (uint32_t)-1.
#pragma once

#include "kbus/dbus_names.hpp"
#include "kbus/message.hpp"
#include "kbus/names.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace kbus::detail {

// The driver's signals (specification, "Message Bus Messages").
namespace driver_signals {
inline constexpr std::string_view name_owner_changed = "NameOwnerChanged";
inline constexpr std::string_view name_acquired = "NameAcquired";
inline constexpr std::string_view name_lost = "NameLost";
}  // namespace driver_signals

// A signal from the driver; `destination` empty: a broadcast.
template <class... Args>
message driver_signal(std::string_view member, std::string_view destination, const Args&... args) {
  auto b = message_builder::signal(object_path::unchecked(dbus_names::driver_path),
                                   interface_name::unchecked(dbus_names::driver_interface), member_name::unchecked(member));
  b.sender(bus_name::unchecked(dbus_names::driver_name));
  if (!destination.empty()) b.destination(bus_name::unchecked(destination));
  message m = b.build(args...);
  m.set_serial(kdbus_synthetic_serial);
  return m;
}

// The driver's error reply to `call`; a call of our own (no sender: the bus has not stamped it)
// gets our unique name `self` as destination, as a bus would address it.
message driver_error(const message& call, std::string_view name, std::string text, std::string_view self);

// One call to the driver being answered: the reply or error goes to the transport's local
// queue; a call flagged NO_REPLY_EXPECTED gets none.
class driver_answer {
 public:
  driver_answer(kdbus_transport& transport, const message& call) noexcept : t_(transport), call_(call) {}

  const message& call() const noexcept { return call_; }

  template <class... Args>
  void reply(const Args&... args) {
    if (!call_.expects_reply()) return;
    auto b = message_builder::method_return(call_);
    b.sender(bus_name::unchecked(dbus_names::driver_name));
    if (call_.sender().empty()) b.destination(bus_name::unchecked(t_.unique_name()));
    message m = b.build(args...);
    m.set_serial(kdbus_synthetic_serial);
    t_.queue_local(std::move(m));
  }
  void fail(std::string_view name, std::string text);
  // An ioctl's errno as the D-Bus error dbus-daemon gives for that condition.
  void fail_errno(int e, const std::string& what);

  // The call's arguments; std::nullopt when they are not of these types (InvalidArgs answered).
  template <class... Ts>
  std::optional<std::tuple<Ts...>> args() {
    auto r = call_.read<Ts...>();
    if (!r) {
      fail(dbus_errors::invalid_args, r.error().message);
      return std::nullopt;
    }
    return std::move(*r);
  }

 private:
  kdbus_transport& t_;
  const message& call_;
};

}  // namespace kbus::detail
