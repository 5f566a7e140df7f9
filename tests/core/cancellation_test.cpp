// Every asynchronous call of connection, proxy and kbus::bus, async_connect, async_subscribe,
// proxy::async_load_properties and server::async_accept honour its token's cancellation
// slot: cancelled, it completes with operation_aborted, and a timer that emits the signal is a
// timeout (Boost 1.81 has no asio::cancel_after; this is what it does). On dbus-daemon,
// dbus-broker and kbusd, against a service that never answers.
#include "support/bus_test.hpp"

#include "kbus/bus.hpp"
#include "kbus/proxy.hpp"
#include "kbus/server.hpp"
#include "kbus/signal.hpp"
#include "kbus/with_dbus_error.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <cstdio>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;
namespace bus = kbus::bus;

const auto silent_name = "org.kbus.Test.Silent"_bus;
const error_code aborted = boost::asio::error::operation_aborted;

// io_ runs on the test thread: an operation is started, then cancelled, before anything of it
// ran on the connection's executor.
class Cancellation : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    // Takes every call and answers none.
    silent_.emplace(io_.get_executor());
    silent_->set_message_handler([](kbus::message&) {});
    connect(*silent_, {.names = {{silent_name}}});
    client_.emplace(io_.get_executor());
    connect(*client_);
    proxy_.emplace(*client_, silent_name, "/org/kbus/Test"_path, "org.kbus.Test1"_iface);
  }
  void TearDown() override {
    proxy_.reset();
    if (client_) client_->close();
    if (silent_) silent_->close();
    bus_test::TearDown();
  }
  void connect(kbus::connection& c, kbus::connect_options options = {}) {
    std::optional<error_code> done;
    c.async_connect(bus_->address(), [&](error_code ec) { done = ec; }, options);
    ASSERT_TRUE(run_io_until([&] { return done.has_value(); }));
    ASSERT_FALSE(*done) << c.last_error();
  }
  // Starts an operation with a handler bound to a cancellation signal, emits the signal at once
  // and runs io_ until the handler ran: the error code it got.
  template <class Start>
  error_code cancelled(Start start) {
    boost::asio::cancellation_signal signal;
    std::optional<error_code> got;
    start(boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, auto&&...) { got = ec; }));
    signal.emit(boost::asio::cancellation_type::terminal);
    EXPECT_TRUE(run_io_until([&] { return got.has_value(); }));
    return got.value_or(error_code{});
  }

  std::optional<kbus::connection> silent_, client_;
  std::optional<kbus::proxy> proxy_;
};

TEST_P(Cancellation, ConnectionAndProxyCallsEndWithOperationAborted) {
  auto& p = *proxy_;
  auto call = [] {
    return kbus::message_builder::method_call(silent_name, "/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Hang"_member)
        .build();
  };
  EXPECT_EQ(cancelled([&](auto h) { client_->async_call(call(), std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_call<std::int32_t>("Hang"_member, std::tuple{}, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_call("Hang"_member, std::tuple{1}, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_call_message("Hang"_member, std::tuple{}, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_call_values("Hang"_member, {}, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_get_property<std::string>("Label"_member, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_set_property("Label"_member, std::string("x"), std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_get_all_properties(std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { p.async_load_properties(std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) {
              kbus::proxy::async_introspect(*client_, silent_name, "/org/kbus/Test"_path, "org.kbus.Test1"_iface,
                                            std::move(h));
            }),
            aborted);
}

TEST_P(Cancellation, EveryDriverHelperEndsWithOperationAborted) {
  auto& c = *client_;
  const auto me = kbus::bus_name(c.unique_name());
  const auto name = "org.kbus.Test.Cancelled"_bus;
  EXPECT_EQ(cancelled([&](auto h) { bus::async_request_name(c, name, bus::request_name_flags::none, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_release_name(c, name, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_start_service_by_name(c, name, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_get_name_owner(c, silent_name, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_name_has_owner(c, silent_name, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_list_names(c, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_list_activatable_names(c, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_list_queued_owners(c, silent_name, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_get_connection_unix_user(c, me, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_get_connection_unix_process_id(c, me, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_get_connection_credentials(c, me, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_get_id(c, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_add_match(c, "type='signal',member='Foo'", std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) { bus::async_remove_match(c, "type='signal',member='Foo'", std::move(h)); }), aborted);
  // The connection goes on: the replies that came for the cancelled calls were dropped.
  std::optional<std::vector<std::string>> names;
  bus::async_list_names(c, [&](error_code ec, std::vector<std::string> n) {
    EXPECT_FALSE(ec) << ec.message();
    names = std::move(n);
  });
  ASSERT_TRUE(run_io_until([&] { return names.has_value(); }));
  EXPECT_NE(std::find(names->begin(), names->end(), silent_name.str()), names->end());
}

TEST_P(Cancellation, ASubscriptionCancelledBeforeTheBusConfirmedItIsWithdrawn) {
  const auto rule = kbus::match_rule::parse("type='signal',interface='org.kbus.Test1',member='Tick'").value();
  EXPECT_EQ(cancelled([&](auto h) { client_->async_subscribe(rule, [](const kbus::message&) {}, std::move(h)); }), aborted);
  EXPECT_EQ(cancelled([&](auto h) {
              proxy_->async_on_signal<std::uint32_t>("Tick"_member, [](std::uint32_t) {}, std::move(h));
            }),
            aborted);
  // The connection goes on, and a subscription not cancelled is confirmed.
  std::optional<error_code> got;
  kbus::subscription kept;
  client_->async_subscribe(rule, [](const kbus::message&) {}, [&](error_code ec, kbus::subscription s) {
    got = ec;
    kept = std::move(s);
  });
  ASSERT_TRUE(run_io_until([&] { return got.has_value(); }));
  EXPECT_FALSE(*got) << got->message();
  EXPECT_TRUE(kept.active());
}

TEST_P(Cancellation, ASignalStreamsReceiveEndsWithChannelCancelled) {
  kbus::signal_stream<std::uint32_t> ticks(*client_,
                                           kbus::match_rule::parse("type='signal',member='Tick'").value());
  EXPECT_EQ(cancelled([&](auto h) { ticks.async_receive(std::move(h)); }),
            error_code(boost::asio::experimental::error::channel_cancelled));
}

TEST_P(Cancellation, ATimerThatEmitsTheSignalIsATimeout) {
  boost::asio::cancellation_signal signal;
  boost::asio::steady_timer timeout(io_, std::chrono::milliseconds(100));
  timeout.async_wait([&](error_code ec) {
    if (!ec) signal.emit(boost::asio::cancellation_type::terminal);
  });
  const auto start = std::chrono::steady_clock::now();
  std::optional<error_code> got;
  proxy_->async_call<std::int32_t>("Hang"_member, std::tuple{},
                                   boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, std::int32_t) { got = ec; }));
  ASSERT_TRUE(run_io_until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, aborted);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  // Loading the property cache: the subscription is confirmed, GetAll waits, the timer ends it.
  got.reset();
  timeout.expires_after(std::chrono::milliseconds(100));
  timeout.async_wait([&](error_code ec) {
    if (!ec) signal.emit(boost::asio::cancellation_type::terminal);
  });
  proxy_->async_load_properties(boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) { got = ec; }));
  ASSERT_TRUE(run_io_until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, aborted);
  EXPECT_FALSE(proxy_->properties_loaded());
}

TEST_P(Cancellation, ACancelledCoroutineThrowsOperationAbortedThroughWithDbusError) {
  boost::asio::cancellation_signal signal;
  std::optional<error_code> got;
  boost::asio::co_spawn(
      io_,
      [&]() -> boost::asio::awaitable<void> {
        try {
          co_await proxy_->async_call<std::int32_t>(
              "Hang"_member, std::tuple{},
              boost::asio::bind_cancellation_slot(signal.slot(), kbus::with_dbus_error(boost::asio::use_awaitable)));
          got = error_code{};
        } catch (const boost::system::system_error& e) {
          got = e.code();
        }
      },
      boost::asio::detached);
  // The coroutine has started the call once the client has one to wait for.
  ASSERT_TRUE(run_io_until([&] { return signal.slot().has_handler(); }));
  signal.emit(boost::asio::cancellation_type::terminal);
  ASSERT_TRUE(run_io_until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, aborted);
}

// A peer that listens and never answers: the handshake waits forever, until cancelled.
TEST(ConnectCancellation, ACancelledConnectEndsWithOperationAbortedAndTheConnectionClosed) {
  char dir_template[] = "/tmp/kbus-cancel-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/socket";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);

  boost::asio::io_context io;
  kbus::connection c(io.get_executor());
  boost::asio::cancellation_signal signal;
  std::optional<error_code> got;
  c.async_connect("unix:path=" + path, boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) { got = ec; }));
  // The connect is under way once the connection waits for the peer's first answer: nothing
  // runs then, and nothing more would.
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got.has_value());
  signal.emit(boost::asio::cancellation_type::terminal);
  io.restart();
  const auto end = std::chrono::steady_clock::now() + kbus::test::event_deadline;
  while (!got && io.run_one_until(end) > 0) {
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, aborted);
  EXPECT_FALSE(c.is_open());
  EXPECT_EQ(c.last_error(), "the connect was cancelled");
  ::close(listener);
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

TEST(AcceptCancellation, ACancelledAcceptEndsWithOperationAbortedAndTheNextOneAccepts) {
  char dir_template[] = "/tmp/kbus-accept-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  boost::asio::io_context io;
  kbus::server srv(io.get_executor());
  srv.listen("unix:path=" + std::string(dir_template) + "/socket");
  boost::asio::cancellation_signal signal;
  std::optional<error_code> got;
  srv.async_accept(boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, kbus::connection) { got = ec; }));
  signal.emit(boost::asio::cancellation_type::terminal);
  const auto end = std::chrono::steady_clock::now() + kbus::test::event_deadline;
  while (!got && io.run_one_until(end) > 0) {
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, aborted);
  // The listener goes on: a client connects, and the next accept takes it.
  std::optional<error_code> accepted, connected;
  std::optional<kbus::connection> peer;
  srv.async_accept([&](error_code ec, kbus::connection c) {
    accepted = ec;
    peer.emplace(std::move(c));
  });
  kbus::connection client(io.get_executor());
  client.async_connect(srv.address(), [&](error_code ec) { connected = ec; }, {.bus = false});
  io.restart();
  while (!(accepted && connected) && io.run_one_until(end) > 0) {
  }
  ASSERT_TRUE(accepted && connected);
  EXPECT_FALSE(*accepted) << accepted->message();
  EXPECT_FALSE(*connected) << client.last_error();
  client.close();
  if (peer) peer->close();
  srv.close();
  ::rmdir(dir_template);
}

INSTANTIATE_TEST_SUITE_P(Buses, Cancellation, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse, bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
