#include "kbus/connection.hpp"

#include "kbus/address.hpp"
#include "wire/sasl.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <unordered_map>

namespace kbus {

namespace {

class connection_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "kbus.connection"; }
  std::string message(int ev) const override {
    switch (static_cast<connection_errc>(ev)) {
      case connection_errc::ok: return "success";
      case connection_errc::no_usable_address: return "no usable address";
      case connection_errc::disconnected: return "disconnected";
      case connection_errc::timeout: return "no reply within the timeout";
      case connection_errc::error_reply: return "the call returned a D-Bus error";
      case connection_errc::not_connected: return "not connected";
      case connection_errc::peer_sent_invalid_message: return "the peer sent an invalid message";
    }
    return "unknown kbus.connection error";
  }
};

boost::system::error_code to_boost(std::error_code ec) { return boost::system::error_code(ec); }

// The receive buffer grows in steps of this much, and reads at most this much at once.
constexpr std::size_t read_chunk = 64 * 1024;
// Room for the most descriptors one message may carry (SCM_MAX_FD).
constexpr std::size_t fd_control_space = CMSG_SPACE(sizeof(int) * detail::max_unix_fds);

}  // namespace

const std::error_category& connection_category() noexcept {
  static const connection_category_impl c;
  return c;
}

dbus_error dbus_error_of(const message& reply) {
  dbus_error e;
  e.name = std::string(reply.error_name());
  if (reply.signature().starts_with("s")) {
    detail::reader r = reply.body_reader();
    std::string_view text;
    if (r.get_string(text)) e.message = std::string(text);
  }
  return e;
}

namespace detail {

class connection_impl : public std::enable_shared_from_this<connection_impl> {
 public:
  explicit connection_impl(boost::asio::any_io_executor ex)
      : strand_(boost::asio::make_strand(ex)), socket_(strand_) {}

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::posix::stream_descriptor socket_;
  connection_info info_;
  bool open_ = false;
  std::string last_error_;
  connection::message_handler handler_;

  // Receiving.
  std::vector<std::byte> rbuf_ = std::vector<std::byte>(read_chunk);
  std::size_t rstart_ = 0, rend_ = 0;
  std::deque<unix_fd> rfds_;

  // Sending.
  std::deque<message> outq_;
  bool writing_ = false;
  std::size_t written_ = 0;
  std::uint32_t next_serial_ = 1;

  struct pending_call {
    std::uint64_t id;
    std::unique_ptr<call_completion> done;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  std::unordered_map<std::uint32_t, pending_call> pending_;  // by serial
  std::unordered_map<std::uint64_t, std::uint32_t> serial_of_;  // call id -> serial
  std::uint64_t next_call_id_ = 1;

  // Connecting.
  std::vector<address_entry> entries_;
  std::size_t entry_ = 0;
  bool bus_ = true;
  std::unique_ptr<connect_completion> connect_done_;
  std::unique_ptr<sasl::client> sasl_;

  // ---- connecting ----

  void connect(std::string address, bool bus, std::unique_ptr<connect_completion> done) {
    connect_done_ = std::move(done);
    bus_ = bus;
    auto list = parse_address_list(address);
    if (!list) return connect_failed(to_boost(list.error().code), list.error().what());
    entries_ = std::move(*list);
    entry_ = 0;
    try_entry();
  }

  void skip(const std::string& reason) {
    info_.skipped.push_back(entries_[entry_].to_string() + ": " + reason);
    ++entry_;
    try_entry();
  }

  void try_entry() {
    if (entry_ >= entries_.size()) {
      std::string all;
      for (const auto& s : info_.skipped) all += (all.empty() ? "" : "; ") + s;
      return connect_failed(to_boost(make_error_code(connection_errc::no_usable_address)),
                            "no usable address (" + all + ")");
    }
    const address_entry& e = entries_[entry_];
    if (auto ok = e.check(); !ok) return skip(ok.error().what());
    auto self = shared_from_this();
    if (e.transport == "unix") {
      std::string path;
      if (auto p = e.get("path")) path = std::string(*p);
      else if (auto a = e.get("abstract")) path = std::string(1, '\0') + std::string(*a);
      else return skip("only path= and abstract= can be connected to");
      auto sock = std::make_shared<boost::asio::local::stream_protocol::socket>(strand_);
      sock->async_connect(boost::asio::local::stream_protocol::endpoint(path),
                          [self, sock](boost::system::error_code ec) {
                            if (ec) return self->skip(ec.message());
                            self->connected(sock->release(), "unix");
                          });
      return;
    }
    if (e.transport == "tcp") {
      auto host = e.get("host").value_or("localhost");
      auto port = e.get("port");
      if (!port) return skip("a tcp address to connect to needs a port");
      auto resolver = std::make_shared<boost::asio::ip::tcp::resolver>(strand_);
      resolver->async_resolve(std::string(host), std::string(*port),
                              [self, resolver](boost::system::error_code ec, auto results) {
                                if (ec) return self->skip(ec.message());
                                auto sock = std::make_shared<boost::asio::ip::tcp::socket>(self->strand_);
                                boost::asio::async_connect(*sock, results, [self, sock](boost::system::error_code ec2, auto) {
                                  if (ec2) return self->skip(ec2.message());
                                  self->connected(sock->release(), "tcp");
                                });
                              });
      return;
    }
    skip("the " + e.transport + " transport is not available in this build");
  }

  void connected(int fd, const char* transport) {
    socket_.assign(fd);
    socket_.non_blocking(true);
    info_.address = entries_[entry_].to_string();
    info_.transport = transport;
    sasl::client::options o;
    o.uid = static_cast<std::uint32_t>(::geteuid());
    o.negotiate_unix_fd = std::string_view(transport) == "unix";
    sasl_ = std::make_unique<sasl::client>(o);
    std::string out;
    sasl_->start(out);
    write_raw(std::make_shared<std::string>(std::move(out)), 0);
  }

  // SASL lines go out with plain writes; messages go through the queue later.
  void write_raw(std::shared_ptr<std::string> data, std::size_t offset) {
    auto self = shared_from_this();
    while (offset < data->size()) {
      const ssize_t n = ::send(socket_.native_handle(), data->data() + offset, data->size() - offset, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        socket_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                           [self, data, offset](boost::system::error_code ec) {
                             if (ec) return self->fail_auth(ec.message());
                             self->write_raw(data, offset);
                           });
        return;
      }
      if (n < 0) return fail_auth(std::strerror(errno));
      offset += static_cast<std::size_t>(n);
    }
    if (sasl_) read_auth();
  }

  void read_auth() {
    auto self = shared_from_this();
    socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [self](boost::system::error_code ec) {
      if (ec) return self->fail_auth(ec.message());
      char buf[4096];
      const ssize_t n = ::recv(self->socket_.native_handle(), buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return self->read_auth();
      if (n <= 0) return self->fail_auth(n == 0 ? "the server closed the connection during authentication" : std::strerror(errno));
      std::string out;
      const auto st = self->sasl_->feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
      if (st == sasl::status::failed) return self->fail_auth(self->sasl_->failure().what());
      if (st == sasl::status::authenticated) {
        self->info_.server_guid = self->sasl_->server_guid();
        self->info_.unix_fd_passing = self->sasl_->unix_fd_agreed();
        const auto left = self->sasl_->leftover();
        std::memcpy(self->rbuf_.data(), left.data(), left.size());
        self->rend_ = left.size();
        auto rest = std::make_shared<std::string>(std::move(out));
        self->sasl_.reset();
        // Anything still to say (BEGIN, when not pipelined) goes out before the first message.
        if (!rest->empty()) self->write_raw(rest, 0);
        return self->authenticated();
      }
      if (out.empty()) return self->read_auth();
      self->write_raw(std::make_shared<std::string>(std::move(out)), 0);
    });
  }

  void fail_auth(const std::string& why) {
    socket_.close();
    sasl_.reset();
    skip("authentication: " + why);
  }

  void authenticated() {
    open_ = true;
    read_messages();
    if (!bus_) return finish_connect({});
    auto hello = message_builder::method_call(bus_name::unchecked("org.freedesktop.DBus"),
                                              object_path::unchecked("/org/freedesktop/DBus"),
                                              interface_name::unchecked("org.freedesktop.DBus"),
                                              member_name::unchecked("Hello"))
                     .build();
    struct hello_done final : call_completion {
      std::weak_ptr<connection_impl> self;
      explicit hello_done(std::weak_ptr<connection_impl> s) : self(std::move(s)) {}
      void complete(boost::system::error_code ec, message reply) override {
        auto s = self.lock();
        if (!s) return;
        if (ec) return s->finish_connect(ec);
        auto name = reply.read<std::string>();
        if (!name) return s->finish_connect(to_boost(name.error().code));
        s->info_.unique_name = std::get<0>(*name);
        s->finish_connect({});
      }
    };
    call(std::move(hello), call_options{}, std::make_unique<hello_done>(weak_from_this()));
  }

  void finish_connect(boost::system::error_code ec) {
    // When the connection itself broke, its reason says more than the call's error code.
    if (ec) last_error_ = "Hello failed: " + (open_ || last_error_.empty() ? ec.message() : last_error_);
    if (auto done = std::move(connect_done_)) done->complete(ec);
  }

  void connect_failed(boost::system::error_code ec, std::string why) {
    last_error_ = std::move(why);
    if (auto done = std::move(connect_done_)) done->complete(ec);
  }

  // ---- sending ----

  void send(message m) {
    if (!open_) return;
    m.set_serial(next_serial_++);
    if (next_serial_ == 0) next_serial_ = 1;
    outq_.push_back(std::move(m));
    if (!writing_) write_next();
  }

  void write_next() {
    if (outq_.empty() || !open_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    const message& m = outq_.front();
    const auto bytes = m.bytes();
    while (written_ < bytes.size()) {
      iovec iov{const_cast<std::byte*>(bytes.data()) + written_, bytes.size() - written_};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[fd_control_space];
      if (written_ == 0 && !m.fds().empty()) {
        // Descriptors travel with the first byte of their message.
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * m.fds().size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * m.fds().size());
        int* out = reinterpret_cast<int*>(CMSG_DATA(c));
        for (std::size_t i = 0; i < m.fds().size(); ++i) out[i] = m.fds()[i].get();
      }
      const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // The peer reads slowly: wait until the socket takes more (back-pressure).
        auto self = shared_from_this();
        socket_.async_wait(boost::asio::posix::stream_descriptor::wait_write, [self](boost::system::error_code ec) {
          if (ec) return self->disconnect(ec.message());
          self->write_next();
        });
        return;
      }
      if (n < 0) return disconnect(std::string("send: ") + std::strerror(errno));
      written_ += static_cast<std::size_t>(n);
    }
    written_ = 0;
    outq_.pop_front();
    write_next();
  }

  void call(message m, call_options options, std::unique_ptr<call_completion> done, std::uint64_t id = 0) {
    if (!open_) return done->complete(to_boost(make_error_code(connection_errc::not_connected)), {});
    const std::uint32_t serial = next_serial_;
    pending_call p{id, std::move(done), std::make_unique<boost::asio::steady_timer>(strand_, options.timeout)};
    std::weak_ptr<connection_impl> weak = weak_from_this();
    p.timer->async_wait([weak, serial](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!ec && self) self->complete_call(serial, to_boost(make_error_code(connection_errc::timeout)), {});
    });
    pending_.emplace(serial, std::move(p));
    if (id) serial_of_[id] = serial;
    send(std::move(m));
  }

  void complete_call(std::uint32_t serial, boost::system::error_code ec, message reply) {
    auto it = pending_.find(serial);
    if (it == pending_.end()) return;
    auto p = std::move(it->second);
    pending_.erase(it);
    if (p.id) serial_of_.erase(p.id);
    p.timer->cancel();
    p.done->complete(ec, std::move(reply));
  }

  void cancel(std::uint64_t id) {
    auto it = serial_of_.find(id);
    if (it != serial_of_.end()) complete_call(it->second, boost::asio::error::operation_aborted, {});
  }

  // ---- receiving ----

  void read_messages() {
    auto self = shared_from_this();
    // Messages already in the buffer (pipelined after authentication) come first.
    if (!extract_messages()) return;
    socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [self](boost::system::error_code ec) {
      if (ec) return self->disconnect(ec.message());
      if (!self->open_) return;
      if (self->rbuf_.size() - self->rend_ < read_chunk / 4) {
        // Move what is left to the front, and make room.
        std::memmove(self->rbuf_.data(), self->rbuf_.data() + self->rstart_, self->rend_ - self->rstart_);
        self->rend_ -= self->rstart_;
        self->rstart_ = 0;
        if (self->rbuf_.size() - self->rend_ < read_chunk / 4) self->rbuf_.resize(self->rbuf_.size() + read_chunk);
      }
      iovec iov{self->rbuf_.data() + self->rend_, self->rbuf_.size() - self->rend_};
      alignas(cmsghdr) char control[fd_control_space];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(self->socket_.native_handle(), &msg, MSG_CMSG_CLOEXEC);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->read_messages();
      if (n == 0) return self->disconnect("the peer closed the connection");
      if (n < 0) return self->disconnect(std::string("receive: ") + std::strerror(errno));
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
        for (std::size_t i = 0; i < count; ++i) self->rfds_.emplace_back(fds[i]);
      }
      self->rend_ += static_cast<std::size_t>(n);
      self->read_messages();
    });
  }

  // Takes every complete message from the buffer; false when the connection ended.
  bool extract_messages() {
    while (open_ && rend_ - rstart_ >= fixed_header_size) {
      auto size = message_size(std::span<const std::byte>(rbuf_.data() + rstart_, fixed_header_size));
      if (!size) {
        disconnect("the peer sent an invalid message: " + size.error().what(), connection_errc::peer_sent_invalid_message);
        return false;
      }
      if (rend_ - rstart_ < *size) {
        if (rbuf_.size() - rstart_ < *size) {
          // A large message: grow the buffer once to hold all of it.
          std::memmove(rbuf_.data(), rbuf_.data() + rstart_, rend_ - rstart_);
          rend_ -= rstart_;
          rstart_ = 0;
          rbuf_.resize(*size + read_chunk);
        }
        break;
      }
      std::vector<std::byte> bytes(rbuf_.begin() + static_cast<std::ptrdiff_t>(rstart_),
                                   rbuf_.begin() + static_cast<std::ptrdiff_t>(rstart_ + *size));
      rstart_ += *size;
      if (rstart_ == rend_) rstart_ = rend_ = 0;
      // The UNIX_FDS count is in the header; the fds arrived with the message's first bytes.
      std::vector<unix_fd> fds;
      while (!rfds_.empty()) {
        fds.push_back(std::move(rfds_.front()));
        rfds_.pop_front();
      }
      auto m = message::parse(std::move(bytes), std::move(fds));
      if (!m) {
        if (m.error() == errc::invalid_message_type) continue;  // unknown types are ignored (spec)
        disconnect("the peer sent an invalid message: " + m.error().what(), connection_errc::peer_sent_invalid_message);
        return false;
      }
      dispatch(std::move(*m));
    }
    return open_;
  }

  void dispatch(message m) {
    if (m.type() > message_type::signal) return;  // a type this library does not know
    if ((m.type() == message_type::method_return || m.type() == message_type::error) && m.reply_serial()) {
      auto it = pending_.find(*m.reply_serial());
      if (it != pending_.end()) {
        const auto ec = m.type() == message_type::error ? to_boost(make_error_code(connection_errc::error_reply))
                                                        : boost::system::error_code{};
        complete_call(*m.reply_serial(), ec, std::move(m));
      }
      return;
    }
    if (handler_) {
      handler_(m);
      return;
    }
    if (m.expects_reply()) {
      // Nobody serves objects here yet: say so, as the spec asks, instead of never answering.
      auto reply = message_builder::error(m, error_name::unchecked("org.freedesktop.DBus.Error.UnknownMethod"))
                       .build(std::string("no object is served at ") + std::string(m.path()) + " on this connection");
      send(std::move(reply));
    }
  }

  void disconnect(const std::string& why, connection_errc code = connection_errc::disconnected) {
    if (!open_ && pending_.empty()) return;
    open_ = false;
    last_error_ = why;
    boost::system::error_code ignored;
    socket_.close(ignored);
    outq_.clear();
    // Every pending call ends now, with the reason.
    auto pending = std::move(pending_);
    pending_.clear();
    serial_of_.clear();
    for (auto& [serial, p] : pending) {
      p.timer->cancel();
      p.done->complete(to_boost(make_error_code(code)), {});
    }
    if (auto done = std::move(connect_done_)) done->complete(to_boost(make_error_code(code)));
  }

  static constexpr std::size_t fixed_header_size = detail::fixed_header_size;
};

}  // namespace detail

connection::connection(executor_type ex) : impl_(std::make_shared<detail::connection_impl>(std::move(ex))) {}

connection::~connection() {
  if (impl_) close();
}

connection::executor_type connection::get_executor() const noexcept { return impl_->strand_; }

void connection::start_connect(std::string address, bool bus, std::unique_ptr<detail::connect_completion> done) {
  boost::asio::post(impl_->strand_, [impl = impl_, address = std::move(address), bus, d = std::move(done)]() mutable {
    impl->connect(std::move(address), bus, std::move(d));
  });
}

std::uint64_t connection::start_call(message m, call_options options, std::unique_ptr<detail::call_completion> done) {
  // Ids are handed out here (the caller's thread) so cancellation can name the call at once.
  static std::atomic<std::uint64_t> next_id{1};
  const std::uint64_t id = next_id++;
  boost::asio::post(impl_->strand_, [impl = impl_, m = std::move(m), options, d = std::move(done), id]() mutable {
    impl->call(std::move(m), options, std::move(d), id);
  });
  return id;
}

void connection::cancel_call(std::uint64_t id) {
  boost::asio::post(impl_->strand_, [impl = impl_, id] { impl->cancel(id); });
}

void connection::send(message m) {
  boost::asio::post(impl_->strand_, [impl = impl_, m = std::move(m)]() mutable { impl->send(std::move(m)); });
}

void connection::set_message_handler(message_handler h) {
  boost::asio::post(impl_->strand_, [impl = impl_, h = std::move(h)]() mutable { impl->handler_ = std::move(h); });
}

void connection::close() {
  boost::asio::post(impl_->strand_, [impl = impl_] { impl->disconnect("closed by this side"); });
}

bool connection::is_open() const noexcept { return impl_->open_; }
const connection_info& connection::info() const noexcept { return impl_->info_; }
const std::string& connection::unique_name() const noexcept { return impl_->info_.unique_name; }
std::string connection::last_error() const { return impl_->last_error_; }

}  // namespace kbus
