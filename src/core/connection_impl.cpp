#include "core/connection_impl.hpp"

#include "transport/registry.hpp"

#include <boost/asio/io_context.hpp>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kbus::detail {

namespace {
boost::system::error_code code_of(connection_errc e) { return boost::system::error_code(make_error_code(e)); }
}  // namespace

connection_impl::connection_impl(boost::asio::any_io_executor ex) : strand_(boost::asio::make_strand(ex)) {}

connection_impl::~connection_impl() { stop_watching(); }

// ---- connecting ----

void connection_impl::connect(std::string address, connect_options options, std::unique_ptr<op_completion> done) {
  ++attempt_;
  connect_done_ = std::move(done);
  connect_options_ = options;
  close_timeout_ms_.store(options.close_timeout.count(), std::memory_order_relaxed);
  auto list = parse_address_list(address);
  if (!list) {
    core_.status().set_last_error(list.error().what());
    return finish_connect(boost::system::error_code(list.error().code));
  }
  entries_ = std::move(*list);
  entry_ = 0;
  try_entry();
}

void connection_impl::skip(const std::string& reason) {
  core_.status().add_skipped(entries_[entry_].to_string() + ": " + reason);
  ++entry_;
  try_entry();
}

void connection_impl::try_entry() {
  if (entry_ >= entries_.size()) {
    std::string all;
    const connection_info info = core_.status().info();
    for (const auto& s : info.skipped) all += (all.empty() ? "" : "; ") + s;
    core_.status().set_last_error("no usable address (" + all + ")");
    return finish_connect(code_of(connection_errc::no_usable_address));
  }
  const address_entry& e = entries_[entry_];
  if (auto ok = e.check(); !ok) return skip(ok.error().what());
  const connector_fn connect = find_connector(e.transport);
  if (!connect) return skip("the " + e.transport + " transport is not built in");
  std::shared_ptr<const message> hello;
  if (connect_options_.bus) hello = std::make_shared<const message>(core_.hello_call());
  connect({e, strand_, std::move(hello)}, [self = shared_from_this(), attempt = attempt_](result<std::unique_ptr<transport>> t) {
    if (attempt != self->attempt_ || !self->connect_done_) {
      if (t) (*t)->close();  // the connection was closed or connected again meanwhile
      return;
    }
    if (!t) return self->skip(t.error().message.empty() ? t.error().what() : t.error().message);
    self->connected(std::move(*t));
  });
}

void connection_impl::connected(std::unique_ptr<transport> t) {
  core_.attach(std::move(t), {connect_options_.bus, connect_options_.outgoing_queue_limit},
               [this](boost::system::error_code ec) {
                 if (!ec && connect_options_.bus && !connect_options_.names.empty()) return own_names(0);
                 finish_connect(ec);
               });
  after_core();
}

void connection_impl::finish_connect(boost::system::error_code ec) {
  entries_ = {};  // an open connection keeps none of its address list
  if (auto done = std::move(connect_done_)) done->complete(ec);
}

void connection_impl::adopt_accepted(std::unique_ptr<transport> t) {
  read_deferred_ = true;
  core_.attach(std::move(t), {.bus = false}, [](boost::system::error_code) {});
  after_core();
}

void connection_impl::close_now(const std::string& why) {
  ++attempt_;
  core_.disconnect(why);
  if (connect_done_) {
    core_.status().set_last_error(why);
    finish_connect(code_of(connection_errc::disconnected));
  }
}

void connection_impl::close_gracefully(std::unique_ptr<op_completion> done) {
  if (connect_done_ || !core_.attached()) {
    close_now("closed by this side");
    if (done) done->complete({});
    return;
  }
  core_.close(std::move(done));
  if (!core_.closing()) return;
  if (!close_timer_) close_timer_ = std::make_unique<timer_type>(strand_);
  close_timer_->expires_after(close_timeout());
  close_timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->core_.close_timed_out();
    self->after_core();
  });
}

void connection_impl::close_without_executor() {
  const auto deadline = std::chrono::steady_clock::now() + close_timeout();
  core_.close(nullptr);
  while (core_.closing()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      core_.close_timed_out();
      break;
    }
    pollfd p{core_.wait_fd(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000))) < 0 && errno != EINTR) {
      core_.disconnect(std::string("poll: ") + std::strerror(errno));
      break;
    }
    core_.flush_output();
  }
  // Completions and reports run here: no executor will run them.
  for (auto& d : core_.take_deferred()) d.run();
  stop_watching();
}

// ---- waiting ----

void connection_impl::start_reading() {
  if (!read_deferred_) return;
  read_deferred_ = false;
  after_core();
}

void connection_impl::after_core() {
  core_.status().set_undelivered(core_.undelivered());
  if (!core_.attached()) {
    stop_watching();
    deadline_timer_.cancel();
    if (close_timer_) close_timer_->cancel();
    timer_armed_for_.reset();
  } else if (!read_deferred_) {
    if (core_.wait_fd() != watched_fd_) watch(core_.wait_fd());
    if (core_.has_pending_input() && !drain_posted_) {
      // Messages wait already (made by the transport, or read before): take them soon, not
      // inside whatever operation is running now.
      drain_posted_ = true;
      boost::asio::post(strand_, [self = shared_from_this()] {
        self->drain_posted_ = false;
        self->core_.process_input(receive_mode::buffered);
        self->after_core();
      });
    }
    wait_readable();
    if (core_.wants_write()) wait_writable();
    sync_timer();
  }
  if (core_.has_deferred()) {
    boost::asio::post(strand_, [self = shared_from_this(), deferred = core_.take_deferred()]() mutable {
      for (auto& d : deferred) d.run();
      self->after_core();
    });
  }
}

void connection_impl::watch(int fd) {
  stop_watching();
  if (fd < 0) return;
  boost::system::error_code ec;
  descriptor_.assign(fd, ec);
  if (ec) return core_.disconnect("cannot wait for the transport: " + ec.message());
  watched_fd_ = fd;
}

void connection_impl::stop_watching() {
  if (watched_fd_ < 0) return;
  // The transport owns the descriptor: stop waiting on it without closing it.
  ++watch_generation_;
  (void)descriptor_.release();
  watched_fd_ = -1;
  read_waiting_ = write_waiting_ = false;
}

void connection_impl::wait_readable() {
  if (read_waiting_ || watched_fd_ < 0) return;
  read_waiting_ = true;
  descriptor_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                         [self = shared_from_this(), generation = watch_generation_](boost::system::error_code ec) {
                           if (generation != self->watch_generation_) return;
                           self->read_waiting_ = false;
                           if (ec) self->core_.disconnect(ec.message());
                           else self->core_.process_input(receive_mode::read_once);
                           self->after_core();
                         });
}

void connection_impl::wait_writable() {
  if (write_waiting_ || watched_fd_ < 0) return;
  write_waiting_ = true;
  descriptor_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                         [self = shared_from_this(), generation = watch_generation_](boost::system::error_code ec) {
                           if (generation != self->watch_generation_) return;
                           self->write_waiting_ = false;
                           if (ec) self->core_.disconnect(ec.message());
                           else self->core_.flush_output();
                           self->after_core();
                         });
}

void connection_impl::sync_timer() {
  const auto next = core_.next_deadline();
  if (!next || (timer_armed_for_ && *timer_armed_for_ <= *next)) return;
  timer_armed_for_ = *next;
  deadline_timer_.expires_at(*next);
  deadline_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;  // re-armed (operation_aborted) or gone
    self->timer_armed_for_.reset();
    self->core_.expire();
    self->after_core();
  });
}

bool executor_stopped(const connection_impl::strand_type& strand) {
  const auto inner = strand.get_inner_executor();
  if (auto* io = inner.target<boost::asio::io_context::executor_type>()) return io->context().stopped();
  return false;
}

bool would_deadlock(const connection_impl::strand_type& strand) {
  if (strand.running_in_this_thread()) return true;
  const auto inner = strand.get_inner_executor();  // target() points into it: keep it alive
  if (auto* io = inner.target<boost::asio::io_context::executor_type>()) return io->running_in_this_thread();
  return false;
}

}  // namespace kbus::detail
