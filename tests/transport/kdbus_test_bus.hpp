// Helpers for the kdbus transport's tests: a bus on kbusd's in-process device
// (broker::local_device), transports on it (reached directly, or by path through open_device as
// kbus::embedded_bus does it), and sending, receiving and driver calls as a connection does them.
#pragma once

#include "broker/device.hpp"
#include "broker/local_device_handle.hpp"
#include "kbus/dbus_names.hpp"
#include "kbus/message.hpp"
#include "kbus/names.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/device.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kbus::test {

using namespace kbus::literals;
using namespace std::chrono_literals;
namespace kd = kbus::kdbus;
using kbus::message;
using kbus::message_builder;
using kbus::message_type;
using kbus::detail::kdbus_transport;
using kbus::detail::receive_mode;
using kbus::detail::send_outcome;

// systemd's bloom parameters for the buses it made (kdbus notes §2.9).
inline constexpr std::uint64_t bus_bloom_size = 64;
inline constexpr std::uint64_t bus_bloom_hashes = 8;
// A small pool keeps the tests light; large messages need more than twice their size (half
// the pool is the incoming quota, notes §2.4).
inline constexpr std::uint64_t test_pool_size = 32 * 1024 * 1024;

inline std::uint32_t next_serial() {
  static std::uint32_t s = 1;
  return s++;
}

struct bus_env {
  kbus::broker::local_device dev;
  std::string bus;
  int control = -1;

  bus_env() {
    bus = std::to_string(geteuid()) + "-kbus-transport";
    control = dev.open("control");
    EXPECT_GE(control, 0);
    // BUS_MAKE: bloom parameters, attach flags, name.
    std::vector<std::uint8_t> items;
    kd::item_writer w(items);
    w.add_struct(kd::item_type::bloom_parameter, kd::bloom_parameter{bus_bloom_size, bus_bloom_hashes});
    w.add_u64(kd::item_type::attach_flags_send, kd::attach::all);
    w.add_string(kd::item_type::make_name, bus);
    kd::cmd head{};
    head.flags = kd::make::access_world;
    auto buf = kd::command_words(head, items);
    EXPECT_EQ(dev.ioctl(control, kd::ioctl::bus_make, buf.data()), 0) << std::strerror(errno);
  }
  ~bus_env() {
    if (control >= 0) dev.close(control);
  }

  // `attach_recv`: the metadata we want on what we receive. The kernel's reply deadline is the
  // call's own here (no margin: no connection keeps a timer of its own in these tests).
  std::unique_ptr<kdbus_transport> connect(std::uint64_t pool_size = test_pool_size,
                                           std::uint64_t attach_recv = kd::attach::names | kd::attach::creds |
                                                                       kd::attach::pids,
                                           std::chrono::milliseconds reply_deadline_margin = 0ms) {
    auto handle = kbus::broker::local_device_handle::open(dev, bus + "/bus");
    EXPECT_TRUE(handle) << handle.error().what();
    if (!handle) return nullptr;
    kbus::detail::kdbus_options o;
    o.pool_size = pool_size;
    o.attach_flags_recv = attach_recv;
    o.reply_deadline_margin = reply_deadline_margin;
    auto t = kdbus_transport::connect(std::move(*handle), o);
    EXPECT_TRUE(t) << t.error().what();
    return t ? std::move(*t) : nullptr;
  }
};

// The bus of a bus_env reached by path, as kbus::embedded_bus makes it reachable: open_device()
// finds it through a registered device source. Transports made here remember the path, as the
// connector's do (BecomeMonitor opens it again).
struct bus_by_path {
  bus_env& env;
  std::string path;
  std::uint64_t token = 0;

  explicit bus_by_path(bus_env& e)
      : env(e), path("/kbus-transport-test/" + std::to_string(::getpid()) + "/" + e.bus + "/bus") {
    using opened = kbus::result<std::unique_ptr<kbus::detail::kdbus_device>>;
    token = kbus::detail::add_device_source([this](const std::string& wanted) -> std::optional<opened> {
      if (wanted != path) return std::nullopt;
      auto handle = kbus::broker::local_device_handle::open(env.dev, env.bus + "/bus");
      if (!handle) return opened(handle.error());
      return opened(std::unique_ptr<kbus::detail::kdbus_device>(std::move(*handle)));
    });
  }
  ~bus_by_path() { kbus::detail::remove_device_source(token); }
  bus_by_path(const bus_by_path&) = delete;
  bus_by_path& operator=(const bus_by_path&) = delete;

  std::string address() const { return "kernel:path=" + path; }

  std::unique_ptr<kdbus_transport> connect() {
    auto device = kbus::detail::open_device(path);
    EXPECT_TRUE(device) << device.error().what();
    if (!device) return nullptr;
    kbus::detail::kdbus_options o;
    o.path = path;
    o.address = address();
    auto t = kdbus_transport::connect(std::move(*device), o);
    EXPECT_TRUE(t) << t.error().what();
    return t ? std::move(*t) : nullptr;
  }
};

// Sends `m` (serial set) as a connection does; when it is not ok, the error says why.
inline ::testing::AssertionResult sends(kdbus_transport& t, message m, std::chrono::milliseconds reply_timeout = 25s) {
  const auto s = t.send(std::move(m), {reply_timeout});
  if (s.outcome == send_outcome::ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << (s.outcome == send_outcome::gone ? "gone: " : "failed: ") << s.error.message;
}

// A copy of a message without fds, for a test that sends it and keeps the original.
inline message copy_of(const message& m) {
  EXPECT_TRUE(m.fds().empty());
  auto c = message::parse(std::vector<std::byte>(m.bytes().begin(), m.bytes().end()));
  EXPECT_TRUE(c) << c.error().what();
  return c ? std::move(*c) : message{};
}

// The next message within `timeout`, polling the transport's fd as a connection would.
inline std::optional<message> next(kdbus_transport& t, std::chrono::milliseconds timeout = 2000ms) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = t.receive(receive_mode::read_once);
    EXPECT_TRUE(r) << r.error().what();
    if (!r) return std::nullopt;
    if (*r) return std::move(**r);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{t.wait_fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

// The next message that is not a signal from the driver (those are kept in `signals`).
inline std::optional<message> next_non_driver_signal(kdbus_transport& t, std::vector<message>* signals = nullptr,
                                                     std::chrono::milliseconds timeout = 2000ms) {
  for (;;) {
    auto m = next(t, timeout);
    if (!m) return m;
    if (m->type() == message_type::signal && m->sender() == kbus::dbus_names::driver_name) {
      if (signals) signals->push_back(std::move(*m));
      continue;
    }
    return m;
  }
}

// A call of the driver's `interface`, answered through the transport.
template <class... Args>
message driver_call_on(kdbus_transport& t, std::string_view interface, std::string_view member, const Args&... args) {
  auto m = message_builder::method_call(kbus::bus_name::unchecked(kbus::dbus_names::driver_name),
                                        kbus::object_path::unchecked(kbus::dbus_names::driver_path),
                                        kbus::interface_name::make(interface).value(),
                                        kbus::member_name::make(member).value())
               .build(args...);
  const std::uint32_t serial = next_serial();
  m.set_serial(serial);
  EXPECT_TRUE(sends(t, std::move(m)));
  EXPECT_TRUE(t.has_pending_input());
  // What the bus queued before the answer comes before it; the driver's signals among that
  // (NameAcquired after an earlier call) stay for the test to read after the answer.
  std::vector<message> earlier_signals;
  auto r = next_non_driver_signal(t, &earlier_signals);
  for (auto& s : earlier_signals) t.queue_local(std::move(s));
  EXPECT_TRUE(r.has_value());
  if (!r) return message{};
  EXPECT_EQ(r->reply_serial(), serial);
  EXPECT_EQ(r->sender(), kbus::dbus_names::driver_name);
  return std::move(*r);
}

template <class... Args>
message driver_call(kdbus_transport& t, std::string_view member, const Args&... args) {
  return driver_call_on(t, kbus::dbus_names::driver_interface, member, args...);
}

template <class T>
T reply_value(const message& m) {
  EXPECT_EQ(m.type(), message_type::method_return) << m.error_name();
  auto v = m.read<T>();
  EXPECT_TRUE(v) << v.error().what();
  return v ? std::get<0>(*v) : T{};
}

}  // namespace kbus::test
