// Ending a child process that a test started, without waiting on time: it gets SIGTERM, and
// SIGKILL only if it has not exited within a grace period. Header-only, so that what links
// the bus fixture alone (the benchmarks) has it too.
#pragma once

#include "support/deadlines.hpp"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <future>

namespace kbus::test {

// Ends the child `pid` and reaps it.
inline void terminate_child(pid_t pid, std::chrono::milliseconds grace = exit_deadline) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  // Waits for the exit without reaping the child: until waitpid below, its pid cannot name
  // another process, so the SIGKILL cannot go astray.
  auto exited = std::async(std::launch::async, [pid] {
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
    }
  });
  if (exited.wait_for(grace) != std::future_status::ready) ::kill(pid, SIGKILL);
  exited.get();
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace kbus::test
