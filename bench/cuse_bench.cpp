// kbusd over CUSE beside dbus-daemon and dbus-broker, all in the same machine: scripts/bench runs
// this program in scripts/vm's VM (one boot), whose kernel has CUSE and where kbusd serves the
// session bus. kbus is the client and the Echo server on every bus, so that only the bus differs.
//
//   cuse/sync_64B/<impl>    one blocking Echo(s) with 64 bytes, the reply checked
//   cuse/fanout_10/<impl>   one signal, done when all 10 subscribers got it
//
// <impl> is the bus: kbusd (at $KBUS_BENCH_KBUSD_ADDRESS, by default the one scripts/vm starts,
// cuse:path=/dev/kbus/<uid>-user), dbus-daemon and dbus-broker (private ones, started here).
// Times are wall-clock (UseRealTime). A wrong reply ends the benchmark with an error and the
// program with exit code 1; so does a bus that cannot be reached.
#include "bus_env.hpp"
#include "guarded.hpp"
#include "peers.hpp"

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using kbus_bench::guarded;
using kbus_bench::peer;

constexpr int subscribers = 10;

std::string kbusd_address() {
  if (const char* a = std::getenv("KBUS_BENCH_KBUSD_ADDRESS"); a && *a) return a;
  return "cuse:path=/dev/kbus/" + std::to_string(::getuid()) + "-user";
}

void sync_call(benchmark::State& state, peer* p, std::string address, std::string service) {
  guarded(state, [&] {
    const std::string s(64, 'k');
    auto c = p->make_caller(address, service);
    c->echo(s);
    for (auto _ : state) c->echo(s);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.size()));
  });
}

void fanout(benchmark::State& state, peer* p, std::string address) {
  guarded(state, [&] {
    // Google Benchmark calls this several times while it finds the iteration count: each
    // call has its own subscribers, gone before the next call's connect.
    auto f = p->make_fanout(address, subscribers);
    std::uint32_t seq = 1;
    f->emit_and_wait(seq++);
    for (auto _ : state) f->emit_and_wait(seq++);
    state.SetItemsProcessed(state.iterations() * subscribers);
  });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const auto kbus = kbus_bench::make_kbus_peer();
  const kbus_bench::echo_server server{kbus.get(), kbus_bench::own_echo_service(*kbus)};
  std::vector<kbus_bench::bench_bus> buses;
  std::vector<std::pair<std::string, std::string>> impls;  // impl, address
  pid_t kbusd_server = -1;
  try {
    buses = kbus_bench::start_buses({kbus::test::bus_kind::dbus_daemon, kbus::test::bus_kind::dbus_broker}, {server});
    impls.emplace_back("kbusd", kbusd_address());
    kbusd_server = kbus_bench::start_echo_server(server, impls.back().second);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot start the buses: %s\n", e.what());
    kbus_bench::stop_servers(buses);
    return 1;
  }
  for (const auto& b : buses) impls.emplace_back(b.label == "daemon" ? "dbus-daemon" : "dbus-broker", b.address());

  for (const auto& [impl, address] : impls)
    benchmark::RegisterBenchmark(("cuse/sync_64B/" + impl).c_str(), sync_call, kbus.get(), address, server.service)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  for (const auto& [impl, address] : impls)
    benchmark::RegisterBenchmark(("cuse/fanout_10/" + impl).c_str(), fanout, kbus.get(), address)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  ::kill(kbusd_server, SIGTERM);
  ::waitpid(kbusd_server, nullptr, 0);
  kbus_bench::stop_servers(buses);
  return kbus_bench::exit_code();
}
