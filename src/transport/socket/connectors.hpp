// Connectors (transport/connector.hpp) for the address schemes of the socket transport. Each
// opens what its entry names and ends with the client's SASL handshake (handshake.hpp). An
// entry that cannot be used fails with its reason as the error's message (empty when a system
// error code says it all: what() then is that code's text); the connection records it and
// tries the next entry.
#pragma once

#include "transport/connector.hpp"

namespace kbus::detail {

// unix:path= and unix:abstract= (dir, tmpdir and runtime are for listening only).
void connect_unix(connect_request request, connect_handler done);
// launchd:env= (macOS): the unix socket whose path `launchctl getenv ENV` prints.
void connect_launchd(connect_request request, connect_handler done);
// tcp:host=,port= (host defaults to localhost).
void connect_tcp(connect_request request, connect_handler done);
// nonce-tcp:host=,port=,noncefile=: tcp that first sends the noncefile's 16 bytes.
void connect_nonce_tcp(connect_request request, connect_handler done);
// unixexec:path=,argv0=,argv1=...: a program whose stdin and stdout are the socket.
void connect_unixexec(connect_request request, connect_handler done);

}  // namespace kbus::detail
