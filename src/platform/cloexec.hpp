// File descriptors that kbus opens or receives are close-on-exec, so a program the application
// runs never inherits a bus connection or a peer's fd. Linux and the BSDs set it atomically
// (SOCK_CLOEXEC, MSG_CMSG_CLOEXEC); elsewhere (macOS) fcntl(FD_CLOEXEC) right after, which a
// fork in another thread can race, as libdbus and GLib accept there too.
#pragma once

#include "kbus_config.hpp"

#include <sys/socket.h>
#include <sys/types.h>

namespace kbus::detail {

enum class cloexec_via {
  atomic_flags,  // SOCK_CLOEXEC / MSG_CMSG_CLOEXEC
  fcntl,         // FD_CLOEXEC after the call
};
// The best this system offers; tests choose the fallback explicitly.
inline constexpr cloexec_via best_cloexec =
    KBUS_HAVE_SOCK_CLOEXEC && KBUS_HAVE_MSG_CMSG_CLOEXEC ? cloexec_via::atomic_flags : cloexec_via::fcntl;

// Sets FD_CLOEXEC on `fd`; false (errno set) if fcntl fails.
bool set_cloexec(int fd) noexcept;

// socketpair(2) with both ends close-on-exec; what socketpair returns.
int socketpair_cloexec(int domain, int type, int protocol, int fds[2], cloexec_via via = best_cloexec) noexcept;

// recvmsg(2) whose received SCM_RIGHTS fds are close-on-exec; what recvmsg returns.
ssize_t recvmsg_cloexec(int fd, msghdr* msg, int flags, cloexec_via via = best_cloexec) noexcept;

}  // namespace kbus::detail
