// unixexec: entries (D-Bus specification, "Executed Subprocesses on Unix"): the program's stdin
// and stdout are our socket.
#include "transport/socket/connectors.hpp"

#include "platform/cloexec.hpp"
#include "transport/socket/handshake.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace kbus::detail {

namespace {

// path, then argv0 (defaulting to path), argv1, ... for as long as they are numbered on.
std::vector<std::string> program_arguments(const address_entry& e, const std::string& path) {
  std::vector<std::string> args{std::string(e.get("argv0").value_or(path))};
  for (unsigned i = 1;; ++i) {
    auto a = e.get("argv" + std::to_string(i));
    if (!a) break;
    args.emplace_back(*a);
  }
  return args;
}

}  // namespace

void connect_unixexec(connect_request request, connect_handler done) {
  const std::string path(*request.entry.get("path"));
  std::vector<std::string> args = program_arguments(request.entry, path);
  int pair[2];
  if (socketpair_cloexec(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
    return done(kbus::error(errc::unsupported_address, std::string("socketpair: ") + std::strerror(errno)));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pair[0]);
    ::close(pair[1]);
    return done(kbus::error(errc::unsupported_address, std::string("fork: ") + std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec. The program runs in a grandchild that init
    // adopts, so no zombie is left for the application to reap.
    if (::fork() != 0) ::_exit(0);
    ::dup2(pair[1], STDIN_FILENO);
    ::dup2(pair[1], STDOUT_FILENO);
    ::execvp(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pair[1]);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  client_handshake_options options{.address = request.entry.to_string(), .transport = transport_names::unixexec};
  async_client_handshake(request.executor, unix_fd(pair[0]), std::move(options), std::move(done));
}

}  // namespace kbus::detail
