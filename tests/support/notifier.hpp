// Waiting for what another thread makes true: a handler on a connection's executor reports each
// change, and the test thread sleeps until its condition holds. The deadline only bounds a test
// that is failing; a passing test never waits for it.
//
//   kbus::test::notifier changed;
//   proxy.on_properties_changed([&](const auto&) { changed.notify(); });
//   ASSERT_TRUE(changed.wait_until([&] { return proxy.cached_property<std::string>("Label") == "x"; }));
#pragma once

#include "support/deadlines.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kbus::test {

class notifier {
 public:
  // After a change made under a lock of its own (or atomically): wakes the waiter to look again.
  void notify() {
    { std::lock_guard lock(mu_); }  // a waiter is either before its check or asleep: never between
    cv_.notify_all();
  }
  // A change to state that this notifier's lock guards, then the wake-up.
  template <class F>
  void update(F change) {
    {
      std::lock_guard lock(mu_);
      change();
    }
    cv_.notify_all();
  }
  // Until `done()` (called under this notifier's lock) holds; false when `limit` passed first.
  template <class Predicate>
  bool wait_until(Predicate done, std::chrono::milliseconds limit = event_deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, done);
  }
  // Reads state that this notifier's lock guards.
  template <class F>
  auto read(F f) {
    std::lock_guard lock(mu_);
    return f();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace kbus::test
