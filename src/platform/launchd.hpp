// launchd: addresses (macOS): launchd keeps the session bus socket's path in an environment
// variable of its own, which `launchctl getenv ENV` prints. Plain POSIX (posix_spawnp), so it
// builds everywhere; only macOS has a launchctl that answers.
#pragma once

#include <optional>
#include <string>

namespace kbus::detail {

// The socket path launchd keeps in `env`, or nullopt with the reason in `why`.
std::optional<std::string> launchd_socket_path(const std::string& env, std::string& why);

}  // namespace kbus::detail
