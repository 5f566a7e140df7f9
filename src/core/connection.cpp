#include "kbus/connection.hpp"

#include "kbus/address.hpp"
#include "kbus/bus.hpp"
#include "kbus/dbus_errors.hpp"
#include "kbus/server.hpp"
#include "match/match_index.hpp"
#include "transport/kdbus/kdbus_transport.hpp"
#include "transport/socket/keyring.hpp"
#include "wire/sasl.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <unordered_map>

extern char** environ;  // POSIX declares it; not every system's headers do

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
      case connection_errc::would_deadlock:
        return "a blocking call on the connection's own executor would wait forever";
    }
    return "unknown kbus.connection error";
  }
};

boost::system::error_code to_boost(std::error_code ec) { return boost::system::error_code(ec); }

// The receive buffer starts this small (an idle connection holds little) and doubles when
// a read would have less than a quarter of it free, up to read_chunk at a time.
constexpr std::size_t initial_read_buffer = 4 * 1024;
constexpr std::size_t read_chunk = 64 * 1024;
// Spec, "Nonce-authenticated TCP Sockets": the client sends the file's 16 bytes first.
constexpr std::size_t nonce_size = 16;
// How much later than the connection's own reply timeout the kdbus reply deadline is set.
constexpr std::chrono::milliseconds kdbus_timeout_margin{1000};
// Room for the most descriptors one message may carry (SCM_MAX_FD).
constexpr std::size_t fd_control_space = CMSG_SPACE(sizeof(int) * detail::max_unix_fds);
// The most queued messages one sendmsg() gathers (well below IOV_MAX).
constexpr std::size_t max_gather = 64;

// The process at the other end of a local socket.
std::optional<connection_info::credentials> peer_credentials_of(int fd) {
#if defined(SO_PEERCRED)
  ucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(c.uid), static_cast<std::uint32_t>(c.gid), c.pid};
#else
  uid_t uid;
  gid_t gid;
  if (::getpeereid(fd, &uid, &gid) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(uid), static_cast<std::uint32_t>(gid), -1};
#endif
}

bool is_local_socket(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.ss_family == AF_UNIX;
}

// launchd keeps the bus socket's path in an environment variable of its own (D-Bus
// specification, "launchd" addresses), which `launchctl getenv ENV` prints (macOS). The path,
// or nullopt with the reason in `why`. launchctl answers at once: it is run and waited for.
std::optional<std::string> launchd_socket_path(const std::string& env, std::string& why) {
  int out[2];
  if (::pipe(out) != 0) {
    why = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  ::fcntl(out[0], F_SETFD, FD_CLOEXEC);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_addclose(&actions, out[1]);
  std::string program = "launchctl", verb = "getenv", name = env;
  char* argv[] = {program.data(), verb.data(), name.data(), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    why = "cannot run launchctl: " + std::string(std::strerror(spawned));
    return std::nullopt;
  }
  std::string path;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    path.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || path.empty()) {
    why = "launchctl getenv " + env + " gave no socket path";
    return std::nullopt;
  }
  return path;
}

// A call completion that runs on the connection's strand itself (internal calls).
struct function_completion final : detail::call_completion {
  std::function<void(boost::system::error_code, message)> f;
  explicit function_completion(std::function<void(boost::system::error_code, message)> fn) : f(std::move(fn)) {}
  void complete(boost::system::error_code ec, message reply) override { f(ec, std::move(reply)); }
};

std::atomic<std::uint64_t> next_subscription_id{1};

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

  // The I/O objects use the strand's own type, not any_io_executor around it: every
  // completion would otherwise go through two layers of type erasure and allocate.
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;
  strand_type strand_;
  boost::asio::posix::basic_stream_descriptor<strand_type> socket_;
  connection_info info_;
  bool open_ = false;
  std::string last_error_;
  connection::message_handler handler_;

  // Receiving.
  std::vector<std::byte> rbuf_;
  std::size_t rstart_ = 0, rend_ = 0;
  std::deque<unix_fd> rfds_;

  // Sending.
  std::deque<message> outq_;
  bool writing_ = false;
  std::size_t written_ = 0;
  std::uint32_t next_serial_ = 1;

  struct pending_call {
    std::uint64_t id;  // 0: the call cannot be cancelled
    std::unique_ptr<call_completion> done;
    std::chrono::steady_clock::time_point deadline;
  };
  // One timer for all pending calls, armed for the earliest deadline it has seen: no timer
  // (and no timerfd update) per call. Replies leave it alone, and it stays armed when no call
  // is pending (the socket's read keeps the io_context busy anyway); when it fires it ends
  // the calls that are due and re-arms for the earliest left.
  boost::asio::basic_waitable_timer<std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
                                    strand_type>
      deadline_timer_{strand_};
  std::optional<std::chrono::steady_clock::time_point> timer_armed_for_;
  std::unordered_map<std::uint32_t, pending_call> pending_;     // by serial
  std::uint32_t become_monitor_serial_ = 0;  // our BecomeMonitor call, if any
  bool monitoring_ = false;                  // the bus made us a monitor
  std::unordered_map<std::uint64_t, std::uint32_t> serial_of_;  // id -> serial, cancellable calls only

  // Operations posted by the public API and not yet run: while there are any, a new one
  // must queue behind them (keeping the order of the application's calls).
  std::atomic<std::size_t> queued_{0};
  // A call being started inside its initiating function: completions are posted.
  bool initiating_ = false;
  // Dispatching what one read brought: messages sent meanwhile go out together after it.
  bool batching_ = false;

  // Connecting.
  std::vector<address_entry> entries_;
  std::size_t entry_ = 0;
  bool bus_ = true;
  std::unique_ptr<connect_completion> connect_done_;
  std::unique_ptr<sasl::client> sasl_;
  std::unique_ptr<file_keyring> keyring_;
  // The kdbus transport, when the address was a kernel: one.
  std::unique_ptr<kdbus_transport> kdbus_;
  boost::asio::posix::basic_stream_descriptor<strand_type> kdbus_wait_{strand_};
  bool draining_kdbus_ = false;
  unsigned kdbus_generation_ = 0;  // counts transports: a wait on a replaced one ends quietly
  // kdbus caps the replies one connection may await (KDBUS_CONN_MAX_REQUESTS_PENDING, notes
  // §1.8): calls beyond it wait here, in order, and go out as replies come in.
  std::deque<std::pair<message, std::chrono::milliseconds>> kdbus_backlog_;
  std::size_t kdbus_awaiting_ = 0;
  // Accepting (the server side of a peer-to-peer connection).
  std::unique_ptr<sasl::server> sasl_server_;
  // An accepted connection reads nothing until it is first used, so that no message comes
  // before its owner had the chance to install a handler.
  bool read_deferred_ = false;
  void start_reading() {
    if (!read_deferred_) return;
    read_deferred_ = false;
    read_messages();
  }

  // Subscriptions: rules evaluated here, and the bus's copies of them counted per text.
  struct subscription_entry {
    match_index::id index_id = 0;
    std::shared_ptr<signal_handler> handler;
    std::string bus_rule;      // the AddMatch text; empty when the bus was not asked
    std::string tracked_name;  // a well-known sender followed through its owners
  };
  match_index index_;
  std::unordered_map<std::uint64_t, subscription_entry> subscriptions_;  // by subscription id
  std::unordered_map<match_index::id, std::uint64_t> subscription_of_;   // index id -> subscription id
  struct bus_match {
    int refs = 0;
    bool confirmed = false;
    boost::system::error_code failure;
    std::vector<std::function<void(boost::system::error_code)>> waiters;
  };
  std::unordered_map<std::string, bus_match> bus_matches_;
  // Owners of the well-known names that rules name as sender, from GetNameOwner and
  // NameOwnerChanged.
  struct tracked_name {
    int refs = 0;
    bool changed = false;  // a NameOwnerChanged came: the GetNameOwner reply is older news
    std::optional<std::string> owner;
  };
  std::unordered_map<std::string, tracked_name> names_;
  struct owner_table final : name_owner_lookup {
    const connection_impl* impl;
    explicit owner_table(const connection_impl* i) : impl(i) {}
    std::optional<std::string> owner_of(std::string_view name) const override {
      auto it = impl->names_.find(std::string(name));
      return it == impl->names_.end() ? std::nullopt : it->second.owner;
    }
  };
  owner_table owners_{this};

  // ---- connecting ----

  void connect(std::string address, connect_options options, std::unique_ptr<connect_completion> done) {
    connect_done_ = std::move(done);
    bus_ = options.bus;
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
      if (auto p = e.get("path")) return connect_unix(std::string(*p));
      if (auto a = e.get("abstract")) return connect_unix(std::string(1, '\0') + std::string(*a));
      return skip("only path= and abstract= can be connected to");
    }
    if (e.transport == "launchd") {
      std::string why;
      auto path = launchd_socket_path(std::string(*e.get("env")), why);
      if (!path) return skip(why);
      return connect_unix(std::move(*path));
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
    if (e.transport == "nonce-tcp") {
      // Spec, "Nonce-authenticated TCP Sockets": the 16 bytes of the noncefile go first.
      auto file = e.get("noncefile");
      auto port = e.get("port");
      if (!file || !port) return skip("a nonce-tcp address to connect to needs noncefile and port");
      auto nonce = std::make_shared<std::string>(nonce_size, '\0');
      {
        std::FILE* f = std::fopen(std::string(*file).c_str(), "rb");
        if (!f) return skip("cannot read the noncefile: " + std::string(std::strerror(errno)));
        const std::size_t n = std::fread(nonce->data(), 1, nonce->size(), f);
        std::fclose(f);
        if (n != nonce_size) return skip("the noncefile holds fewer than 16 bytes");
      }
      auto host = e.get("host").value_or("localhost");
      auto resolver = std::make_shared<boost::asio::ip::tcp::resolver>(strand_);
      resolver->async_resolve(std::string(host), std::string(*port),
                              [self, resolver, nonce](boost::system::error_code ec, auto results) {
                                if (ec) return self->skip(ec.message());
                                auto sock = std::make_shared<boost::asio::ip::tcp::socket>(self->strand_);
                                boost::asio::async_connect(*sock, results, [self, sock, nonce](boost::system::error_code ec2, auto) {
                                  if (ec2) return self->skip(ec2.message());
                                  boost::asio::async_write(*sock, boost::asio::buffer(*nonce),
                                                           [self, sock, nonce](boost::system::error_code ec3, std::size_t) {
                                                             if (ec3) return self->skip("sending the nonce: " + ec3.message());
                                                             self->connected(sock->release(), "nonce-tcp");
                                                           });
                                });
                              });
      return;
    }
    if (e.transport == "unixexec") return connect_unixexec(e);
    if (e.transport == "kernel") {
      auto path = e.get("path");
      if (!path) return skip("a kernel address needs path");
      auto device = open_device(std::string(*path));
      if (!device) return skip(device.error().what());
      auto t = kdbus_transport::connect(std::move(*device));
      if (!t) return skip(t.error().what());
      return connected_kdbus(std::move(*t));
    }
    skip("the " + e.transport + " transport is not available in this build");
  }

  void connect_unix(std::string path) {
    auto self = shared_from_this();
    auto sock = std::make_shared<boost::asio::local::stream_protocol::socket>(strand_);
    sock->async_connect(boost::asio::local::stream_protocol::endpoint(path), [self, sock](boost::system::error_code ec) {
      if (ec) return self->skip(ec.message());
      self->connected(sock->release(), "unix");
    });
  }

  // Spec, "Executed Subprocesses on Unix": the program's stdin and stdout are our socket.
  void connect_unixexec(const address_entry& e) {
    const std::string path(*e.get("path"));
    std::vector<std::string> args{std::string(e.get("argv0").value_or(path))};
    for (unsigned i = 1;; ++i) {
      auto a = e.get("argv" + std::to_string(i));
      if (!a) break;
      args.emplace_back(*a);
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return skip(std::string("socketpair: ") + std::strerror(errno));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(pair[0]);
      ::close(pair[1]);
      return skip(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      // Only async-signal-safe calls until exec. The program runs in a grandchild that init
      // adopts, so no zombie is left for the application to reap.
      if (::fork() != 0) ::_exit(0);
      ::dup2(pair[1], STDIN_FILENO);
      ::dup2(pair[1], STDOUT_FILENO);
      ::execvp(path.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(pair[1]);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    connected(pair[0], "unixexec");
  }

  void connected(int fd, const char* transport) {
    socket_.assign(fd);
    socket_.non_blocking(true);
    info_.address = entries_[entry_].to_string();
    info_.transport = transport;
    if (is_local_socket(fd)) info_.peer = peer_credentials_of(fd);
    sasl::client::options o;
    o.uid = static_cast<std::uint32_t>(::geteuid());
    o.negotiate_unix_fd = std::string_view(transport) == "unix";
    // On a local socket EXTERNAL is what every bus accepts: say AUTH, NEGOTIATE_UNIX_FD and
    // BEGIN at once (as sd-bus does), one round trip instead of two.
    o.pipeline = o.negotiate_unix_fd;
    // Over TCP the server sees no credentials: prove the uid through the shared keyring.
    if (const char* home = std::getenv("HOME"); home && *home) {
      keyring_ = std::make_unique<file_keyring>(home);
      o.mechanisms.push_back(sasl::mechanism::dbus_cookie_sha1);
      o.cookie_identity = std::to_string(*o.uid);
      o.cookies = keyring_.get();
    }
    sasl_ = std::make_unique<sasl::client>(o);
    std::string out;
    sasl_->start(out);
    write_raw(std::make_shared<std::string>(std::move(out)), 0);
  }

  // The kdbus device: no SASL; Hello (and every driver call) is answered by the transport.
  void connected_kdbus(std::unique_ptr<kdbus_transport> t) {
    kdbus_ = std::move(t);
    const int fd = ::dup(kdbus_->fd());
    if (fd < 0) {
      kdbus_.reset();
      return skip(std::string("dup: ") + std::strerror(errno));
    }
    kdbus_wait_.assign(fd);
    info_.address = entries_[entry_].to_string();
    info_.transport = "kernel";
    info_.unix_fd_passing = true;
    authenticated();
  }

  // BecomeMonitor on kdbus: the kernel makes a monitor only at HELLO, so this connection opens
  // a monitor connection on the same bus and goes on with it; the old one closes (its names go,
  // as BecomeMonitor's do). The answer to the call is made here, on the new transport.
  void become_kdbus_monitor(const message& call) {
    auto answer = [&](kdbus_transport& t, message reply) {
      reply.set_serial(kdbus_synthetic_serial);
      t.queue_local(std::move(reply));
      drain_kdbus();
    };
    auto refuse = [&](std::string_view name, std::string text) {
      answer(*kdbus_, message_builder::error(call, error_name::unchecked(name)).sender(bus_name::unchecked(bus::driver_name))
                          .build(std::move(text)));
    };
    auto args = call.read<std::vector<std::string>, std::uint32_t>();
    if (!args) return refuse(dbus_errors::invalid_args, "BecomeMonitor takes (as, u): " + args.error().message);
    kdbus_options options;
    options.hello_flags = kdbus::hello::accept_fd | kdbus::hello::monitor;
    for (const auto& text : std::get<0>(*args)) {
      auto rule = match_rule::parse(text);
      if (!rule) return refuse(dbus_errors::match_rule_invalid, rule.error().message);
      options.monitor_rules.push_back(std::move(*rule));
    }
    auto device = open_device(std::string(entries_[entry_].get("path").value_or("")));
    if (!device) return refuse(dbus_errors::failed, "cannot open the kdbus bus again: " + device.error().what());
    auto monitor = kdbus_transport::connect(std::move(*device), options);
    if (!monitor) {
      const bool denied = monitor.error().code == std::errc::operation_not_permitted;
      return refuse(denied ? dbus_errors::access_denied : dbus_errors::failed,
                    "cannot become a kdbus monitor: " + monitor.error().what());
    }
    const int fd = ::dup((*monitor)->fd());
    if (fd < 0) return refuse(dbus_errors::failed, std::string("dup: ") + std::strerror(errno));
    boost::system::error_code ignored;
    kdbus_wait_.close(ignored);
    ++kdbus_generation_;
    kdbus_->close();
    kdbus_ = std::move(*monitor);
    kdbus_wait_.assign(fd);
    read_kdbus();
    answer(*kdbus_, message_builder::method_return(call).sender(bus_name::unchecked(bus::driver_name)).build());
  }

  // Takes every message the transport has (its own driver answers first); a broken device
  // ends the connection.
  void drain_kdbus() {
    if (draining_kdbus_) return;  // a handler sent something: the outer loop takes its answers
    draining_kdbus_ = true;
    while (open_ && kdbus_) {
      auto next = kdbus_->receive();
      if (!next) {
        draining_kdbus_ = false;
        return disconnect("kdbus receive: " + next.error().what());
      }
      if (!*next) break;
      dispatch(std::move(**next));
    }
    draining_kdbus_ = false;
  }

  void read_kdbus() {
    auto self = shared_from_this();
    kdbus_wait_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                           [self, generation = kdbus_generation_](boost::system::error_code ec) {
      if (generation != self->kdbus_generation_) return;  // became a monitor: another transport
      if (ec) return self->disconnect(ec.message());
      if (!self->open_ || !self->kdbus_) return;
      self->drain_kdbus();
      if (self->open_) self->read_kdbus();
    });
  }

  // SASL lines go out with plain writes; messages go through the queue later.
  void write_raw(std::shared_ptr<std::string> data, std::size_t offset) {
    auto self = shared_from_this();
    while (offset < data->size()) {
      const ssize_t n = ::send(socket_.native_handle(), data->data() + offset, data->size() - offset, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        socket_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                           [self, data, offset](boost::system::error_code ec) {
                             if (ec) return self->fail_auth(ec.message());
                             self->write_raw(data, offset);
                           });
        return;
      }
      if (n < 0) return fail_auth(std::strerror(errno));
      offset += static_cast<std::size_t>(n);
    }
    if (sasl_ || sasl_server_) read_auth();
  }

  // Reads the peer's side of the authentication into our state machine (the client's or the
  // server's: one loop; they differ only in who speaks first and what follows success).
  void read_auth() {
    auto self = shared_from_this();
    socket_.async_wait(boost::asio::posix::descriptor_base::wait_read, [self](boost::system::error_code ec) {
      if (ec) return self->fail_auth(ec.message());
      char buf[4096];
      const ssize_t n = ::recv(self->socket_.native_handle(), buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return self->read_auth();
      if (n <= 0) {
        const char* closed = self->sasl_ ? "the server closed the connection during authentication"
                                         : "the client closed the connection during authentication";
        return self->fail_auth(n == 0 ? closed : std::strerror(errno));
      }
      const std::string_view in(buf, static_cast<std::size_t>(n));
      std::string out;
      const auto st = self->sasl_ ? self->sasl_->feed(in, out) : self->sasl_server_->feed(in, out);
      if (st == sasl::status::failed)
        return self->fail_auth(self->sasl_ ? self->sasl_->failure().what() : self->sasl_server_->failure().what());
      if (st == sasl::status::authenticated) return self->auth_succeeded(std::move(out));
      if (out.empty()) return self->read_auth();
      self->write_raw(std::make_shared<std::string>(std::move(out)), 0);
    });
  }

  // `rest`: what the state machine still has to say (BEGIN when the client did not pipeline
  // it; OK and AGREE_UNIX_FD when a pipelining client sent BEGIN with its AUTH).
  void auth_succeeded(std::string rest) {
    const bool client = sasl_ != nullptr;
    if (client) info_.server_guid = sasl_->server_guid();
    info_.unix_fd_passing = client ? sasl_->unix_fd_agreed() : sasl_server_->unix_fd_agreed();
    // Bytes after the handshake belong to the message stream.
    const auto left = client ? sasl_->leftover() : sasl_server_->leftover();
    rbuf_.resize(std::max(initial_read_buffer, left.size()));
    std::memcpy(rbuf_.data(), left.data(), left.size());
    rend_ = left.size();
    sasl_.reset();
    sasl_server_.reset();
    if (!rest.empty()) write_raw(std::make_shared<std::string>(std::move(rest)), 0);
    if (client) return authenticated();
    open_ = true;
    read_deferred_ = true;
    finish_connect({});
  }

  void fail_auth(const std::string& why) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    sasl_.reset();
    if (sasl_server_) {
      sasl_server_.reset();
      return connect_failed(to_boost(make_error_code(connection_errc::disconnected)), "authentication: " + why);
    }
    skip("authentication: " + why);
  }

  // ---- accepting ----

  void accept(int fd, sasl::server::options o, std::function<bool(std::uint32_t)> allow,
              std::unique_ptr<connect_completion> done) {
    connect_done_ = std::move(done);
    bus_ = false;
    socket_.assign(fd);
    socket_.non_blocking(true);
    info_.transport = is_local_socket(fd) ? "unix" : "tcp";
    info_.server_guid = o.guid;
    if (info_.transport == "unix") {
      info_.peer = peer_credentials_of(fd);
      if (info_.peer) o.peer_uid = info_.peer->uid;
      o.unix_fd_supported = true;
    }
    o.authorize = [allow = std::move(allow)](std::optional<std::uint32_t> uid) { return uid && allow(*uid); };
    sasl_server_ = std::make_unique<sasl::server>(std::move(o));
    read_auth();
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

  // Whether an operation of the public API may run at once, in the caller (which is on the
  // strand): nothing of it is still queued, and it cannot end up running a handler inside
  // the initiating function (the kdbus transport answers some calls synchronously; a
  // deferred read would dispatch what is buffered).
  bool can_run_inline() const noexcept {
    return queued_.load(std::memory_order_relaxed) == 0 && !kdbus_ && !read_deferred_;
  }

  // Runs `f` on the strand, behind everything queued before it.
  template <class F>
  void post_op(F f) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      self->queued_.fetch_sub(1, std::memory_order_relaxed);
      f(*self);
    });
  }

  void call_inline(message m, call_options options, std::unique_ptr<call_completion> done, std::uint64_t id) {
    struct initiating {
      bool& flag;
      explicit initiating(bool& f) : flag(f) { flag = true; }
      ~initiating() { flag = false; }
    } guard(initiating_);
    call(std::move(m), options, std::move(done), id);
  }

  // Completes a call, or posts the completion when the call is still being initiated.
  void deliver(std::unique_ptr<call_completion> done, boost::system::error_code ec, message reply) {
    if (!initiating_) return done->complete(ec, std::move(reply));
    boost::asio::post(strand_, [d = std::move(done), ec, r = std::move(reply)]() mutable { d->complete(ec, std::move(r)); });
  }

  void send(message m, std::chrono::milliseconds reply_timeout = call_options{}.timeout) {
    if (!open_) return;
    start_reading();
    m.set_serial(next_serial_++);
    if (next_serial_ == 0) next_serial_ = 1;
    if (kdbus_) {
      if (m.serial() == become_monitor_serial_ && m.type() == message_type::method_call)
        return become_kdbus_monitor(m);
      if (m.expects_reply()) {
        if (kdbus_awaiting_ >= kdbus::conn_max_requests_pending) {
          kdbus_backlog_.emplace_back(std::move(m), reply_timeout);
          return;
        }
        ++kdbus_awaiting_;
      }
      send_kdbus(m, reply_timeout);
      return drain_kdbus();
    }
    outq_.push_back(std::move(m));
    if (!writing_ && !batching_) write_next();
  }

  void send_kdbus(const message& m, std::chrono::milliseconds reply_timeout) {
    // The connection's own timer ends a call with connection_errc::timeout; the kernel's
    // deadline, a little later, only frees its reply tracking (its NoReply finds no call).
    if (auto sent = kdbus_->send(m, reply_timeout + kdbus_timeout_margin); !sent) {
      const int err = sent.error().code.value();
      if (err == ECONNRESET || err == ESHUTDOWN || err == EBADF || err == ENOTCONN)
        return disconnect("kdbus send: " + sent.error().what());
      // Only this message failed: a call learns it at once.
      if (m.expects_reply()) complete_call(m.serial(), to_boost(sent.error().code), {});
    }
  }

  // A call's reply came (or it ended): one more may go out of the backlog.
  void kdbus_call_ended() {
    if (kdbus_awaiting_ > 0) --kdbus_awaiting_;
    while (open_ && !kdbus_backlog_.empty() && kdbus_awaiting_ < kdbus::conn_max_requests_pending) {
      auto [m, timeout] = std::move(kdbus_backlog_.front());
      kdbus_backlog_.pop_front();
      ++kdbus_awaiting_;
      send_kdbus(m, timeout);
    }
  }

  // Writes queued messages until the queue is empty or the socket is full (then waits for it
  // to drain: back-pressure), several to a sendmsg(). A loop, not recursion: the queue may
  // hold thousands.
  void write_next() {
    writing_ = true;
    while (!outq_.empty() && open_) {
      // A message with descriptors goes alone, as if never gathered: its fds travel with its
      // first byte, and no receiver sees them arrive with another message's bytes.
      iovec iov[max_gather];
      std::size_t count = 0;
      for (const message& m : outq_) {
        if (count == max_gather || (count > 0 && !m.fds().empty())) break;
        const auto bytes = m.bytes();
        const std::size_t skip = count == 0 ? written_ : 0;
        iov[count++] = iovec{const_cast<std::byte*>(bytes.data()) + skip, bytes.size() - skip};
        if (!m.fds().empty()) break;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      alignas(cmsghdr) char control[fd_control_space];
      const message& first = outq_.front();
      if (written_ == 0 && !first.fds().empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * first.fds().size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * first.fds().size());
        int* out = reinterpret_cast<int*>(CMSG_DATA(c));
        for (std::size_t i = 0; i < first.fds().size(); ++i) out[i] = first.fds()[i].get();
      }
      const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto self = shared_from_this();
        socket_.async_wait(boost::asio::posix::descriptor_base::wait_write, [self](boost::system::error_code ec) {
          if (ec) return self->disconnect(ec.message());
          self->write_next();
        });
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return disconnect(std::string("send: ") + std::strerror(errno));
      // Drop what went out whole; a message cut short continues at written_.
      auto sent = static_cast<std::size_t>(n);
      while (sent > 0) {
        const std::size_t rest = outq_.front().bytes().size() - written_;
        if (sent < rest) {
          written_ += sent;
          break;
        }
        sent -= rest;
        written_ = 0;
        outq_.pop_front();
      }
    }
    writing_ = false;
  }

  void call(message m, call_options options, std::unique_ptr<call_completion> done, std::uint64_t id = 0) {
    if (!open_) return deliver(std::move(done), to_boost(make_error_code(connection_errc::not_connected)), {});
    start_reading();
    const std::uint32_t serial = next_serial_;
    if (m.member() == "BecomeMonitor" && m.interface() == bus::monitoring_interface &&
        m.destination() == bus::driver_name)
      become_monitor_serial_ = serial;
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    pending_.emplace(serial, pending_call{id, std::move(done), deadline});
    if (!timer_armed_for_ || deadline < *timer_armed_for_) arm_deadline_timer(deadline);
    if (id) serial_of_[id] = serial;
    send(std::move(m), options.timeout);
  }

  void complete_call(std::uint32_t serial, boost::system::error_code ec, message reply) {
    auto it = pending_.find(serial);
    if (it == pending_.end()) return;
    auto p = std::move(it->second);
    pending_.erase(it);
    if (p.id) serial_of_.erase(p.id);
    if (kdbus_) kdbus_call_ended();
    deliver(std::move(p.done), ec, std::move(reply));
  }

  void arm_deadline_timer(std::chrono::steady_clock::time_point when) {
    timer_armed_for_ = when;
    deadline_timer_.expires_at(when);
    std::weak_ptr<connection_impl> weak = weak_from_this();
    deadline_timer_.async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;  // re-armed (operation_aborted) or gone
      self->timer_armed_for_.reset();
      // A scan of the pending calls: the timer fires once per earliest deadline, not per call.
      const auto now = std::chrono::steady_clock::now();
      std::vector<std::uint32_t> due;
      std::optional<std::chrono::steady_clock::time_point> next;
      for (const auto& [serial, p] : self->pending_) {
        if (p.deadline <= now) due.push_back(serial);
        else if (!next || p.deadline < *next) next = p.deadline;
      }
      for (std::uint32_t serial : due)
        self->complete_call(serial, to_boost(make_error_code(connection_errc::timeout)), {});
      // Handlers may have started calls (and armed the timer) meanwhile.
      if (next && (!self->timer_armed_for_ || *next < *self->timer_armed_for_)) self->arm_deadline_timer(*next);
    });
  }

  void cancel(std::uint64_t id) {
    auto it = serial_of_.find(id);
    if (it != serial_of_.end()) complete_call(it->second, boost::asio::error::operation_aborted, {});
  }

  // ---- receiving ----

  void read_messages() {
    if (kdbus_) return read_kdbus();
    auto self = shared_from_this();
    // Messages already in the buffer (pipelined after authentication) come first.
    if (!extract_messages()) return;
    socket_.async_wait(boost::asio::posix::descriptor_base::wait_read, [self](boost::system::error_code ec) {
      if (ec) return self->disconnect(ec.message());
      if (!self->open_) return;
      auto& buf = self->rbuf_;
      if (buf.size() - self->rend_ < buf.size() / 4 || buf.empty()) {
        // Move what is left to the front, and make room.
        std::memmove(buf.data(), buf.data() + self->rstart_, self->rend_ - self->rstart_);
        self->rend_ -= self->rstart_;
        self->rstart_ = 0;
        if (buf.size() - self->rend_ < buf.size() / 4 || buf.empty())
          buf.resize(std::max(initial_read_buffer, buf.size() + std::min(buf.size(), read_chunk)));
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

  // Takes every complete message from the buffer; false when the connection ended. What the
  // handlers send meanwhile goes out together afterwards.
  bool extract_messages() {
    struct batch {
      bool& flag;
      explicit batch(bool& f) : flag(f) { flag = true; }
      ~batch() { flag = false; }
    };
    {
      batch b(batching_);
      dispatch_buffered();
    }
    if (open_ && !writing_ && !outq_.empty()) write_next();
    return open_;
  }

  void dispatch_buffered() {
    while (open_ && rend_ - rstart_ >= fixed_header_size) {
      auto size = message_size(std::span<const std::byte>(rbuf_.data() + rstart_, fixed_header_size));
      if (!size) {
        disconnect("the peer sent an invalid message: " + size.error().what(), connection_errc::peer_sent_invalid_message);
        return;
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
      // The descriptors it declares (UNIX_FDS), from those received so far, in order.
      std::vector<unix_fd> fds;
      if (!rfds_.empty()) {
        const auto declared = declared_unix_fds(bytes);
        const std::size_t n = declared ? std::min<std::size_t>(*declared, rfds_.size()) : rfds_.size();
        for (std::size_t i = 0; i < n; ++i) {
          fds.push_back(std::move(rfds_.front()));
          rfds_.pop_front();
        }
      }
      auto m = message::parse(std::move(bytes), std::move(fds));
      if (!m) {
        if (m.error() == errc::invalid_message_type) continue;  // unknown types are ignored (spec)
        disconnect("the peer sent an invalid message: " + m.error().what(), connection_errc::peer_sent_invalid_message);
        return;
      }
      dispatch(std::move(*m));
    }
    // Descriptors arrive with their message's first byte: with every byte taken, those left
    // belong to no message (a peer sent more than it declared). Closing them bounds the leak.
    if (rstart_ == rend_) rfds_.clear();
  }

  void dispatch(message m) {
    if (m.type() > message_type::signal) return;  // a type this library does not know
    if ((m.type() == message_type::method_return || m.type() == message_type::error) && m.reply_serial()) {
      auto it = pending_.find(*m.reply_serial());
      if (it != pending_.end()) {
        if (*m.reply_serial() == become_monitor_serial_) monitoring_ = m.type() == message_type::method_return;
        const auto ec = m.type() == message_type::error ? to_boost(make_error_code(connection_errc::error_reply))
                                                        : boost::system::error_code{};
        return complete_call(*m.reply_serial(), ec, std::move(m));
      }
      // A monitor sees the replies to everyone's calls; any other connection drops a late one.
      if (!monitoring_) return;
    }
    if (m.type() == message_type::signal && !names_.empty()) follow_owner_change(m);
    if (!index_.empty()) deliver_to_subscriptions(m);
    if (handler_) {
      handler_(m);
      return;
    }
    // A monitor must not send (the bus would drop it): the calls it sees are others'.
    if (m.expects_reply() && !monitoring_) {
      // Nobody serves objects here yet: say so, as the spec asks, instead of never answering.
      auto reply = message_builder::error(m, error_name::unchecked("org.freedesktop.DBus.Error.UnknownMethod"))
                       .build(std::string("no object is served at ") + std::string(m.path()) + " on this connection");
      send(std::move(reply));
    }
  }

  // ---- subscriptions ----

  void subscribe(std::uint64_t id, match_rule rule, signal_handler handler, subscribe_options options,
                 std::function<void(boost::system::error_code)> confirmed) {
    start_reading();
    subscription_entry e;
    e.handler = std::make_shared<signal_handler>(std::move(handler));
    const bool on_bus = bus_ && open_;
    if (on_bus && rule.sender && !rule.sender->starts_with(':') && *rule.sender != bus::driver_name)
      e.tracked_name = *rule.sender;
    if (on_bus && options.add_match) e.bus_rule = rule.to_string();
    e.index_id = index_.add(std::move(rule));
    subscription_of_[e.index_id] = id;
    // Registered before the bus hears of it: a confirmation may come at once and find it.
    const std::string bus_rule = e.bus_rule, tracked = e.tracked_name;
    subscriptions_.emplace(id, std::move(e));
    if (!tracked.empty()) track_name(tracked);
    if (!bus_rule.empty()) {
      add_bus_match(bus_rule, std::move(confirmed));
    } else if (confirmed) {
      confirmed(open_ ? boost::system::error_code{} : to_boost(make_error_code(connection_errc::not_connected)));
    }
  }

  void unsubscribe(std::uint64_t id) {
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return;
    subscription_entry e = std::move(it->second);
    subscriptions_.erase(it);
    index_.remove(e.index_id);
    subscription_of_.erase(e.index_id);
    if (!e.bus_rule.empty()) remove_bus_match(e.bus_rule);
    if (!e.tracked_name.empty()) untrack_name(e.tracked_name);
  }

  void add_bus_match(const std::string& text, std::function<void(boost::system::error_code)> confirmed) {
    bus_match& m = bus_matches_[text];
    if (m.refs++ > 0) {
      if (!confirmed) return;
      if (m.confirmed) return confirmed(m.failure);
      m.waiters.push_back(std::move(confirmed));
      return;
    }
    if (confirmed) m.waiters.push_back(std::move(confirmed));
    std::weak_ptr<connection_impl> weak = weak_from_this();
    call(bus::driver_call("AddMatch", text), call_options{},
         std::make_unique<function_completion>([weak, text](boost::system::error_code ec, message) {
           auto self = weak.lock();
           if (!self) return;
           auto it = self->bus_matches_.find(text);
           if (it == self->bus_matches_.end()) return;
           it->second.confirmed = true;
           it->second.failure = ec;
           auto waiters = std::move(it->second.waiters);
           for (auto& w : waiters) w(ec);
         }));
  }

  void remove_bus_match(const std::string& text) {
    auto it = bus_matches_.find(text);
    if (it == bus_matches_.end() || --it->second.refs > 0) return;
    bus_matches_.erase(it);
    if (open_) call(bus::driver_call("RemoveMatch", text), call_options{}, std::make_unique<function_completion>([](auto, auto) {}));
  }

  void track_name(const std::string& name) {
    tracked_name& t = names_[name];
    if (t.refs++ > 0) return;
    // AddMatch goes out first: the bus answers in order, so no change falls between the two.
    add_bus_match(bus::name_owner_changed_rule(name).to_string(), nullptr);
    std::weak_ptr<connection_impl> weak = weak_from_this();
    call(bus::driver_call("GetNameOwner", name), call_options{},
         std::make_unique<function_completion>([weak, name](boost::system::error_code ec, message reply) {
           auto self = weak.lock();
           if (!self) return;
           auto it = self->names_.find(name);
           if (it == self->names_.end() || it->second.changed) return;
           if (ec) return;  // NameHasNoOwner: nobody owns it yet
           if (auto owner = reply.read<std::string>()) it->second.owner = std::get<0>(*owner);
         }));
  }

  void untrack_name(const std::string& name) {
    auto it = names_.find(name);
    if (it == names_.end() || --it->second.refs > 0) return;
    names_.erase(it);
    remove_bus_match(bus::name_owner_changed_rule(name).to_string());
  }

  void follow_owner_change(const message& m) {
    auto change = bus::as_name_owner_changed(m);
    if (!change) return;
    auto it = names_.find(change->name);
    if (it == names_.end()) return;
    it->second.changed = true;
    if (change->new_owner.empty()) it->second.owner.reset();
    else it->second.owner = change->new_owner;
  }

  void deliver_to_subscriptions(const message& m) {
    // Handlers may subscribe or unsubscribe: collect first, then call those still there.
    std::vector<std::shared_ptr<signal_handler>> hits;
    index_.for_each_match(
        m,
        [&](match_index::id index_id, const match_rule&) {
          auto sub = subscription_of_.find(index_id);
          if (sub == subscription_of_.end()) return;
          auto e = subscriptions_.find(sub->second);
          if (e != subscriptions_.end()) hits.push_back(e->second.handler);
        },
        &owners_);
    for (auto& h : hits)
      if (h.use_count() > 1) (*h)(m);  // use_count 1: unsubscribed by an earlier handler
  }

  void disconnect(const std::string& why, connection_errc code = connection_errc::disconnected) {
    if (!open_ && pending_.empty()) return;
    open_ = false;
    last_error_ = why;
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (kdbus_) {
      kdbus_wait_.close(ignored);
      kdbus_->close();
    }

    outq_.clear();
    // Every pending call ends now, with the reason.
    auto pending = std::move(pending_);
    pending_.clear();
    serial_of_.clear();
    deadline_timer_.cancel();
    timer_armed_for_.reset();
    for (auto& [serial, p] : pending) deliver(std::move(p.done), to_boost(make_error_code(code)), {});
    if (auto done = std::move(connect_done_)) done->complete(to_boost(make_error_code(code)));
    for (auto& [text, m] : bus_matches_) {
      auto waiters = std::move(m.waiters);
      for (auto& w : waiters) w(to_boost(make_error_code(code)));
    }
  }

  static constexpr std::size_t fixed_header_size = detail::fixed_header_size;
};

}  // namespace detail

namespace detail {

class server_impl : public std::enable_shared_from_this<server_impl> {
 public:
  server_impl(boost::asio::any_io_executor ex, server_options o)
      : ex_(std::move(ex)), options_(std::move(o)), unix_(ex_), tcp_(ex_) {}

  boost::asio::any_io_executor ex_;
  server_options options_;
  boost::asio::local::stream_protocol::acceptor unix_;
  boost::asio::ip::tcp::acceptor tcp_;
  std::string address_, guid_, socket_file_, failure_;
  std::unique_ptr<file_keyring> keyring_;

  void listen(const std::string& address, boost::system::error_code& ec) {
    close();
    auto list = parse_address_list(address);
    if (!list) {
      ec = to_boost(list.error().code);
      failure_ = list.error().what();
      return;
    }
    if (guid_.empty()) guid_ = file_keyring(std::filesystem::path{}).random_hex(16);
    std::string skipped;
    for (const address_entry& e : *list) {
      std::string why = listen_on(e);
      if (why.empty()) return;
      skipped += (skipped.empty() ? "" : "; ") + e.to_string() + ": " + why;
    }
    ec = make_error_code(connection_errc::no_usable_address);
    failure_ = "no usable address to listen on (" + skipped + ")";
  }

  // Empty when listening; else why not.
  std::string listen_on(const address_entry& e) {
    if (auto ok = e.check(); !ok) return ok.error().what();
    boost::system::error_code ec;
    if (e.transport == "unix") {
      std::string path, shown;
      if (auto p = e.get("path")) {
        path = std::string(*p);
      } else if (auto a = e.get("abstract")) {
        path = std::string(1, '\0') + std::string(*a);
      } else if (auto d = e.get("dir") ? e.get("dir") : e.get("tmpdir")) {
        path = std::string(*d) + "/dbus-" + file_keyring(std::filesystem::path{}).random_hex(8);
      } else if (e.get("runtime")) {
        const char* rt = std::getenv("XDG_RUNTIME_DIR");
        if (!rt || !*rt) return "runtime=yes needs XDG_RUNTIME_DIR";
        path = std::string(rt) + "/bus";
      }
      const bool abstract = !path.empty() && path[0] == '\0';
      unix_.open(boost::asio::local::stream_protocol(), ec);
      if (!ec) unix_.bind(boost::asio::local::stream_protocol::endpoint(path), ec);
      if (!ec) unix_.listen(boost::asio::socket_base::max_listen_connections, ec);
      if (ec) {
        unix_.close(ec);
        return "cannot listen on " + (abstract ? "@" + path.substr(1) : path) + ": " + ec.message();
      }
      if (!abstract) socket_file_ = path;
      address_ = (abstract ? "unix:abstract=" + escape_address_value(path.substr(1)) : "unix:path=" + escape_address_value(path)) +
                 ",guid=" + guid_;
      return {};
    }
    if (e.transport == "tcp") {
      const std::string host(e.get("host").value_or("localhost"));
      const std::string port(e.get("port").value_or("0"));
      boost::asio::ip::tcp::resolver resolver(ex_);
      auto results = resolver.resolve(host, port, ec);
      if (ec || results.empty()) return "cannot resolve " + host + ": " + ec.message();
      const auto endpoint = results.begin()->endpoint();
      tcp_.open(endpoint.protocol(), ec);
      if (!ec) tcp_.set_option(boost::asio::socket_base::reuse_address(true), ec);
      if (!ec) tcp_.bind(endpoint, ec);
      if (!ec) tcp_.listen(boost::asio::socket_base::max_listen_connections, ec);
      if (ec) {
        tcp_.close(ec);
        return "cannot listen on " + host + ":" + port + ": " + ec.message();
      }
      const auto bound = tcp_.local_endpoint(ec);
      address_ = "tcp:host=" + escape_address_value(host) + ",port=" + std::to_string(bound.port()) +
                 ",family=" + (bound.address().is_v6() ? "ipv6" : "ipv4") + ",guid=" + guid_;
      return {};
    }
    return "cannot listen on " + e.transport + ": addresses";
  }

  void accept(std::unique_ptr<accept_completion> done) {
    auto self = shared_from_this();
    auto shared_done = std::shared_ptr<accept_completion>(std::move(done));
    auto take = [self, shared_done](boost::system::error_code ec, int fd) {
      if (ec) return shared_done->complete(ec, connection(std::make_shared<connection_impl>(self->ex_)));
      self->authenticate(fd, shared_done);
    };
    if (unix_.is_open()) {
      unix_.async_accept([take](boost::system::error_code ec, boost::asio::local::stream_protocol::socket s) {
        take(ec, ec ? -1 : s.release());
      });
    } else if (tcp_.is_open()) {
      tcp_.async_accept([take](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
        if (!ec) s.set_option(boost::asio::ip::tcp::no_delay(true), ec);
        take(ec, ec ? -1 : s.release());
      });
    } else {
      take(make_error_code(connection_errc::not_connected), -1);
    }
  }

  void authenticate(int fd, std::shared_ptr<accept_completion> done) {
    auto impl = std::make_shared<connection_impl>(ex_);
    sasl::server::options o;
    o.guid = guid_;
    const auto own_uid = static_cast<std::uint32_t>(::geteuid());
    o.own_uid = own_uid;
    if (const char* home = std::getenv("HOME"); home && *home && !keyring_) keyring_ = std::make_unique<file_keyring>(home);
    if (keyring_) {
      o.mechanisms.push_back(sasl::mechanism::dbus_cookie_sha1);
      o.cookies = keyring_.get();
    }
    auto allow = options_.allow_uid ? options_.allow_uid : [own_uid](std::uint32_t uid) { return uid == own_uid; };
    struct accepted final : connect_completion {
      std::shared_ptr<connection_impl> impl;
      std::shared_ptr<accept_completion> done;
      std::shared_ptr<server_impl> keep;  // the keyring lives in the server
      void complete(boost::system::error_code ec) override { done->complete(ec, connection(std::move(impl))); }
    };
    auto completion = std::make_unique<accepted>();
    completion->impl = impl;
    completion->done = std::move(done);
    completion->keep = shared_from_this();
    boost::asio::post(impl->strand_, [impl, fd, o = std::move(o), allow = std::move(allow), c = std::move(completion)]() mutable {
      impl->accept(fd, std::move(o), std::move(allow), std::move(c));
    });
  }

  void close() {
    boost::system::error_code ignored;
    unix_.close(ignored);
    tcp_.close(ignored);
    if (!socket_file_.empty()) ::unlink(socket_file_.c_str());
    socket_file_.clear();
  }
};

}  // namespace detail

server::server(executor_type ex, server_options options)
    : ex_(ex), impl_(std::make_shared<detail::server_impl>(std::move(ex), std::move(options))) {}

server::~server() {
  if (impl_) impl_->close();
}

void server::listen(const std::string& address, boost::system::error_code& ec) {
  ec = {};
  impl_->listen(address, ec);
}

void server::listen(const std::string& address) {
  boost::system::error_code ec;
  listen(address, ec);
  if (ec) throw boost::system::system_error(ec, impl_->failure_);
}

const std::string& server::address() const noexcept { return impl_->address_; }
const std::string& server::guid() const noexcept { return impl_->guid_; }

void server::start_accept(std::unique_ptr<detail::accept_completion> done) { impl_->accept(std::move(done)); }

void server::close() { impl_->close(); }

connection::connection(executor_type ex) : impl_(std::make_shared<detail::connection_impl>(std::move(ex))) {}

connection::~connection() {
  if (impl_) close();
}

connection::executor_type connection::get_executor() const noexcept { return impl_->strand_; }

connection& connection::operator=(connection&& o) noexcept {
  if (this != &o) {
    if (impl_) close();
    impl_ = std::move(o.impl_);
  }
  return *this;
}

void connection::start_connect(std::string address, connect_options options,
                               std::unique_ptr<detail::connect_completion> done) {
  impl_->post_op([address = std::move(address), options, d = std::move(done)](detail::connection_impl& impl) mutable {
    impl.connect(std::move(address), options, std::move(d));
  });
}

namespace {
// Whether waiting here would stop the very thread that has to complete the operation.
bool would_deadlock(const boost::asio::strand<boost::asio::any_io_executor>& strand) {
  if (strand.running_in_this_thread()) return true;
  const auto inner = strand.get_inner_executor();  // target() points into it: keep it alive
  if (auto* io = inner.target<boost::asio::io_context::executor_type>()) return io->running_in_this_thread();
  return false;
}
}  // namespace

void connection::connect(std::string address, boost::system::error_code& ec, connect_options options) {
  if (would_deadlock(impl_->strand_)) {
    ec = make_error_code(connection_errc::would_deadlock);
    return;
  }
  std::promise<boost::system::error_code> done;
  auto result = done.get_future();
  async_connect(std::move(address), [&done](boost::system::error_code e) { done.set_value(e); }, options);
  ec = result.get();
}

void connection::connect(std::string address, connect_options options) {
  boost::system::error_code ec;
  connect(std::move(address), ec, options);
  if (ec) throw boost::system::system_error(ec, last_error());
}

message connection::call(message m, boost::system::error_code& ec, call_options options) {
  if (would_deadlock(impl_->strand_)) {
    ec = make_error_code(connection_errc::would_deadlock);
    return {};
  }
  std::promise<std::pair<boost::system::error_code, message>> done;
  auto result = done.get_future();
  async_call(
      std::move(m), [&done](boost::system::error_code e, message reply) { done.set_value({e, std::move(reply)}); },
      options);
  auto [e, reply] = result.get();
  ec = e;
  return std::move(reply);
}

message connection::call(message m, call_options options) {
  boost::system::error_code ec;
  message reply = call(std::move(m), ec, options);
  if (ec == make_error_code(connection_errc::error_reply)) throw call_error(dbus_error_of(reply));
  if (ec) throw boost::system::system_error(ec);
  return reply;
}

subscription connection::subscribe(match_rule rule, signal_handler handler, subscribe_options options) {
  return start_subscribe(std::move(rule), std::move(handler), options, nullptr);
}

subscription connection::start_subscribe(match_rule rule, signal_handler handler, subscribe_options options,
                                         std::unique_ptr<detail::subscribe_completion> done) {
  const std::uint64_t id = next_subscription_id++;
  const bool completes = done != nullptr;
  std::weak_ptr<detail::connection_impl> weak = impl_;
  impl_->post_op([id, rule = std::move(rule), handler = std::move(handler), options, d = std::move(done),
                  weak](detail::connection_impl& impl) mutable {
    std::function<void(boost::system::error_code)> confirmed;
    if (d) {
      confirmed = [d = std::shared_ptr<detail::subscribe_completion>(std::move(d)), weak, id](boost::system::error_code ec) {
        if (!ec) return d->complete(ec, subscription(weak, id));
        if (auto impl = weak.lock()) impl->unsubscribe(id);  // the bus refused the rule
        d->complete(ec, subscription{});
      };
    }
    impl.subscribe(id, std::move(rule), std::move(handler), options, std::move(confirmed));
  });
  // With a completion, the handle travels through it; without, it is returned at once.
  if (completes) return {};
  return subscription(std::move(weak), id);
}

std::uint64_t connection::start_call(message m, call_options options, std::unique_ptr<detail::call_completion> done,
                                     bool cancellable) {
  // Ids are handed out here (the caller's thread) so cancellation can name the call at once.
  static std::atomic<std::uint64_t> next_id{1};
  const std::uint64_t id = cancellable ? next_id++ : 0;
  // From a handler of this connection the call goes out at once (no trip through the
  // scheduler); from elsewhere it is posted to the strand.
  if (impl_->strand_.running_in_this_thread() && impl_->can_run_inline()) {
    impl_->call_inline(std::move(m), options, std::move(done), id);
    return id;
  }
  impl_->post_op([m = std::move(m), options, d = std::move(done), id](detail::connection_impl& impl) mutable {
    impl.call(std::move(m), options, std::move(d), id);
  });
  return id;
}

void connection::cancel_call(std::uint64_t id) {
  impl_->post_op([id](detail::connection_impl& impl) { impl.cancel(id); });
}

void connection::send(message m) {
  if (impl_->strand_.running_in_this_thread() && impl_->can_run_inline()) return impl_->send(std::move(m));
  impl_->post_op([m = std::move(m)](detail::connection_impl& impl) mutable { impl.send(std::move(m)); });
}

void connection::set_message_handler(message_handler h) {
  impl_->post_op([h = std::move(h)](detail::connection_impl& impl) mutable {
    impl.handler_ = std::move(h);
    impl.start_reading();
  });
}

void connection::close() {
  impl_->post_op([](detail::connection_impl& impl) { impl.disconnect("closed by this side"); });
}

subscription::subscription(subscription&& o) noexcept : impl_(std::move(o.impl_)), id_(std::exchange(o.id_, 0)) {}

subscription& subscription::operator=(subscription&& o) noexcept {
  if (this != &o) {
    reset();
    impl_ = std::move(o.impl_);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

subscription::~subscription() { reset(); }

void subscription::reset() noexcept {
  const std::uint64_t id = std::exchange(id_, 0);
  auto impl = impl_.lock();
  impl_.reset();
  if (!id || !impl) return;
  try {
    if (impl->strand_.running_in_this_thread()) return impl->unsubscribe(id);
    impl->post_op([id](detail::connection_impl& i) { i.unsubscribe(id); });
  } catch (...) {
    // Only allocation can fail here; the subscription then ends with its connection.
  }
}

bool connection::is_open() const noexcept { return impl_->open_; }
const connection_info& connection::info() const noexcept { return impl_->info_; }
const std::string& connection::unique_name() const noexcept { return impl_->info_.unique_name; }
std::string connection::last_error() const { return impl_->last_error_; }

}  // namespace kbus
