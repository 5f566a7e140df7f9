// Signals with typed arguments, as handlers or as an asynchronous stream, and bus names
// watched as they appear and vanish.
//
//   auto sub = kbus::subscribe_signal<std::string, std::uint32_t>(conn, rule,
//       [](const kbus::message& m, std::string name, std::uint32_t n) { ... },
//       {.on_mismatch = [](const kbus::message& m, const kbus::error& e) { log(e.what()); }});
//
//   kbus::signal_stream<std::uint32_t> ticks(conn, rule);
//   auto [ec, args] = co_await ticks.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
#pragma once

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"

#include <boost/asio/experimental/concurrent_channel.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <tuple>

namespace kbus {

// What to do with a signal whose arguments do not have the expected types.
struct subscribe_signal_options {
  std::function<void(const message&, const error&)> on_mismatch;  // unset: the signal is dropped
  subscribe_options subscribe;
};

// Calls handler(message, Args...) for each matching message whose body has the signature of
// Args...; any other body goes to options.on_mismatch and never reaches the handler.
template <class... Args, class Handler>
subscription subscribe_signal(connection& c, match_rule rule, Handler handler, subscribe_signal_options options = {}) {
  return c.subscribe(
      std::move(rule),
      [handler = std::move(handler), on_mismatch = std::move(options.on_mismatch)](const message& m) mutable {
        auto args = m.template read<Args...>();
        if (!args) {
          if (on_mismatch) on_mismatch(m, args.error());
          return;
        }
        std::apply([&](auto&&... a) { handler(m, std::move(a)...); }, std::move(*args));
      },
      options.subscribe);
}

struct signal_stream_options {
  // Signals kept for a reader that is behind; further ones are dropped and counted.
  std::size_t capacity = 1024;
  subscribe_options subscribe;
};

// Matching signals as an asynchronous stream: async_receive completes with
// (error_code, std::tuple<Args...>) per signal, in arrival order. A signal whose body does
// not have the signature of Args... completes with errc::type_mismatch (and the stream goes
// on). Safe to read from any thread.
template <class... Args>
class signal_stream {
 public:
  using value_type = std::tuple<Args...>;

  signal_stream(connection& c, match_rule rule, signal_stream_options options = {})
      : state_(std::make_shared<state>(c.get_executor(), options.capacity)) {
    subscription_ = c.subscribe(
        std::move(rule),
        [s = std::weak_ptr<state>(state_)](const message& m) {
          auto st = s.lock();
          if (!st) return;
          auto args = m.template read<Args...>();
          const bool queued = args ? st->channel.try_send(boost::system::error_code{}, std::move(*args))
                                   : st->channel.try_send(boost::system::error_code(args.error().code), value_type{});
          if (!queued) st->dropped.fetch_add(1, std::memory_order_relaxed);
        },
        options.subscribe);
  }

  // Signature: void(error_code, std::tuple<Args...>).
  template <class Token>
  auto async_receive(Token&& token) {
    return state_->channel.async_receive(std::forward<Token>(token));
  }

  // Signals lost because the reader fell more than `capacity` behind.
  std::uint64_t dropped() const noexcept { return state_->dropped.load(std::memory_order_relaxed); }

  // Ends the subscription; a pending receive completes with an error.
  void close() {
    subscription_.reset();
    state_->channel.close();
  }

 private:
  struct state {
    state(connection::executor_type ex, std::size_t capacity) : channel(std::move(ex), capacity) {}
    boost::asio::experimental::concurrent_channel<void(boost::system::error_code, value_type)> channel;
    std::atomic<std::uint64_t> dropped{0};
  };
  std::shared_ptr<state> state_;
  subscription subscription_;
};

// Name watching, as GDBus's g_bus_watch_name: `appeared(name, owner)` when the name gets an
// owner (or has one when the watch starts), `vanished(name)` when it loses it (or has none
// when the watch starts). Called on the connection's executor, alternately.
struct name_watch_handlers {
  std::function<void(const std::string& name, const std::string& owner)> appeared;
  std::function<void(const std::string& name)> vanished;
};

// The watch lasts as long as the returned handle.
subscription watch_name(connection& c, const bus_name& name, name_watch_handlers handlers);

}  // namespace kbus
