#include "support/bus_fixture.hpp"
#include "support/deadlines.hpp"
#include "support/readable.hpp"
#include "support/terminate_child.hpp"

#include "kbus_config.hpp"
#if KBUS_WITH_KDBUS
#include "kbus/embedded_bus.hpp"
#endif
#ifdef KBUS_TEST_WITH_KBUSD
#include "support/emulated_cuse.hpp"
#endif

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>
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

// Reads one line from `fd` (the bus's end of a pipe or socket), without its newline; nullopt at
// the end of the stream or when `deadline` passes first.
std::optional<std::string> read_line_before(int fd, std::chrono::steady_clock::time_point deadline) {
  std::string line;
  while (readable_before(fd, deadline)) {
    char ch;
    const ssize_t n = ::read(fd, &ch, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (ch == '\n') return line;
    line += ch;
  }
  return std::nullopt;
}

// dbus-daemon prints its address on the --print-address descriptor once it listens.
std::optional<std::string> wait_for_printed_address(int fd) {
  return read_line_before(fd, std::chrono::steady_clock::now() + startup_deadline);
}

// dbus-broker's socket is bound and listening before the broker runs (socket activation), so
// a connect() alone proves nothing: the broker is ready once it answers authentication.
bool answers_authentication(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (ok) {
    // EXTERNAL with our uid, hex-encoded as the SASL profile of D-Bus wants it.
    std::string request("\0AUTH EXTERNAL ", 15);
    for (char digit : std::to_string(::geteuid())) {
      static constexpr char hex[] = "0123456789abcdef";
      request += hex[static_cast<unsigned char>(digit) >> 4];
      request += hex[static_cast<unsigned char>(digit) & 0xf];
    }
    request += "\r\n";
    ok = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    const auto reply = ok ? read_line_before(fd, std::chrono::steady_clock::now() + startup_deadline) : std::nullopt;
    ok = reply && reply->starts_with("OK ");
  }
  ::close(fd);
  return ok;
}

[[noreturn]] void child_fail(const char* what) {
  std::fprintf(stderr, "bus fixture: %s: %s\n", what, std::strerror(errno));
  ::_exit(127);
}

const char* program_of(bus_kind kind) {
  return kind == bus_kind::dbus_daemon ? "/usr/bin/dbus-daemon" : "/usr/bin/dbus-broker-launch";
}

// kbusd in front, its log on a pipe: ready once it says it serves the bus (or gone).
std::optional<private_bus> start_kbusd(private_bus& bus, pid_t& pid, std::string& address, const std::string& name,
                                       const std::string& policy, std::string& why_not) {
  const auto program = built_program("kbusd");
  if (!program) {
    why_not = "no kbusd program (build it, or put it on PATH)";
    return std::nullopt;
  }
  address = "cuse:path=/dev/kbus/" + std::to_string(::getuid()) + "-" + name;
  int log[2];
  if (::pipe2(log, O_CLOEXEC) != 0) {
    why_not = std::string("pipe failed: ") + std::strerror(errno);
    return std::nullopt;
  }
  pid = ::fork();
  if (pid == 0) {
    if (::dup2(log[1], 2) != 2) child_fail("put kbusd's log on a pipe");
    if (policy.empty())
      ::execl(program->c_str(), program->c_str(), "--bus", name.c_str(), "--foreground", nullptr);
    else
      ::execl(program->c_str(), program->c_str(), "--bus", name.c_str(), "--foreground", "--policy", policy.c_str(), nullptr);
    child_fail("exec kbusd");
  }
  ::close(log[1]);
  if (pid < 0) {
    ::close(log[0]);
    why_not = "fork failed";
    return std::nullopt;
  }
  std::string said;
  const auto until = std::chrono::steady_clock::now() + startup_deadline;
  for (;;) {
    auto line = read_line_before(log[0], until);
    if (!line) break;
    said += *line + "\n";
    if (line->find("serving the bus") != std::string::npos) {
      ::close(log[0]);
      return std::optional<private_bus>(std::move(bus));
    }
  }
  ::close(log[0]);
  why_not = "kbusd did not start within " + std::to_string(startup_deadline.count()) + " s: " + said;
  return std::nullopt;
}

}  // namespace

const char* to_string(bus_kind k) {
  switch (k) {
    case bus_kind::dbus_daemon: return "dbus-daemon";
    case bus_kind::dbus_broker: return "dbus-broker";
    case bus_kind::kbusd: return "kbusd";
    case bus_kind::cuse: return "kbusd over CUSE";
    case bus_kind::cuse_emulated: return "kbusd's device, CUSE emulated";
  }
  return "?";
}

std::optional<std::string> built_program(const std::string& name) {
  const std::string env_name = "KBUS_PROGRAM_" + name;
  std::string key;
  for (char c : env_name) key += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (const char* env = std::getenv(key.c_str()); env && *env) return std::string(env);
  const std::string built = std::string(KBUS_BINARY_DIR) + "/tools/" + name;
  if (::access(built.c_str(), X_OK) == 0) return built;
  if (const char* path = std::getenv("PATH")) {
    const std::string dirs = path;
    for (std::size_t start = 0; start <= dirs.size();) {
      const std::size_t end = std::min(dirs.find(':', start), dirs.size());
      const std::string candidate = dirs.substr(start, end - start) + "/" + name;
      if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return std::nullopt;
}

std::optional<private_bus> private_bus::start_cuse(const std::string& policy_file, std::string& why_not) {
  if (auto why = why_unavailable(bus_kind::cuse)) {
    why_not = *why;
    return std::nullopt;
  }
  static std::atomic<unsigned> counter{0};
  private_bus bus;
  bus.kind_ = bus_kind::cuse;
  bus.cuse_name_ = "test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  bus.cuse_policy_ = policy_file;
  return start_kbusd(bus, bus.pid_, bus.address_, bus.cuse_name_, bus.cuse_policy_, why_not);
}

bool private_bus::restart(std::string& why_not) {
  if (kind_ != bus_kind::cuse || pid_ > 0) {
    why_not = "only a killed kbusd over CUSE starts again";
    return false;
  }
  private_bus again;
  if (!start_kbusd(again, pid_, address_, cuse_name_, cuse_policy_, why_not)) return false;
  return true;
}

bool speaks_kdbus(bus_kind k) { return k == bus_kind::kbusd || k == bus_kind::cuse || k == bus_kind::cuse_emulated; }

const char* transport_of(bus_kind k) {
  if (k == bus_kind::kbusd) return "kernel";
  return speaks_kdbus(k) ? "cuse" : "unix";
}

std::string param_name(bus_kind k) {
  switch (k) {
    case bus_kind::dbus_daemon: return "dbus_daemon";
    case bus_kind::dbus_broker: return "dbus_broker";
    case bus_kind::kbusd: return "kbusd";
    case bus_kind::cuse: return "cuse";
    case bus_kind::cuse_emulated: return "cuse_emulated";
  }
  return "unknown";
}

std::optional<std::string> private_bus::why_unavailable(bus_kind kind) {
  if (kind == bus_kind::kbusd) {
    if (!KBUS_WITH_KDBUS) return std::string("kbusd's in-process bus is not built in (KBUS_WITH_KDBUS=OFF)");
    return std::nullopt;
  }
  if (kind == bus_kind::cuse_emulated) {
#ifdef KBUS_TEST_WITH_KBUSD
    return std::nullopt;
#else
    return std::string("kbusd is not built (KBUS_WITH_KBUSD)");
#endif
  }
  if (kind == bus_kind::cuse) {
    if (::access("/dev/cuse", R_OK | W_OK) != 0)
      return std::string("this kernel has no /dev/cuse we may use: kbusd over CUSE is tested in the VM (scripts/vm)");
    if (!built_program("kbusd")) return std::string("no kbusd program (build it, or put it on PATH)");
    return std::nullopt;
  }
  if (::access(program_of(kind), X_OK) != 0) return std::string(program_of(kind)) + " is not installed";
  return std::nullopt;
}

std::optional<private_bus> private_bus::start(bus_kind kind, std::string& why_not) {
#if KBUS_WITH_KDBUS
  if (kind == bus_kind::kbusd) {
    private_bus bus;
    bus.kind_ = kind;
    auto embedded = std::make_shared<kbus::embedded_bus>();
    bus.address_ = embedded->address();
    bus.embedded_ = std::move(embedded);
    return std::optional<private_bus>(std::move(bus));
  }
#endif
  if (kind == bus_kind::cuse_emulated) {
#ifdef KBUS_TEST_WITH_KBUSD
    private_bus bus;
    bus.kind_ = kind;
    kbusd::server_options options;
    static std::atomic<unsigned> counter{0};
    options.bus_name = std::to_string(::geteuid()) + "-emulated-" + std::to_string(counter++);
    auto device = std::make_shared<emulated_cuse>(std::move(options));
    bus.address_ = device->address();
    bus.embedded_ = std::move(device);
    return std::optional<private_bus>(std::move(bus));
#else
    why_not = "kbusd is not built (KBUS_WITH_KBUSD)";
    return std::nullopt;
#endif
  }
  if (kind == bus_kind::cuse) {
    if (auto why = why_unavailable(kind)) {
      why_not = *why;
      return std::nullopt;
    }
    return start_cuse("", why_not);
  }
  if (auto why = why_unavailable(kind)) {
    why_not = *why;
    return std::nullopt;
  }
  const char* program = program_of(kind);
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

  // dbus-daemon prints its address here once it listens.
  int address_pipe[2] = {-1, -1};
  if (kind == bus_kind::dbus_daemon) {
    std::ofstream(config_path) << config("<listen>unix:path=" + socket_path + "</listen>");
    if (::pipe2(address_pipe, O_CLOEXEC) != 0) {
      why_not = std::string("pipe failed: ") + std::strerror(errno);
      return std::nullopt;
    }
    bus.pid_ = ::fork();
    if (bus.pid_ == 0) {
      // Onto fd 3 without close-on-exec (dup2 leaves a descriptor that is already 3 as it is).
      const bool on_3 = address_pipe[1] == 3 ? ::fcntl(3, F_SETFD, 0) == 0 : ::dup2(address_pipe[1], 3) == 3;
      if (!on_3) child_fail("put the address pipe on fd 3");
      ::execl(program, program, "--config-file", config_path.c_str(), "--nofork", "--nopidfile", "--print-address=3",
              nullptr);
      child_fail("exec dbus-daemon");
    }
    ::close(address_pipe[1]);
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
    if (address_pipe[0] >= 0) ::close(address_pipe[0]);
    why_not = "fork failed";
    return std::nullopt;
  }
  const std::string limit = " within " + std::to_string(startup_deadline.count()) + " s";
  if (kind == bus_kind::dbus_daemon) {
    const auto printed = wait_for_printed_address(address_pipe[0]);
    ::close(address_pipe[0]);
    if (!printed) {
      why_not = "dbus-daemon did not print its address" + limit + " (it exited, or hangs)";
      return std::nullopt;
    }
  } else if (!answers_authentication(socket_path)) {
    why_not = "dbus-broker did not answer authentication on " + socket_path + limit + " (it exited, or hangs)";
    return std::nullopt;
  }
  return std::optional<private_bus>(std::move(bus));
}

private_bus::private_bus(private_bus&& o) noexcept
    : kind_(o.kind_),
      dir_(std::move(o.dir_)),
      address_(std::move(o.address_)),
      pid_(std::exchange(o.pid_, -1)),
      embedded_(std::move(o.embedded_)),
      cuse_name_(std::move(o.cuse_name_)),
      cuse_policy_(std::move(o.cuse_policy_)) {
  o.dir_.clear();
}

namespace {
// A process and its children (dbus-broker-launch runs the broker as its child).
std::vector<pid_t> process_and_children(pid_t pid) {
  std::vector<pid_t> all{pid};
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  for (pid_t child; children >> child;) all.push_back(child);
  return all;
}
}  // namespace

void private_bus::kill() {
  // kbusd in this process: the bus ends with its object, and its connections see it go.
  embedded_.reset();
  if (pid_ > 0) {
    // dbus-broker-launch runs the broker as its child: both go (a paused child would not
    // notice its launcher's end).
    for (pid_t p : process_and_children(pid_)) ::kill(p, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

bool private_bus::pause() {
  if (pid_ <= 0) return false;
  for (pid_t p : process_and_children(pid_)) ::kill(p, SIGSTOP);
  return true;
}

bool private_bus::resume() {
  if (pid_ <= 0) return false;
  for (pid_t p : process_and_children(pid_)) ::kill(p, SIGCONT);
  return true;
}

private_bus::~private_bus() {
  resume();  // a paused bus would not hear that it must end
  terminate_child(std::exchange(pid_, -1));
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace kbus::test
