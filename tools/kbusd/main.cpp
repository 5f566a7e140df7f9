// kbusd: a kdbus bus in userland, served as a character device through CUSE
// (`kbusd --bus NAME [--device PATH] [--policy FILE] [--foreground]`). Clients reach it with a
// "cuse:path=/dev/kbus/<uid>-<name>" address.
#include "kbusd/cuse_session.hpp"
#include "kbusd/device_server.hpp"
#include "kbusd/policy_file.hpp"
#include "log.hpp"
#include "privileges.hpp"

#include <absl/flags/flag.h>
#include <absl/flags/parse.h>
#include <absl/flags/usage.h>
#include <absl/flags/usage_config.h>
#include <absl/strings/match.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

ABSL_FLAG(std::string, bus, "", "the bus's name: kbusd serves the bus <uid>-NAME, <uid> being the caller's");
ABSL_FLAG(std::string, device, "", "the device to serve it as, under /dev (default /dev/kbus/<uid>-NAME)");
ABSL_FLAG(std::string, policy, "", "a JSON file: who may own, talk to and see which names (docs/kbusd.md)");
ABSL_FLAG(bool, foreground, false, "stay in front and log to stderr, instead of going to the background once ready");
ABSL_FLAG(std::string, user, "",
          "the user whose bus it is: the bus is <uid>-NAME with that user's uid, and kbusd serves as that user once the "
          "device exists (started as root without --user: root's bus, served as nobody)");
ABSL_FLAG(bool, debug, false, "log every CUSE request (libfuse's debug output)");

namespace {

constexpr std::string_view dev_prefix = "/dev/";
// How long the device node may take to appear after CUSE registered it (udev, not devtmpfs).
constexpr auto device_node_wait = std::chrono::seconds(5);

struct settings {
  std::string bus;
  std::string device;
  std::string devname;
};

// Who kbusd serves as once root's powers go.
constexpr const char* unprivileged_user = "nobody";

// The uid a bus belongs to: --user's, or the caller's.
unsigned bus_uid() {
  const std::string user = absl::GetFlag(FLAGS_user);
  if (user.empty()) return getuid();
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) throw std::invalid_argument("--user: no user named '" + user + "'");
  return pw->pw_uid;
}

settings read_settings() {
  settings s;
  const std::string name = absl::GetFlag(FLAGS_bus);
  if (name.empty()) throw std::invalid_argument("--bus NAME is required (kbusd --help)");
  s.bus = std::to_string(bus_uid()) + "-" + name;
  s.device = absl::GetFlag(FLAGS_device);
  if (s.device.empty()) s.device = std::string(dev_prefix) + "kbus/" + s.bus;
  if (s.device.rfind(dev_prefix, 0) != 0 || s.device.size() == dev_prefix.size())
    throw std::invalid_argument("--device must be a path under /dev, not '" + s.device + "'");
  s.devname = s.device.substr(dev_prefix.size());
  return s;
}

// Once CUSE made the device: anyone may open it (the bus policy says what they may do, as
// with kdbus's world-accessible bus files), then root's powers go.
void make_reachable(const std::string& device) {
  struct stat st {};
  const auto until = std::chrono::steady_clock::now() + device_node_wait;
  while (::stat(device.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() > until) throw std::runtime_error(device + " did not appear");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (geteuid() == 0 && ::chmod(device.c_str(), 0666) != 0)
    throw std::runtime_error("chmod " + device + ": " + std::strerror(errno));
  const std::string user = absl::GetFlag(FLAGS_user);
  kbusd_privileges::drop_to(user.empty() ? unprivileged_user : user);
}

// Without --foreground: the parent returns once the device is ready (exit 0) or kbusd failed
// (exit 1); the child serves on in a session of its own. The pipe carries one byte: ready.
int ready_pipe[2] = {-1, -1};

void go_to_background() {
  if (::pipe2(ready_pipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (child > 0) {
    ::close(ready_pipe[1]);
    char byte = 0;
    ssize_t n;
    do n = ::read(ready_pipe[0], &byte, 1);
    while (n < 0 && errno == EINTR);
    std::_Exit(n == 1 ? 0 : 1);
  }
  ::close(ready_pipe[0]);
  ::setsid();
}

void say_ready() {
  if (ready_pipe[1] < 0) return;
  const char byte = 1;
  [[maybe_unused]] auto n = ::write(ready_pipe[1], &byte, 1);
  ::close(ready_pipe[1]);
  ready_pipe[1] = -1;
  // Nothing is left to say on the terminal that started us.
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::close(null);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "serves a kdbus bus in userland through CUSE.\n\n"
      "Usage: kbusd --bus NAME [--device PATH] [--policy FILE] [--foreground]\n\n"
      "Clients connect with the address cuse:path=/dev/kbus/<uid>-NAME.");
  // --help lists the flags of this file (absl lists only those of files named after the program).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) { return absl::EndsWith(file, "tools/kbusd/main.cpp"); };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  const auto rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    kbusd_log::error("unexpected argument '%s' (kbusd --help)", rest[1]);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  try {
    const settings s = read_settings();
    kbus::kbusd::server_options options;
    options.bus_name = s.bus;
    if (const std::string file = absl::GetFlag(FLAGS_policy); !file.empty()) {
      auto policy = kbus::kbusd::load_policy_file(file);
      if (!policy) {
        kbusd_log::error("%s", policy.error().message);
        return 2;
      }
      options.policy = std::move(*policy);
    }
    if (!absl::GetFlag(FLAGS_foreground)) go_to_background();
    kbus::kbusd::device_server server(std::move(options));
    kbus::kbusd::session_options session;
    session.devname = s.devname;
    session.debug = absl::GetFlag(FLAGS_debug);
    session.on_ready = [&] {
      make_reachable(s.device);
      kbusd_log::info("serving the bus %s at %s (address cuse:path=%s)", s.bus, s.device, s.device);
      say_ready();
    };
    std::string why;
    const int status = kbus::kbusd::serve_cuse(server, session, why);
    if (status != 0) kbusd_log::error("%s", why);
    return status;
  } catch (const std::exception& e) {
    kbusd_log::error("%s", e.what());
    return 1;
  }
}
