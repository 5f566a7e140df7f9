#include "transport/socket/handshake.hpp"

#include "kbus/address.hpp"
#include "kbus_config.hpp"
#include "platform/cloexec.hpp"
#include "platform/no_sigpipe.hpp"
#include "platform/peer_credentials.hpp"
#include "transport/socket/stream_transport.hpp"
#include "wire/sasl.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kbus::detail {

namespace {

// What one read of the peer's SASL lines takes at most.
constexpr std::size_t auth_read_size = 4096;

// One exchange, client or server: they differ only in who speaks first and what the machine
// knows at the end. SASL lines go out with plain writes; what the machine says after success
// (BEGIN, or OK and AGREE_UNIX_FD to a client that pipelined) is written before the transport
// is handed on, so it precedes every message.
class sasl_exchange final : public std::enable_shared_from_this<sasl_exchange> {
 public:
  sasl_exchange(boost::asio::any_io_executor executor, connection_info info, connect_handler done)
      : socket_(std::move(executor)), info_(std::move(info)), done_(std::move(done)) {}

  // Takes `fd` and makes it non-blocking (unless `prepared` says it is, and close-on-exec);
  // false (and the handler called) when it cannot.
  bool adopt(unix_fd fd, bool prepared = false) {
    boost::system::error_code ec;
    socket_.assign(fd.get(), ec);
    if (!ec) fd.release();
    if (!ec && !prepared) socket_.non_blocking(true, ec);
    // Every socket of the socket transport passes here: Asio opens its sockets without
    // close-on-exec, and where there is no MSG_NOSIGNAL the socket needs SO_NOSIGPIPE.
    if (!ec && !prepared && !set_cloexec(socket_.native_handle()))
      ec = boost::system::error_code(errno, boost::system::system_category());
    if (!ec && !prepare_no_sigpipe(socket_.native_handle())) ec = boost::system::error_code(errno, boost::system::system_category());
    if (ec) fail(ec.message());
    return !ec;
  }

  void start_client(const client_handshake_options& options) {
    sasl::client::options o;
    o.uid = static_cast<std::uint32_t>(::geteuid());
    o.negotiate_unix_fd = options.pipeline_with_unix_fds;
    o.pipeline = options.pipeline_with_unix_fds;
    // A pipelined EXTERNAL that is rejected ends the handshake (nothing can be said after BEGIN):
    // the keyring would never be asked.
    const char* home = o.pipeline ? nullptr : std::getenv("HOME");
    if (home && *home) {
      own_keyring_ = std::make_unique<file_keyring>(home);
      o.mechanisms.push_back(sasl::mechanism::dbus_cookie_sha1);
      o.cookie_identity = std::to_string(*o.uid);
      o.cookies = own_keyring_.get();
    }
    client_ = std::make_unique<sasl::client>(o);
    std::string out;
    client_->start(out);
    if (client_->pipelined() && options.first_message) {
      // BEGIN is in `out`: the first message follows it in the same write.
      const auto bytes = options.first_message->bytes();
      out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      first_message_sent_ = true;
    }
    write(std::make_shared<std::string>(std::move(out)), 0);
  }

  void start_server(server_handshake_options options) {
    sasl::server::options o;
    o.guid = options.guid;
    const auto own_uid = static_cast<std::uint32_t>(::geteuid());
    o.own_uid = own_uid;
    shared_keyring_ = std::move(options.keyring);
    if (shared_keyring_) {
      o.mechanisms.push_back(sasl::mechanism::dbus_cookie_sha1);
      o.cookies = shared_keyring_.get();
    }
    if (info_.transport == transport_names::unix_socket) {
      if (info_.peer) o.peer_uid = info_.peer->uid;
      o.unix_fd_supported = true;
    }
    auto allow = options.allow_uid ? std::move(options.allow_uid)
                                   : [own_uid](std::uint32_t uid) { return uid == own_uid; };
    o.authorize = [allow = std::move(allow)](std::optional<std::uint32_t> uid) { return uid && allow(*uid); };
    server_ = std::make_unique<sasl::server>(std::move(o));
    read();
  }

 private:
  void write(std::shared_ptr<std::string> data, std::size_t offset) {
    while (offset < data->size()) {
      // A client's first byte is the nul byte that may carry its credentials (SCM_CREDS); where
      // it carries none it goes with the rest.
      const bool credentials_byte =
          KBUS_SEND_SCM_CREDS && client_ && !sent_credentials_byte_ && offset == 0 && (*data)[0] == '\0';
      const ssize_t n = credentials_byte
                            ? send_credentials_byte(socket_.native_handle())
                            : ::send(socket_.native_handle(), data->data() + offset, data->size() - offset,
                                     no_sigpipe_send_flags);
      if (n > 0 && credentials_byte) sent_credentials_byte_ = true;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        socket_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                           [self = shared_from_this(), data, offset](boost::system::error_code ec) {
                             if (ec) return self->fail(ec.message());
                             self->write(data, offset);
                           });
        return;
      }
      if (n < 0) return fail(std::strerror(errno));
      offset += static_cast<std::size_t>(n);
    }
    if (authenticated_) return finish();
    read();
  }

  void read() {
    socket_.async_wait(boost::asio::posix::descriptor_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->fail(ec.message());
      self->take_input();
    });
  }

  void take_input() {
    char buf[auth_read_size];
    const ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return read();
    if (n <= 0) {
      const char* closed = client_ ? "the server closed the connection during authentication"
                                   : "the client closed the connection during authentication";
      return fail(n == 0 ? closed : std::strerror(errno));
    }
    const std::string_view in(buf, static_cast<std::size_t>(n));
    std::string out;
    const auto status = client_ ? client_->feed(in, out) : server_->feed(in, out);
    if (status == sasl::status::failed) return fail(client_ ? client_->failure().what() : server_->failure().what());
    if (status == sasl::status::authenticated) return succeeded(std::move(out));
    if (out.empty()) return read();
    write(std::make_shared<std::string>(std::move(out)), 0);
  }

  // `rest`: what the machine still has to say before the first message.
  void succeeded(std::string rest) {
    if (client_) info_.server_guid = client_->server_guid();
    info_.unix_fd_passing = client_ ? client_->unix_fd_agreed() : server_->unix_fd_agreed();
    // Bytes after the handshake belong to the message stream.
    leftover_ = client_ ? client_->leftover() : server_->leftover();
    client_.reset();
    server_.reset();
    authenticated_ = true;
    if (rest.empty()) return finish();
    write(std::make_shared<std::string>(std::move(rest)), 0);
  }

  void finish() {
    unix_fd fd(socket_.release());
    const auto* first = reinterpret_cast<const std::byte*>(leftover_.data());
    auto done = std::move(done_);
    auto t = std::make_unique<stream_transport>(std::move(fd), std::move(info_),
                                                std::span<const std::byte>(first, leftover_.size()));
    if (first_message_sent_) t->set_first_message_sent();
    done(std::move(t));
  }

  void fail(const std::string& why) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    client_.reset();
    server_.reset();
    auto done = std::move(done_);
    done(kbus::error(connection_errc::disconnected, "authentication: " + why));
  }

  boost::asio::posix::stream_descriptor socket_;
  connection_info info_;
  connect_handler done_;
  std::unique_ptr<sasl::client> client_;
  std::unique_ptr<sasl::server> server_;
  std::unique_ptr<file_keyring> own_keyring_;     // a client's, for its one handshake
  std::shared_ptr<file_keyring> shared_keyring_;  // a server's, shared by its handshakes
  bool authenticated_ = false;
  bool sent_credentials_byte_ = false;
  bool first_message_sent_ = false;
  std::string leftover_;
};

}  // namespace

void async_client_handshake(boost::asio::any_io_executor executor, unix_fd socket, client_handshake_options options,
                            connect_handler done) {
  connection_info info;
  info.address = std::move(options.address);
  info.transport = std::string(options.transport);
  if (options.local_and_prepared || is_local_socket(socket.get())) info.peer = peer_credentials_of(socket.get());
  auto exchange = std::make_shared<sasl_exchange>(std::move(executor), std::move(info), std::move(done));
  if (exchange->adopt(std::move(socket), options.local_and_prepared)) exchange->start_client(options);
}

void async_server_handshake(boost::asio::any_io_executor executor, unix_fd socket, server_handshake_options options,
                            connect_handler done) {
  connection_info info;
  info.server_guid = options.guid;
  if (is_local_socket(socket.get())) {
    info.transport = std::string(transport_names::unix_socket);
    info.peer = peer_credentials_of(socket.get());
  } else {
    info.transport = std::string(transport_names::tcp);
  }
  auto exchange = std::make_shared<sasl_exchange>(std::move(executor), std::move(info), std::move(done));
  if (exchange->adopt(std::move(socket))) exchange->start_server(std::move(options));
}

}  // namespace kbus::detail
