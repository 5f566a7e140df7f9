// Match dispatch: finding the subscribers of a signal among 10, 1,000 and 100,000 rules keyed
// by member, interface or path. The time should stay flat as the rules grow.
#include "match/match_index.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

namespace {

void dispatch(benchmark::State& state, int rules) {
  kbus::detail::match_index index;
  for (int i = 0; i < rules; ++i) {
    std::string text;
    switch (i % 3) {
      case 0: text = "type='signal',member='Member" + std::to_string(i) + "'"; break;
      case 1: text = "type='signal',interface='org.kbus.Iface" + std::to_string(i) + "'"; break;
      default: text = "type='signal',path='/org/kbus/obj" + std::to_string(i) + "'"; break;
    }
    index.add(kbus::match_rule::parse(text).value());
  }
  // One rule that the signal matches, wherever it landed.
  index.add(kbus::match_rule::parse("type='signal',interface='org.kbus.Target',member='Hit'").value());
  auto m = kbus::message_builder::signal(kbus::object_path("/org/kbus/target"), kbus::interface_name("org.kbus.Target"),
                                         kbus::member_name("Hit"))
               .build(std::string("payload"));
  int found = 0;
  index.for_each_match(m, [&](auto, const auto&) { ++found; });
  if (found != 1) {
    std::fprintf(stderr, "dispatch found %d subscribers, expected 1\n", found);
    std::abort();
  }
  for (auto _ : state) {
    int n = 0;
    index.for_each_match(m, [&](auto, const auto&) { ++n; });
    benchmark::DoNotOptimize(n);
  }
}

}  // namespace

// Named by workload and implementation (only kbus has this index), as scripts/bench reads them.
BENCHMARK_CAPTURE(dispatch, rules_10, 10)->Name("dispatch/rules_10/kbus");
BENCHMARK_CAPTURE(dispatch, rules_1k, 1000)->Name("dispatch/rules_1k/kbus");
BENCHMARK_CAPTURE(dispatch, rules_100k, 100000)->Name("dispatch/rules_100k/kbus");
BENCHMARK_MAIN();
