// The kdbus transport through kbusd's in-process device (broker::local_device): no bus daemon,
// no kernel module, the same ioctls and pools as on kdbus.
//
//   kdbus/sync_64B     one synchronous Echo(s) call with 64 bytes (KDBUS_SEND_SYNC_REPLY),
//                      answered by a server thread; the reply checked
//   kdbus/fanout_10    one broadcast signal, done when all 10 subscribers received it
//
// Times are wall-clock (UseRealTime). A wrong reply ends the benchmark with an error.
#include "broker/device.hpp"
#include "broker/local_device_handle.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <benchmark/benchmark.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kbus::literals;
namespace kd = kbus::kdbus;
using kbus::message;
using kbus::message_builder;
using kbus::detail::kdbus_transport;
using kbus::detail::receive_mode;
using kbus::detail::send_outcome;

// systemd's bloom parameters (kdbus notes §2.9).
constexpr std::uint64_t bloom_size = 64;
constexpr std::uint64_t bloom_hashes = 8;
constexpr std::uint64_t pool_size = 4 * 1024 * 1024;
constexpr std::size_t fanout = 10;
// How long a server or subscriber waits in poll(2) before looking at its stop flag.
constexpr int poll_ms = 100;

struct bus {
  kbus::broker::local_device dev;
  std::string name = std::to_string(geteuid()) + "-kbus-bench";
  int control = -1;

  bus() {
    control = dev.open("control");
    std::vector<std::uint8_t> items;
    kd::item_writer w(items);
    w.add_struct(kd::item_type::bloom_parameter, kd::bloom_parameter{bloom_size, bloom_hashes});
    w.add_string(kd::item_type::make_name, name);
    kd::cmd head{};
    head.flags = kd::make::access_world;
    auto buf = kd::command_words(head, items);
    if (control < 0 || dev.ioctl(control, kd::ioctl::bus_make, buf.data()) != 0)
      throw std::runtime_error("cannot make the bus");
  }
  ~bus() { dev.close(control); }

  std::unique_ptr<kdbus_transport> connect() {
    auto h = kbus::broker::local_device_handle::open(dev, name + "/bus");
    if (!h) throw std::runtime_error(h.error().what());
    kbus::detail::kdbus_options o;
    o.pool_size = pool_size;
    auto t = kdbus_transport::connect(std::move(*h), o);
    if (!t) throw std::runtime_error(t.error().what());
    return std::move(*t);
  }
};

std::optional<message> wait_message(kdbus_transport& t, int timeout_ms) {
  for (;;) {
    auto r = t.receive(receive_mode::read_once);
    if (!r) throw std::runtime_error(r.error().what());
    if (*r) return std::move(**r);
    pollfd p{t.wait_fd(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
  }
}

void sync_64B(benchmark::State& state) {
  try {
    bus b;
    auto client = b.connect();
    auto server = b.connect();
    std::atomic<bool> stop{false};
    std::thread serve([&] {
      std::uint32_t serial = 1;
      while (!stop) {
        auto m = wait_message(*server, poll_ms);
        if (!m || m->type() != kbus::message_type::method_call) continue;
        auto [s] = m->read<std::string>().value();
        auto r = message_builder::method_return(*m).build(s);
        r.set_serial(serial++);
        (void)server->send(std::move(r), {});
      }
    });
    const std::string text(64, 'k');
    auto dest = kbus::bus_name::make(server->unique_name()).value();
    std::uint32_t serial = 1;
    for (auto _ : state) {
      auto call = message_builder::method_call(dest, "/org/kbus/Echo"_path, "org.kbus.Echo"_iface, "Echo"_member)
                      .build(text);
      call.set_serial(serial++);
      auto reply = client->call(call);
      if (!reply || reply->type() != kbus::message_type::method_return || reply->read<std::string>().value() != std::make_tuple(text)) {
        state.SkipWithError("wrong reply");
        break;
      }
    }
    stop = true;
    serve.join();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void fanout_10(benchmark::State& state) {
  try {
    bus b;
    auto sender = b.connect();
    std::vector<std::unique_ptr<kdbus_transport>> subs;
    for (std::size_t i = 0; i < fanout; ++i) {
      subs.push_back(b.connect());
      auto add = message_builder::method_call("org.freedesktop.DBus"_bus, "/org/freedesktop/DBus"_path,
                                              "org.freedesktop.DBus"_iface, "AddMatch"_member)
                     .build(std::string("type='signal',interface='org.kbus.Tick',member='Tick'"));
      add.set_serial(1);
      auto r = subs.back()->call(add);
      if (!r || r->type() != kbus::message_type::method_return) throw std::runtime_error("AddMatch failed");
    }
    std::uint32_t serial = 1;
    for (auto _ : state) {
      auto sig = message_builder::signal("/org/kbus/Tick"_path, "org.kbus.Tick"_iface, "Tick"_member)
                     .build(std::uint64_t{serial});
      const std::uint32_t sent_serial = serial++;
      sig.set_serial(sent_serial);
      if (sender->send(std::move(sig), {}).outcome != send_outcome::ok) throw std::runtime_error("send failed");
      for (auto& s : subs) {
        for (;;) {
          auto m = wait_message(*s, 1000);
          if (!m) throw std::runtime_error("a subscriber missed the signal");
          if (m->member() == "Tick" && m->serial() == sent_serial) break;
        }
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

BENCHMARK(sync_64B)->Name("kdbus/sync_64B/kbus")->UseRealTime();
BENCHMARK(fanout_10)->Name("kdbus/fanout_10/kbus")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
