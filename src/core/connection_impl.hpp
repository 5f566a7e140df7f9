// The Asio side of a connection: a strand, a wait on the transport's descriptor (readable, and
// writable while output is queued), one timer for the earliest call deadline, and the walk
// through an address list; everything else is the sans-I/O connection_core. Knows no transport:
// connectors come from the registry by scheme.
#pragma once

#include "core/connection_core.hpp"
#include "kbus/address.hpp"
#include "kbus/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kbus::detail {

class connection_impl : public std::enable_shared_from_this<connection_impl> {
 public:
  // The I/O objects use the strand's own type, not any_io_executor around it: every completion
  // would otherwise go through two layers of type erasure and allocate.
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;
  using timer_type = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                       boost::asio::wait_traits<std::chrono::steady_clock>, strand_type>;

  explicit connection_impl(boost::asio::any_io_executor ex);
  ~connection_impl();

  strand_type strand_;
  connection_core core_;

  // ---- connecting ----
  void connect(std::string address, connect_options options, std::unique_ptr<op_completion> done);
  // An accepted peer's transport (kbus::server): open at once, reading from its first use.
  void adopt_accepted(std::unique_ptr<transport> t);
  // Ends the connection (and a connect in progress) with `why`.
  void close_now(const std::string& why);
  // Delivers what is queued, then ends the connection, within connect_options::close_timeout;
  // `done` may be null.
  void close_gracefully(std::unique_ptr<op_completion> done);
  // The same, for a caller on another thread while nothing runs the connection's executor
  // (its io_context has stopped): writes what is queued from the calling thread, waiting for
  // the descriptor with poll(), within the close timeout.
  void close_without_executor();
  // Safe from any thread.
  std::chrono::milliseconds close_timeout() const noexcept {
    return std::chrono::milliseconds(close_timeout_ms_.load(std::memory_order_relaxed));
  }
  // Ends a connect in progress with operation_aborted (the connection closed); nothing else.
  void cancel_connect();

  // ---- operations of the public API ----
  // Whether an operation may run at once, in the caller (which is on the strand): nothing of
  // the public API is still queued before it.
  bool can_run_inline() const noexcept { return queued_.load(std::memory_order_relaxed) == 0; }
  // Runs `f` on the strand, behind everything queued before it.
  template <class F>
  void post_op(F f) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      self->queued_.fetch_sub(1, std::memory_order_relaxed);
      f(*self);
      self->after_core();
    });
  }
  // Safe from any thread: messages handed to the connection (send, call, flush) were posted and
  // have not reached the core yet, or wait to be written. A close then has something to deliver;
  // other posted work (a subscription withdrawn, a call cancelled) does not make it wait.
  bool has_work_in_flight() const noexcept {
    return posted_deliveries_.load(std::memory_order_acquire) > 0 || core_.status().undelivered();
  }
  // Runs a delivery (send, call, flush) now when the caller is on the strand with nothing
  // queued, else posts it.
  template <class F>
  void run_or_post(F f) {
    if (strand_.running_in_this_thread() && can_run_inline()) {
      {
        connection_core::initiating_scope scope(core_);
        f(*this);
      }
      return after_core();
    }
    posted_deliveries_.fetch_add(1, std::memory_order_acq_rel);
    post_op([f = std::move(f)](connection_impl& impl) mutable {
      f(impl);
      // Published before the count drops, so that a closing thread never sees neither.
      impl.core_.status().set_undelivered(impl.core_.undelivered());
      impl.posted_deliveries_.fetch_sub(1, std::memory_order_acq_rel);
    });
  }
  // An accepted connection reads nothing until it is first used, so that no message comes
  // before its owner had the chance to install a handler.
  void start_reading();
  // After the core did something: wait for what it needs now (readable, writable, the earliest
  // deadline), and run later what completed inside an initiating function.
  void after_core();

 private:
  void try_entry();
  void skip(const std::string& reason);
  void connected(std::unique_ptr<transport> t);
  void finish_connect(boost::system::error_code ec);
  // connect_options::names, after Hello (connection_names.cpp): requests names[next] and on.
  void own_names(std::size_t next);
  // Ends a connect that got its transport but cannot complete: closes and says why.
  void fail_connect(boost::system::error_code ec, const std::string& why);
  void watch(int fd);
  void stop_watching();
  void wait_readable();
  void wait_writable();
  void sync_timer();

  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> posted_deliveries_{0};  // run_or_post's posted operations not yet run
  std::atomic<std::chrono::milliseconds::rep> close_timeout_ms_{connect_options{}.close_timeout.count()};
  // Connecting.
  std::vector<address_entry> entries_;
  std::size_t entry_ = 0;
  connect_options connect_options_;
  std::unique_ptr<op_completion> connect_done_;
  unsigned attempt_ = 0;  // counts connects: a connector that answers after close() is ignored
  // Waiting.
  boost::asio::posix::basic_stream_descriptor<strand_type> descriptor_{strand_};
  int watched_fd_ = -1;
  unsigned watch_generation_ = 0;  // a wait on a descriptor given up ends quietly
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool drain_posted_ = false;
  bool read_deferred_ = false;
  // One timer for all pending calls, armed for the earliest deadline it has seen: no timer
  // (and no timerfd update) per call.
  timer_type deadline_timer_{strand_};
  std::optional<std::chrono::steady_clock::time_point> timer_armed_for_;
  // The bound on a graceful close, made when a close must wait: an idle connection carries none.
  std::unique_ptr<timer_type> close_timer_;
};

// Whether nothing runs `strand` any more: its io_context has stopped.
bool executor_stopped(const connection_impl::strand_type& strand);

// Whether a blocking wait here would stop the very thread that has to complete the operation.
bool would_deadlock(const connection_impl::strand_type& strand);

}  // namespace kbus::detail
