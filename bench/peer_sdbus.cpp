// sd-bus (libsystemd) as a benchmark peer, used as its documentation shows: sd_bus_call_method
// for a blocking call, sd_bus_call_method_async + sd_bus_process/sd_bus_wait for many in flight.
#include "peers.hpp"

#include <systemd/sd-bus.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

namespace kbus_bench {
namespace {

void check(int r, const char* what) {
  if (r < 0) throw bench_error(std::string("sd-bus: ") + what + ": " + std::strerror(-r));
}

sd_bus* connect(const std::string& address) {
  sd_bus* b = nullptr;
  check(sd_bus_new(&b), "new");
  check(sd_bus_set_address(b, address.c_str()), "set_address");
  check(sd_bus_set_bus_client(b, 1), "set_bus_client");
  check(sd_bus_start(b), "start");
  // Waits for the Hello reply.
  const char* unique = nullptr;
  check(sd_bus_get_unique_name(b, &unique), "Hello");
  if (!unique || !*unique) throw bench_error("sd-bus: no unique name");
  return b;
}

struct bus_ptr {
  sd_bus* b = nullptr;
  explicit bus_ptr(sd_bus* bus) : b(bus) {}
  bus_ptr(bus_ptr&& o) noexcept : b(o.b) { o.b = nullptr; }
  bus_ptr(const bus_ptr&) = delete;
  ~bus_ptr() {
    if (b) sd_bus_flush_close_unref(b);
  }
};

void drain(sd_bus* b) {
  int r;
  while ((r = sd_bus_process(b, nullptr)) > 0) {
  }
  check(r, "process");
}

// Processes the buses until `done()`: those with messages already queued at once (sd-bus asks
// for no POLLIN then), the others when poll() finds their sockets readable.
template <class Done>
void process_until(std::vector<bus_ptr>& buses, Done done, const char* what) {
  std::vector<pollfd> fds(buses.size());
  for (;;) {
    for (std::size_t i = 0; i < buses.size(); ++i) {
      int events = sd_bus_get_events(buses[i].b);
      if (!(events & POLLIN)) {
        drain(buses[i].b);
        events = sd_bus_get_events(buses[i].b);
      }
      fds[i] = pollfd{sd_bus_get_fd(buses[i].b), static_cast<short>(events), 0};
    }
    if (done()) return;
    const int n = ::poll(fds.data(), fds.size(), 30000);
    if (n == 0) throw bench_error(std::string("sd-bus: no progress in 30 s while waiting for ") + what);
    if (n < 0 && errno != EINTR) throw bench_error("sd-bus: poll failed");
    for (std::size_t i = 0; i < buses.size(); ++i)
      if (fds[i].revents) drain(buses[i].b);
    if (done()) return;
  }
}

std::string check_echo(sd_bus_message* reply, const std::string& s) {
  if (sd_bus_message_is_method_error(reply, nullptr)) {
    const sd_bus_error* e = sd_bus_message_get_error(reply);
    return std::string("sd-bus: Echo failed: ") + (e && e->name ? e->name : "?");
  }
  const char* out = nullptr;
  if (sd_bus_message_read(reply, "s", &out) < 0 || !out) return "sd-bus: Echo reply unreadable";
  if (std::strlen(out) != s.size() || std::memcmp(out, s.data(), s.size()) != 0)
    return "sd-bus: Echo reply differs from the argument";
  return {};
}

class sd_caller final : public caller {
 public:
  sd_caller(const std::string& address, const std::string& service) : bus_(connect(address)), service_(service) {}

  void echo(const std::string& s) override {
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    const int r = sd_bus_call_method(bus_.b, service_.c_str(), echo_path, echo_interface, "Echo", &err, &reply, "s", s.c_str());
    if (r < 0) {
      std::string what = std::string("sd-bus: Echo failed: ") + (err.message ? err.message : std::strerror(-r));
      sd_bus_error_free(&err);
      throw bench_error(what);
    }
    std::string wrong = check_echo(reply, s);
    sd_bus_message_unref(reply);
    if (!wrong.empty()) throw bench_error(wrong);
  }

  struct run : pipeline<run> {
    sd_bus* bus;
    const char* service;
    void send() {
      check(sd_bus_call_method_async(bus, nullptr, service, echo_path, echo_interface, "Echo", on_reply, this, "s",
                                     s.c_str()),
            "call_method_async");
    }
    static int on_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
      auto* r = static_cast<run*>(userdata);
      r->replied(check_echo(reply, r->s));
      return 0;
    }
  };

  void pipelined(const std::string& s, int total, int window) override {
    run r{{s, total}, bus_.b, service_.c_str()};
    r.start(window);
    while (!r.finished()) {
      const int p = sd_bus_process(bus_.b, nullptr);
      check(p, "process");
      if (p > 0) continue;
      const int w = sd_bus_wait(bus_.b, 30'000'000);
      check(w, "wait");
      if (w == 0) throw bench_error("sd-bus: no progress in 30 s while waiting for pipelined replies");
    }
    r.check_replies();
  }

 private:
  bus_ptr bus_;
  std::string service_;
};

class sd_fanout final : public fanout {
 public:
  sd_fanout(const std::string& address, int n) : emitter_(connect(address)) {
    const char* unique = nullptr;
    check(sd_bus_get_unique_name(emitter_.b, &unique), "unique name");
    const std::string rule = tick_rule(unique);
    for (int i = 0; i < n; ++i) {
      sd_bus* b = subscribers_.emplace_back(connect(address)).b;
      // A floating slot: it lives as long as the bus.
      check(sd_bus_add_match(b, nullptr, rule.c_str(), on_tick, this), "add_match");
    }
  }

  void emit_and_wait(std::uint32_t seq) override {
    tally_.expect(seq);
    check(sd_bus_emit_signal(emitter_.b, echo_path, echo_interface, tick_member, "u", seq), "emit_signal");
    const std::size_t n = subscribers_.size();
    process_until(subscribers_, [&] { return tally_.settled(n); }, "the signal at every subscriber");
    tally_.check("sd-bus");
  }

 private:
  static int on_tick(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<sd_fanout*>(userdata);
    std::uint32_t seq = 0;
    const bool readable = sd_bus_message_read(m, "u", &seq) >= 0;
    self->tally_.heard(seq, readable);
    return 0;
  }

  bus_ptr emitter_;
  std::vector<bus_ptr> subscribers_;
  tick_tally tally_;
};

int ignore_message(sd_bus_message*, void*, sd_bus_error*) { return 0; }

class sd_connections final : public connection_set {
 public:
  sd_connections(const std::string& address, int n) {
    for (int i = 0; i < n; ++i) conns_.emplace_back(connect(address));
  }
  ~sd_connections() override {
    for (auto* s : slots_) sd_bus_slot_unref(s);
  }
  void add_matches(int n) override {
    for (int i = 0; i < n; ++i) {
      const std::string rule = "type='signal',interface='org.kbus.Bench1',member='Member" + std::to_string(i) + "'";
      sd_bus_slot* slot = nullptr;
      // Synchronous: returns after the bus's reply.
      check(sd_bus_add_match(conns_.front().b, &slot, rule.c_str(), ignore_message, nullptr), "add_match");
      slots_.push_back(slot);
    }
  }

 private:
  std::vector<bus_ptr> conns_;
  std::vector<sd_bus_slot*> slots_;
};

int echo(sd_bus_message* call, void*, sd_bus_error*) {
  const char* s = nullptr;
  const int r = sd_bus_message_read(call, "s", &s);
  if (r < 0) return r;
  return sd_bus_reply_method_return(call, "s", s);
}

const sd_bus_vtable echo_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Echo", "s", "s", echo, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

class sd_peer final : public peer_of<sd_caller, sd_fanout, sd_connections> {
 public:
  const char* name() const override { return "sd-bus"; }
  void connect_once(const std::string& address) override { bus_ptr b(connect(address)); }

  void serve_echo(const std::string& address, const std::string& service, const std::function<void()>& ready) override {
    bus_ptr bus(connect(address));
    check(sd_bus_add_object_vtable(bus.b, nullptr, echo_path, echo_interface, echo_vtable, nullptr), "add_object_vtable");
    check(sd_bus_request_name(bus.b, service.c_str(), 0), "request_name");
    ready();
    for (;;) {
      int r = sd_bus_process(bus.b, nullptr);
      if (r < 0) return;  // the bus went away
      if (r > 0) continue;
      if ((r = sd_bus_wait(bus.b, UINT64_MAX)) < 0 && r != -EINTR) return;
    }
  }
};

}  // namespace

std::unique_ptr<peer> make_sdbus_peer() { return std::make_unique<sd_peer>(); }

}  // namespace kbus_bench
