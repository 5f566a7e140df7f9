#include "bus_env.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace kbus_bench {

pid_t start_echo_server(const echo_server& s, const std::string& address) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(out[0]);
    // The benchmark may die without stopping us.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    // Named for ps and perf: "echo:Bench" (the common server), "echo:kbus", "echo:sdbus-cpp", ...
    const std::string comm = "echo:" + s.service.substr(s.service.rfind('.') + 1);
    ::prctl(PR_SET_NAME, comm.c_str());
    int status = 0;
    try {
      s.library->serve_echo(address, s.service, [&] {
        if (::write(out[1], "ready\n", 6) != 6) ::_exit(1);
        ::close(out[1]);
      });
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s Echo server: %s\n", s.library->name(), e.what());
      status = 1;
    }
    // Not exit(): the child must not run what the parent registered with atexit.
    ::_exit(status);
  }
  ::close(out[1]);
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
    throw std::runtime_error(std::string(s.library->name()) + "'s Echo server did not start on " + address);
  }
  return pid;
}

std::vector<bench_bus> start_buses(const std::vector<kbus::test::bus_kind>& kinds, const std::vector<echo_server>& servers) {
  std::vector<bench_bus> buses;
  buses.reserve(kinds.size());
  for (auto kind : kinds) {
    std::string why_not;
    auto bus = kbus::test::private_bus::start(kind, why_not);
    if (!bus) throw std::runtime_error(std::string(kbus::test::to_string(kind)) + ": " + why_not);
    auto& b = buses.emplace_back();
    b.label = kind == kbus::test::bus_kind::dbus_broker ? "broker" : "daemon";
    b.bus.emplace(std::move(*bus));
    for (const auto& s : servers) b.servers.push_back(start_echo_server(s, b.address()));
  }
  return buses;
}

void stop_servers(std::vector<bench_bus>& buses) {
  for (auto& b : buses) {
    for (pid_t pid : b.servers) ::kill(pid, SIGTERM);
    for (pid_t pid : b.servers) ::waitpid(pid, nullptr, 0);
    b.servers.clear();
  }
}

}  // namespace kbus_bench
