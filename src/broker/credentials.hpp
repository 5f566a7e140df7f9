// Who calls into kbusd's core: what a kernel would take from the calling task.
#pragma once

#include "transport/kdbus/abi.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kbus::broker {

// Supplied by the front (for the in-process device the process's own ids; for CUSE the
// request's uid/gid/pid and /proc).
struct credentials {
  kdbus::creds ids{};  // uid, euid, suid, fsuid, gid, egid, sgid, fsgid
  kdbus::pids pids{};  // pid, tid, ppid
  std::vector<std::uint64_t> auxgroups;
  std::string tid_comm, pid_comm, exe, cmdline, cgroup, seclabel;
  std::optional<kdbus::audit> audit;
  // Four capability sets of u32 words (inheritable, permitted, effective, bounding) after
  // last_cap; empty = unknown (no CAPS item).
  std::uint32_t last_cap = 0;
  std::vector<std::uint32_t> caps;
  // CAP_IPC_OWNER in the domain's user namespace, judged when the node is opened (notes §4:
  // capabilities are checked at open() time only).
  bool privileged = false;
};

}  // namespace kbus::broker
