// The kdbus transport through kbusd's in-process device (broker::local_device): no bus daemon,
// no kernel module, the same ioctls and pools as on kdbus.
//
//   kdbus/sync_64B     one synchronous Echo(s) call with 64 bytes (KDBUS_SEND_SYNC_REPLY),
//                      answered by a server thread; the reply checked
//   kdbus/fanout_10    one broadcast signal, done when all 10 subscribers received it
//   kdbus/ping_pong_4KiB_vec
//                      4 KiB from one end to the other, read there, in one thread (kdbus
//                      selftests 37-38): kbus = a call (no reply expected) whose body is 4 KiB
//                      of bytes, through the kdbus transport; bare = the same 4 KiB written to
//                      one end of a SOCK_SEQPACKET socket pair and read from the other, the
//                      least a local socket costs (selftest 38, benchmark-uds). Both check the
//                      bytes they read.
//
// Times are wall-clock (UseRealTime). A wrong reply ends the benchmark with an error.
#include "broker/device.hpp"
#include "broker/local_device_handle.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
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
constexpr std::size_t ping_size = 4096;
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

// The 4 KiB of every ping: bytes that differ from their neighbours, so a misplaced slice shows.
std::vector<std::uint8_t> ping_bytes() {
  std::vector<std::uint8_t> data(ping_size);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return data;
}

void ping_pong_4KiB_vec(benchmark::State& state) {
  try {
    bus b;
    auto sender = b.connect();
    auto receiver = b.connect();
    const auto data = ping_bytes();
    auto dest = kbus::bus_name::make(receiver->unique_name()).value();
    std::uint32_t serial = 1;
    for (auto _ : state) {
      auto ping = message_builder::method_call(dest, "/org/kbus/Ping"_path, "org.kbus.Ping"_iface, "Ping"_member)
                      .flags(kbus::message_flags::no_reply_expected)
                      .build(data);
      ping.set_serial(serial++);
      if (sender->send(std::move(ping), {}).outcome != send_outcome::ok) throw std::runtime_error("send failed");
      auto m = wait_message(*receiver, 1000);
      if (!m) throw std::runtime_error("the ping did not arrive");
      if (m->read<std::vector<std::uint8_t>>().value() != std::make_tuple(data)) {
        state.SkipWithError("wrong bytes");
        break;
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * ping_size));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The unix-socket baseline, with no bus and no library.
void ping_pong_4KiB_vec_bare(benchmark::State& state) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  const auto data = ping_bytes();
  std::vector<std::uint8_t> in(2 * ping_size);
  for (auto _ : state) {
    if (write(sv[0], data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
        read(sv[1], in.data(), in.size()) != static_cast<ssize_t>(data.size()) ||
        std::memcmp(in.data(), data.data(), data.size()) != 0) {
      state.SkipWithError("wrong bytes");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * ping_size));
  close(sv[0]);
  close(sv[1]);
}

BENCHMARK(sync_64B)->Name("kdbus/sync_64B/kbus")->UseRealTime();
BENCHMARK(fanout_10)->Name("kdbus/fanout_10/kbus")->UseRealTime();
BENCHMARK(ping_pong_4KiB_vec)->Name("kdbus/ping_pong_4KiB_vec/kbus")->UseRealTime();
BENCHMARK(ping_pong_4KiB_vec_bare)->Name("kdbus/ping_pong_4KiB_vec/bare")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
