// Who is at the other end of a local socket, as the kernel saw it when the socket connected,
// and how a client tells a bus who it is. The one place where the systems' ways differ:
// SO_PEERCRED (Linux, OpenBSD), LOCAL_PEERCRED with struct xucred (FreeBSD, macOS; the pid
// from LOCAL_PEERPID on macOS), LOCAL_PEEREID (NetBSD), getpeereid (uid and gid only).
#pragma once

#include "kbus/connection.hpp"

#include <cstddef>
#include <optional>

#include <sys/types.h>

namespace kbus::detail {

// The peer's uid, gid and (where the system says) pid; nullopt when the kernel does not tell.
std::optional<connection_info::credentials> peer_credentials_of(int socket_fd);

// Whether `socket_fd` is an AF_UNIX socket (credentials and fd passing exist only there).
bool is_local_socket(int socket_fd);

// Sends the one nul byte that opens a D-Bus client's SASL exchange, with the credentials
// message the system's buses read there (SCM_CREDS on FreeBSD), else as a plain byte. Returns
// what send(2) returns (1, or -1 with errno).
ssize_t send_credentials_byte(int socket_fd);

}  // namespace kbus::detail
