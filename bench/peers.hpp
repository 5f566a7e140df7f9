// The clients the bus benchmarks compare: kbus and the libraries people would pick instead.
// Each peer does the same few things through its own public API; the benchmarks time them
// and every operation checks its own result (a wrong reply throws bench_error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kbus_bench {

// The Echo service and the signal of the fan-out benchmarks. echo_name is the service every
// client calls in call/sync_* and call/pipelined_64B: sd-bus's Echo server, the same for all,
// so that no client measures against a server of its own making. In
// call/pipelined_64B_own_server each library calls its own Echo server (own_echo_service).
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
  // A caller of the Echo service `service` (echo_name or a peer's own_echo_service).
  virtual std::unique_ptr<caller> make_caller(const std::string& address, const std::string& service) = 0;
  virtual std::unique_ptr<fanout> make_fanout(const std::string& address, int subscribers) = 0;
  // Connects, authenticates, says Hello (unique name received), closes.
  virtual void connect_once(const std::string& address) = 0;
  virtual std::unique_ptr<connection_set> open_connections(const std::string& address, int n) = 0;
  // Serves Echo(s) -> s at echo_path, echo_interface as `service`, the way the library's
  // documentation shows: calls `ready` once the name is owned, returns when the bus goes away,
  // throws bench_error when it cannot start. Runs in a process of its own (bus_env.hpp).
  virtual void serve_echo(const std::string& address, const std::string& service, const std::function<void()>& ready) = 0;
};

// The well-known name of `p`'s own Echo server: org.kbus.Bench.<its name, as a bus name allows>.
std::string own_echo_service(const peer& p);

// ---- shared by the peers' implementations (header-only: nothing added to the timed paths) ----

// A peer is its caller, fan-out and connection-set classes, each built from the bus address
// (and the service or a count); what is left to each is its name, connect_once and serve_echo.
template <class Caller, class Fanout, class Connections>
class peer_of : public peer {
 public:
  std::unique_ptr<caller> make_caller(const std::string& address, const std::string& service) override {
    return std::make_unique<Caller>(address, service);
  }
  std::unique_ptr<fanout> make_fanout(const std::string& address, int n) override {
    return std::make_unique<Fanout>(address, n);
  }
  std::unique_ptr<connection_set> open_connections(const std::string& address, int n) override {
    return std::make_unique<Connections>(address, n);
  }
};

// The bookkeeping of caller::pipelined: `total` Echo(s) calls, at most `window` in flight, each
// reply sending the next. `Calls` derives from it and sends one call through its library in
// send(); its reply handler passes what check_echo said to replied(). Static dispatch only.
template <class Calls>
struct pipeline {
  const std::string& s;
  int total;
  int sent = 0;
  int done = 0;
  std::string wrong;  // the first wrong reply

  pipeline(const std::string& arg, int n) : s(arg), total(n) {}
  void start(int window) {
    for (int i = 0; i < window && sent < total; ++i) issue();
  }
  bool finished() const { return done == total; }
  // `w` is empty when the reply was right, else what is wrong with it.
  void replied(std::string&& w) {
    if (!w.empty() && wrong.empty()) wrong = std::move(w);
    ++done;
    if (sent < total) issue();
  }
  // Once finished: throws the first wrong reply.
  void check_replies() const {
    if (!wrong.empty()) throw bench_error(wrong);
  }

 private:
  void issue() {
    ++sent;
    static_cast<Calls*>(this)->send();
  }
};

// What the subscribers of a fan-out got of the Tick being waited for.
struct tick_tally {
  std::uint32_t expected = 0;
  std::size_t got = 0;
  bool wrong = false;  // stays set: the fan-out is broken

  void expect(std::uint32_t seq) {
    expected = seq;
    got = 0;
  }
  // A subscriber got Tick(seq); `readable` is false when its argument could not be read.
  void heard(std::uint32_t seq, bool readable = true) {
    if (!readable || seq != expected) wrong = true;
    else ++got;
  }
  // All `subscribers` got it, or one got a wrong one.
  bool settled(std::size_t subscribers) const { return got == subscribers || wrong; }
  void check(const char* library) const {
    if (wrong) throw bench_error(std::string(library) + ": a subscriber got a wrong Tick");
  }
};

std::unique_ptr<peer> make_kbus_peer();
std::unique_ptr<peer> make_sdbus_peer();
std::unique_ptr<peer> make_sdbuscpp_peer();
std::unique_ptr<peer> make_libdbus_peer();
std::unique_ptr<peer> make_gdbus_peer();

// All of them, kbus first.
std::vector<std::unique_ptr<peer>> all_peers();

}  // namespace kbus_bench
