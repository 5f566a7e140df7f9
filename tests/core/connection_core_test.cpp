// The sans-I/O connection core, driven through a scripted in-memory transport: no socket, no
// bus, no executor. Time is a variable the test moves.
#include "core/connection_core.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_names.hpp"

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include <deque>
#include <limits>
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

// A transport whose input is a script and whose output is a list: send() queues, flush()
// writes whole messages while `writable` bytes last (unbounded unless a test sets it).
class scripted_transport final : public kbus::detail::transport {
 public:
  struct state {
    std::deque<kbus::result<std::optional<message>>> input;  // what receive() gives, in order
    std::deque<message> queue;                                // sent, not yet written
    std::vector<message> sent;                                // written
    std::size_t writable = std::numeric_limits<std::size_t>::max();
    bool full = false;
    int flushes = 0;
    bool closed = false;
    std::optional<kbus::detail::send_status> next_send;  // once, instead of ok
    kbus::detail::transport_capabilities capabilities;
  };
  explicit scripted_transport(state& s) : s_(s) {}

  int wait_fd() const noexcept override { return s_.closed ? -1 : 42; }
  kbus::detail::send_status send(message&& m, const kbus::detail::transport_send_options&) override {
    if (s_.next_send) return *std::exchange(s_.next_send, std::nullopt);
    s_.queue.push_back(std::move(m));
    return {};
  }
  kbus::result<void> flush() override {
    ++s_.flushes;
    while (!s_.queue.empty() && s_.queue.front().bytes().size() <= s_.writable) {
      if (s_.writable != std::numeric_limits<std::size_t>::max()) s_.writable -= s_.queue.front().bytes().size();
      s_.sent.push_back(std::move(s_.queue.front()));
      s_.queue.pop_front();
    }
    s_.full = !s_.queue.empty();
    return {};
  }
  // As a socket: the last flush found the descriptor full.
  bool wants_write() const noexcept override { return s_.full; }
  std::size_t queued_bytes() const noexcept override {
    std::size_t n = 0;
    for (const auto& m : s_.queue) n += m.bytes().size();
    return n;
  }
  std::vector<message> take_unsent() override {
    std::vector<message> unsent(std::make_move_iterator(s_.queue.begin()), std::make_move_iterator(s_.queue.end()));
    s_.queue.clear();
    return unsent;
  }
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
  void attach_peer(std::size_t outgoing_queue_limit = kbus::connect_options{}.outgoing_queue_limit) {
    bool ready = false;
    core.attach(std::make_unique<scripted_transport>(wire), {.bus = false, .outgoing_queue_limit = outgoing_queue_limit},
                [&](auto ec) { ready = !ec; });
    ASSERT_TRUE(ready);
  }
  // Sends that complete with an error code (async_send, flush, close) record it here.
  struct op_outcome {
    std::optional<boost::system::error_code> ec;
  };
  struct recording_op final : kbus::detail::op_completion {
    op_outcome& out;
    explicit recording_op(op_outcome& o) : out(o) {}
    void complete(boost::system::error_code ec) override { out.ec = ec; }
  };
  std::unique_ptr<recording_op> record(op_outcome& o) { return std::make_unique<recording_op>(o); }
  // What the send error handler heard.
  struct unsent {
    std::uint32_t serial;
    boost::system::error_code ec;
    std::string why;
  };
  void watch_unsent() {
    core.set_send_error_handler([this](const message& m, boost::system::error_code ec, const std::string& why) {
      reported.push_back({m.serial(), ec, why});
    });
  }
  std::vector<unsent> reported;
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

// ---- the outgoing side: nothing lost, nothing unbounded ----

message signal_of(std::size_t payload_bytes) {
  return kbus::message_builder::signal("/org/example"_path, "org.example.Ticks"_iface, "Tick"_member)
      .build(std::string(payload_bytes, 'x'));
}

TEST_F(ConnectionCore, AsyncSendCompletesOnceTheTransportHasWrittenTheMessage) {
  attach_peer();
  wire.writable = 0;
  op_outcome o;
  core.send(signal_of(100), record(o));
  EXPECT_FALSE(o.ec);  // queued, not written
  EXPECT_TRUE(core.wants_write());
  wire.writable = std::numeric_limits<std::size_t>::max();
  core.flush_output();
  ASSERT_TRUE(o.ec);
  EXPECT_FALSE(*o.ec);
  ASSERT_EQ(wire.sent.size(), 1u);
}

TEST_F(ConnectionCore, AtTheBoundAsyncSendsAndCallsWaitInOrderAndSendFailsThroughTheHandler) {
  attach_peer(1000);
  watch_unsent();
  wire.writable = 0;
  op_outcome first, second;
  outcome call;
  core.send(signal_of(900), record(first));  // an empty queue takes any size
  core.send(signal_of(200), record(second));  // over the bound: waits
  core.call(echo_call(), {}, record(call));   // waits behind it
  core.send(signal_of(10));                   // fire and forget: fails at once
  EXPECT_EQ(wire.queue.size(), 1u);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].ec, kbus::make_error_code(connection_errc::outgoing_queue_full));
  EXPECT_NE(reported[0].why.find("outgoing queue is full"), std::string::npos) << reported[0].why;
  EXPECT_EQ(core.status().info().failed_sends, 1u);
  // A flush waits for what waits for room too.
  op_outcome flushed;
  core.flush(record(flushed));
  EXPECT_FALSE(flushed.ec);
  wire.writable = std::numeric_limits<std::size_t>::max();
  core.flush_output();
  ASSERT_TRUE(first.ec && second.ec && flushed.ec);
  EXPECT_FALSE(*first.ec);
  EXPECT_FALSE(*second.ec);
  EXPECT_FALSE(*flushed.ec);
  ASSERT_EQ(wire.sent.size(), 3u);
  EXPECT_EQ(wire.sent[0].type(), kbus::message_type::signal);
  EXPECT_EQ(wire.sent[1].type(), kbus::message_type::signal);
  EXPECT_EQ(wire.sent[1].bytes().size(), signal_of(200).bytes().size());
  EXPECT_EQ(wire.sent[2].type(), kbus::message_type::method_call);
  EXPECT_FALSE(call.ec);  // sent, awaiting its reply
}

TEST_F(ConnectionCore, CloseDeliversWhatWasQueuedBeforeEndingTheConnection) {
  attach_peer();
  wire.writable = 0;
  for (int i = 0; i < 3; ++i) core.send(signal_of(100));
  op_outcome closed;
  core.close(record(closed));
  EXPECT_FALSE(closed.ec);
  EXPECT_FALSE(wire.closed);
  EXPECT_TRUE(core.closing());
  op_outcome late;
  core.send(signal_of(1), record(late));  // after close(): refused
  ASSERT_TRUE(late.ec);
  EXPECT_EQ(*late.ec, kbus::make_error_code(connection_errc::not_connected));
  wire.writable = std::numeric_limits<std::size_t>::max();
  core.flush_output();
  EXPECT_EQ(wire.sent.size(), 3u);
  EXPECT_TRUE(wire.closed);
  ASSERT_TRUE(closed.ec);
  EXPECT_FALSE(*closed.ec);
  EXPECT_EQ(core.status().last_error(), "closed by this side");
}

TEST_F(ConnectionCore, ACloseThatTimesOutReportsEveryMessageNotWritten) {
  attach_peer();
  watch_unsent();
  wire.writable = 0;
  op_outcome awaited;
  core.send(signal_of(100));
  core.send(signal_of(100), record(awaited));
  op_outcome closed;
  core.close(record(closed));
  core.close_timed_out();
  EXPECT_TRUE(wire.closed);
  ASSERT_TRUE(closed.ec && awaited.ec);
  EXPECT_EQ(*closed.ec, kbus::make_error_code(connection_errc::timeout));
  EXPECT_EQ(*awaited.ec, kbus::make_error_code(connection_errc::disconnected));
  // The fire-and-forget one through the handler; the other through its own completion only.
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].serial, 1u);
  EXPECT_NE(reported[0].why.find("before it was written"), std::string::npos) << reported[0].why;
  EXPECT_EQ(core.status().info().failed_sends, 1u);
}

TEST_F(ConnectionCore, WhenThePeerLeavesEachQueuedMessageIsReportedFailed) {
  attach_peer();
  watch_unsent();
  wire.writable = 0;
  outcome call;
  core.call(echo_call(), {}, record(call));
  core.send(signal_of(10));
  core.send(signal_of(20));
  wire.input.emplace_back(kbus::error(kbus::make_error_code(connection_errc::disconnected), "the peer closed the connection"));
  core.process_input(receive_mode::read_once);
  ASSERT_TRUE(call.ec);
  EXPECT_EQ(*call.ec, kbus::make_error_code(connection_errc::disconnected));
  ASSERT_EQ(reported.size(), 2u);  // the call reports through its completion, not twice
  EXPECT_EQ(reported[0].serial, 2u);
  EXPECT_EQ(reported[1].serial, 3u);
  EXPECT_EQ(core.status().info().failed_sends, 2u);
}

TEST_F(ConnectionCore, ASignalTheTransportRefusesReachesTheHandler) {
  attach_peer();
  watch_unsent();
  wire.next_send = kbus::detail::send_status{send_outcome::message_failed,
                                             kbus::error(std::make_error_code(std::errc::no_buffer_space), "pool full")};
  core.send(signal_of(10));
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].ec, std::errc::no_buffer_space);
  EXPECT_EQ(reported[0].why, "pool full");
  EXPECT_TRUE(core.attached());
}

}  // namespace
