// What a message costs in CUSE requests (each a round trip from the kernel into kbusd and back),
// counted on the emulated device with kbus's own client on both sides: a call and its reply, and
// a signal fanned out to ten subscribers. Each receiver is notified once, polls once and reads
// once; no read comes back empty, and no notification tells a file what it knows already (the
// emulated device raises a file's descriptor only on kbusd's notifications, so a missing one
// would leave its client waiting and these tests failing).
#include "support/deadlines.hpp"
#include "support/emulated_cuse.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus/message.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::test::emulated_cuse;

constexpr int rounds = 20;
constexpr int subscribers = 10;

kbus::kbusd::server_options device_options() {
  static std::atomic<unsigned> counter{0};
  kbus::kbusd::server_options o;
  o.bus_name = std::to_string(::geteuid()) + "-request-count-" + std::to_string(counter++);
  return o;
}

emulated_cuse::request_counts operator-(const emulated_cuse::request_counts& a, const emulated_cuse::request_counts& b) {
  return {a.writes - b.writes, a.reads - b.reads, a.empty_reads - b.empty_reads, a.polls - b.polls, a.ioctls - b.ioctls};
}

class CuseRequests : public testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::unique_ptr<kbus::connection> connect() {
    auto c = std::make_unique<kbus::connection>(io_.get_executor());
    c->connect(device_.address());
    return c;
  }

  emulated_cuse device_{device_options()};
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
};

TEST_F(CuseRequests, ACallAndItsReplyCostOneWriteOnePollAndOneReadEachWay) {
  auto server = connect();
  auto caller = connect();
  server->set_message_handler([c = server.get()](kbus::message& m) {
    if (m.type() == kbus::message_type::method_call) c->send(kbus::message_builder::method_return(m).build(std::string("pong")));
  });
  const auto service = kbus::bus_name::unchecked(server->unique_name());
  auto call = [&] {
    return kbus::message_builder::method_call(service, "/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Ping"_member).build();
  };
  caller->call(call());  // the first one: anything a first message sets up is not counted
  const auto before = device_.requests();
  for (int i = 0; i < rounds; ++i) {
    const auto reply = caller->call(call());
    const auto pong = reply.read<std::string>();
    ASSERT_TRUE(pong);
    EXPECT_EQ(std::get<0>(*pong), "pong");
  }
  const auto n = device_.requests() - before;
  EXPECT_EQ(n.writes, 2u * rounds);
  EXPECT_EQ(n.polls, 2u * rounds);
  EXPECT_EQ(n.reads, 2u * rounds);
  EXPECT_EQ(n.empty_reads, 0u);
  EXPECT_EQ(n.ioctls, 0u);
  EXPECT_EQ(n.total(), 6u * rounds);
}

TEST_F(CuseRequests, ASignalToTenSubscribersCostsOneWriteAndOnePollAndOneReadForEach) {
  auto emitter = connect();
  std::mutex m;
  std::condition_variable cv;
  std::uint32_t heard = 0;
  std::vector<std::unique_ptr<kbus::connection>> listeners;
  for (int i = 0; i < subscribers; ++i) {
    auto& c = *listeners.emplace_back(connect());
    c.set_message_handler([&](kbus::message& msg) {
      if (msg.type() != kbus::message_type::signal || msg.member() != "Tick") return;
      std::lock_guard lock(m);
      ++heard;
      cv.notify_all();
    });
    kbus::bus::add_match(c, "type='signal',interface='org.kbus.Test1',member='Tick'");
  }
  // Emits one signal and waits until every subscriber has it.
  auto tick = [&](std::uint32_t round) {
    emitter->send(kbus::message_builder::signal("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Tick"_member).build(round));
    std::unique_lock lock(m);
    return cv.wait_for(lock, kbus::test::event_deadline, [&] { return heard == round * subscribers; });
  };
  ASSERT_TRUE(tick(1));
  const auto before = device_.requests();
  for (std::uint32_t r = 2; r < 2 + rounds; ++r) ASSERT_TRUE(tick(r)) << "round " << r;
  const auto n = device_.requests() - before;
  EXPECT_EQ(n.writes, 1u * rounds);
  EXPECT_EQ(n.polls, 1u * subscribers * rounds);
  EXPECT_EQ(n.reads, 1u * subscribers * rounds);
  EXPECT_EQ(n.empty_reads, 0u);
  EXPECT_EQ(n.ioctls, 0u);
  EXPECT_EQ(n.total(), (1u + 2u * subscribers) * rounds);
}

}  // namespace
