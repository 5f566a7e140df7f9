// A test's sender of one unix fd (SCM_RIGHTS) beside some bytes: what a peer passing a file
// does, written with the raw socket API so that kbus's own code is on the receiving side only.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstring>

namespace kbus::test {

// sendmsg(2) of `size` bytes at `data` with `fd` on the first of them; what sendmsg returns.
inline ssize_t send_with_fd(int socket, const void* data, std::size_t size, int fd) {
  iovec iov{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(socket, &msg, 0);
}

}  // namespace kbus::test
