// sdbus-c++ as a benchmark peer: its convenience API (callMethod/callMethodAsync, uponSignal),
// with the connection's events polled on this thread (getEventLoopPollData and
// processPendingRequest) instead of sdbus-c++'s own loop thread, as kbus runs on the caller's.
#include "peers.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <poll.h>

#include <cerrno>

namespace kbus_bench {
namespace {

std::unique_ptr<sdbus::IConnection> connect(const std::string& address) {
  auto c = sdbus::createSessionBusConnectionWithAddress(address);
  // Waits for the Hello reply.
  if (c->getUniqueName().empty()) throw bench_error("sdbus-c++: no unique name");
  return c;
}

void drain(sdbus::IConnection* c) {
  while (c->processPendingRequest()) {
  }
}

// Processes the connections until `done()`: those with messages already queued at once
// (sd-bus asks for no POLLIN then), the others when poll() finds their sockets readable.
template <class Done>
void process_until(const std::vector<sdbus::IConnection*>& conns, Done done, const char* what) {
  std::vector<pollfd> fds(conns.size());
  for (;;) {
    for (std::size_t i = 0; i < conns.size(); ++i) {
      auto pd = conns[i]->getEventLoopPollData();
      if (!(pd.events & POLLIN)) {
        drain(conns[i]);
        pd = conns[i]->getEventLoopPollData();
      }
      fds[i] = pollfd{pd.fd, pd.events, 0};
    }
    if (done()) return;
    const int n = ::poll(fds.data(), fds.size(), 30000);
    if (n == 0) throw bench_error(std::string("sdbus-c++: no progress in 30 s while waiting for ") + what);
    if (n < 0 && errno != EINTR) throw bench_error("sdbus-c++: poll failed");
    for (std::size_t i = 0; i < conns.size(); ++i)
      if (fds[i].revents) drain(conns[i]);
    if (done()) return;
  }
}

// sdbus-c++ reports failures as sdbus::Error: turn them into the benchmarks' own error.
template <class F>
void translate(F&& f) {
  try {
    f();
  } catch (const sdbus::Error& e) {
    throw bench_error(std::string("sdbus-c++: ") + e.what());
  }
}

// Empty when the reply (`e` null, `out`) is the echo of `s`, else what is wrong.
std::string check_echo(const sdbus::Error* e, const std::string& out, const std::string& s) {
  if (e) return std::string("sdbus-c++: Echo failed: ") + e->what();
  if (out != s) return "sdbus-c++: Echo reply differs from the argument";
  return {};
}

class cpp_caller final : public caller {
 public:
  cpp_caller(const std::string& address, const std::string& service) {
    translate([&] {
      conn_ = connect(address);
      proxy_ = sdbus::createProxy(*conn_, service, echo_path);
    });
  }

  void echo(const std::string& s) override {
    std::string out;
    translate([&] { proxy_->callMethod("Echo").onInterface(echo_interface).withArguments(s).storeResultsTo(out); });
    if (out != s) throw bench_error("sdbus-c++: Echo reply differs from the argument");
  }

  void pipelined(const std::string& s, int total, int window) override {
    struct run : pipeline<run> {
      sdbus::IProxy& proxy;
      void send() {
        proxy.callMethodAsync("Echo").onInterface(echo_interface).withArguments(s).uponReplyInvoke(
            [this](const sdbus::Error* e, std::string out) { replied(check_echo(e, out, s)); });
      }
    } r{{s, total}, *proxy_};
    translate([&] {
      r.start(window);
      process_until({conn_.get()}, [&] { return r.finished(); }, "pipelined Echo replies");
    });
    r.check_replies();
  }

 private:
  std::unique_ptr<sdbus::IConnection> conn_;
  std::unique_ptr<sdbus::IProxy> proxy_;
};

class cpp_fanout final : public fanout {
 public:
  cpp_fanout(const std::string& address, int n) {
    translate([&] {
      emitter_ = connect(address);
      object_ = sdbus::createObject(*emitter_, echo_path);
      object_->registerSignal(echo_interface, tick_member, "u");
      object_->finishRegistration();
      const std::string unique = emitter_->getUniqueName();
      for (int i = 0; i < n; ++i) {
        auto& c = conns_.emplace_back(connect(address));
        raw_.push_back(c.get());
        // The proxy's match names the emitter as sender, path and interface, like the others'.
        auto& p = proxies_.emplace_back(sdbus::createProxy(*c, unique, echo_path));
        p->uponSignal(tick_member).onInterface(echo_interface).call([this](std::uint32_t seq) { tally_.heard(seq); });
        p->finishRegistration();
      }
    });
  }

  void emit_and_wait(std::uint32_t seq) override {
    tally_.expect(seq);
    translate([&] {
      object_->emitSignal(tick_member).onInterface(echo_interface).withArguments(seq);
      const std::size_t n = raw_.size();
      process_until(raw_, [&] { return tally_.settled(n); }, "the signal at every subscriber");
    });
    tally_.check("sdbus-c++");
  }

 private:
  std::unique_ptr<sdbus::IConnection> emitter_;
  std::unique_ptr<sdbus::IObject> object_;
  std::vector<std::unique_ptr<sdbus::IConnection>> conns_;
  std::vector<sdbus::IConnection*> raw_;
  std::vector<std::unique_ptr<sdbus::IProxy>> proxies_;  // destroyed before their connections
  tick_tally tally_;
};

class cpp_connections final : public connection_set {
 public:
  cpp_connections(const std::string& address, int n) {
    translate([&] {
      for (int i = 0; i < n; ++i) conns_.push_back(connect(address));
    });
  }
  void add_matches(int n) override {
    translate([&] {
      for (int i = 0; i < n; ++i)
        slots_.push_back(conns_.front()->addMatch(
            "type='signal',interface='org.kbus.Bench1',member='Member" + std::to_string(i) + "'",
            [](sdbus::Message&) {}));
    });
  }

 private:
  std::vector<std::unique_ptr<sdbus::IConnection>> conns_;
  std::vector<sdbus::Slot> slots_;  // destroyed before the connections
};

class cpp_peer final : public peer_of<cpp_caller, cpp_fanout, cpp_connections> {
 public:
  const char* name() const override { return "sdbus-c++"; }
  void connect_once(const std::string& address) override {
    translate([&] { connect(address); });
  }

  void serve_echo(const std::string& address, const std::string& service, const std::function<void()>& ready) override {
    translate([&] {
      auto conn = connect(address);
      auto object = sdbus::createObject(*conn, echo_path);
      object->registerMethod("Echo").onInterface(echo_interface).implementedAs([](const std::string& s) { return s; });
      object->finishRegistration();
      conn->requestName(service);
      ready();
      // sdbus-c++'s own loop on this thread; it throws when the bus goes away.
      try {
        conn->enterEventLoop();
      } catch (const sdbus::Error&) {
      }
    });
  }
};

}  // namespace

std::unique_ptr<peer> make_sdbuscpp_peer() { return std::make_unique<cpp_peer>(); }

}  // namespace kbus_bench
