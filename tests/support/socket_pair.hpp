// A connected pair of local stream sockets for tests that drive one end by hand.
#pragma once

#include "kbus/unix_fd.hpp"

#include <sys/socket.h>

#include <stdexcept>

namespace kbus::test {

struct socket_pair_options {
  bool non_blocking = false;  // both ends, as after a handshake
};

struct socket_pair {
  kbus::unix_fd a, b;

  explicit socket_pair(socket_pair_options options = {}) {
    int fds[2];
    const int type = SOCK_STREAM | SOCK_CLOEXEC | (options.non_blocking ? SOCK_NONBLOCK : 0);
    if (::socketpair(AF_UNIX, type, 0, fds) != 0) throw std::runtime_error("socketpair");
    a = kbus::unix_fd(fds[0]);
    b = kbus::unix_fd(fds[1]);
  }
};

}  // namespace kbus::test
