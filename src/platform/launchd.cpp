#include "platform/launchd.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;  // POSIX declares it; not every system's headers do

namespace kbus::detail {

namespace {

// What one read of launchctl's output takes at most.
constexpr std::size_t launchctl_read_size = 512;

}  // namespace

// launchd keeps the bus socket's path in an environment variable of its own (D-Bus
// specification, "launchd" addresses), which `launchctl getenv ENV` prints (macOS). The path,
// or nullopt with the reason in `why`. launchctl answers at once: it is run and waited for.
std::optional<std::string> launchd_socket_path(const std::string& env, std::string& why) {
  int out[2];
  if (::pipe(out) != 0) {
    why = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  ::fcntl(out[0], F_SETFD, FD_CLOEXEC);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_addclose(&actions, out[1]);
  std::string program = "launchctl", verb = "getenv", name = env;
  char* argv[] = {program.data(), verb.data(), name.data(), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    why = "cannot run launchctl: " + std::string(std::strerror(spawned));
    return std::nullopt;
  }
  std::string path;
  char buf[launchctl_read_size];
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    path.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || path.empty()) {
    why = "launchctl getenv " + env + " gave no socket path";
    return std::nullopt;
  }
  return path;
}

}  // namespace kbus::detail
