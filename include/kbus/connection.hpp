// A connection to a D-Bus bus (or peer) over whichever transport its address offers, on the executor the
// application gives: no hidden threads. Every asynchronous operation takes a completion token
// (a callback, boost::asio::use_future, use_awaitable, deferred ...).
//
//   boost::asio::io_context io;
//   kbus::connection bus(io.get_executor());
//   bus.async_connect("unix:path=/run/dbus/system_bus_socket", [&](boost::system::error_code ec) {
//     bus.async_call(kbus::message_builder::method_call(...).build(), [](auto ec, kbus::message reply) {...});
//   });
//   io.run();
#pragma once

#include "kbus/match.hpp"
#include "kbus/message.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace kbus {

// What can go wrong with a connection or a call (the wire's own errors are kbus::errc).
enum class connection_errc {
  ok = 0,
  no_usable_address,  // every entry of the address list was skipped or failed
  disconnected,       // the peer or bus went away; pending calls end with this
  timeout,            // no reply within the call's timeout
  error_reply,        // the reply is a D-Bus error: see reply.error_name() and dbus_error_of()
  not_connected,
  peer_sent_invalid_message,
  would_deadlock,     // a blocking call made on the connection's own executor: nothing could run it
  outgoing_queue_full,  // send() found the outgoing queue at its bound (connect_options)
  name_not_owned,     // connect_options::names: a name asked for with do_not_queue has another owner
  fds_not_supported,  // the message carries unix fds and the connection cannot pass them (cuse:)
};
const std::error_category& connection_category() noexcept;
inline std::error_code make_error_code(connection_errc e) noexcept { return {static_cast<int>(e), connection_category()}; }

// A D-Bus error reply as data: its name and its message (the first string argument, if any).
struct dbus_error {
  std::string name;
  std::string message;
};
dbus_error dbus_error_of(const message& error_reply);

// What a blocking call throws for an error reply, and what a co_await or a future throws through
// kbus::with_dbus_error (kbus/with_dbus_error.hpp): the D-Bus error as data. A system_error
// with code connection_errc::error_reply, whose what() is "name: message".
class call_error : public boost::system::system_error {
 public:
  explicit call_error(dbus_error e)
      : boost::system::system_error(make_error_code(connection_errc::error_reply)),
        what_(e.name + ": " + e.message),
        error_(std::move(e)) {}
  const dbus_error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
  dbus_error error_;
};

// RequestName's flags (kbus::bus::request_name_flags too).
enum class request_name_flags : std::uint32_t {
  none = 0,
  allow_replacement = 0x1,
  replace_existing = 0x2,
  do_not_queue = 0x4,
};
constexpr request_name_flags operator|(request_name_flags a, request_name_flags b) noexcept {
  return static_cast<request_name_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr bool has(request_name_flags set, request_name_flags f) noexcept {
  return (static_cast<std::uint32_t>(set) & static_cast<std::uint32_t>(f)) != 0;
}

// A well-known name a connection asks for as it connects.
struct name_request {
  bus_name name{};
  // do_not_queue (the default) asks for exclusive ownership: connecting fails with
  // connection_errc::name_not_owned unless this connection becomes the name's primary owner.
  // Without it, waiting in the name's queue is fine.
  request_name_flags flags = request_name_flags::do_not_queue;
};

// How to connect.
struct connect_options {
  // A message bus: say Hello and get a unique name. false: a peer-to-peer connection.
  bool bus = true;
  // The most bytes the outgoing queue holds before senders wait (async_send, calls) or fail
  // (send()): a peer that stops reading never makes the connection grow without limit. An
  // empty queue takes a message of any size. The default: the largest message the
  // specification allows.
  std::size_t outgoing_queue_limit = detail::max_message_length;
  // How long close(), async_close() and destruction may spend delivering what was queued
  // before the connection ends anyway (sd-bus's and libdbus's reply timeout).
  std::chrono::milliseconds close_timeout{25000};
  // Names to own: requested in order once Hello is answered, before the connect completes.
  //   conn.connect(address, {.names = {{"org.example.Calc"_bus}}});
  std::vector<name_request> names{};
};

struct call_options {
  // libdbus's default reply timeout.
  std::chrono::milliseconds timeout{25000};
};

// What the connection used, and what it skipped on the way.
struct connection_info {
  std::string address;                // the entry that was used
  std::string transport;              // one of kbus::transport_names (address.hpp)
  std::vector<std::string> skipped;   // "entry: reason" for each entry tried before it
  std::string unique_name;
  std::string server_guid;
  bool unix_fd_passing = false;
  // The process at the other end of a local socket, as the kernel saw it when it connected
  // (SO_PEERCRED, getpeereid); unset for TCP.
  struct credentials {
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::int64_t pid = -1;  // -1: the platform does not say
  };
  std::optional<credentials> peer;
  // Messages send() took that never went out (each also reached the send error handler).
  std::uint64_t failed_sends = 0;
};

// How a subscription reaches the bus.
struct subscribe_options {
  // Send AddMatch so the bus routes matching messages here. false: only filter what arrives
  // anyway (unicast signals, a peer-to-peer connection, a monitor).
  bool add_match = true;
};

// Receives the messages a subscription's rule matches, on the connection's executor.
using signal_handler = std::function<void(const message&)>;

// Learns of each message that send() took and that could not go out: the outgoing queue was
// full, the transport refused it, or the connection ended before it was written. `why` says
// which, in words. Called on the connection's executor.
using send_error_handler = std::function<void(const message& m, boost::system::error_code ec, const std::string& why)>;

namespace detail {
class connection_impl;
class server_impl;
}

namespace detail {
// What a connection hands out as an owning handle: a subscription, an incoming handler. Reset or
// destroyed, it withdraws what it registered; from the connection's own executor (e.g. inside a
// handler) that takes effect at once.
class registration {
 public:
  registration() noexcept = default;
  registration(registration&& o) noexcept;
  registration& operator=(registration&& o) noexcept;
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
  ~registration();

  void reset() noexcept;
  bool active() const noexcept { return id_ != 0; }

 protected:
  enum class kind : std::uint8_t { subscription, incoming_handler };
  registration(std::weak_ptr<connection_impl> impl, std::uint64_t id, kind k) noexcept
      : impl_(std::move(impl)), id_(id), kind_(k) {}

 private:
  std::weak_ptr<connection_impl> impl_;
  std::uint64_t id_ = 0;
  kind kind_ = kind::subscription;
};
}  // namespace detail

// An owning handle for a subscription: the handler is called until the handle is reset or
// destroyed; the rule's AddMatch is withdrawn (RemoveMatch) when its last subscription goes.
// Reset from the connection's own executor (e.g. inside a handler) takes effect at once.
class subscription : public detail::registration {
 public:
  subscription() noexcept = default;

 private:
  friend class connection;
  subscription(std::weak_ptr<detail::connection_impl> impl, std::uint64_t id) noexcept
      : registration(std::move(impl), id, kind::subscription) {}
};

// Takes incoming method calls and signals before the application's message handler; returns
// true when it took the message (an object_server takes the calls to the objects it serves).
using incoming_handler = std::function<bool(message&)>;

// An owning handle for an incoming handler: it is asked until the handle is reset or destroyed.
class incoming_registration : public detail::registration {
 public:
  incoming_registration() noexcept = default;

 private:
  friend class connection;
  incoming_registration(std::weak_ptr<detail::connection_impl> impl, std::uint64_t id) noexcept
      : registration(std::move(impl), id, kind::incoming_handler) {}
};

class connection;
namespace detail {
// Whether a blocking wait for `c` here would wait forever: the caller runs on the executor that
// would have to complete it. Blocking forms fail with connection_errc::would_deadlock then.
bool blocking_would_deadlock(const connection& c);

// How a completion reaches its handler's executor: posted, or run inline when the completing
// code already runs there (only where completion never happens inside the initiating function).
enum class completion_delivery { post, dispatch };

// A completion handler of any (move-only) type behind one virtual call.
template <class... Args>
struct completion {
  virtual ~completion() = default;
  virtual void complete(Args... args) = 0;
};

template <completion_delivery Delivery, class Handler, class Executor, class... Args>
struct completion_for final : completion<Args...> {
  Handler handler;
  Executor fallback;
  completion_for(Handler h, Executor ex) : handler(std::move(h)), fallback(std::move(ex)) {}
  void complete(Args... args) override {
    auto ex = boost::asio::get_associated_executor(handler, fallback);
    auto run = [h = std::move(handler), ... a = std::move(args)]() mutable { h(std::move(a)...); };
    if constexpr (Delivery == completion_delivery::dispatch) boost::asio::dispatch(ex, std::move(run));
    else boost::asio::post(ex, std::move(run));
  }
};

using call_completion = completion<boost::system::error_code, message>;
// A call completes on the connection's executor, never inside its initiating function (the
// connection posts a completion that would). A handler with no executor of its own belongs
// to the connection's executor and runs at once: no executor copy, no scheduler trip.
template <class Handler>
struct call_completion_for final : call_completion {
  Handler handler;
  explicit call_completion_for(Handler h) : handler(std::move(h)) {}
  void complete(boost::system::error_code ec, message reply) override {
    // system_executor stands for "none": a handler bound to it would run inline as well.
    using own_executor = boost::asio::associated_executor_t<Handler, boost::asio::system_executor>;
    if constexpr (std::is_same_v<own_executor, boost::asio::system_executor>) {
      std::move(handler)(ec, std::move(reply));
    } else {
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::dispatch(ex, [h = std::move(handler), ec, r = std::move(reply)]() mutable { std::move(h)(ec, std::move(r)); });
    }
  }
};

using subscribe_completion = completion<boost::system::error_code, subscription>;
template <class Handler, class Executor>
using subscribe_completion_for =
    completion_for<completion_delivery::post, Handler, Executor, boost::system::error_code, subscription>;

// Operations that complete with an error code only: connect, send, flush, close.
using op_completion = completion<boost::system::error_code>;
template <class Handler, class Executor>
using op_completion_for = completion_for<completion_delivery::post, Handler, Executor, boost::system::error_code>;
}  // namespace detail

class connection {
 public:
  using executor_type = boost::asio::any_io_executor;
  // Incoming method calls and signals (replies go to their calls).
  using message_handler = std::function<void(message&)>;

  explicit connection(executor_type ex);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  connection(connection&&) noexcept = default;
  connection& operator=(connection&& o) noexcept;
  ~connection();

  executor_type get_executor() const noexcept;

  // Connects to the first usable entry of an address list, authenticates, says Hello (unless
  // options.bus is false: a peer-to-peer connection) and requests options.names. Signature:
  // void(error_code); last_error() says why it failed. Cancellation through the token's
  // cancellation slot ends the connect with operation_aborted (and the connection closed).
  template <class Token>
  auto async_connect(std::string address, Token&& token, connect_options options = {}) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, options](auto handler, std::string a) {
          using H = decltype(handler);
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          start_connect(std::move(a), options,
                        std::make_unique<detail::op_completion_for<H, executor_type>>(std::move(handler),
                                                                                            get_executor()));
          if (slot.is_connected()) slot.assign([c = cancel_connect_fn()](boost::asio::cancellation_type) { c(); });
        },
        token, std::move(address));
  }

  // Sends a method call and completes with its reply. Signature: void(error_code, message):
  // on an error reply the code is connection_errc::error_reply and the message is the reply
  // (kbus::with_dbus_error(token) makes it a kbus::call_error for co_await and futures).
  // Cancellation through the token's cancellation slot ends the call with operation_aborted.
  template <class Token>
  auto async_call(message call, Token&& token, call_options options = {}) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, message)>(
        [this, options](auto handler, message m) {
          using H = decltype(handler);
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          auto done = std::make_unique<detail::call_completion_for<H>>(std::move(handler));
          const std::uint64_t id = start_call(std::move(m), options, std::move(done), slot.is_connected());
          if (id) slot.assign([this, id](boost::asio::cancellation_type) { cancel_call(id); });
        },
        token, std::move(call));
  }

  // Blocking forms, for threads other than the ones running the connection's executor (which
  // must be running: kbus starts no thread of its own). Called on that executor they fail with
  // connection_errc::would_deadlock instead of hanging. Other traffic goes on meanwhile.
  void connect(std::string address, boost::system::error_code& ec, connect_options options = {});
  void connect(std::string address, connect_options options = {});  // throws boost::system::system_error
  // On an error reply: ec is connection_errc::error_reply and the reply is returned; the
  // throwing form throws kbus::call_error with the D-Bus error's name and message.
  message call(message m, boost::system::error_code& ec, call_options options = {});
  message call(message m, call_options options = {});

  // Queues a message that expects no reply (a signal, a reply, a call with no_reply_expected).
  // Fire and forget, but never silent: a message that cannot go out reaches the send error
  // handler and counts in info().failed_sends. At the outgoing queue's bound it fails
  // (outgoing_queue_full) instead of waiting.
  void send(message m);
  // The same, completing once the message has been handed over (to the kernel, the device or
  // the bus), or with the reason it could not be. At the outgoing queue's bound it waits for
  // room. Signature: void(error_code).
  template <class Token>
  auto async_send(message m, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, message msg) {
          using H = decltype(handler);
          start_send(std::move(msg), std::make_unique<detail::op_completion_for<H, executor_type>>(std::move(handler),
                                                                                                 get_executor()));
        },
        token, std::move(m));
  }
  // Completes once everything sent before it has been handed over. Signature: void(error_code).
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          using H = decltype(handler);
          start_flush(std::make_unique<detail::op_completion_for<H, executor_type>>(std::move(handler), get_executor()));
        },
        token);
  }
  // Blocking form of async_flush (would_deadlock on the connection's own executor).
  void flush(boost::system::error_code& ec);
  void flush();  // throws boost::system::system_error
  void set_send_error_handler(send_error_handler h);
  // Every incoming method call and signal that is not a reply, after the subscriptions saw it
  // and no incoming handler took it. With no handler, calls that expect a reply are answered
  // UnknownMethod.
  void set_message_handler(message_handler h);
  // Adds a consumer of incoming calls and signals, asked before the message handler, in the
  // order they were added (object_server uses it: several servers and the application's own
  // handler coexist, each taking what it serves).
  incoming_registration add_incoming_handler(incoming_handler h);

  // Calls `handler` for every incoming message (not replies to this connection's calls) that
  // `rule` matches, evaluated here as the specification says; also asks the bus for them
  // (AddMatch, once per distinct rule). A sender given as a well-known name is followed
  // through its owner changes. The returned handle owns the subscription.
  subscription subscribe(match_rule rule, signal_handler handler, subscribe_options options = {});
  // The same, completing once the bus has confirmed the rule, so that every matching message
  // sent afterwards reaches the handler. Signature: void(error_code, subscription).
  // Cancellation through the token's cancellation slot withdraws the subscription and ends it
  // with operation_aborted.
  template <class Token>
  auto async_subscribe(match_rule rule, signal_handler handler, Token&& token, subscribe_options options = {}) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, subscription)>(
        [this, options](auto completion, match_rule r, signal_handler h) {
          using H = decltype(completion);
          auto slot = boost::asio::get_associated_cancellation_slot(completion);
          std::function<void()> cancel;
          start_subscribe(std::move(r), std::move(h), options,
                          std::make_unique<detail::subscribe_completion_for<H, executor_type>>(std::move(completion),
                                                                                              get_executor()),
                          slot.is_connected() ? &cancel : nullptr);
          if (cancel) slot.assign([c = std::move(cancel)](boost::asio::cancellation_type) { c(); });
        },
        token, std::move(rule), std::move(handler));
  }
  // Delivers what was queued before it, then ends the connection: pending calls complete with
  // connection_errc::disconnected. Returns once done, or once connect_options::close_timeout
  // has passed (what was not written by then reaches the send error handler). Called on the
  // connection's own executor it cannot wait: it returns at once and the delivery goes on in
  // the background, as long as that executor runs. With nothing left to deliver it does not
  // wait for the executor either (the connection ends there soon after). When the executor's
  // io_context has stopped, the calling thread writes what is queued itself. Destroying an
  // open connection closes it this way.
  void close();
  // The same, completing when the connection has ended: with success once everything queued
  // was delivered, connection_errc::timeout when the bound passed first, or the reason the
  // connection ended on its own meanwhile. Signature: void(error_code).
  template <class Token>
  auto async_close(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          using H = decltype(handler);
          start_close(std::make_unique<detail::op_completion_for<H, executor_type>>(std::move(handler), get_executor()));
        },
        token);
  }

  // These four are safe from any thread; they give a copy of the moment.
  bool is_open() const noexcept;
  connection_info info() const;
  std::string unique_name() const;
  // The reason the connection ended or failed to connect, in words.
  std::string last_error() const;

 private:
  friend class detail::server_impl;
  friend bool detail::blocking_would_deadlock(const connection& c);
  explicit connection(std::shared_ptr<detail::connection_impl> impl) noexcept : impl_(std::move(impl)) {}
  void start_connect(std::string address, connect_options options, std::unique_ptr<detail::op_completion> done);
  // What cancels a connect in progress (it holds no reference to this object, which may move).
  std::function<void()> cancel_connect_fn() const;
  // With `cancel`, sets it to what cancels the pending completion.
  subscription start_subscribe(match_rule rule, signal_handler handler, subscribe_options options,
                               std::unique_ptr<detail::subscribe_completion> done,
                               std::function<void()>* cancel = nullptr);
  // Returns the id that cancel_call takes, or 0 when the call is not `cancellable`.
  std::uint64_t start_call(message m, call_options options, std::unique_ptr<detail::call_completion> done,
                           bool cancellable);
  void cancel_call(std::uint64_t id);
  void start_send(message m, std::unique_ptr<detail::op_completion> done);
  void start_flush(std::unique_ptr<detail::op_completion> done);
  void start_close(std::unique_ptr<detail::op_completion> done);

  std::shared_ptr<detail::connection_impl> impl_;
};

}  // namespace kbus

template <>
struct std::is_error_code_enum<kbus::connection_errc> : std::true_type {};
