// The sans-I/O connection core, driven through a scripted in-memory transport: no socket, no
// bus, no executor. Time is a variable the test moves.
#include "core/connection_core.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_names.hpp"

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::connection_errc;
using kbus::message;
using kbus::detail::connection_core;
using kbus::detail::receive_mode;
using kbus::detail::send_outcome;

// A transport whose input is a script and whose output is a list.
class scripted_transport final : public kbus::detail::transport {
 public:
  struct state {
    std::deque<kbus::result<std::optional<message>>> input;  // what receive() gives, in order
    std::vector<message> sent;
    int flushes = 0;
    bool closed = false;
    std::optional<kbus::detail::send_status> next_send;  // once, instead of ok
    kbus::detail::transport_capabilities capabilities;
  };
  explicit scripted_transport(state& s) : s_(s) {}

  int wait_fd() const noexcept override { return s_.closed ? -1 : 42; }
  kbus::detail::send_status send(message m, const kbus::detail::transport_send_options&) override {
    if (s_.next_send) return *std::exchange(s_.next_send, std::nullopt);
    s_.sent.push_back(std::move(m));
    return {};
  }
  kbus::result<void> flush() override {
    ++s_.flushes;
    return {};
  }
  bool wants_write() const noexcept override { return false; }
  std::size_t queued_bytes() const noexcept override { return 0; }
  kbus::result<std::optional<message>> receive(receive_mode) override {
    if (s_.input.empty()) return std::optional<message>{};
    auto next = std::move(s_.input.front());
    s_.input.pop_front();
    return next;
  }
  bool has_pending_input() const noexcept override { return !s_.input.empty(); }
  const kbus::detail::transport_capabilities& capabilities() const noexcept override { return s_.capabilities; }
  kbus::connection_info info() const override {
    kbus::connection_info i;
    i.transport = "scripted";
    return i;
  }
  void close() noexcept override { s_.closed = true; }

 private:
  state& s_;
};

// What a call ended with.
struct outcome {
  std::optional<boost::system::error_code> ec;
  message reply;
};
struct recording_completion final : kbus::detail::call_completion {
  outcome& out;
  explicit recording_completion(outcome& o) : out(o) {}
  void complete(boost::system::error_code ec, message reply) override {
    out.ec = ec;
    out.reply = std::move(reply);
  }
};

message echo_call() {
  return kbus::message_builder::method_call("org.example.Peer"_bus, "/org/example"_path, "org.example.Echo"_iface,
                                            "Echo"_member)
      .build(std::string("hi"));
}

message reply_to(const message& call) {
  auto reply = kbus::message_builder::method_return(call).build(std::string("hi"));
  reply.set_serial(1000 + call.serial());
  return reply;
}

message with_serial(message m, std::uint32_t serial) {
  m.set_serial(serial);
  return m;
}

class ConnectionCore : public ::testing::Test {
 protected:
  ConnectionCore() : core([this] { return now; }) {}

  // A peer-to-peer attach: no Hello, so the script starts with the test's own calls.
  void attach_peer() {
    bool ready = false;
    core.attach(std::make_unique<scripted_transport>(wire), {.bus = false}, [&](auto ec) { ready = !ec; });
    ASSERT_TRUE(ready);
  }
  std::unique_ptr<recording_completion> record(outcome& o) { return std::make_unique<recording_completion>(o); }
  void reply_with(message m) {
    wire.input.emplace_back(std::optional<message>(std::move(m)));
    core.process_input(receive_mode::read_once);
  }

  std::chrono::steady_clock::time_point now{};
  scripted_transport::state wire;
  connection_core core;
};

TEST_F(ConnectionCore, AReplyEndsItsCallAndSerialsCountFromOne) {
  attach_peer();
  outcome first, second;
  core.call(echo_call(), {}, record(first));
  core.call(echo_call(), {}, record(second));
  ASSERT_EQ(wire.sent.size(), 2u);
  EXPECT_EQ(wire.sent[0].serial(), 1u);
  EXPECT_EQ(wire.sent[1].serial(), 2u);
  reply_with(reply_to(wire.sent[1]));
  EXPECT_FALSE(first.ec);
  ASSERT_TRUE(second.ec);
  EXPECT_FALSE(*second.ec);
  EXPECT_EQ(std::get<0>(second.reply.read<std::string>().value()), "hi");
}

TEST_F(ConnectionCore, ABusConnectionSaysHelloAndLearnsItsName) {
  std::optional<boost::system::error_code> ready;
  core.attach(std::make_unique<scripted_transport>(wire), {.bus = true}, [&](auto ec) { ready = ec; });
  ASSERT_EQ(wire.sent.size(), 1u);
  EXPECT_EQ(wire.sent[0].member(), "Hello");
  EXPECT_EQ(wire.sent[0].destination(), kbus::dbus_names::driver_name);
  EXPECT_FALSE(ready);
  reply_with(with_serial(kbus::message_builder::method_return(wire.sent[0]).build(std::string(":1.7")), 1));
  ASSERT_TRUE(ready);
  EXPECT_FALSE(*ready);
  EXPECT_EQ(core.status().unique_name(), ":1.7");
}

TEST_F(ConnectionCore, AnErrorReplyEndsTheCallWithItsNameAndText) {
  attach_peer();
  outcome o;
  core.call(echo_call(), {}, record(o));
  auto error = kbus::message_builder::error(wire.sent[0], "org.example.Error.Nope"_error).build(std::string("no way"));
  reply_with(with_serial(std::move(error), 9));
  ASSERT_TRUE(o.ec);
  EXPECT_EQ(*o.ec, kbus::make_error_code(connection_errc::error_reply));
  const auto e = kbus::dbus_error_of(o.reply);
  EXPECT_EQ(e.name, "org.example.Error.Nope");
  EXPECT_EQ(e.message, "no way");
}

TEST_F(ConnectionCore, ACallWithoutReplyTimesOutAtItsDeadlineAndNotBefore) {
  attach_peer();
  outcome short_call, long_call;
  core.call(echo_call(), {.timeout = std::chrono::milliseconds(100)}, record(short_call));
  core.call(echo_call(), {.timeout = std::chrono::milliseconds(500)}, record(long_call));
  ASSERT_TRUE(core.next_deadline());
  EXPECT_EQ(*core.next_deadline(), now + std::chrono::milliseconds(100));
  now += std::chrono::milliseconds(99);
  core.expire();
  EXPECT_FALSE(short_call.ec);
  now += std::chrono::milliseconds(1);
  core.expire();
  ASSERT_TRUE(short_call.ec);
  EXPECT_EQ(*short_call.ec, kbus::make_error_code(connection_errc::timeout));
  EXPECT_FALSE(long_call.ec);
  EXPECT_EQ(*core.next_deadline(), now + std::chrono::milliseconds(400));
  // The late reply finds no call: it is dropped, not given to anyone.
  reply_with(reply_to(wire.sent[0]));
  EXPECT_TRUE(core.attached());
}

TEST_F(ConnectionCore, ACancelledCallEndsWithOperationAbortedAndItsReplyIsDropped) {
  attach_peer();
  outcome o;
  core.call(echo_call(), {}, record(o), 77);
  core.cancel(77);
  ASSERT_TRUE(o.ec);
  EXPECT_EQ(*o.ec, boost::asio::error::operation_aborted);
  o.ec.reset();
  reply_with(reply_to(wire.sent[0]));
  EXPECT_FALSE(o.ec);
}

TEST_F(ConnectionCore, DisconnectEndsEveryPendingCallWithTheReason) {
  attach_peer();
  outcome a, b;
  core.call(echo_call(), {}, record(a));
  core.call(echo_call(), {}, record(b));
  core.disconnect("the peer closed the connection");
  ASSERT_TRUE(a.ec && b.ec);
  EXPECT_EQ(*a.ec, kbus::make_error_code(connection_errc::disconnected));
  EXPECT_EQ(*b.ec, kbus::make_error_code(connection_errc::disconnected));
  EXPECT_TRUE(wire.closed);
  EXPECT_FALSE(core.status().open());
  EXPECT_EQ(core.status().last_error(), "the peer closed the connection");
  outcome late;
  core.call(echo_call(), {}, record(late));
  ASSERT_TRUE(late.ec);
  EXPECT_EQ(*late.ec, kbus::make_error_code(connection_errc::not_connected));
}

TEST_F(ConnectionCore, APeerThatSendsGarbageEndsTheConnectionAndItsCalls) {
  attach_peer();
  outcome o;
  core.call(echo_call(), {}, record(o));
  wire.input.emplace_back(kbus::error(kbus::make_error_code(connection_errc::peer_sent_invalid_message),
                                      "the peer sent an invalid message: invalid byte order"));
  core.process_input(receive_mode::read_once);
  ASSERT_TRUE(o.ec);
  EXPECT_EQ(*o.ec, kbus::make_error_code(connection_errc::peer_sent_invalid_message));
  EXPECT_FALSE(core.attached());
  EXPECT_EQ(core.status().last_error(), "the peer sent an invalid message: invalid byte order");
}

TEST_F(ConnectionCore, WhatHandlersSendWhileDispatchingGoesOutInOneFlush) {
  attach_peer();
  core.set_message_handler([&](message& m) {
    core.send(kbus::message_builder::method_return(m).build());
  });
  const int before = wire.flushes;
  for (std::uint32_t serial = 1; serial <= 3; ++serial)
    wire.input.emplace_back(std::optional<message>(with_serial(echo_call(), serial)));
  core.process_input(receive_mode::read_once);
  ASSERT_EQ(wire.sent.size(), 3u);
  EXPECT_EQ(wire.flushes - before, 1);
  // In the order they were made, with serials in that order too.
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(wire.sent[i].reply_serial(), i + 1);
    EXPECT_EQ(wire.sent[i].serial(), i + 1);
  }
}

TEST_F(ConnectionCore, CallsBeyondWhatTheTransportMayAwaitWaitTheirTurnInOrder) {
  wire.capabilities.max_awaited_replies = 2;
  attach_peer();
  outcome o[3];
  for (auto& each : o) core.call(echo_call(), {}, record(each));
  ASSERT_EQ(wire.sent.size(), 2u);
  reply_with(reply_to(wire.sent[0]));
  ASSERT_EQ(wire.sent.size(), 3u);
  EXPECT_EQ(wire.sent[2].serial(), 3u);
  EXPECT_FALSE(*o[0].ec);
}

TEST_F(ConnectionCore, AMessageTheTransportCannotSendFailsOnlyItsCall) {
  attach_peer();
  outcome o;
  wire.next_send = kbus::detail::send_status{send_outcome::message_failed,
                                             kbus::error(std::make_error_code(std::errc::message_size), "too big")};
  core.call(echo_call(), {}, record(o));
  ASSERT_TRUE(o.ec);
  EXPECT_EQ(*o.ec, std::errc::message_size);
  EXPECT_TRUE(core.attached());
}

TEST_F(ConnectionCore, OneAddMatchPerRuleAndRemoveMatchWhenTheLastSubscriptionGoes) {
  core.attach(std::make_unique<scripted_transport>(wire), {.bus = true}, [](auto) {});
  wire.sent.clear();
  auto rule = kbus::match_rule::parse("type='signal',interface='org.example.Ticks'").value();
  core.subscribe(1, rule, [](const message&) {}, {}, nullptr);
  core.subscribe(2, rule, [](const message&) {}, {}, nullptr);
  ASSERT_EQ(wire.sent.size(), 1u);
  EXPECT_EQ(wire.sent[0].member(), "AddMatch");
  EXPECT_EQ(core.subscriptions().bus_rule_refs(rule.to_string()), 2);
  core.unsubscribe(1);
  EXPECT_EQ(wire.sent.size(), 1u);
  core.unsubscribe(2);
  ASSERT_EQ(wire.sent.size(), 2u);
  EXPECT_EQ(wire.sent[1].member(), "RemoveMatch");
  EXPECT_EQ(std::get<0>(wire.sent[1].read<std::string>().value()), rule.to_string());
}

TEST_F(ConnectionCore, TheFirstConsumerThatTakesACallEndsItsWay) {
  attach_peer();
  std::vector<std::string> seen;
  core.add_consumer(1, [&](message& m) {
    seen.push_back("first " + std::string(m.path()));
    return m.path() == "/org/example";
  });
  core.add_consumer(2, [&](message& m) {
    seen.push_back("second " + std::string(m.path()));
    return true;
  });
  wire.input.emplace_back(std::optional<message>(with_serial(echo_call(), 5)));
  core.process_input(receive_mode::read_once);
  EXPECT_EQ(seen, (std::vector<std::string>{"first /org/example"}));
  core.remove_consumer(2);
  auto elsewhere = kbus::message_builder::method_call("org.example.Peer"_bus, "/elsewhere"_path, "org.example.Echo"_iface,
                                                      "Echo"_member)
                       .build();
  wire.input.emplace_back(std::optional<message>(with_serial(std::move(elsewhere), 6)));
  core.process_input(receive_mode::read_once);
  // Nobody serves /elsewhere: the caller learns that the object does not exist.
  ASSERT_EQ(wire.sent.size(), 1u);
  EXPECT_EQ(wire.sent[0].error_name(), kbus::dbus_errors::unknown_object);
}

TEST_F(ConnectionCore, CompletionsDueInsideAnInitiatingFunctionAreDeferred) {
  outcome o;
  {
    connection_core::initiating_scope scope(core);
    core.call(echo_call(), {}, record(o));  // not attached: fails at once
  }
  EXPECT_FALSE(o.ec);
  auto deferred = core.take_deferred();
  ASSERT_EQ(deferred.size(), 1u);
  deferred[0].run();
  ASSERT_TRUE(o.ec);
  EXPECT_EQ(*o.ec, kbus::make_error_code(connection_errc::not_connected));
}

}  // namespace
