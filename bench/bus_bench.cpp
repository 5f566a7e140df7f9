// Calls, signals and connections through a private dbus-broker and a private dbus-daemon,
// kbus beside sd-bus, sdbus-c++, libdbus and GDBus:
//
//   call/sync_64B/<bus>/<impl>        one blocking Echo(s) with 64 bytes, the reply checked
//   call/sync_64KiB/<bus>/<impl>      the same with 64 KiB
//   call/pipelined_64B/<bus>/<impl>   10,000 Echo calls, at most 128 in flight (time per call);
//                                     also impl "bare" (bare_client.hpp): the least a client can do
//   call/pipelined_64B_own_server/<bus>/<impl>
//                                     the same, each library calling an Echo server written
//                                     with itself: both ends of the call
//   signal/fanout_<N>/<bus>/<impl>    one signal, done when all N subscribers got it
//   connect/<bus>/<impl>              connect, authenticate, Hello, close
//
// Every client but those of pipelined_64B_own_server calls the same Echo server, written with
// sd-bus. Times are wall-clock (UseRealTime): the work is spread over the client, the bus and
// the server. A wrong reply ends the benchmark with an error and the program with exit code 1.
#include "bare_client.hpp"
#include "bus_env.hpp"
#include "guarded.hpp"
#include "peers.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>

namespace {

using kbus_bench::guarded;
using kbus_bench::peer;

std::string payload(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

constexpr int pipelined_calls = 10000;
constexpr int pipelined_window = 128;

// Google Benchmark calls a benchmark several times in a row while it finds the iteration count:
// the last fan-out set-up (up to 101 connections) is kept for the next call of the same one.
struct fanout_cache {
  std::string key;
  std::unique_ptr<kbus_bench::fanout> f;
  std::uint32_t seq = 1;
} last_fanout;

// Other benchmarks run with no fan-out connections left on the bus.
void drop_fanout() {
  last_fanout.f.reset();
  last_fanout.key.clear();
}

void sync_call(benchmark::State& state, peer* p, std::string address, std::size_t size) {
  drop_fanout();
  guarded(state, [&] {
    const std::string s = payload(size);
    auto c = p->make_caller(address, kbus_bench::echo_name);
    c->echo(s);
    for (auto _ : state) c->echo(s);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  });
}

// `c` answers the warm-up call, then makes the timed rounds.
void time_pipelined(benchmark::State& state, kbus_bench::caller& c) {
  const std::string s = payload(64);
  c.echo(s);
  for (auto _ : state) c.pipelined(s, pipelined_calls, pipelined_window);
  state.SetItemsProcessed(state.iterations() * pipelined_calls);
  state.counters["calls"] = pipelined_calls;
}

// `service`: the common Echo server, or the peer's own.
void pipelined_call(benchmark::State& state, peer* p, std::string address, std::string service) {
  drop_fanout();
  guarded(state, [&] { time_pipelined(state, *p->make_caller(address, service)); });
}

// The same workload for the bare client: how much of the throughput is left to any client.
void bare_pipelined_call(benchmark::State& state, std::string address) {
  drop_fanout();
  guarded(state, [&] {
    kbus_bench::bare_caller c(address);
    time_pipelined(state, c);
  });
}

void fanout(benchmark::State& state, peer* p, std::string address, int subscribers) {
  guarded(state, [&] {
    const std::string key = std::string(p->name()) + " " + address + " " + std::to_string(subscribers);
    if (last_fanout.key != key || !last_fanout.f) {
      drop_fanout();  // its connections close before the next ones open
      last_fanout.f = p->make_fanout(address, subscribers);
      last_fanout.key = key;
      last_fanout.f->emit_and_wait(last_fanout.seq++);
    }
    auto& f = *last_fanout.f;
    try {
      for (auto _ : state) f.emit_and_wait(last_fanout.seq++);
    } catch (...) {
      drop_fanout();
      throw;
    }
    state.SetItemsProcessed(state.iterations() * subscribers);
  });
}

void connect(benchmark::State& state, peer* p, std::string address) {
  drop_fanout();
  guarded(state, [&] {
    p->connect_once(address);
    for (auto _ : state) p->connect_once(address);
  });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const auto peers = kbus_bench::all_peers();
  // sd-bus's Echo server for every client, and each library's own.
  const auto common_server = kbus_bench::make_sdbus_peer();
  std::vector<kbus_bench::echo_server> servers{{common_server.get(), kbus_bench::echo_name}};
  for (const auto& p : peers) servers.push_back({p.get(), kbus_bench::own_echo_service(*p)});
  std::vector<kbus_bench::bench_bus> buses;
  try {
    buses = kbus_bench::start_buses({kbus::test::bus_kind::dbus_broker, kbus::test::bus_kind::dbus_daemon}, servers);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot start the buses: %s\n", e.what());
    return 1;
  }

  auto each = [&](const std::string& workload, auto make) {
    for (const auto& b : buses)
      for (const auto& p : peers)
        make(workload + "/" + b.label + "/" + p->name(), p.get(), b.address())
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
  };
  each("call/sync_64B", [](const std::string& n, peer* p, const std::string& a) {
    return benchmark::RegisterBenchmark(n.c_str(), sync_call, p, a, 64);
  });
  each("call/sync_64KiB", [](const std::string& n, peer* p, const std::string& a) {
    return benchmark::RegisterBenchmark(n.c_str(), sync_call, p, a, 64 * 1024);
  });
  each("call/pipelined_64B", [](const std::string& n, peer* p, const std::string& a) {
    return benchmark::RegisterBenchmark(n.c_str(), pipelined_call, p, a, std::string(kbus_bench::echo_name));
  });
  for (const auto& b : buses)
    benchmark::RegisterBenchmark(("call/pipelined_64B/" + b.label + "/bare").c_str(), bare_pipelined_call, b.address())
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  each("call/pipelined_64B_own_server", [](const std::string& n, peer* p, const std::string& a) {
    return benchmark::RegisterBenchmark(n.c_str(), pipelined_call, p, a, kbus_bench::own_echo_service(*p));
  });
  for (int subscribers : {1, 10, 100})
    each("signal/fanout_" + std::to_string(subscribers), [subscribers](const std::string& n, peer* p, const std::string& a) {
      return benchmark::RegisterBenchmark(n.c_str(), fanout, p, a, subscribers);
    });
  each("connect", [](const std::string& n, peer* p, const std::string& a) {
    return benchmark::RegisterBenchmark(n.c_str(), connect, p, a);
  });

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  drop_fanout();
  kbus_bench::stop_servers(buses);
  return kbus_bench::exit_code();
}
