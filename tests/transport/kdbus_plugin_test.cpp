// The kdbus transport as the connection core drives it (detail::transport): what receive()
// reads in each mode, what it says of itself, the kernel's reply deadline, BecomeMonitor
// answered by the transport itself, and the connector of kernel: addresses. Against kbusd's
// in-process device.
#include "kbus/address.hpp"
#include "kbus/dbus_names.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/connector.hpp"
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus/kdbus_transport.hpp"
#include "transport/kdbus_test_bus.hpp"
#include "support/address_entry.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace kbus::test;
namespace names = kbus::dbus_names;
namespace errors = kbus::dbus_errors;

// Waits until the transport's descriptor is readable (a message waits in the device).
bool readable(kdbus_transport& t, std::chrono::milliseconds timeout = 2000ms) {
  pollfd p{t.wait_fd(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN);
}

message unicast_signal(const kdbus_transport& to, std::string_view member) {
  auto m = message_builder::signal("/org/kbus/Test"_path, "org.kbus.Test"_iface, kbus::member_name::make(member).value())
               .destination(kbus::bus_name::make(to.unique_name()).value())
               .build();
  m.set_serial(next_serial());
  return m;
}

message broadcast_signal(std::string_view member) {
  auto m = message_builder::signal("/org/kbus/Test"_path, "org.kbus.Test"_iface, kbus::member_name::make(member).value())
               .build();
  m.set_serial(next_serial());
  return m;
}

TEST(KdbusTransportInterface, BufferedReceiveTakesOnlyWhatWaitsLocally) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(sends(*b, unicast_signal(*a, "Direct")));
  ASSERT_TRUE(readable(*a));
  // The message waits in the device, not here: only read_once reads it.
  EXPECT_FALSE(a->has_pending_input());
  auto buffered = a->receive(receive_mode::buffered);
  ASSERT_TRUE(buffered) << buffered.error().what();
  EXPECT_FALSE(buffered->has_value());
  auto read = a->receive(receive_mode::read_once);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->member(), "Direct");
  EXPECT_EQ((*read)->sender(), b->unique_name());

  // A driver call is answered at once, onto the local queue: no descriptor says so.
  auto get_id = message_builder::method_call(kbus::bus_name::unchecked(names::driver_name),
                                             kbus::object_path::unchecked(names::driver_path),
                                             kbus::interface_name::unchecked(names::driver_interface), "GetId"_member)
                    .build();
  get_id.set_serial(next_serial());
  ASSERT_TRUE(sends(*a, std::move(get_id)));
  EXPECT_TRUE(a->has_pending_input());
  auto answer = a->receive(receive_mode::buffered);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ((*answer)->type(), message_type::method_return);
  EXPECT_FALSE(a->has_pending_input());
}

TEST(KdbusTransportInterface, WhatItSaysOfItselfAndClosing) {
  bus_env env;
  bus_by_path by_path(env);
  auto a = by_path.connect();
  ASSERT_TRUE(a);
  const auto& caps = a->capabilities();
  EXPECT_TRUE(caps.unix_fd_passing);
  EXPECT_TRUE(caps.answers_bus_driver);
  EXPECT_EQ(caps.max_awaited_replies, kd::conn_max_requests_pending);
  const auto info = a->info();
  EXPECT_EQ(info.transport, kbus::transport_names::kernel);
  EXPECT_EQ(info.address, by_path.address());
  EXPECT_TRUE(info.unix_fd_passing);
  // No output queue: a message is handed over by send() itself.
  EXPECT_FALSE(a->wants_write());
  EXPECT_EQ(a->queued_bytes(), 0u);
  EXPECT_TRUE(a->flush());
  EXPECT_GE(a->wait_fd(), 0);

  a->close();
  EXPECT_EQ(a->wait_fd(), -1);
  const auto after = a->send(broadcast_signal("Late"), {});
  EXPECT_EQ(after.outcome, send_outcome::gone);
  EXPECT_FALSE(a->receive(receive_mode::read_once));
}

TEST(KdbusTransportInterface, ASendTheBusRefusesFailsOnlyThatMessage) {
  bus_env env;
  auto a = env.connect();
  ASSERT_TRUE(a);
  // More fds than one kdbus message may carry (KDBUS_CONN_MAX_FDS_PER_USER, EMFILE).
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const kbus::unix_fd read_end(p[0]), write_end(p[1]);
  std::vector<kbus::unix_fd> fds;
  for (std::size_t i = 0; i <= kd::conn_max_fds_per_user; ++i) fds.emplace_back(::dup(p[0]));
  auto too_many = message_builder::signal("/org/kbus/Test"_path, "org.kbus.Test"_iface, "Fds"_member).build(fds);
  too_many.set_serial(next_serial());
  const auto refused = a->send(std::move(too_many), {});
  EXPECT_EQ(refused.outcome, send_outcome::message_failed) << refused.error.message;
  EXPECT_TRUE(sends(*a, broadcast_signal("StillHere")));
}

// The connection keeps its own timer; the kernel is told a little more (the margin), so that
// its NoReply comes after the connection has ended the call itself.
TEST(KdbusTransportInterface, TheKernelsReplyDeadlineIsTheCallsTimeoutPlusTheMargin) {
  bus_env env;
  constexpr auto timeout = 20ms;
  constexpr auto margin = 400ms;
  auto a = env.connect(test_pool_size, kd::attach::names, margin);
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  auto call = message_builder::method_call(kbus::bus_name::make(b->unique_name()).value(), "/x"_path,
                                           "org.kbus.Slow"_iface, "Wait"_member)
                  .build();
  const std::uint32_t serial = next_serial();
  call.set_serial(serial);
  const auto sent_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(sends(*a, std::move(call), timeout));
  ASSERT_TRUE(next_non_driver_signal(*b));  // b never answers
  auto no_reply = next_non_driver_signal(*a, nullptr, 5s);
  ASSERT_TRUE(no_reply);
  EXPECT_EQ(no_reply->error_name(), errors::no_reply);
  EXPECT_EQ(no_reply->reply_serial(), serial);
  EXPECT_GE(std::chrono::steady_clock::now() - sent_at, timeout + margin);
}

// The largest duration stands for "no timeout": the kernel's deadline saturates instead of
// overflowing into one already past.
TEST(KdbusTransportInterface, TheLargestReplyTimeoutNeverEndsTheCall) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  auto call = message_builder::method_call(kbus::bus_name::make(b->unique_name()).value(), "/x"_path,
                                           "org.kbus.Slow"_iface, "Wait"_member)
                  .build();
  call.set_serial(next_serial());
  ASSERT_TRUE(sends(*a, std::move(call), std::chrono::milliseconds::max()));
  ASSERT_TRUE(next_non_driver_signal(*b));
  EXPECT_FALSE(next_non_driver_signal(*a, nullptr, 200ms));  // only shows that no NoReply arrives
}

TEST(KdbusMonitor, BecomeMonitorGoesOnAsAMonitorConnectionOnTheSameBus) {
  bus_env env;
  bus_by_path by_path(env);
  auto mon = by_path.connect();
  auto peer = env.connect();
  ASSERT_TRUE(mon && peer);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*mon, "RequestName", std::string("org.kbus.WillGo"), std::uint32_t{0})),
            kbus::detail::kdbus_driver::request_primary_owner);
  const int fd_before = mon->wait_fd();
  const std::string name_before = mon->unique_name();

  // Refusals change nothing.
  EXPECT_EQ(driver_call_on(*mon, names::monitoring_interface, "BecomeMonitor", std::string("no rules")).error_name(),
            errors::invalid_args);
  EXPECT_EQ(driver_call_on(*mon, names::monitoring_interface, "BecomeMonitor",
                           std::vector<std::string>{"type='nonsense'"}, std::uint32_t{0})
                .error_name(),
            errors::match_rule_invalid);
  EXPECT_EQ(mon->wait_fd(), fd_before);
  EXPECT_EQ(mon->unique_name(), name_before);

  EXPECT_EQ(driver_call_on(*mon, names::monitoring_interface, "BecomeMonitor",
                           std::vector<std::string>{"type='signal',member='Tick'"}, std::uint32_t{0})
                .type(),
            message_type::method_return);
  // Another connection, on another descriptor; the old one closed, and its name went with it.
  EXPECT_NE(mon->wait_fd(), fd_before);
  EXPECT_NE(mon->unique_name(), name_before);
  EXPECT_FALSE(reply_value<bool>(driver_call(*peer, "NameHasOwner", std::string("org.kbus.WillGo"))));
  EXPECT_FALSE(reply_value<bool>(driver_call(*peer, "NameHasOwner", name_before)));

  // The monitor sees what its rule keeps of what others send, and nothing else.
  ASSERT_TRUE(sends(*peer, broadcast_signal("Tock")));
  ASSERT_TRUE(sends(*peer, broadcast_signal("Tick")));
  // (The NameAcquired of before the switch comes first, as it came before BecomeMonitor's reply.)
  std::vector<message> driver_signals;
  auto seen = next_non_driver_signal(*mon, &driver_signals);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->member(), "Tick");
  EXPECT_EQ(seen->sender(), peer->unique_name());
  for (const auto& s : driver_signals) EXPECT_EQ(s.member(), "NameAcquired");
  EXPECT_FALSE(next(*mon, 200ms));  // only shows that nothing more arrives
}

TEST(KdbusMonitor, ATransportNotOpenedByPathRefusesBecomeMonitor) {
  bus_env env;
  auto a = env.connect();
  ASSERT_TRUE(a);
  const int fd_before = a->wait_fd();
  auto refused = driver_call_on(*a, names::monitoring_interface, "BecomeMonitor", std::vector<std::string>{},
                                std::uint32_t{0});
  EXPECT_EQ(refused.error_name(), errors::failed);
  EXPECT_EQ(a->wait_fd(), fd_before);
  EXPECT_EQ(reply_value<std::string>(driver_call(*a, "GetId")).size(), 32u);
}

TEST(KdbusConnector, OpensTheDeviceAtThePathAndHandsTheTransportOverOnTheExecutor) {
  bus_env env;
  bus_by_path by_path(env);
  boost::asio::io_context io;
  std::optional<kbus::result<std::unique_ptr<kbus::detail::transport>>> got;
  kbus::detail::kdbus::connect({entry_of(by_path.address()), io.get_executor()}, [&](auto r) { got = std::move(r); });
  EXPECT_FALSE(got);  // not inside connect()
  io.run();
  ASSERT_TRUE(got);
  ASSERT_TRUE(*got) << got->error().what();
  auto& t = **got;
  EXPECT_EQ(t->info().transport, kbus::transport_names::kernel);
  EXPECT_EQ(t->info().address, entry_of(by_path.address()).to_string());
  EXPECT_TRUE(t->capabilities().answers_bus_driver);
}

TEST(KdbusConnector, FailuresSayWhyTheEntryIsSkipped) {
  boost::asio::io_context io;
  auto attempt = [&](kbus::address_entry entry) {
    std::optional<kbus::result<std::unique_ptr<kbus::detail::transport>>> got;
    kbus::detail::kdbus::connect({std::move(entry), io.get_executor()}, [&](auto r) { got = std::move(r); });
    io.run();
    io.restart();
    EXPECT_TRUE(got && !*got);
    return got && !*got ? got->error().message : std::string();
  };
  EXPECT_EQ(attempt(kbus::address_entry{std::string(kbus::transport_names::kernel), {}}), "a kernel address needs path");
  const std::string missing = attempt(entry_of("kernel:path=/nonexistent-kbus-test/bus"));
  EXPECT_NE(missing.find("/nonexistent-kbus-test/bus"), std::string::npos) << missing;
}

}  // namespace
