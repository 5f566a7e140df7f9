// What a kernel would report of a task, read from /proc: ids, groups, pids, comm, exe,
// cmdline, cgroup, capabilities, audit. For the in-process device (the process itself) and for
// kbusd's CUSE device (the task a request came from, named by its thread id).
#pragma once

#include "broker/credentials.hpp"

#include <sys/types.h>

#include <optional>

namespace kbus::broker {

// The task `tid` (0: the calling thread). A part /proc does not give (the task is gone, or its
// exe is not readable to us) stays empty; nullopt when the task does not exist at all.
std::optional<credentials> read_proc_credentials(pid_t tid = 0);

}  // namespace kbus::broker
