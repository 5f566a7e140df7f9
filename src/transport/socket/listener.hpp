// The listening side of peer-to-peer D-Bus over sockets: listens on the first usable entry of
// an address list (unix: path, abstract, dir, tmpdir, runtime=yes; tcp: host and port, 0 for a
// free one), and accepts clients through the server's side of the SASL handshake. kbus::server
// is built on it.
#pragma once

#include "kbus/server.hpp"
#include "transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <string>

namespace kbus::detail {

class listener {
 public:
  // ec is set on failure; failure() then says why (the accepted transport is null).
  using accept_handler = std::function<void(boost::system::error_code, std::unique_ptr<transport>)>;

  listener(boost::asio::any_io_executor executor, server_options options);
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener();

  // Stops listening first if listening. On failure ec is set and failure() says why for every
  // entry.
  void listen(const std::string& address, boost::system::error_code& ec);
  // Why the last listen() or accept failed, in words.
  const std::string& failure() const noexcept;
  // The address clients connect to (the socket actually bound, with guid=), and the guid.
  const std::string& address() const noexcept;
  const std::string& guid() const noexcept;

  // Accepts one client and authenticates it (SASL, allow_uid: by default only this process's
  // uid). The handler runs on the executor, never inside this call; the transport has read
  // nothing of the message stream yet (beyond bytes pipelined with the handshake). `slot`
  // cancels the wait for a client (operation_aborted).
  void async_accept(accept_handler done, boost::asio::cancellation_slot slot = {});

  // Stops listening and removes a socket file it made; accepted transports go on.
  void close();

 private:
  struct state;
  std::shared_ptr<state> state_;  // shared with accepts and handshakes in flight
};

}  // namespace kbus::detail
