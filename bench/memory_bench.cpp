// Memory of a client: heap bytes (mallinfo2, every arena) and resident bytes per idle bus
// connection and per match subscription, over 100 of each, kbus beside the other clients.
//
//   memory/idle_connection/<impl>   100 more connections (Hello done) beside one already open
//   memory/subscription/<impl>      100 match rules on one connection, each confirmed by the bus
//
// Counters: bytes (heap per item), rss_bytes (resident per item), ns_per_item (time to open one
// connection or add one confirmed match, in the batch), peak_rss_kib (the process's peak resident
// size: run one benchmark per process, as scripts/bench does, for it to mean that client alone).
#include "bus_env.hpp"
#include "guarded.hpp"
#include "peers.hpp"

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace {

using kbus_bench::guarded;
using kbus_bench::peer;

constexpr int items = 100;

struct sample {
  double heap;
  double rss;
};
sample take_sample() {
  const struct mallinfo2 mi = ::mallinfo2();
  long pages_total = 0, pages_resident = 0;
  std::ifstream("/proc/self/statm") >> pages_total >> pages_resident;
  return {static_cast<double>(mi.uordblks + mi.hblkhd), static_cast<double>(pages_resident) * ::sysconf(_SC_PAGESIZE)};
}
double peak_rss_kib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss);
}

// Made just before the work measured (heap, resident size, time); finish() just after it, while
// what the work made is still alive, sets the counters per item.
struct measurement {
  sample before = take_sample();
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  void finish(benchmark::State& state) const {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    const sample after = take_sample();
    state.counters["ns_per_item"] = took.count() * 1e9 / items;
    state.counters["bytes"] = (after.heap - before.heap) / items;
    state.counters["rss_bytes"] = (after.rss - before.rss) / items;
    state.counters["peak_rss_kib"] = peak_rss_kib();
  }
};

void idle_connection(benchmark::State& state, peer* p, std::string address) {
  guarded(state, [&] {
    for (auto _ : state) {
      // One connection first, so that what a library sets up once is not counted.
      auto first = p->open_connections(address, 1);
      const measurement m;
      auto more = p->open_connections(address, items);
      m.finish(state);
    }
  });
}

void subscription(benchmark::State& state, peer* p, std::string address) {
  guarded(state, [&] {
    for (auto _ : state) {
      auto conn = p->open_connections(address, 1);
      const measurement m;
      conn->add_matches(items);
      m.finish(state);
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  // GLib's slice allocator would hide GDBus's allocations from mallinfo2.
  ::setenv("G_SLICE", "always-malloc", 1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::vector<kbus_bench::bench_bus> buses;
  try {
    buses = kbus_bench::start_buses({kbus::test::bus_kind::dbus_broker}, {});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot start the bus: %s\n", e.what());
    return 1;
  }
  const auto peers = kbus_bench::all_peers();
  const std::string address = buses.front().address();
  for (const auto& p : peers)
    benchmark::RegisterBenchmark((std::string("memory/idle_connection/") + p->name()).c_str(), idle_connection, p.get(),
                                 address)
        ->Iterations(1);
  for (const auto& p : peers)
    benchmark::RegisterBenchmark((std::string("memory/subscription/") + p->name()).c_str(), subscription, p.get(),
                                 address)
        ->Iterations(1);

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return kbus_bench::exit_code();
}
