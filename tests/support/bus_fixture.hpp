// A private message bus for tests: dbus-daemon or dbus-broker on a socket in a temporary
// folder, stopped when the object dies.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>

namespace kbus::test {

// kbusd: kbusd's core in this process (kbus::embedded_bus), reached over the kdbus transport.
// cuse: the kbusd program serving a bus through the kernel's CUSE, reached over the cuse:
// transport (where /dev/cuse exists: the VM suite). cuse_emulated: kbusd's device server in this
// process behind the same client, its CUSE requests made in this process (the protocol, on a
// host without CUSE).
enum class bus_kind { dbus_daemon, dbus_broker, kbusd, cuse, cuse_emulated };
const char* to_string(bus_kind k);
// A program of this project: $KBUS_PROGRAM_<NAME> (upper case, '-' as '_'), the build tree's
// tools/<name>, or the one on PATH (in the VM).
std::optional<std::string> built_program(const std::string& name);
// Whether clients speak kdbus to the bus (kbusd, in this process or over CUSE), and the
// transport their connection_info names.
bool speaks_kdbus(bus_kind k);
const char* transport_of(bus_kind k);
// The names gtest gives a bus parameter.
std::string param_name(bus_kind k);

class private_bus {
 public:
  // Why this machine cannot run such a bus (its program is not installed), or nullopt.
  static std::optional<std::string> why_unavailable(bus_kind kind);
  // The bus, ready for clients, or nullopt with the reason in `why_not`: the bus is unavailable,
  // or it did not start within startup_deadline (support/deadlines.hpp).
  static std::optional<private_bus> start(bus_kind kind, std::string& why_not);
  // kbusd over CUSE with a policy file (kbusd --policy).
  static std::optional<private_bus> start_cuse(const std::string& policy_file, std::string& why_not);

  private_bus(private_bus&& o) noexcept;
  private_bus& operator=(private_bus&&) = delete;
  ~private_bus();

  const std::string& address() const noexcept { return address_; }
  bus_kind kind() const noexcept { return kind_; }
  // The bus's process (dbus-broker's launcher, with the broker below it), or -1 where the bus
  // lives in this process.
  pid_t pid() const noexcept { return pid_; }
  // Ends the bus at once, as a crash would: SIGKILL, or kbusd's bus object destroyed.
  void kill();
  // Stops the bus's processes (SIGSTOP), so that it reads nothing from its clients, and lets
  // them go on (SIGCONT). False where the bus is no process of its own (kbusd in this process).
  bool pause();
  bool resume();
  // kbusd over CUSE, killed: the same bus at the same address again.
  bool restart(std::string& why_not);

 private:
  private_bus() = default;
  bus_kind kind_ = bus_kind::dbus_daemon;
  std::string dir_;
  std::string address_;
  pid_t pid_ = -1;
  std::shared_ptr<void> embedded_;  // kbusd's bus, for bus_kind::kbusd and cuse_emulated
  std::string cuse_name_;           // kbusd's --bus and --policy, for bus_kind::cuse
  std::string cuse_policy_;
};

}  // namespace kbus::test
