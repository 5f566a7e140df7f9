#include "transport/socket/credentials.hpp"

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace kbus::detail {

std::optional<connection_info::credentials> peer_credentials_of(int socket_fd) {
#if defined(SO_PEERCRED)
  ucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(c.uid), static_cast<std::uint32_t>(c.gid), c.pid};
#else
  uid_t uid;
  gid_t gid;
  if (::getpeereid(socket_fd, &uid, &gid) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(uid), static_cast<std::uint32_t>(gid), -1};
#endif
}

bool is_local_socket(int socket_fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  return ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.ss_family == AF_UNIX;
}

}  // namespace kbus::detail
