// The D-Bus authentication (SASL) over a connected socket, on an executor: src/wire/sasl.hpp's
// state machines fed from non-blocking reads, their answers written back, and, once
// authenticated, the socket handed on as a stream_transport that starts with whatever the peer
// sent after the handshake. The handler is called once, on the executor (or inside the
// starting function when the first write fails).
#pragma once

#include "transport/connector.hpp"
#include "transport/socket/keyring.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace kbus::detail {

struct client_handshake_options {
  std::string address;         // the entry connected to (connection_info::address)
  std::string_view transport;  // a kbus::transport_names constant
  // Ask for unix fd passing, and send AUTH EXTERNAL, NEGOTIATE_UNIX_FD and BEGIN at once (as
  // sd-bus does): on a local socket EXTERNAL is what every bus accepts, so one round trip
  // instead of two.
  bool pipeline_with_unix_fds = false;
  // The socket is a local one, non-blocking and close-on-exec already (the handshake need not
  // ask or set either).
  bool local_and_prepared = false;
  // Written right after BEGIN when the conversation is pipelined (connect_request::first_message).
  std::shared_ptr<const message> first_message{};
};

// The client side: EXTERNAL as this process's euid, then DBUS_COOKIE_SHA1 through the keyring
// in $HOME (over TCP the server sees no credentials). A failure is connection_errc::disconnected
// with the message "authentication: <why>".
void async_client_handshake(boost::asio::any_io_executor executor, unix_fd socket, client_handshake_options options,
                            connect_handler done);

struct server_handshake_options {
  std::string guid;  // this server's, sent with OK
  // Whether the client's authenticated uid may connect.
  std::function<bool(std::uint32_t uid)> allow_uid;
  // DBUS_COOKIE_SHA1 through this keyring; null: EXTERNAL only.
  std::shared_ptr<file_keyring> keyring;
};

// The server side: EXTERNAL checked against the socket's peer credentials (and fd passing
// offered) on a local socket, DBUS_COOKIE_SHA1 for this process's own uid. The transport's
// info has no address (the client has one).
void async_server_handshake(boost::asio::any_io_executor executor, unix_fd socket, server_handshake_options options,
                            connect_handler done);

}  // namespace kbus::detail
