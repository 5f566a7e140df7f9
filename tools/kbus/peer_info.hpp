// What the bus says about one connection (GetConnectionCredentials; on device buses the kdbus
// transport's driver answers it from the connection's kdbus info), and what /proc adds when the
// process is on this machine and readable.
#pragma once

#include "session.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kbus::cli {

struct peer_credentials {
  std::optional<std::uint32_t> pid;
  std::optional<std::uint32_t> uid;
  std::vector<std::uint32_t> gids;
  std::optional<std::string> security_label;
  bool known = false;  // the bus answered
};
peer_credentials get_credentials(session& s, const std::string& name);

// From /proc/PID: nullopt when not readable.
std::optional<std::string> proc_comm(std::uint32_t pid);
std::optional<std::string> proc_exe(std::uint32_t pid);
std::optional<std::string> proc_cmdline(std::uint32_t pid);
std::optional<std::uint32_t> proc_ppid(std::uint32_t pid);
std::optional<std::string> proc_cgroup(std::uint32_t pid);
// The systemd unit from a cgroup path (the last element ending in .service or .scope).
std::optional<std::string> unit_of_cgroup(const std::string& cgroup);
// The user's name, or the number as text.
std::string user_name(std::uint32_t uid);

}  // namespace kbus::cli
