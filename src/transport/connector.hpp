// How a transport is reached from an address entry: a connector opens whatever the entry
// names, does the transport's own handshake (SASL on a socket, HELLO on a kdbus device), and
// hands back a transport that is ready for messages. registry.hpp maps schemes to connectors.
#pragma once

#include "kbus/address.hpp"
#include "kbus/error.hpp"
#include "transport/transport.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>

namespace kbus::detail {

struct connect_request {
  address_entry entry;                     // check()ed already
  boost::asio::any_io_executor executor;   // the connection's strand: handshakes run on it
  // On a bus, the Hello the connection would send first (its serial set). A connector that can
  // send it with the last bytes of its handshake (saving a round trip) does, and its transport
  // says so (transport::first_message_sent()); the others leave it to the connection.
  std::shared_ptr<const message> first_message{};
};

// Called once, on the request's executor (or inside the connector when it fails at once). An
// error means the entry is skipped: its what() is the reason recorded in connection_info.
using connect_handler = std::function<void(result<std::unique_ptr<transport>>)>;
using connector_fn = void (*)(connect_request request, connect_handler done);

}  // namespace kbus::detail
