#include "transport/kdbus/driver_messages.hpp"

#include <cerrno>
#include <system_error>

namespace kbus::detail {

message driver_error(const message& call, std::string_view name, std::string text, std::string_view self) {
  auto b = message_builder::error(call, error_name::unchecked(name));
  b.sender(bus_name::unchecked(dbus_names::driver_name));
  if (call.sender().empty()) b.destination(bus_name::unchecked(self));
  message e = b.build(std::move(text));
  e.set_serial(kdbus_synthetic_serial);
  return e;
}

void driver_answer::fail(std::string_view name, std::string text) {
  if (!call_.expects_reply()) return;
  t_.queue_local(driver_error(call_, name, std::move(text), t_.unique_name()));
}

void driver_answer::fail_errno(int e, const std::string& what) {
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
}

}  // namespace kbus::detail
