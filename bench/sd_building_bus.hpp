// sd-bus builds messages only for a bus that has been started: a bus on one end of a
// socketpair, never used for I/O, is enough. The codec and marshal benchmarks build on one.
#pragma once

#include <systemd/sd-bus.h>
#include <sys/socket.h>

#include <cerrno>

namespace kbus_bench {

// A new such bus. `check` is the program's own check of an sd-bus result: it does not return
// when `r` is negative.
inline sd_bus* new_building_bus(void (*check)(int r, const char* what)) {
  int fds[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) check(-errno, "socketpair");
  sd_bus* b = nullptr;
  check(sd_bus_new(&b), "new");
  check(sd_bus_set_fd(b, fds[0], fds[0]), "set_fd");
  check(sd_bus_start(b), "start");
  return b;
}

}  // namespace kbus_bench
