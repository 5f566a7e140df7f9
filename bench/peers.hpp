// The clients the bus benchmarks compare: kbus and the libraries people would pick instead.
// Each peer does the same few things through its own public API; the benchmarks time them
// and every operation checks its own result (a wrong reply throws bench_error).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kbus_bench {

// The Echo service (bench/echo_server.cpp) and the signal of the fan-out benchmarks.
inline constexpr const char* echo_name = "org.kbus.Bench";
inline constexpr const char* echo_path = "/org/kbus/Bench";
inline constexpr const char* echo_interface = "org.kbus.Bench1";
inline constexpr const char* tick_member = "Tick";

struct bench_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The match rule a subscriber adds for the emitter's Tick signals.
std::string tick_rule(const std::string& emitter_unique_name);

// One connection that calls Echo.
struct caller {
  virtual ~caller() = default;
  // One blocking Echo(s) call; throws when the reply is not `s`.
  virtual void echo(const std::string& s) = 0;
  // `total` Echo(s) calls with at most `window` in flight; throws when any reply is not `s`.
  virtual void pipelined(const std::string& s, int total, int window) = 0;
};

// An emitter and `n` subscriber connections.
struct fanout {
  virtual ~fanout() = default;
  // Emits Tick(seq) and returns once every subscriber got it; throws otherwise.
  virtual void emit_and_wait(std::uint32_t seq) = 0;
};

// Connections kept open (for memory measurements).
struct connection_set {
  virtual ~connection_set() = default;
  // Adds `n` distinct match rules on the first connection, each confirmed by the bus.
  virtual void add_matches(int n) = 0;
};

struct peer {
  virtual ~peer() = default;
  virtual const char* name() const = 0;
  virtual std::unique_ptr<caller> make_caller(const std::string& address) = 0;
  virtual std::unique_ptr<fanout> make_fanout(const std::string& address, int subscribers) = 0;
  // Connects, authenticates, says Hello (unique name received), closes.
  virtual void connect_once(const std::string& address) = 0;
  virtual std::unique_ptr<connection_set> open_connections(const std::string& address, int n) = 0;
};

std::unique_ptr<peer> make_kbus_peer();
std::unique_ptr<peer> make_sdbus_peer();
std::unique_ptr<peer> make_sdbuscpp_peer();
std::unique_ptr<peer> make_libdbus_peer();
std::unique_ptr<peer> make_gdbus_peer();

// All of them, kbus first.
std::vector<std::unique_ptr<peer>> all_peers();

}  // namespace kbus_bench
