// Waiting for another program (dbus-monitor, kbus monitor) to become a monitor of a bus.
// BecomeMonitor takes the connection's unique name away, and the bus announces that with
// NameOwnerChanged: the first unique name to lose its owner after the watch starts is the
// monitor's, as long as no other client of the bus comes and goes meanwhile.
//
//   kbus::test::monitor_start_watch started(conn);      // before the program starts
//   child_process monitor({"/usr/bin/dbus-monitor", "--address", address});
//   ASSERT_TRUE(started.wait()) << "dbus-monitor did not become a monitor";
#pragma once

#include "support/deadlines.hpp"
#include "support/notifier.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"

#include <boost/asio/use_future.hpp>

#include <chrono>
#include <memory>

namespace kbus::test {

class monitor_start_watch {
 public:
  // Returns once the bus has the match rule. `c` runs on another thread.
  explicit monitor_start_watch(kbus::connection& c) : state_(std::make_shared<state>()) {
    auto every_name = kbus::bus::name_owner_changed_rule("");
    every_name.args.clear();
    // The handler keeps the state: a reset from this thread reaches the connection later.
    subscription_ = c.async_subscribe(
                         std::move(every_name),
                         [s = state_](const kbus::message& m) {
                           auto change = kbus::bus::as_name_owner_changed(m);
                           if (!change || !change->name.starts_with(':') || !change->new_owner.empty()) return;
                           s->changed.update([&] { s->unique_name_lost = true; });
                         },
                         boost::asio::use_future)
                        .get();
  }

  // Whether a unique name lost its owner within `limit`.
  bool wait(std::chrono::milliseconds limit = startup_deadline) {
    return state_->changed.wait_until([&] { return state_->unique_name_lost; }, limit);
  }

 private:
  struct state {
    notifier changed;
    bool unique_name_lost = false;  // guarded by `changed`
  };
  std::shared_ptr<state> state_;
  kbus::subscription subscription_;
};

}  // namespace kbus::test
