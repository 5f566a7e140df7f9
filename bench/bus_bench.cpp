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
// the server; each one's CPU time per operation is reported beside it (cpu_meter.hpp). A wrong
// reply ends the benchmark with an error and the program with exit code 1.
#include "bare_client.hpp"
#include "bus_env.hpp"
#include "cpu_meter.hpp"
#include "guarded.hpp"
#include "peers.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>

namespace {

using kbus_bench::guarded;
using kbus_bench::peer;

// Where a workload runs: the bus's address, and the processes whose CPU time it reports.
struct target {
  std::string address;
  pid_t server = -1;  // the Echo server called; -1 when there is none
  pid_t bus = -1;
};

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

void sync_call(benchmark::State& state, peer* p, target t, std::size_t size) {
  drop_fanout();
  guarded(state, [&] {
    const std::string s = payload(size);
    auto c = p->make_caller(t.address, kbus_bench::echo_name);
    c->echo(s);
    const kbus_bench::cpu_meter cpu(t.server, t.bus);
    for (auto _ : state) c->echo(s);
    cpu.report(state, state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  });
}

// `c` answers the warm-up call, then makes the timed rounds. CPU time is per call.
void time_pipelined(benchmark::State& state, kbus_bench::caller& c, const target& t) {
  const std::string s = payload(64);
  c.echo(s);
  const kbus_bench::cpu_meter cpu(t.server, t.bus);
  for (auto _ : state) c.pipelined(s, pipelined_calls, pipelined_window);
  cpu.report(state, state.iterations() * pipelined_calls);
  state.SetItemsProcessed(state.iterations() * pipelined_calls);
  state.counters["calls"] = pipelined_calls;
}

// `service`: the common Echo server, or the peer's own (`t.server` is the one called).
void pipelined_call(benchmark::State& state, peer* p, target t, std::string service) {
  drop_fanout();
  guarded(state, [&] { time_pipelined(state, *p->make_caller(t.address, service), t); });
}

// The same workload for the bare client: how much of the throughput is left to any client.
void bare_pipelined_call(benchmark::State& state, target t) {
  drop_fanout();
  guarded(state, [&] {
    kbus_bench::bare_caller c(t.address);
    time_pipelined(state, c, t);
  });
}

// CPU time is per signal: the emitter and its N subscribers are all the client.
void fanout(benchmark::State& state, peer* p, target t, int subscribers) {
  guarded(state, [&] {
    const std::string key = std::string(p->name()) + " " + t.address + " " + std::to_string(subscribers);
    if (last_fanout.key != key || !last_fanout.f) {
      drop_fanout();  // its connections close before the next ones open
      last_fanout.f = p->make_fanout(t.address, subscribers);
      last_fanout.key = key;
      last_fanout.f->emit_and_wait(last_fanout.seq++);
    }
    auto& f = *last_fanout.f;
    const kbus_bench::cpu_meter cpu(-1, t.bus);
    try {
      for (auto _ : state) f.emit_and_wait(last_fanout.seq++);
    } catch (...) {
      drop_fanout();
      throw;
    }
    cpu.report(state, state.iterations());
    state.SetItemsProcessed(state.iterations() * subscribers);
  });
}

void connect(benchmark::State& state, peer* p, target t) {
  drop_fanout();
  guarded(state, [&] {
    p->connect_once(t.address);
    const kbus_bench::cpu_meter cpu(-1, t.bus);
    for (auto _ : state) p->connect_once(t.address);
    cpu.report(state, state.iterations());
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

  // `make` gets the common Echo server's target and the peer's own server's.
  auto each = [&](const std::string& workload, auto make) {
    for (const auto& b : buses)
      for (std::size_t i = 0; i < peers.size(); ++i)
        make(workload + "/" + b.label + "/" + peers[i]->name(), peers[i].get(),
             target{b.address(), b.servers.at(0), b.bus->pid()}, target{b.address(), b.servers.at(1 + i), b.bus->pid()})
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
  };
  each("call/sync_64B", [](const std::string& n, peer* p, const target& common, const target&) {
    return benchmark::RegisterBenchmark(n.c_str(), sync_call, p, common, 64);
  });
  each("call/sync_64KiB", [](const std::string& n, peer* p, const target& common, const target&) {
    return benchmark::RegisterBenchmark(n.c_str(), sync_call, p, common, 64 * 1024);
  });
  each("call/pipelined_64B", [](const std::string& n, peer* p, const target& common, const target&) {
    return benchmark::RegisterBenchmark(n.c_str(), pipelined_call, p, common, std::string(kbus_bench::echo_name));
  });
  for (const auto& b : buses)
    benchmark::RegisterBenchmark(("call/pipelined_64B/" + b.label + "/bare").c_str(), bare_pipelined_call,
                                 target{b.address(), b.servers.at(0), b.bus->pid()})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  each("call/pipelined_64B_own_server", [](const std::string& n, peer* p, const target&, const target& own) {
    return benchmark::RegisterBenchmark(n.c_str(), pipelined_call, p, own, kbus_bench::own_echo_service(*p));
  });
  for (int subscribers : {1, 10, 100})
    each("signal/fanout_" + std::to_string(subscribers),
         [subscribers](const std::string& n, peer* p, const target& common, const target&) {
           return benchmark::RegisterBenchmark(n.c_str(), fanout, p, common, subscribers);
         });
  each("connect", [](const std::string& n, peer* p, const target& common, const target&) {
    return benchmark::RegisterBenchmark(n.c_str(), connect, p, common);
  });

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  drop_fanout();
  kbus_bench::stop_servers(buses);
  return kbus_bench::exit_code();
}
