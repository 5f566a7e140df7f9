#include "platform/cloexec.hpp"

#include "platform/control_messages.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace kbus::detail {

namespace {

// Atomic flags where the system has them; 0 on the fallback path (or where they do not exist,
// when best_cloexec is fcntl anyway).
int socket_cloexec_flag(cloexec_via via) noexcept {
#if KBUS_HAVE_SOCK_CLOEXEC
  if (via == cloexec_via::atomic_flags) return SOCK_CLOEXEC;
#endif
  (void)via;
  return 0;
}

int recv_cloexec_flag(cloexec_via via) noexcept {
#if KBUS_HAVE_MSG_CMSG_CLOEXEC
  if (via == cloexec_via::atomic_flags) return MSG_CMSG_CLOEXEC;
#endif
  (void)via;
  return 0;
}

}  // namespace

bool set_cloexec(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && ((flags & FD_CLOEXEC) || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0);
}

int socketpair_cloexec(int domain, int type, int protocol, int fds[2], cloexec_via via) noexcept {
  const int flag = socket_cloexec_flag(via);
  const int r = ::socketpair(domain, type | flag, protocol, fds);
  if (r == 0 && flag == 0) {
    set_cloexec(fds[0]);
    set_cloexec(fds[1]);
  }
  return r;
}

ssize_t recvmsg_cloexec(int fd, msghdr* msg, int flags, cloexec_via via) noexcept {
  const int flag = recv_cloexec_flag(via);
  const ssize_t n = ::recvmsg(fd, msg, flags | flag);
  if (n < 0 || flag != 0) return n;
  for_each_passed_fd(msg, [](int received) { set_cloexec(received); });
  return n;
}

}  // namespace kbus::detail
