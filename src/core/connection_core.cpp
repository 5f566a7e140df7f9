#include "core/connection_core.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_names.hpp"

#include <boost/asio/error.hpp>

namespace kbus::detail {

namespace {

boost::system::error_code code_of(connection_errc e) { return boost::system::error_code(make_error_code(e)); }

// A completion made of a function: the library's own calls.
struct function_completion final : call_completion {
  std::function<void(boost::system::error_code, message)> f;
  explicit function_completion(std::function<void(boost::system::error_code, message)> fn) : f(std::move(fn)) {}
  void complete(boost::system::error_code ec, message reply) override { f(ec, std::move(reply)); }
};

bool is_become_monitor(const message& m) {
  return m.member() == "BecomeMonitor" && m.interface() == dbus_names::monitoring_interface &&
         m.destination() == dbus_names::driver_name;
}

}  // namespace

// ---- status ----

connection_info connection_status::info() const {
  std::lock_guard lock(mutex_);
  connection_info info = info_;
  info.failed_sends = failed_sends_.load(std::memory_order_relaxed);
  return info;
}

std::string connection_status::unique_name() const {
  std::lock_guard lock(mutex_);
  return info_.unique_name;
}

std::string connection_status::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void connection_status::set_info(connection_info info) {
  std::lock_guard lock(mutex_);
  // What was skipped on the way stays: the transport knows only its own entry.
  info.skipped = std::move(info_.skipped);
  info.failed_sends = 0;  // counted apart, read by info()
  info_ = std::move(info);
}

void connection_status::set_unique_name(std::string name) {
  std::lock_guard lock(mutex_);
  info_.unique_name = std::move(name);
}

void connection_status::add_skipped(std::string entry_and_reason) {
  std::lock_guard lock(mutex_);
  info_.skipped.push_back(std::move(entry_and_reason));
}

void connection_status::set_last_error(std::string why) {
  std::lock_guard lock(mutex_);
  last_error_ = std::move(why);
}

// ---- the core ----

connection_core::connection_core(now_function now) : now_(std::move(now)) {}

subscription_table& connection_core::subscriptions_made() {
  if (!subscriptions_) {
    subscriptions_ = std::make_unique<subscription_table>([this](message call, subscription_table::reply_handler on_reply) {
      this->call(std::move(call), std::move(on_reply));
    });
  }
  return *subscriptions_;
}

const subscription_table& connection_core::subscriptions() const noexcept {
  static const subscription_table none{subscription_table::bus_caller{}};
  return subscriptions_ ? *subscriptions_ : none;
}

connection_core::~connection_core() {
  if (transport_) transport_->close();
}

void connection_core::attach(std::unique_ptr<transport> t, attach_options options, ready_handler ready) {
  transport_ = std::move(t);
  bus_ = options.bus;
  open_ = true;
  closing_ = false;
  handed_bytes_ = 0;
  outgoing_limit_ = options.outgoing_queue_limit;
  status_.set_info(transport_->take_info());
  status_.set_open(true);
  if (!bus_) return ready({});
  auto on_reply = [this, ready = std::move(ready)](boost::system::error_code ec, message reply) {
    if (!ec) {
      auto name = reply.read<std::string>();
      if (name) status_.set_unique_name(std::get<0>(*name));
      else ec = boost::system::error_code(name.error().code);
    }
    // When the connection itself broke, its reason says more than the call's error code.
    if (ec) status_.set_last_error("Hello failed: " + (open_ || status_.last_error().empty() ? ec.message() : status_.last_error()));
    ready(ec);
  };
  if (!transport_->first_message_sent()) return call(hello_call(), std::move(on_reply));
  // Sent with the handshake (hello_call()'s serial): awaited like any call, with its deadline.
  const std::uint32_t serial = take_serial();
  calls_.add(serial, {0, std::make_unique<function_completion>(std::move(on_reply)), now_() + call_options{}.timeout, false});
  calls_.mark_sent(serial);
}

message connection_core::hello_call() const {
  message hello = bus::driver_call("Hello");
  hello.set_serial(next_serial_);
  return hello;
}

std::uint32_t connection_core::take_serial() noexcept {
  const std::uint32_t serial = next_serial_++;
  if (next_serial_ == 0) next_serial_ = 1;  // 0 is not a valid serial (specification)
  return serial;
}

std::uint32_t connection_core::assign_serial(message& m) noexcept {
  const std::uint32_t serial = take_serial();
  m.set_serial(serial);
  return serial;
}

// ---- calls (their sending: outgoing.cpp) ----

void connection_core::call(message m, call_options options, std::unique_ptr<call_completion> done,
                           std::uint64_t cancel_id) {
  if (!open_ || closing_) return deliver(std::move(done), code_of(connection_errc::not_connected), {});
  const std::uint32_t serial = assign_serial(m);
  if (is_become_monitor(m)) become_monitor_serial_ = serial;
  calls_.add(serial, {cancel_id, std::move(done), now_() + options.timeout, false});
  if (!waiting_for_room_.empty() || !fits(m.bytes().size())) {
    waiting_for_room_.push_back({waiting_send::kind::call, std::move(m), options.timeout, nullptr});
    return;
  }
  if (calls_.awaiting() >= transport_->capabilities().max_awaited_replies) {
    backlog_.emplace_back(std::move(m), options.timeout);
    return;
  }
  calls_.mark_sent(serial);
  transmit(std::move(m), options.timeout, nullptr);
}

void connection_core::call(message m, std::function<void(boost::system::error_code, message)> done) {
  call(std::move(m), call_options{}, std::make_unique<function_completion>(std::move(done)));
}

// A call's reply came (or it ended): one more may go out of the backlog.
void connection_core::send_backlog() {
  const std::size_t limit = transport_ ? transport_->capabilities().max_awaited_replies : 0;
  while (open_ && !backlog_.empty() && calls_.awaiting() < limit) {
    auto [m, timeout] = std::move(backlog_.front());
    backlog_.pop_front();
    if (!calls_.contains(m.serial())) continue;  // cancelled or timed out while it waited
    calls_.mark_sent(m.serial());
    transmit(std::move(m), timeout, nullptr);
  }
}

void connection_core::complete_call(std::uint32_t serial, boost::system::error_code ec, message reply) {
  auto e = calls_.take(serial);
  if (!e) return;
  if (!backlog_.empty()) send_backlog();
  deliver(std::move(e->done), ec, std::move(reply));
}

void connection_core::deliver(std::unique_ptr<call_completion> done, boost::system::error_code ec, message reply) {
  if (!initiating_) return done->complete(ec, std::move(reply));
  deferred_.push_back({std::move(done), ec, std::move(reply)});
}

void connection_core::cancel(std::uint64_t cancel_id) {
  if (auto serial = calls_.serial_of(cancel_id)) complete_call(*serial, boost::asio::error::operation_aborted, {});
}

void connection_core::expire() {
  for (std::uint32_t serial : calls_.due(now_())) complete_call(serial, code_of(connection_errc::timeout), {});
}

// ---- receiving ----

void connection_core::process_input(receive_mode mode) {
  if (!open_ || !transport_) return;
  {
    const bool was = std::exchange(dispatching_, true);
    while (open_) {
      auto next = transport_->receive(mode);
      if (!next) {
        dispatching_ = was;
        const bool invalid = next.error().code == make_error_code(connection_errc::peer_sent_invalid_message);
        return disconnect(next.error().message, invalid ? connection_errc::peer_sent_invalid_message
                                                         : connection_errc::disconnected);
      }
      if (!*next) break;
      dispatch(std::move(**next));
      mode = receive_mode::buffered;
    }
    dispatching_ = was;
  }
  if (!dispatching_) end_output_batch();
}

void connection_core::dispatch(message m) {
  if (m.type() > message_type::signal) return;  // a type this library does not know
  if ((m.type() == message_type::method_return || m.type() == message_type::error) && m.reply_serial()) {
    const std::uint32_t serial = *m.reply_serial();
    if (calls_.contains(serial)) {
      if (serial == become_monitor_serial_) monitoring_ = m.type() == message_type::method_return;
      const auto ec = m.type() == message_type::error ? code_of(connection_errc::error_reply) : boost::system::error_code{};
      return complete_call(serial, ec, std::move(m));
    }
    // A monitor sees the replies to everyone's calls; any other connection drops a late one.
    if (!monitoring_) return;
  }
  if (subscriptions_) subscriptions_->deliver(m);
  if (offer_to_consumers(m)) return;
  if (handler_) return handler_(m);
  // A monitor must not send (the bus would drop it): the calls it sees are others'.
  if (m.expects_reply() && !monitoring_) answer_unknown(m);
}

bool connection_core::offer_to_consumers(message& m) {
  if (consumers_.empty() || monitoring_) return false;
  // Consumers may come and go inside a consumer: ask those of the moment, while they remain.
  auto now = consumers_;
  for (auto& [id, consumer] : now)
    if (consumer.use_count() > 1 && (*consumer)(m)) return true;
  return false;
}

void connection_core::answer_unknown(const message& call) {
  // Say so, as the spec asks, instead of never answering: where consumers serve objects, none
  // of them has this one; else nothing is served here at all.
  if (!consumers_.empty()) {
    send(message_builder::error(call, error_name::unchecked(dbus_errors::unknown_object))
             .build("no object at " + std::string(call.path())));
    return;
  }
  send(message_builder::error(call, error_name::unchecked(dbus_errors::unknown_method))
           .build(std::string("no object is served at ") + std::string(call.path()) + " on this connection"));
}

void connection_core::add_consumer(std::uint64_t id, std::function<bool(message&)> consumer) {
  consumers_.emplace_back(id, std::make_shared<std::function<bool(message&)>>(std::move(consumer)));
}

void connection_core::remove_consumer(std::uint64_t id) {
  std::erase_if(consumers_, [id](const auto& c) { return c.first == id; });
}

// ---- subscriptions ----

void connection_core::subscribe(std::uint64_t id, match_rule rule, signal_handler handler, subscribe_options options,
                                std::function<void(boost::system::error_code)> confirmed) {
  const bool on_bus = bus_ && open_;
  subscription_table::add_options add;
  add.ask_bus = on_bus && options.add_match;
  add.follow_sender = on_bus;
  if (!add.ask_bus && confirmed) {
    // Nothing to wait for: the rule is evaluated here only.
    subscriptions_made().add(id, std::move(rule), std::move(handler), add, nullptr);
    return confirmed(open_ ? boost::system::error_code{} : code_of(connection_errc::not_connected));
  }
  subscriptions_made().add(id, std::move(rule), std::move(handler), add, std::move(confirmed));
}

void connection_core::unsubscribe(std::uint64_t id) {
  if (subscriptions_) subscriptions_->remove(id);
}

// ---- the end ----

void connection_core::disconnect(const std::string& why, connection_errc code) {
  if (!open_ && calls_.size() == 0) return;
  // What the transport wrote already is delivered: its waiters learn so before the rest fails.
  if (open_ && transport_) complete_written();
  open_ = false;
  closing_ = false;
  status_.set_last_error(why);
  status_.set_open(false);
  if (transport_) transport_->close();
  report_all_unsent(code_of(code), why);
  backlog_.clear();
  // Every pending call ends now, with the reason.
  for (auto& e : calls_.take_all()) deliver(std::move(e.done), code_of(code), {});
  if (subscriptions_) subscriptions_->fail_waiters(code_of(code));
}

}  // namespace kbus::detail
