#include "transport/socket/listener.hpp"

#include "kbus/address.hpp"
#include "platform/abstract_socket.hpp"
#include "transport/socket/handshake.hpp"
#include "transport/socket/keyring.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace kbus::detail {

namespace {

// libdbus's guids and socket names: 16 random bytes (32 hex digits) for a guid, 8 (16 hex
// digits) after "dbus-" for a socket made in dir= or tmpdir=.
constexpr std::size_t guid_bytes = 16;
constexpr std::size_t socket_name_bytes = 8;

std::string random_hex(std::size_t bytes) { return file_keyring(std::filesystem::path{}).random_hex(bytes); }

}  // namespace

struct listener::state : std::enable_shared_from_this<state> {
  state(boost::asio::any_io_executor executor, server_options o)
      : strand(boost::asio::make_strand(executor)), options(std::move(o)), unix_acceptor(strand), tcp_acceptor(strand) {}

  // Accepts and handshakes complete here, one at a time: failure_ is theirs to write.
  boost::asio::any_io_executor strand;
  server_options options;
  boost::asio::local::stream_protocol::acceptor unix_acceptor;
  boost::asio::ip::tcp::acceptor tcp_acceptor;
  std::string address, guid, socket_file, failure;
  std::shared_ptr<file_keyring> keyring;

  // Empty when listening; else why not.
  std::string listen_on(const address_entry& e);
  std::string listen_unix(const address_entry& e);
  std::string listen_tcp(const address_entry& e);
  void authenticate(int fd, accept_handler done);
  void close();
};

std::string listener::state::listen_on(const address_entry& e) {
  if (auto ok = e.check(); !ok) return ok.error().what();
  if (e.transport == transport_names::unix_socket) return listen_unix(e);
  if (e.transport == transport_names::tcp) return listen_tcp(e);
  return "cannot listen on " + e.transport + ": addresses";
}

std::string listener::state::listen_unix(const address_entry& e) {
  std::string path;
  if (auto p = e.get("path")) {
    path = std::string(*p);
  } else if (auto a = e.get("abstract")) {
    auto abstract = abstract_socket_path(*a);
    if (!abstract) return abstract.error().message;
    path = std::move(*abstract);
  } else if (auto d = e.get("dir") ? e.get("dir") : e.get("tmpdir")) {
    path = std::string(*d) + "/dbus-" + random_hex(socket_name_bytes);
  } else if (e.get("runtime")) {
    const char* rt = std::getenv("XDG_RUNTIME_DIR");
    if (!rt || !*rt) return "runtime=yes needs XDG_RUNTIME_DIR";
    path = std::string(rt) + "/bus";
  }
  const bool abstract = !path.empty() && path[0] == '\0';
  boost::system::error_code ec;
  unix_acceptor.open(boost::asio::local::stream_protocol(), ec);
  if (!ec) unix_acceptor.bind(boost::asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) unix_acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    unix_acceptor.close(ignored);
    return "cannot listen on " + (abstract ? "@" + path.substr(1) : path) + ": " + ec.message();
  }
  if (!abstract) socket_file = path;
  address = (abstract ? "unix:abstract=" + escape_address_value(path.substr(1)) : "unix:path=" + escape_address_value(path)) +
            ",guid=" + guid;
  return {};
}

std::string listener::state::listen_tcp(const address_entry& e) {
  const std::string host(e.get("host").value_or("localhost"));
  const std::string port(e.get("port").value_or("0"));
  boost::system::error_code ec;
  boost::asio::ip::tcp::resolver resolver(strand);
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) return "cannot resolve " + host + ": " + ec.message();
  const auto endpoint = results.begin()->endpoint();
  tcp_acceptor.open(endpoint.protocol(), ec);
  if (!ec) tcp_acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) tcp_acceptor.bind(endpoint, ec);
  if (!ec) tcp_acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    tcp_acceptor.close(ignored);
    return "cannot listen on " + host + ":" + port + ": " + ec.message();
  }
  const auto bound = tcp_acceptor.local_endpoint(ec);
  address = "tcp:host=" + escape_address_value(host) + ",port=" + std::to_string(bound.port()) +
            ",family=" + (bound.address().is_v6() ? "ipv6" : "ipv4") + ",guid=" + guid;
  return {};
}

void listener::state::authenticate(int fd, accept_handler done) {
  server_handshake_options o;
  o.guid = guid;
  if (const char* home = std::getenv("HOME"); home && *home && !keyring) keyring = std::make_shared<file_keyring>(home);
  o.keyring = keyring;
  o.allow_uid = options.allow_uid;
  async_server_handshake(strand, unix_fd(fd), std::move(o),
                         [self = shared_from_this(), done = std::move(done)](result<std::unique_ptr<transport>> accepted) {
                           if (accepted) return done({}, std::move(*accepted));
                           self->failure = accepted.error().message;
                           done(accepted.error().code, nullptr);
                         });
}

void listener::state::close() {
  boost::system::error_code ignored;
  unix_acceptor.close(ignored);
  tcp_acceptor.close(ignored);
  if (!socket_file.empty()) ::unlink(socket_file.c_str());
  socket_file.clear();
}

listener::listener(boost::asio::any_io_executor executor, server_options options)
    : state_(std::make_shared<state>(std::move(executor), std::move(options))) {}

listener::~listener() { close(); }

void listener::listen(const std::string& address, boost::system::error_code& ec) {
  ec = {};
  close();
  auto list = parse_address_list(address);
  if (!list) {
    ec = boost::system::error_code(list.error().code);
    state_->failure = list.error().what();
    return;
  }
  if (state_->guid.empty()) state_->guid = random_hex(guid_bytes);
  std::string skipped;
  for (const address_entry& e : *list) {
    std::string why = state_->listen_on(e);
    if (why.empty()) return;
    skipped += (skipped.empty() ? "" : "; ") + e.to_string() + ": " + why;
  }
  ec = make_error_code(connection_errc::no_usable_address);
  state_->failure = "no usable address to listen on (" + skipped + ")";
}

const std::string& listener::failure() const noexcept { return state_->failure; }
const std::string& listener::address() const noexcept { return state_->address; }
const std::string& listener::guid() const noexcept { return state_->guid; }

void listener::async_accept(accept_handler done, boost::asio::cancellation_slot slot) {
  auto take = [s = state_, done = std::move(done)](boost::system::error_code ec, int fd) mutable {
    if (!ec) return s->authenticate(fd, std::move(done));
    s->failure = ec.message();
    done(ec, nullptr);
  };
  if (state_->unix_acceptor.is_open()) {
    state_->unix_acceptor.async_accept(boost::asio::bind_cancellation_slot(
        slot, [take = std::move(take)](boost::system::error_code ec, boost::asio::local::stream_protocol::socket s) mutable {
          take(ec, ec ? -1 : s.release());
        }));
  } else if (state_->tcp_acceptor.is_open()) {
    state_->tcp_acceptor.async_accept(boost::asio::bind_cancellation_slot(
        slot, [take = std::move(take)](boost::system::error_code ec, boost::asio::ip::tcp::socket s) mutable {
          if (!ec) s.set_option(boost::asio::ip::tcp::no_delay(true), ec);
          take(ec, ec ? -1 : s.release());
        }));
  } else {
    boost::asio::post(state_->strand, [take = std::move(take)]() mutable {
      take(make_error_code(connection_errc::not_connected), -1);
    });
  }
}

void listener::close() { state_->close(); }

}  // namespace kbus::detail
