#include "support/bus_fixture.hpp"

#include "kbus/embedded_bus.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

namespace kbus::test {
namespace {

// Everything allowed, limits raised: a bus for tests, not for production.
std::string config(const std::string& listen) {
  return R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
)" + listen + R"(
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_message_size">134217728</limit>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_replies_per_connection">100000</limit>
  <limit name="max_match_rules_per_connection">100000</limit>
  <limit name="reply_timeout">300000</limit>
</busconfig>
)";
}

bool wait_for_socket(const std::string& path, pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

[[noreturn]] void child_fail(const char* what) {
  std::fprintf(stderr, "bus fixture: %s: %s\n", what, std::strerror(errno));
  ::_exit(127);
}

}  // namespace

const char* to_string(bus_kind k) {
  switch (k) {
    case bus_kind::dbus_daemon: return "dbus-daemon";
    case bus_kind::dbus_broker: return "dbus-broker";
    case bus_kind::kbusd: return "kbusd";
  }
  return "?";
}

std::string param_name(bus_kind k) {
  switch (k) {
    case bus_kind::dbus_daemon: return "dbus_daemon";
    case bus_kind::dbus_broker: return "dbus_broker";
    case bus_kind::kbusd: return "kbusd";
  }
  return "unknown";
}

std::optional<private_bus> private_bus::start(bus_kind kind, std::string& why_not) {
  if (kind == bus_kind::kbusd) {
    private_bus bus;
    bus.kind_ = kind;
    auto embedded = std::make_shared<kbus::embedded_bus>();
    bus.address_ = embedded->address();
    bus.embedded_ = std::move(embedded);
    return std::optional<private_bus>(std::move(bus));
  }
  const char* program = kind == bus_kind::dbus_daemon ? "/usr/bin/dbus-daemon" : "/usr/bin/dbus-broker-launch";
  if (::access(program, X_OK) != 0) {
    why_not = std::string(program) + " is not installed";
    return std::nullopt;
  }
  char tmpl[] = "/tmp/kbus-bus-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    why_not = "mkdtemp failed";
    return std::nullopt;
  }
  private_bus bus;
  bus.kind_ = kind;
  bus.dir_ = tmpl;
  const std::string socket_path = bus.dir_ + "/bus";
  const std::string config_path = bus.dir_ + "/bus.conf";
  bus.address_ = "unix:path=" + socket_path;

  if (kind == bus_kind::dbus_daemon) {
    std::ofstream(config_path) << config("<listen>unix:path=" + socket_path + "</listen>");
    bus.pid_ = ::fork();
    if (bus.pid_ == 0) {
      ::execl(program, program, "--config-file", config_path.c_str(), "--nofork", "--nopidfile", nullptr);
      child_fail("exec dbus-daemon");
    }
  } else {
    std::ofstream(config_path) << config("");
    // dbus-broker-launch takes its listening socket as fd 3 (socket activation).
    const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 128) != 0) {
      why_not = std::string("cannot listen on ") + socket_path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    bus.pid_ = ::fork();
    if (bus.pid_ == 0) {
      // The launcher logs to the journal's datagram socket and exits without one: give it its
      // own, in a private mount namespace, so the host's /run is never touched.
      if (::unshare(CLONE_NEWNS) != 0) child_fail("unshare(CLONE_NEWNS)");
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail("make / private");
      if (::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0) child_fail("mount tmpfs on /run");
      ::mkdir("/run/systemd", 0755);
      ::mkdir("/run/systemd/journal", 0755);
      const int journal = ::socket(AF_UNIX, SOCK_DGRAM, 0);
      sockaddr_un jaddr{};
      jaddr.sun_family = AF_UNIX;
      std::strcpy(jaddr.sun_path, "/run/systemd/journal/socket");
      if (::bind(journal, reinterpret_cast<sockaddr*>(&jaddr), sizeof jaddr) != 0) child_fail("bind journal socket");
      if (::dup2(listener, 3) != 3) child_fail("dup2");
      const std::string pid = std::to_string(::getpid());
      ::setenv("LISTEN_FDS", "1", 1);
      ::setenv("LISTEN_PID", pid.c_str(), 1);
      ::setenv("DBUS_SESSION_BUS_ADDRESS", bus.address_.c_str(), 1);
      ::setenv("XDG_RUNTIME_DIR", bus.dir_.c_str(), 1);
      ::execl(program, program, "--scope", "user", "--config-file", config_path.c_str(), nullptr);
      child_fail("exec dbus-broker-launch");
    }
    ::close(listener);
  }
  if (bus.pid_ < 0) {
    why_not = "fork failed";
    return std::nullopt;
  }
  if (!wait_for_socket(socket_path, bus.pid_)) {
    why_not = std::string(to_string(kind)) + " did not start";
    return std::nullopt;
  }
  return std::optional<private_bus>(std::move(bus));
}

private_bus::private_bus(private_bus&& o) noexcept
    : kind_(o.kind_),
      dir_(std::move(o.dir_)),
      address_(std::move(o.address_)),
      pid_(std::exchange(o.pid_, -1)),
      embedded_(std::move(o.embedded_)) {
  o.dir_.clear();
}

void private_bus::kill() {
  // kbusd in this process: the bus ends with its object, and its connections see it go.
  embedded_.reset();
  if (pid_ > 0) {
    // dbus-broker-launch runs the broker as its child, in its process group.
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

private_bus::~private_bus() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill();
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace kbus::test
