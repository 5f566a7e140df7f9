// The buses of the bus benchmarks: a private dbus-broker and a private dbus-daemon (the tests'
// fixture), each with the Echo server (kbus_bench_echo_server, beside the benchmark) on it.
#pragma once

#include "support/bus_fixture.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kbus_bench {

struct bench_bus {
  std::string label;  // "broker" or "daemon": the benchmark names use these
  std::optional<kbus::test::private_bus> bus;
  pid_t server = -1;
  const std::string& address() const { return bus->address(); }
};

// Starts the buses of `kinds`, each with an Echo server when `with_server`. Call it before any
// thread exists: it forks. Throws std::runtime_error when a bus or server does not start.
std::vector<bench_bus> start_buses(const std::vector<kbus::test::bus_kind>& kinds, bool with_server);
// Stops the Echo servers (the buses stop with their objects).
void stop_servers(std::vector<bench_bus>& buses);

}  // namespace kbus_bench
