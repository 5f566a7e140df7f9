// kbus as a benchmark peer: one io_context per client, run on the calling thread until the
// awaited completion arrives (what a blocking call does).
#include "kbus_echo_call.hpp"
#include "peers.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus/object_server.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace kbus_bench {
namespace {

using namespace kbus::literals;

// Runs `io` until `done()`; a stall longer than the limit is an error, not a hang.
template <class Done>
void run_until(boost::asio::io_context& io, Done done, const char* what) {
  while (!done()) {
    // A poll() that found nothing left to do leaves the context stopped: start it again.
    if (io.stopped()) io.restart();
    if (io.run_one_for(std::chrono::seconds(30)) == 0 && !done()) {
      if (io.stopped()) throw bench_error(std::string("kbus: nothing left to run while waiting for ") + what);
      throw bench_error(std::string("kbus: no progress in 30 s while waiting for ") + what);
    }
  }
}

void connect(boost::asio::io_context& io, kbus::connection& c, const std::string& address) {
  bool done = false;
  boost::system::error_code err;
  c.async_connect(address, [&](boost::system::error_code ec) {
    err = ec;
    done = true;
  });
  run_until(io, [&] { return done; }, "the connection");
  if (err) throw bench_error("kbus: connect failed: " + err.message() + " (" + c.last_error() + ")");
  if (c.unique_name().empty()) throw bench_error("kbus: connected without a unique name");
}

void add_match(boost::asio::io_context& io, kbus::connection& c, const std::string& rule) {
  bool done = false;
  boost::system::error_code err;
  kbus::bus::async_add_match(c, rule, [&](boost::system::error_code ec) {
    err = ec;
    done = true;
  });
  run_until(io, [&] { return done; }, "AddMatch");
  if (err) throw bench_error("kbus: AddMatch failed: " + err.message());
}

void request_name(boost::asio::io_context& io, kbus::connection& c, const std::string& service) {
  bool done = false;
  boost::system::error_code err;
  kbus::bus::request_name_reply reply{};
  kbus::bus::async_request_name(c, kbus::bus_name::unchecked(service), kbus::bus::request_name_flags::do_not_queue,
                                [&](boost::system::error_code ec, kbus::bus::request_name_reply r) {
                                  err = ec;
                                  reply = r;
                                  done = true;
                                });
  run_until(io, [&] { return done; }, "RequestName");
  if (err || reply != kbus::bus::request_name_reply::primary_owner) throw bench_error("kbus: cannot own " + service);
}

// Empty when `reply` is the echo of `s`, else what is wrong.
std::string check_echo(boost::system::error_code ec, const kbus::message& reply, const std::string& s) {
  if (ec) return "kbus: Echo failed: " + ec.message();
  auto v = reply.read<std::string_view>();
  if (!v) return std::string("kbus: Echo reply unreadable: ") + v.error().what();
  if (std::get<0>(*v) != s) return "kbus: Echo reply differs from the argument";
  return {};
}

class kbus_caller final : public caller {
 public:
  kbus_caller(const std::string& address, const std::string& service) : service_(kbus::bus_name::unchecked(service)) {
    connect(io_, conn_, address);
  }

  void echo(const std::string& s) override {
    bool done = false;
    std::string wrong;
    conn_.async_call(echo_call(service_, s), [&](boost::system::error_code ec, kbus::message reply) {
      wrong = check_echo(ec, reply, s);
      done = true;
    });
    run_until(io_, [&] { return done; }, "an Echo reply");
    if (!wrong.empty()) throw bench_error(wrong);
  }

  void pipelined(const std::string& s, int total, int window) override {
    struct run : pipeline<run> {
      kbus_caller& self;
      void send() {
        self.conn_.async_call(echo_call(self.service_, s), [this](boost::system::error_code ec, kbus::message reply) {
          replied(check_echo(ec, reply, s));
        });
      }
    } r{{s, total}, *this};
    r.start(window);
    run_until(io_, [&] { return r.finished(); }, "pipelined Echo replies");
    r.check_replies();
  }

 private:
  kbus::bus_name service_;
  boost::asio::io_context io_;
  kbus::connection conn_{io_.get_executor()};
};

class kbus_fanout final : public fanout {
 public:
  kbus_fanout(const std::string& address, int n) {
    connect(io_, emitter_, address);
    const std::string rule = tick_rule(emitter_.unique_name());
    for (int i = 0; i < n; ++i) {
      auto& c = *subscribers_.emplace_back(std::make_unique<kbus::connection>(io_.get_executor()));
      connect(io_, c, address);
      c.set_message_handler([this](kbus::message& m) {
        if (m.type() != kbus::message_type::signal || m.member() != tick_member) return;
        auto v = m.read<std::uint32_t>();
        tally_.heard(v ? std::get<0>(*v) : 0, v.has_value());
      });
      add_match(io_, c, rule);
    }
  }
  ~kbus_fanout() override {
    for (auto& c : subscribers_) c->close();
    emitter_.close();
    io_.poll();
  }

  void emit_and_wait(std::uint32_t seq) override {
    tally_.expect(seq);
    emitter_.send(kbus::message_builder::signal("/org/kbus/Bench"_path, "org.kbus.Bench1"_iface, "Tick"_member).build(seq));
    const std::size_t n = subscribers_.size();
    run_until(io_, [&] { return tally_.settled(n); }, "the signal at every subscriber");
    tally_.check("kbus");
  }

 private:
  boost::asio::io_context io_;
  kbus::connection emitter_{io_.get_executor()};
  std::vector<std::unique_ptr<kbus::connection>> subscribers_;
  tick_tally tally_;
};

class kbus_connections final : public connection_set {
 public:
  kbus_connections(const std::string& address, int n) {
    for (int i = 0; i < n; ++i) {
      auto& c = *conns_.emplace_back(std::make_unique<kbus::connection>(io_.get_executor()));
      connect(io_, c, address);
    }
  }
  ~kbus_connections() override {
    for (auto& c : conns_) c->close();
    io_.poll();
  }
  void add_matches(int n) override {
    int done = 0;
    bool failed = false;
    for (int i = 0; i < n; ++i)
      kbus::bus::async_add_match(*conns_.front(),
                                 "type='signal',interface='org.kbus.Bench1',member='Member" + std::to_string(i) + "'",
                                 [&](boost::system::error_code ec) {
                                   failed |= static_cast<bool>(ec);
                                   ++done;
                                 });
    run_until(io_, [&] { return done == n; }, "AddMatch replies");
    if (failed) throw bench_error("kbus: AddMatch failed");
  }

 private:
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<kbus::connection>> conns_;
};

class kbus_peer final : public peer_of<kbus_caller, kbus_fanout, kbus_connections> {
 public:
  const char* name() const override { return "kbus"; }
  void connect_once(const std::string& address) override {
    kbus::connection c(io_.get_executor());
    connect(io_, c, address);
    c.close();
    io_.poll();
  }

  void serve_echo(const std::string& address, const std::string& service, const std::function<void()>& ready) override {
    boost::asio::io_context io;
    kbus::connection c(io.get_executor());
    kbus::object_server server(c);
    // The argument is read in place and written straight into the reply.
    server
        .add(kbus::object_path::unchecked(echo_path),
             kbus::interface_definition(kbus::interface_name::unchecked(echo_interface))
                 .method("Echo"_member, [](std::string_view s) { return s; }))
        .value();
    connect(io, c, address);
    request_name(io, c, service);
    ready();
    io.run();  // until the bus goes away
  }

 private:
  boost::asio::io_context io_;
};

}  // namespace

std::unique_ptr<peer> make_kbus_peer() { return std::make_unique<kbus_peer>(); }

}  // namespace kbus_bench
