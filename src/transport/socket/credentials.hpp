// Who is at the other end of a local socket, as the kernel saw it when the socket connected.
// The one place where the systems' ways of asking differ (SO_PEERCRED on Linux, getpeereid on
// the BSDs and macOS).
#pragma once

#include "kbus/connection.hpp"

#include <optional>

namespace kbus::detail {

// The peer's uid, gid and (where the system says) pid; nullopt when the kernel does not tell.
std::optional<connection_info::credentials> peer_credentials_of(int socket_fd);

// Whether `socket_fd` is an AF_UNIX socket (credentials and fd passing exist only there).
bool is_local_socket(int socket_fd);

}  // namespace kbus::detail
