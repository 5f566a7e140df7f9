// Walking the control messages (cmsg) of a received msghdr. CMSG_NXTHDR is a macro of the C
// library, and musl's compares a size_t with a ptrdiff_t, which clang reports in the code that
// expands it (-Wsign-compare): expanded once here, with that warning off.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace kbus::detail {

cmsghdr* first_control_message(msghdr* msg) noexcept;
cmsghdr* next_control_message(msghdr* msg, cmsghdr* current) noexcept;

// Calls `f(fd)` for each fd a received msghdr carries (SCM_RIGHTS), in order.
template <class F>
void for_each_passed_fd(msghdr* msg, F f) {
  for (cmsghdr* c = first_control_message(msg); c; c = next_control_message(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, data + i * sizeof(int), sizeof(int));
      f(fd);
    }
  }
}

}  // namespace kbus::detail
