// tcp: and nonce-tcp: entries. Over TCP the server sees no credentials: the handshake proves
// the uid through the shared DBUS_COOKIE_SHA1 keyring, and no fds are passed.
#include "transport/socket/connectors.hpp"

#include "transport/socket/handshake.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace kbus::detail {

namespace {

// Spec, "Nonce-authenticated TCP Sockets": the client sends the file's 16 bytes first.
constexpr std::size_t nonce_size = 16;

using connected_handler = std::function<void(std::shared_ptr<boost::asio::ip::tcp::socket>)>;

// Resolves and connects; `then` gets the connected socket, `done` a failure.
void connect_stream(const connect_request& request, connect_handler done, connected_handler then) {
  const std::string host(request.entry.get("host").value_or("localhost"));
  const std::string port(*request.entry.get("port"));
  auto resolver = std::make_shared<boost::asio::ip::tcp::resolver>(request.executor);
  resolver->async_resolve(
      host, port,
      [executor = request.executor, resolver, done = std::move(done), then = std::move(then)](
          boost::system::error_code ec, boost::asio::ip::tcp::resolver::results_type results) mutable {
        if (ec) return done(kbus::error(ec, ""));
        auto sock = std::make_shared<boost::asio::ip::tcp::socket>(executor);
        boost::asio::async_connect(*sock, results,
                                   [sock, done = std::move(done), then = std::move(then)](boost::system::error_code ec2, auto) {
                                     if (ec2) return done(kbus::error(ec2, ""));
                                     then(sock);
                                   });
      });
}

void authenticate(const connect_request& request, boost::asio::ip::tcp::socket& sock, std::string_view transport,
                  connect_handler done) {
  client_handshake_options options{.address = request.entry.to_string(), .transport = transport};
  async_client_handshake(request.executor, unix_fd(sock.release()), std::move(options), std::move(done));
}

}  // namespace

void connect_tcp(connect_request request, connect_handler done) {
  if (!request.entry.get("port"))
    return done(kbus::error(errc::invalid_address, "a tcp address to connect to needs a port"));
  connect_stream(request, done, [request, done](std::shared_ptr<boost::asio::ip::tcp::socket> sock) {
    authenticate(request, *sock, transport_names::tcp, done);
  });
}

void connect_nonce_tcp(connect_request request, connect_handler done) {
  auto file = request.entry.get("noncefile");
  if (!file || !request.entry.get("port"))
    return done(kbus::error(errc::invalid_address, "a nonce-tcp address to connect to needs noncefile and port"));
  auto nonce = std::make_shared<std::string>(nonce_size, '\0');
  {
    std::FILE* f = std::fopen(std::string(*file).c_str(), "rb");
    if (!f)
      return done(kbus::error(errc::unsupported_address, "cannot read the noncefile: " + std::string(std::strerror(errno))));
    const std::size_t n = std::fread(nonce->data(), 1, nonce->size(), f);
    std::fclose(f);
    if (n != nonce_size) return done(kbus::error(errc::unsupported_address, "the noncefile holds fewer than 16 bytes"));
  }
  connect_stream(request, done, [request, done, nonce](std::shared_ptr<boost::asio::ip::tcp::socket> sock) {
    boost::asio::async_write(*sock, boost::asio::buffer(*nonce),
                             [request, done, sock, nonce](boost::system::error_code ec, std::size_t) {
                               if (ec) return done(kbus::error(connection_errc::disconnected, "sending the nonce: " + ec.message()));
                               authenticate(request, *sock, transport_names::nonce_tcp, done);
                             });
  });
}

}  // namespace kbus::detail
