// kbus::connection: the public API over connection_impl (the Asio layer) and connection_core
// (the logic). Operations from the connection's own strand run at once; from elsewhere they are
// posted, in order.
#include "kbus/connection.hpp"

#include "core/connection_impl.hpp"

#include <boost/asio/error.hpp>

#include <atomic>
#include <future>

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
      case connection_errc::outgoing_queue_full: return "the outgoing queue is full";
      case connection_errc::name_not_owned: return "a name to own has another owner";
      case connection_errc::fds_not_supported: return "this connection cannot pass unix file descriptors";
    }
    return "unknown kbus.connection error";
  }
};

std::atomic<std::uint64_t> next_subscription_id{1};

// How long close() waits beyond the close timeout for the connection's executor to start it.
constexpr std::chrono::seconds close_start_margin{1};
std::atomic<std::uint64_t> next_consumer_id{1};

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
bool blocking_would_deadlock(const connection& c) { return would_deadlock(c.impl_->strand_); }
}  // namespace detail

connection::connection(executor_type ex) : impl_(std::make_shared<detail::connection_impl>(std::move(ex))) {}

connection::~connection() {
  if (!impl_) return;
  try {
    close();
  } catch (...) {
    // Only allocation can fail in close(); the connection then ends with its strand.
  }
}

connection::executor_type connection::get_executor() const noexcept { return impl_->strand_; }

connection& connection::operator=(connection&& o) noexcept {
  if (this != &o) {
    try {
      if (impl_) close();
    } catch (...) {
      // As in the destructor.
    }
    impl_ = std::move(o.impl_);
  }
  return *this;
}

void connection::start_connect(std::string address, connect_options options,
                               std::unique_ptr<detail::op_completion> done) {
  impl_->post_op([address = std::move(address), options, d = std::move(done)](detail::connection_impl& impl) mutable {
    impl.connect(std::move(address), options, std::move(d));
  });
}

std::function<void()> connection::cancel_connect_fn() const {
  return [weak = std::weak_ptr<detail::connection_impl>(impl_)] {
    if (auto impl = weak.lock()) impl->post_op([](detail::connection_impl& i) { i.cancel_connect(); });
  };
}

void connection::connect(std::string address, boost::system::error_code& ec, connect_options options) {
  if (detail::would_deadlock(impl_->strand_)) {
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
  if (detail::would_deadlock(impl_->strand_)) {
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

std::uint64_t connection::start_call(message m, call_options options, std::unique_ptr<detail::call_completion> done,
                                     bool cancellable) {
  // Ids are handed out here (the caller's thread) so cancellation can name the call at once.
  static std::atomic<std::uint64_t> next_id{1};
  const std::uint64_t id = cancellable ? next_id++ : 0;
  impl_->run_or_post([m = std::move(m), options, d = std::move(done), id](detail::connection_impl& impl) mutable {
    impl.start_reading();
    impl.core_.call(std::move(m), options, std::move(d), id);
  });
  return id;
}

void connection::cancel_call(std::uint64_t id) {
  impl_->post_op([id](detail::connection_impl& impl) { impl.core_.cancel(id); });
}

void connection::send(message m) {
  impl_->run_or_post([m = std::move(m)](detail::connection_impl& impl) mutable {
    impl.start_reading();
    impl.core_.send(std::move(m));
  });
}

void connection::set_message_handler(message_handler h) {
  impl_->post_op([h = std::move(h)](detail::connection_impl& impl) mutable {
    impl.core_.set_message_handler(std::move(h));
    impl.start_reading();
  });
}

incoming_registration connection::add_incoming_handler(incoming_handler h) {
  const std::uint64_t id = next_consumer_id++;
  impl_->post_op([id, h = std::move(h)](detail::connection_impl& impl) mutable {
    impl.core_.add_consumer(id, std::move(h));
    impl.start_reading();
  });
  return incoming_registration(impl_, id);
}

subscription connection::subscribe(match_rule rule, signal_handler handler, subscribe_options options) {
  return start_subscribe(std::move(rule), std::move(handler), options, nullptr);
}

subscription connection::start_subscribe(match_rule rule, signal_handler handler, subscribe_options options,
                                         std::unique_ptr<detail::subscribe_completion> done,
                                         std::function<void()>* cancel) {
  const std::uint64_t id = next_subscription_id++;
  const bool completes = done != nullptr;
  std::weak_ptr<detail::connection_impl> weak = impl_;
  // The completion, until the bus confirms or the caller cancels (whichever comes first, both on
  // the strand, takes it).
  auto pending = std::make_shared<std::unique_ptr<detail::subscribe_completion>>(std::move(done));
  if (cancel && completes) {
    *cancel = [weak, id, pending] {
      if (auto impl = weak.lock()) {
        impl->post_op([id, pending](detail::connection_impl& i) {
          if (!*pending) return;
          auto d = std::move(*pending);
          i.core_.unsubscribe(id);
          d->complete(boost::asio::error::operation_aborted, subscription{});
        });
      }
    };
  }
  impl_->post_op([id, rule = std::move(rule), handler = std::move(handler), options, pending, completes,
                  weak](detail::connection_impl& impl) mutable {
    std::function<void(boost::system::error_code)> confirmed;
    if (completes) {
      confirmed = [pending, weak, id](boost::system::error_code ec) {
        if (!*pending) return;  // cancelled
        auto d = std::move(*pending);
        if (!ec) return d->complete(ec, subscription(weak, id));
        if (auto impl = weak.lock()) impl->core_.unsubscribe(id);  // the bus refused the rule
        d->complete(ec, subscription{});
      };
    }
    impl.start_reading();
    impl.core_.subscribe(id, std::move(rule), std::move(handler), options, std::move(confirmed));
  });
  // With a completion, the handle travels through it; without, it is returned at once.
  if (completes) return {};
  return subscription(std::move(weak), id);
}

void connection::start_send(message m, std::unique_ptr<detail::op_completion> done) {
  impl_->run_or_post([m = std::move(m), d = std::move(done)](detail::connection_impl& impl) mutable {
    impl.start_reading();
    impl.core_.send(std::move(m), std::move(d));
  });
}

void connection::start_flush(std::unique_ptr<detail::op_completion> done) {
  impl_->run_or_post([d = std::move(done)](detail::connection_impl& impl) mutable { impl.core_.flush(std::move(d)); });
}

void connection::flush(boost::system::error_code& ec) {
  if (detail::would_deadlock(impl_->strand_)) {
    ec = make_error_code(connection_errc::would_deadlock);
    return;
  }
  std::promise<boost::system::error_code> done;
  auto result = done.get_future();
  async_flush([&done](boost::system::error_code e) { done.set_value(e); });
  ec = result.get();
}

void connection::flush() {
  boost::system::error_code ec;
  flush(ec);
  if (ec) throw boost::system::system_error(ec, last_error());
}

void connection::set_send_error_handler(send_error_handler h) {
  impl_->post_op([h = std::move(h)](detail::connection_impl& impl) mutable {
    impl.core_.set_send_error_handler(std::move(h));
  });
}

void connection::start_close(std::unique_ptr<detail::op_completion> done) {
  impl_->post_op([d = std::move(done)](detail::connection_impl& impl) mutable { impl.close_gracefully(std::move(d)); });
}

void connection::close() {
  // On its own executor it cannot wait; closed or never opened, or with everything written,
  // there is nothing to wait for (and the executor may not even run any more).
  if (detail::would_deadlock(impl_->strand_) || !is_open()) return start_close(nullptr);
  if (detail::executor_stopped(impl_->strand_)) {
    // Nothing runs the strand any more, so nothing else touches the connection: this thread
    // delivers what is queued itself.
    return impl_->close_without_executor();
  }
  if (!impl_->has_work_in_flight()) return start_close(nullptr);
  // Waits for the strand, within the close bound (and a margin for the strand to start): an
  // executor that nobody runs cannot hold the caller for ever.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  async_close([done](boost::system::error_code) { done->set_value(); });
  finished.wait_for(impl_->close_timeout() + close_start_margin);
}

bool connection::is_open() const noexcept { return impl_->core_.status().open(); }
connection_info connection::info() const { return impl_->core_.status().info(); }
std::string connection::unique_name() const { return impl_->core_.status().unique_name(); }
std::string connection::last_error() const { return impl_->core_.status().last_error(); }

// ---- owning handles ----

namespace {
// Runs `f` on the connection's strand: at once when already there (a handler resetting its own
// handle takes effect before the next message), else posted.
template <class F>
void on_strand(const std::shared_ptr<detail::connection_impl>& impl, F f) noexcept {
  try {
    if (impl->strand_.running_in_this_thread()) {
      f(*impl);
      return impl->after_core();
    }
    impl->post_op(std::move(f));
  } catch (...) {
    // Only allocation can fail here; the registration then ends with its connection.
  }
}
}  // namespace

namespace detail {

registration::registration(registration&& o) noexcept
    : impl_(std::move(o.impl_)), id_(std::exchange(o.id_, 0)), kind_(o.kind_) {}

registration& registration::operator=(registration&& o) noexcept {
  if (this != &o) {
    reset();
    impl_ = std::move(o.impl_);
    id_ = std::exchange(o.id_, 0);
    kind_ = o.kind_;
  }
  return *this;
}

registration::~registration() { reset(); }

void registration::reset() noexcept {
  const std::uint64_t id = std::exchange(id_, 0);
  auto impl = impl_.lock();
  impl_.reset();
  if (!id || !impl) return;
  if (kind_ == kind::subscription) on_strand(impl, [id](connection_impl& i) { i.core_.unsubscribe(id); });
  else on_strand(impl, [id](connection_impl& i) { i.core_.remove_consumer(id); });
}

}  // namespace detail

}  // namespace kbus
