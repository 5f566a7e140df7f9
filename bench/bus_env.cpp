#include "bus_env.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace kbus_bench {
namespace {

// The Echo server is built beside the benchmark programs.
std::string server_program() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  std::string dir(self, static_cast<std::size_t>(n));
  return dir.substr(0, dir.rfind('/')) + "/kbus_bench_echo_server";
}

pid_t start_server(const std::string& program, const std::string& address) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(program.c_str(), program.c_str(), address.c_str(), nullptr);
    std::fprintf(stderr, "cannot run %s: %s\n", program.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  // It says "ready" once it owns the name.
  std::string said;
  pollfd p{out[0], POLLIN, 0};
  while (said.find('\n') == std::string::npos && ::poll(&p, 1, 10000) > 0) {
    char buf[64];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    said.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  if (said != "ready\n") {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw std::runtime_error("the Echo server did not start on " + address);
  }
  return pid;
}

}  // namespace

std::vector<bench_bus> start_buses(const std::vector<kbus::test::bus_kind>& kinds, bool with_server) {
  std::vector<bench_bus> buses;
  buses.reserve(kinds.size());
  const std::string program = with_server ? server_program() : std::string();
  for (auto kind : kinds) {
    std::string why_not;
    auto bus = kbus::test::private_bus::start(kind, why_not);
    if (!bus) throw std::runtime_error(std::string(kbus::test::to_string(kind)) + ": " + why_not);
    auto& b = buses.emplace_back();
    b.label = kind == kbus::test::bus_kind::dbus_broker ? "broker" : "daemon";
    b.bus.emplace(std::move(*bus));
    if (with_server) b.server = start_server(program, b.address());
  }
  return buses;
}

void stop_servers(std::vector<bench_bus>& buses) {
  for (auto& b : buses) {
    if (b.server > 0) {
      ::kill(b.server, SIGTERM);
      ::waitpid(b.server, nullptr, 0);
      b.server = -1;
    }
  }
}

}  // namespace kbus_bench
