// kbusd's device server on its own (no CUSE, no client): the requests every message costs it,
// on one of N open files. Each lookup of a file (by its handle, and by the core's id for a
// wakeup) is what kbusd's tables are measured by.
//
//   device_server/poll/<N>    POLL (answer_poll) and a read that finds nothing, on one of N files
//   device_server/wakeup/<N>  take_wakeups after a POLL told a file that nothing waits
//
// The files are visited in a scattered order so that neighbours in memory do not help.
#include "kbusd/device_server.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using kbus::kbusd::device_server;

kbus::kbusd::caller me() {
  return {static_cast<std::uint32_t>(::getuid()), static_cast<std::uint32_t>(::getgid()),
          static_cast<std::uint32_t>(::gettid())};
}

struct opened {
  device_server server;
  std::vector<device_server::handle> files;

  explicit opened(int n) : server(options()) {
    for (int i = 0; i < n; ++i) {
      device_server::handle h = 0;
      if (server.open(me(), h) != 0) throw std::runtime_error("open failed");
      files.push_back(h);
    }
  }
  static kbus::kbusd::server_options options() {
    static int counter = 0;
    kbus::kbusd::server_options o;
    o.bus_name = std::to_string(::geteuid()) + "-device-server-bench-" + std::to_string(counter++);
    return o;
  }
  // Steps through every file, scattered (a stride coprime to the count).
  device_server::handle next(std::size_t& at) const {
    at = (at + 7919) % files.size();
    return files[at];
  }
};

void poll_and_read(benchmark::State& state) {
  opened o(static_cast<int>(state.range(0)));
  const auto who = me();
  std::vector<std::uint8_t> out;
  std::size_t at = 0;
  for (auto _ : state) {
    const auto h = o.next(at);
    benchmark::DoNotOptimize(o.server.answer_poll(h));
    benchmark::DoNotOptimize(o.server.read(h, 4096, who, out));
  }
  state.SetItemsProcessed(state.iterations());
}

void wakeup(benchmark::State& state) {
  opened o(static_cast<int>(state.range(0)));
  std::size_t at = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(o.server.answer_poll(o.next(at)));
    benchmark::DoNotOptimize(o.server.take_wakeups());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(poll_and_read)->Name("device_server/poll")->Arg(10)->Arg(1000);
BENCHMARK(wakeup)->Name("device_server/wakeup")->Arg(10)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
