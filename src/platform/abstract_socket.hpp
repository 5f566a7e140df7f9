// unix:abstract= names a socket in Linux's abstract namespace (unix(7)): no file, gone with its
// last descriptor. No other system has it, so there such an entry fails clearly instead of
// binding a file whose name starts with a nul byte.
#pragma once

#include "kbus/error.hpp"
#include "kbus_config.hpp"

#include <string>
#include <string_view>

namespace kbus::detail {

inline constexpr bool have_abstract_sockets = KBUS_HAVE_ABSTRACT_SOCKETS;

// The sockaddr_un path of abstract name `name` (a nul byte, then the name), or an
// unsupported_address error where the system has no abstract namespace.
result<std::string> abstract_socket_path(std::string_view name);

}  // namespace kbus::detail
