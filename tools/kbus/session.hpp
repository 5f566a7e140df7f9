// One connection driven on the calling thread: each step runs the io_context until it is done.
#pragma once

#include "context.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace kbus::cli {

// The address the options name (--address, --system, --user/default session bus).
std::string address_of(const options& o);

class session {
 public:
  explicit session(const context& ctx);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Tells run_hooks::started that the command listens, with a way to stop it from any thread
  // that stays safe to call after the session is gone.
  void announce_started();

  // Connects; false after reporting why.
  bool connect();
  // The reply, or nullopt after reporting why (the D-Bus error's name and text); quietly when
  // `report` is false, for calls whose failure only means "not known".
  std::optional<message> call(message m, bool report = true);
  // Sends without awaiting a reply, then makes a round trip to the bus so that the message has
  // left before the program ends; false after reporting why.
  bool send(message m);
  // The header flags the options ask for (--expect-reply=no, --auto-start=no).
  message_flags call_flags() const;

  // Runs handlers until `done` holds or the io_context is stopped.
  template <class Done>
  void run_until(Done done) {
    while (!done() && !io_.stopped()) io_.run_one();
    io_.restart();
  }

  connection& conn() { return conn_; }
  boost::asio::io_context& io() { return io_; }
  const context& ctx() const { return ctx_; }

 private:
  // What a stop function from another thread reaches; emptied when the session ends.
  struct stop_state {
    std::mutex mu;
    boost::asio::io_context* io = nullptr;  // guarded by mu
  };

  const context& ctx_;
  std::shared_ptr<stop_state> stop_ = std::make_shared<stop_state>();
  boost::asio::io_context io_;
  connection conn_;
};

// Calls `method` on org.freedesktop.DBus with `args`, reading one value of type T; nullopt when
// the call fails (quietly: the caller says what that means).
template <class T, class... Args>
std::optional<T> driver_value(session& s, std::string_view method, const Args&... args) {
  auto reply = s.call(bus::driver_call(method, args...), false);
  if (!reply) return std::nullopt;
  auto v = reply->template read<T>();
  if (!v) return std::nullopt;
  return std::get<0>(std::move(*v));
}
}  // namespace kbus::cli
