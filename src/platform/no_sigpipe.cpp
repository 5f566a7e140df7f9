#include "platform/no_sigpipe.hpp"

namespace kbus::detail {

bool prepare_no_sigpipe([[maybe_unused]] int socket_fd) noexcept {
#if KBUS_HAVE_SO_NOSIGPIPE
  // macOS setsockopt(2), FreeBSD/NetBSD socket options: as Boost.Asio does for its sockets.
  const int on = 1;
  if (::setsockopt(socket_fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) == 0) return true;
  return KBUS_HAVE_MSG_NOSIGNAL != 0;
#else
  return true;
#endif
}

}  // namespace kbus::detail
