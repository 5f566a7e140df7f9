#include "platform/abstract_socket.hpp"

namespace kbus::detail {

result<std::string> abstract_socket_path(std::string_view name) {
  if (!have_abstract_sockets)
    return error(errc::unsupported_address,
                 "unix:abstract= needs Linux's abstract socket namespace, which this system does not have");
  return std::string(1, '\0') + std::string(name);
}

}  // namespace kbus::detail
