// unix: and launchd: entries: a local stream socket by path, by abstract name (Linux), or by
// the path launchd keeps in its environment.
#include "transport/socket/connectors.hpp"

#include "platform/abstract_socket.hpp"
#include "platform/launchd.hpp"
#include "transport/socket/handshake.hpp"

#include <boost/asio/local/stream_protocol.hpp>

namespace kbus::detail {

namespace {

// `path`: a file system path, or an abstract name after a NUL byte.
void connect_local(connect_request request, std::string path, connect_handler done) {
  auto sock = std::make_shared<boost::asio::local::stream_protocol::socket>(request.executor);
  sock->async_connect(boost::asio::local::stream_protocol::endpoint(path),
                      [request = std::move(request), sock, done = std::move(done)](boost::system::error_code ec) mutable {
                        if (ec) return done(kbus::error(ec, ""));
                        client_handshake_options options{request.entry.to_string(), transport_names::unix_socket, true};
                        async_client_handshake(request.executor, unix_fd(sock->release()), std::move(options),
                                               std::move(done));
                      });
}

}  // namespace

void connect_unix(connect_request request, connect_handler done) {
  std::string path;
  if (auto p = request.entry.get("path")) {
    path = std::string(*p);
  } else if (auto a = request.entry.get("abstract")) {
    auto abstract = abstract_socket_path(*a);
    if (!abstract) return done(abstract.error());
    path = std::move(*abstract);
  } else {
    return done(kbus::error(errc::unsupported_address, "only path= and abstract= can be connected to"));
  }
  connect_local(std::move(request), std::move(path), std::move(done));
}

void connect_launchd(connect_request request, connect_handler done) {
  std::string why;
  auto path = launchd_socket_path(std::string(*request.entry.get("env")), why);
  if (!path) return done(kbus::error(errc::unsupported_address, why));
  connect_local(std::move(request), std::move(*path), std::move(done));
}

}  // namespace kbus::detail
