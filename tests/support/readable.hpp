// Waiting for a descriptor (a pipe from a child, a socket) to have something to read, bounded
// by a deadline. Header-only, so that what links the bus fixture alone (the benchmarks) has it.
#pragma once

#include <poll.h>

#include <cerrno>
#include <chrono>

namespace kbus::test {

// Whether `fd` became readable (data, its end, or an error to read) before `deadline`.
inline bool readable_before(int fd, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

}  // namespace kbus::test
