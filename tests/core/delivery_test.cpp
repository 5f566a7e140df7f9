// Nothing lost on the way out, on every bus: close() delivers what was queued before it (even when
// the executor stops right after), a connection destroyed right after send() delivers, async_send
// and flush complete once the bytes are out, a sender facing a bus that stops reading waits at
// its bound and loses nothing, and messages queued when the bus dies are each reported failed.
#include "support/bus_test.hpp"
#include "support/notifier.hpp"

#include "kbus/connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;

constexpr std::size_t mib = 1024 * 1024;

kbus::message chunk(std::uint32_t index, std::size_t payload_bytes) {
  return kbus::message_builder::signal("/org/kbus/Delivery"_path, "org.kbus.Delivery"_iface, "Chunk"_member)
      .build(index, std::string(payload_bytes, static_cast<char>('a' + index % 26)));
}

// A connection on its own io_context and thread, so that the test can stop that executor alone.
// The connection goes first, while its executor still runs (unless the test stopped it).
struct sender {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{io.get_executor()};
  std::optional<kbus::connection> holder{std::in_place, io.get_executor()};
  kbus::connection& conn = *holder;
  std::thread thread{[this] { io.run(); }};

  ~sender() {
    holder.reset();
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

class Delivery : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    listener_.emplace(io_.get_executor());
    kbus::connect_options options;
    listener_->connect(bus_->address(), options);
    auto rule = kbus::match_rule::parse("type='signal',interface='org.kbus.Delivery',member='Chunk'").value();
    subscription_ = listener_
                        ->async_subscribe(
                            std::move(rule),
                            [this](const kbus::message& m) {
                              auto [index, payload] = m.read<std::uint32_t, std::string>().value();
                              // Named copies: clang before 16 lets no lambda capture a structured binding.
                              const std::uint32_t n = index;
                              const std::size_t size = payload.size();
                              arrived_.update([&] { received_.push_back({n, size}); });
                            },
                            boost::asio::use_future)
                        .get();
  }
  void TearDown() override {
    subscription_.reset();
    listener_.reset();
    bus_test::TearDown();
  }

  // Until `count` chunks arrived (large ones take a while through a bus daemon).
  bool wait_for_chunks(std::size_t count) {
    return arrived_.wait_until([&] { return received_.size() >= count; }, kbus::test::bulk_deadline);
  }
  struct arrival {
    std::uint32_t index;
    std::size_t bytes;
  };
  std::vector<arrival> received() {
    return arrived_.read([&] { return received_; });
  }

  std::optional<kbus::connection> listener_;
  kbus::subscription subscription_;
  kbus::test::notifier arrived_;
  std::vector<arrival> received_;
};

TEST_P(Delivery, SignalsSentBeforeCloseArriveEvenWhenTheExecutorStopsAtOnce) {
  const std::vector<std::size_t> sizes{1 * mib, 1 * mib, 1 * mib, 20 * mib, 20 * mib, 20 * mib};
  {
    sender s;
    s.conn.connect(bus_->address());
    for (std::uint32_t i = 0; i < sizes.size(); ++i) s.conn.send(chunk(i, sizes[i]));
    s.conn.close();
    s.io.stop();
    EXPECT_EQ(s.conn.info().failed_sends, 0u) << s.conn.last_error();
  }
  ASSERT_TRUE(wait_for_chunks(sizes.size())) << received().size() << " of " << sizes.size() << " arrived";
  const auto got = received();
  for (std::uint32_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(got[i].index, i);
    EXPECT_EQ(got[i].bytes, sizes[i]);
  }
}

TEST_P(Delivery, AConnectionDestroyedRightAfterSendDelivers) {
  {
    sender s;
    s.conn.connect(bus_->address());
    s.conn.send(chunk(7, 1000));
  }  // destroyed: the connection closes, delivering first
  ASSERT_TRUE(wait_for_chunks(1));
  EXPECT_EQ(received()[0].index, 7u);
}

TEST_P(Delivery, AsyncSendAndFlushCompleteOnceTheMessageIsHandedOver) {
  sender s;
  s.conn.connect(bus_->address());
  s.conn.async_send(chunk(1, 2 * mib), boost::asio::use_future).get();  // throws on failure
  s.conn.send(chunk(2, 2 * mib));
  s.conn.flush();
  ASSERT_TRUE(wait_for_chunks(2));
  // A closed connection refuses at once, and says why.
  s.conn.close();
  auto refused = s.conn.async_send(chunk(3, 10), boost::asio::use_future);
  try {
    refused.get();
    ADD_FAILURE() << "a send after close() succeeded";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), kbus::make_error_code(kbus::connection_errc::not_connected));
  }
}

TEST_P(Delivery, AsyncCloseCompletesOnceEverythingQueuedIsDelivered) {
  sender s;
  s.conn.connect(bus_->address());
  for (std::uint32_t i = 0; i < 4; ++i) s.conn.send(chunk(i, 4 * mib));
  s.conn.async_close(boost::asio::use_future).get();  // throws on failure
  EXPECT_FALSE(s.conn.is_open());
  EXPECT_EQ(s.conn.last_error(), "closed by this side");
  ASSERT_TRUE(wait_for_chunks(4));
}

TEST_P(Delivery, CloseOnTheConnectionsOwnExecutorDeliversInTheBackground) {
  sender s;
  s.conn.connect(bus_->address());
  std::promise<void> closed_inside;
  boost::asio::post(s.conn.get_executor(), [&] {
    for (std::uint32_t i = 0; i < 3; ++i) s.conn.send(chunk(i, 4 * mib));
    s.conn.close();  // cannot wait here: it returns, and the delivery goes on
    closed_inside.set_value();
  });
  closed_inside.get_future().get();
  ASSERT_TRUE(wait_for_chunks(3));
  EXPECT_EQ(s.conn.info().failed_sends, 0u);
}

TEST_P(Delivery, ASenderFacingABusThatStopsReadingWaitsAtItsBoundAndLosesNothing) {
  if (kbus::test::speaks_kdbus(GetParam()))
    GTEST_SKIP() << "a kdbus send hands the message to the receiver's pool at once: there is no outgoing queue";
  // Declared before the sender, whose handlers use them: they outlive its thread even when an
  // assertion ends the test early.
  kbus::test::notifier events;
  std::size_t sent = 0, refused = 0;
  std::vector<boost::system::error_code> failures;
  sender s;
  kbus::connect_options options;
  options.outgoing_queue_limit = 1 * mib;
  s.conn.connect(bus_->address(), options);
  s.conn.set_send_error_handler([&](const kbus::message&, boost::system::error_code ec, const std::string&) {
    events.update([&] {
      ++refused;
      if (ec != kbus::make_error_code(kbus::connection_errc::outgoing_queue_full)) failures.push_back(ec);
    });
  });
  s.conn.flush();  // the handler is in place
  ASSERT_TRUE(bus_->pause());
  constexpr std::uint32_t count = 200;  // 200 × 64 KiB: far beyond what the socket and the bound hold
  for (std::uint32_t i = 0; i < count; ++i) {
    s.conn.async_send(chunk(i, 64 * 1024), [&](boost::system::error_code ec) {
      events.update([&] {
        ++sent;
        if (ec) failures.push_back(ec);
      });
    });
  }
  // At the bound, a fire-and-forget send fails through the handler instead of queueing on.
  s.conn.send(chunk(count, 64 * 1024));
  ASSERT_TRUE(events.wait_until([&] { return refused == 1; }));
  EXPECT_LT(events.read([&] { return sent; }), count);  // the rest wait for room
  ASSERT_TRUE(bus_->resume());
  ASSERT_TRUE(events.wait_until([&] { return sent == count; }, kbus::test::bulk_deadline));
  EXPECT_TRUE(events.read([&] { return failures.empty(); }));
  ASSERT_TRUE(wait_for_chunks(count));
  const auto got = received();
  ASSERT_EQ(got.size(), count);  // the refused one never went out
  for (std::uint32_t i = 0; i < count; ++i) EXPECT_EQ(got[i].index, i);
}

TEST_P(Delivery, MessagesQueuedWhenTheBusDiesAreEachReportedFailed) {
  // Declared before the sender, whose handlers use them (as above).
  kbus::test::notifier events;
  std::size_t reported = 0, completed = 0, completed_failed = 0;
  sender s;
  s.conn.connect(bus_->address());
  s.conn.set_send_error_handler([&](const kbus::message&, boost::system::error_code, const std::string&) {
    events.update([&] { ++reported; });
  });
  s.conn.flush();  // the handler is in place
  const bool paused = bus_->pause();  // a bus process reads nothing more: messages stay queued
  constexpr std::uint32_t count = 20;
  for (std::uint32_t i = 0; i < count; ++i) {
    s.conn.send(chunk(i, 1 * mib));
    s.conn.async_send(chunk(i, 1 * mib), [&](boost::system::error_code ec) {
      events.update([&] {
        ++completed;
        if (ec) ++completed_failed;
      });
    });
  }
  if (paused) {
    // The socket holds a fraction of 40 MiB: most of it is still queued here when the bus dies.
    bus_->kill();
    // Each async_send completes, those not written with an error; the others reach the handler.
    ASSERT_TRUE(events.wait_until([&] { return completed == count; }, kbus::test::bulk_deadline));
    EXPECT_FALSE(s.conn.is_open());
    EXPECT_GT(events.read([&] { return completed_failed; }), 0u);
    EXPECT_GT(events.read([&] { return reported; }), 0u);
    EXPECT_EQ(s.conn.info().failed_sends, events.read([&] { return reported; }));
  } else {
    // kbusd hands each message over at once; once the bus is gone, a send is reported failed.
    ASSERT_TRUE(events.wait_until([&] { return completed == count; }, kbus::test::bulk_deadline));
    EXPECT_EQ(events.read([&] { return completed_failed; }), 0u);
    bus_->kill();
    s.conn.send(chunk(count, 10));
    s.conn.async_send(chunk(count, 10), [&](boost::system::error_code ec) {
      events.update([&] {
        ++completed;
        if (ec) ++completed_failed;
      });
    });
    ASSERT_TRUE(events.wait_until([&] { return completed == count + 1 && reported == 1; }));
    EXPECT_EQ(events.read([&] { return completed_failed; }), 1u);
    EXPECT_EQ(s.conn.info().failed_sends, 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Buses, Delivery,
                         testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse,
                                         bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
