// The fixture the integration suites share: a private bus of the kind the test is
// parameterised with, and an io_context that the test runs itself or on a thread.
#pragma once

#include "support/bus_fixture.hpp"
#include "support/deadlines.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace kbus::test {

class bus_test : public testing::TestWithParam<bus_kind> {
 protected:
  // Skips the test when this machine cannot run the bus (its program is not installed), and
  // fails it when the bus does not start; a derived SetUp calling this one goes on only when
  // bus_ holds the bus.
  void SetUp() override {
    if (auto why = private_bus::why_unavailable(GetParam())) GTEST_SKIP() << *why;
    std::string why;
    auto bus = private_bus::start(GetParam(), why);
    ASSERT_TRUE(bus) << why;
    bus_.emplace(std::move(*bus));
  }
  // A derived TearDown calls this one last: what runs on io_ is closed while it still runs.
  void TearDown() override {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Runs io_ on its own thread until TearDown, idle or not. Tests that run io_ on the test
  // thread do without: there io_ returns when it has nothing to do.
  void start_io_thread() {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  // For tests that run io_ on the test thread: runs its handlers, one at a time, until `done()`
  // holds, nothing is left to run, or `limit` passes; whether done() holds.
  template <class Done>
  bool run_io_until(Done done, std::chrono::milliseconds limit = event_deadline) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && io_.run_one_until(end) > 0) {
    }
    io_.restart();
    return done();
  }

  std::optional<private_bus> bus_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
};

}  // namespace kbus::test
