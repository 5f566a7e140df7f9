// The connection's logic without its I/O (sans-I/O): serials, calls awaiting replies and their
// deadlines, subscriptions, the consumers of incoming messages, and dispatch, over any
// detail::transport. The Asio layer (connection.cpp) waits for the transport's descriptor and
// the earliest deadline and calls in here; the unit tests drive it with a scripted transport.
//
//   connection_core core(clock);
//   core.attach(std::move(transport), {.bus = true}, on_ready);   // says Hello on a bus
//   core.call(msg, options, std::move(done), cancel_id);
//   // wait_fd() readable:  core.process_input(receive_mode::read_once);
//   // writable:            core.flush_output();
//   // next_deadline() due: core.expire();
//   // after each of these: run take_deferred() later (never inside the initiating function).
//
// Single-threaded: one strand drives it. status() may be read from any thread.
#pragma once

#include "core/call_table.hpp"
#include "core/subscription_table.hpp"
#include "kbus/connection.hpp"
#include "transport/transport.hpp"

#include <boost/container/devector.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kbus::detail {

// What a connection is, readable from any thread.
class connection_status {
 public:
  bool open() const noexcept { return open_.load(std::memory_order_acquire); }
  connection_info info() const;
  std::string unique_name() const;
  std::string last_error() const;

  void set_open(bool open) noexcept { open_.store(open, std::memory_order_release); }
  void set_info(connection_info info);
  void set_unique_name(std::string name);
  void add_skipped(std::string entry_and_reason);
  void set_last_error(std::string why);
  void count_failed_send() noexcept { failed_sends_.fetch_add(1, std::memory_order_relaxed); }
  // Whether messages wait to be written (queued in the transport, or waiting for room).
  bool undelivered() const noexcept { return undelivered_.load(std::memory_order_acquire); }
  void set_undelivered(bool u) noexcept { undelivered_.store(u, std::memory_order_release); }

 private:
  std::atomic<bool> open_{false};
  std::atomic<std::uint64_t> failed_sends_{0};
  std::atomic<bool> undelivered_{false};
  mutable std::mutex mutex_;
  connection_info info_;
  std::string last_error_;
};

// A message, call or flush that waits for room in the outgoing queue.
struct waiting_send {
  enum class kind : std::uint8_t { send, call, flush };
  kind what = kind::send;
  message m;                                 // send, call (its serial set)
  std::chrono::milliseconds reply_timeout{};  // call
  std::unique_ptr<op_completion> done;       // send, flush
};

class connection_core {
 public:
  using clock = std::chrono::steady_clock;
  using now_function = std::function<clock::time_point()>;
  using ready_handler = std::function<void(boost::system::error_code)>;

  explicit connection_core(now_function now = [] { return clock::now(); });
  ~connection_core();
  connection_core(const connection_core&) = delete;
  connection_core& operator=(const connection_core&) = delete;

  struct attach_options {
    bool bus = true;  // say Hello; false: a peer-to-peer connection
    std::size_t outgoing_queue_limit = connect_options{}.outgoing_queue_limit;
  };
  // Takes a connected transport. On a bus, Hello goes out and `ready` learns its outcome (the
  // unique name is in status() then); else `ready` is called at once with success.
  void attach(std::unique_ptr<transport> t, attach_options options, ready_handler ready);
  // The Hello that attach() sends on a bus, with the serial it will have: a connector may send
  // it ahead (connect_request::first_message); attach() then only awaits its reply.
  message hello_call() const;

  // Sends a call and awaits its reply until options.timeout. A call that cannot go out ends
  // with the reason. `cancel_id` (0: none) names it for cancel().
  void call(message m, call_options options, std::unique_ptr<call_completion> done, std::uint64_t cancel_id = 0);
  // A call made by the library itself (driver calls of subscriptions, Hello).
  void call(message m, std::function<void(boost::system::error_code, message)> done);
  void cancel(std::uint64_t cancel_id);
  // Sends a message that expects no reply; one that cannot go out reaches the send error
  // handler. At the outgoing queue's bound it fails.
  void send(message m);
  // The same, completing once the transport has handed it over (or with why it could not).
  // At the bound it waits for room, in order with calls and flushes.
  void send(message m, std::unique_ptr<op_completion> done);
  // Completes once everything sent before it has been handed over.
  void flush(std::unique_ptr<op_completion> done);
  // Delivers what was sent before it, then ends the connection; `done` (may be null) learns
  // how. Sends after it fail with not_connected.
  void close(std::unique_ptr<op_completion> done);
  // The close bound passed: ends the connection now, reporting what was not written.
  void close_timed_out();
  bool closing() const noexcept { return closing_ && open_; }
  // Messages wait to be written.
  bool undelivered() const noexcept {
    return open_ && transport_ && (transport_->queued_bytes() > 0 || !waiting_for_room_.empty());
  }
  void set_send_error_handler(send_error_handler h) { send_error_handler_ = std::move(h); }

  // Subscriptions (connection::subscribe): `confirmed` may be empty.
  void subscribe(std::uint64_t id, match_rule rule, signal_handler handler, subscribe_options options,
                 std::function<void(boost::system::error_code)> confirmed);
  void unsubscribe(std::uint64_t id);

  // Consumers of incoming method calls and signals, asked in the order they were added; the
  // first that takes a message ends its way. Then the application's handler, else calls that
  // expect a reply are answered UnknownMethod.
  void add_consumer(std::uint64_t id, std::function<bool(message&)> consumer);
  void remove_consumer(std::uint64_t id);
  void set_message_handler(std::function<void(message&)> handler) { handler_ = std::move(handler); }

  // The transport's descriptor is readable (read_once) or messages wait already (buffered):
  // takes and dispatches every message there is. What handlers send meanwhile goes out
  // together afterwards.
  void process_input(receive_mode mode);
  // The transport's descriptor is writable: writes what is queued.
  void flush_output();
  // Ends the calls whose deadline has passed.
  void expire();
  // Ends the connection: pending calls (and a Hello not yet answered) end with `code`.
  void disconnect(const std::string& why, connection_errc code = connection_errc::disconnected);

  // For the I/O layer: what to wait for next.
  bool attached() const noexcept { return transport_ != nullptr && open_; }
  int wait_fd() const noexcept { return transport_ ? transport_->wait_fd() : -1; }
  bool wants_write() const noexcept { return open_ && transport_ && transport_->wants_write(); }
  bool has_pending_input() const noexcept { return open_ && transport_ && transport_->has_pending_input(); }
  std::optional<clock::time_point> next_deadline() const noexcept { return calls_.next_deadline(); }
  // Completions that became due while an operation was being initiated: the I/O layer runs them
  // later, so that no handler runs inside its initiating function.
  struct deferred_completion {
    std::unique_ptr<call_completion> done;
    boost::system::error_code ec;
    message reply;
    void run() { done->complete(ec, std::move(reply)); }
  };
  std::vector<deferred_completion> take_deferred() { return std::exchange(deferred_, {}); }
  bool has_deferred() const noexcept { return !deferred_.empty(); }
  // Marks the span of an initiating function: completions inside it are deferred.
  class initiating_scope {
   public:
    explicit initiating_scope(connection_core& c) noexcept : c_(c), was_(std::exchange(c.initiating_, true)) {}
    ~initiating_scope() { c_.initiating_ = was_; }
    initiating_scope(const initiating_scope&) = delete;
    initiating_scope& operator=(const initiating_scope&) = delete;

   private:
    connection_core& c_;
    bool was_;
  };

  connection_status& status() noexcept { return status_; }
  const connection_status& status() const noexcept { return status_; }
  bool monitoring() const noexcept { return monitoring_; }
  const subscription_table& subscriptions() const noexcept;

 private:
  std::uint32_t take_serial() noexcept;
  std::uint32_t assign_serial(message& m) noexcept;
  void send_backlog();
  void complete_call(std::uint32_t serial, boost::system::error_code ec, message reply);
  void deliver(std::unique_ptr<call_completion> done, boost::system::error_code ec, message reply);
  void dispatch(message m);
  bool offer_to_consumers(message& m);
  void answer_unknown(const message& call);
  void end_output_batch();
  void write_queued();
  // Output was written: completes what waited for it, admits what waited for room, and ends a
  // close once everything is out.
  void output_progressed();
  void complete_written();
  // `done` completes once everything handed to the transport so far is written (a flush).
  void complete_when_written(std::unique_ptr<op_completion> done);
  bool fits(std::size_t size) const noexcept;
  void admit_waiting();
  bool admit(waiting_send& w);
  std::uint64_t written_bytes() const noexcept;
  void transmit(message m, std::chrono::milliseconds reply_timeout, std::unique_ptr<op_completion> done);
  void report_unsent(message m, boost::system::error_code ec, std::string why);
  void report_all_unsent(boost::system::error_code ec, const std::string& why);
  void deliver(std::unique_ptr<op_completion> done, boost::system::error_code ec);
  void finish_close();

  now_function now_;
  std::unique_ptr<transport> transport_;
  bool open_ = false;
  bool bus_ = true;
  std::uint32_t next_serial_ = 1;
  call_table calls_;
  // Made by the first subscription: a connection that subscribes to nothing carries none.
  std::unique_ptr<subscription_table> subscriptions_;
  subscription_table& subscriptions_made();
  // The queues here are boost::container::devectors: unlike std::deque they allocate nothing
  // while empty, and each is 32 bytes where a boost::container::deque is 80 (an idle connection
  // carries three).
  // Calls beyond what the transport may await (its capabilities), in order, serials set.
  boost::container::devector<std::pair<message, std::chrono::milliseconds>> backlog_;
  std::vector<std::pair<std::uint64_t, std::shared_ptr<std::function<bool(message&)>>>> consumers_;
  std::function<void(message&)> handler_;
  std::uint32_t become_monitor_serial_ = 0;  // our BecomeMonitor call, if any
  bool monitoring_ = false;                  // the bus made us a monitor
  bool initiating_ = false;
  bool dispatching_ = false;  // sends queue, and go out together when dispatch ends
  std::vector<deferred_completion> deferred_;
  connection_status status_;

  // Output. Bytes handed to the transport since attach; those it still queues are not written.
  std::uint64_t handed_bytes_ = 0;
  std::size_t outgoing_limit_ = connect_options{}.outgoing_queue_limit;
  // What waits for room in the outgoing queue, in order.
  boost::container::devector<waiting_send> waiting_for_room_;
  bool admitting_ = false;
  // What waits for its bytes to be written: ends ascending (async_send, flush).
  struct write_waiter {
    std::uint64_t end;
    std::uint32_t serial;  // the message's (0: a flush)
    std::unique_ptr<op_completion> done;
  };
  boost::container::devector<write_waiter> write_waiters_;
  send_error_handler send_error_handler_;
  bool closing_ = false;
  std::vector<std::unique_ptr<op_completion>> close_waiters_;
};

}  // namespace kbus::detail
