// CPU time (user + system) per operation of each process in a bus workload, beside the wall
// time: the benchmark process (the client, and the fan-out's subscribers, which live in it),
// the Echo server, and the bus daemon with its children (dbus-broker runs under its launcher).
// On two cores the bus often bounds throughput; CPU per operation is each side's own cost.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <sys/types.h>

namespace kbus_bench {

// The CPU time the process `pid` and every process below it have used, in ns, from
// /proc/PID/stat (clock ticks, 10 ms each on Linux: over a benchmark run of a second the error
// is about a percent of a busy process's time). -1 when /proc cannot say.
std::int64_t process_tree_cpu_ns(pid_t pid);
// This process's CPU time in ns (getrusage, microseconds).
std::int64_t own_cpu_ns();

// Read before a timed loop, reported after it: counters cpu_client_ns, cpu_server_ns and
// cpu_bus_ns, each per operation (a server or bus of -1 is left out).
class cpu_meter {
 public:
  cpu_meter(pid_t server, pid_t bus);
  void report(benchmark::State& state, std::int64_t operations) const;

 private:
  pid_t server_;
  pid_t bus_;
  std::int64_t client_start_;
  std::int64_t server_start_;
  std::int64_t bus_start_;
};

}  // namespace kbus_bench
