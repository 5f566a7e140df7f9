// Failure handling of the bus and memory benchmark programs: a benchmark whose work throws is
// marked as failed and the others still run; the program then exits with 1.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>

namespace kbus_bench {

inline int failures = 0;

// Runs `f` (the whole benchmark, set-up and timed loop); an exception fails that benchmark.
template <class F>
void guarded(benchmark::State& state, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    ++failures;
    std::fprintf(stderr, "benchmark failed: %s\n", e.what());
    state.SkipWithError(e.what());
  }
}

// main's return value once every benchmark ran.
inline int exit_code() {
  if (failures) std::fprintf(stderr, "%d benchmark(s) failed\n", failures);
  return failures ? 1 : 0;
}

}  // namespace kbus_bench
