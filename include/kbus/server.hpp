// The listening side of peer-to-peer D-Bus: no bus in between, the two processes talk
// directly after the server authenticates the client (SASL EXTERNAL on local sockets).
//
//   kbus::server srv(io.get_executor());
//   srv.listen("unix:tmpdir=/tmp");
//   srv.async_accept([](boost::system::error_code ec, kbus::connection peer) { ... });
//   // clients: conn.async_connect(srv.address(), token, {.bus = false});
#pragma once

#include "kbus/connection.hpp"

#include <boost/asio/cancellation_signal.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace kbus {

struct server_options {
  // Whether a client that authenticated as `uid` may connect. Unset: only this process's own
  // uid, as libdbus and GDBus (REQUIRE_SAME_USER) allow by default.
  std::function<bool(std::uint32_t uid)> allow_uid;
};

namespace detail {
class server_impl;

// Accepting may fail inside the initiating function (no listener): always posted.
using accept_completion = completion<boost::system::error_code, connection>;
template <class Handler, class Executor>
using accept_completion_for =
    completion_for<completion_delivery::post, Handler, Executor, boost::system::error_code, connection>;
}  // namespace detail

class server {
 public:
  using executor_type = boost::asio::any_io_executor;

  explicit server(executor_type ex, server_options options = {});
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server();

  // Listens on the first usable entry of an address list: unix: with path, abstract, dir,
  // tmpdir or runtime=yes; tcp: with host and port (0 picks a free one). Throws
  // boost::system::system_error, or sets ec, when no entry can be used.
  void listen(const std::string& address, boost::system::error_code& ec);
  void listen(const std::string& address);

  // The address clients connect to: the socket actually bound, and this server's guid.
  const std::string& address() const noexcept;
  const std::string& guid() const noexcept;

  // Accepts one client and authenticates it. Signature: void(error_code, connection); the
  // connection runs on this server's executor and is open, without Hello. It starts reading
  // when first used (set_message_handler, a call, a send, a subscription): no message is
  // lost or answered before its owner installs a handler. Cancellation through the token's
  // cancellation slot ends a wait for a client with operation_aborted.
  template <class Token>
  auto async_accept(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, connection)>(
        [this](auto handler) {
          using H = decltype(handler);
          boost::asio::cancellation_slot slot = boost::asio::get_associated_cancellation_slot(handler);
          start_accept(std::make_unique<detail::accept_completion_for<H, executor_type>>(std::move(handler), ex_), slot);
        },
        token);
  }

  // Stops listening (removes a socket file it made); connections already accepted go on.
  void close();

 private:
  void start_accept(std::unique_ptr<detail::accept_completion> done, boost::asio::cancellation_slot slot);

  executor_type ex_;
  std::shared_ptr<detail::server_impl> impl_;
};

}  // namespace kbus
