// The buses of the bus benchmarks: a private dbus-broker and a private dbus-daemon (the tests'
// fixture), each with the Echo servers the benchmarks call, one process each.
#pragma once

#include "peers.hpp"
#include "support/bus_fixture.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kbus_bench {

// An Echo server to start on every bus: `library`'s serve_echo, owning `service`.
struct echo_server {
  peer* library;
  std::string service;
};

struct bench_bus {
  std::string label;  // "broker" or "daemon": the benchmark names use these
  std::optional<kbus::test::private_bus> bus;
  std::vector<pid_t> servers;
  const std::string& address() const { return bus->address(); }
};

// Forks a child that serves `s` on the bus at `address`; returns once it owns its name. Throws
// std::runtime_error when it does not start.
pid_t start_echo_server(const echo_server& s, const std::string& address);
// Starts the buses of `kinds`, each with `servers` on it. Call it before any thread exists: it
// forks, and each server runs in a child of this process. Throws std::runtime_error when a bus
// or server does not start.
std::vector<bench_bus> start_buses(const std::vector<kbus::test::bus_kind>& kinds, const std::vector<echo_server>& servers);
// Stops the Echo servers (the buses stop with their objects).
void stop_servers(std::vector<bench_bus>& buses);

}  // namespace kbus_bench
