// The connection core's outgoing side: messages to the transport in order, the bound on the
// outgoing queue (what does not fit waits, or fails for send()), completions once bytes are
// written (async_send, flush), a close that delivers first, and a report for every message that
// never went out.
#include "core/connection_core.hpp"

#include <algorithm>

namespace kbus::detail {

namespace {

boost::system::error_code code_of(connection_errc e) { return boost::system::error_code(make_error_code(e)); }

// An operation's completion (void(error_code)) where the core keeps call completions.
struct op_as_call_completion final : call_completion {
  std::unique_ptr<op_completion> op;
  explicit op_as_call_completion(std::unique_ptr<op_completion> o) : op(std::move(o)) {}
  void complete(boost::system::error_code ec, message) override { op->complete(ec); }
};

// A report to the send error handler, run when completions run.
struct unsent_report final : call_completion {
  send_error_handler handler;
  message unsent;
  std::string why;
  unsent_report(send_error_handler h, message m, std::string w) : handler(std::move(h)), unsent(std::move(m)), why(std::move(w)) {}
  void complete(boost::system::error_code ec, message) override { handler(unsent, ec, why); }
};

}  // namespace

void connection_core::deliver(std::unique_ptr<op_completion> done, boost::system::error_code ec) {
  if (!done) return;
  deliver(std::make_unique<op_as_call_completion>(std::move(done)), ec, {});
}

void connection_core::report_unsent(message m, boost::system::error_code ec, std::string why) {
  status_.count_failed_send();
  if (!send_error_handler_) return;
  deliver(std::make_unique<unsent_report>(send_error_handler_, std::move(m), std::move(why)), ec, {});
}

std::uint64_t connection_core::written_bytes() const noexcept {
  return handed_bytes_ - (transport_ ? transport_->queued_bytes() : 0);
}

bool connection_core::fits(std::size_t size) const noexcept {
  const std::size_t queued = transport_ ? transport_->queued_bytes() : 0;
  return queued == 0 || (queued <= outgoing_limit_ && size <= outgoing_limit_ - queued);
}

// ---- sending ----

void connection_core::send(message m) {
  if (!open_ || closing_) {
    const char* why = closing_ && open_ ? "the connection is closing" : "the connection is not open";
    return report_unsent(std::move(m), code_of(connection_errc::not_connected), why);
  }
  if (!waiting_for_room_.empty() || !fits(m.bytes().size())) {
    std::string why = "the outgoing queue is full (" + std::to_string(transport_->queued_bytes()) +
                      " bytes queued, the bound is " + std::to_string(outgoing_limit_) + ")";
    return report_unsent(std::move(m), code_of(connection_errc::outgoing_queue_full), std::move(why));
  }
  assign_serial(m);
  transmit(std::move(m), call_options{}.timeout, nullptr);
}

void connection_core::send(message m, std::unique_ptr<op_completion> done) {
  if (!open_ || closing_) return deliver(std::move(done), code_of(connection_errc::not_connected));
  if (!waiting_for_room_.empty() || !fits(m.bytes().size())) {
    waiting_for_room_.push_back({waiting_send::kind::send, std::move(m), {}, std::move(done)});
    return;
  }
  assign_serial(m);
  transmit(std::move(m), call_options{}.timeout, std::move(done));
}

void connection_core::flush(std::unique_ptr<op_completion> done) {
  if (!open_) return deliver(std::move(done), code_of(connection_errc::not_connected));
  if (!waiting_for_room_.empty()) {
    waiting_for_room_.push_back({waiting_send::kind::flush, {}, {}, std::move(done)});
    return;
  }
  complete_when_written(std::move(done));
}

void connection_core::complete_when_written(std::unique_ptr<op_completion> done) {
  if (written_bytes() >= handed_bytes_) return deliver(std::move(done), {});
  write_waiters_.push_back({handed_bytes_, 0, std::move(done)});
}

void connection_core::transmit(message m, std::chrono::milliseconds reply_timeout, std::unique_ptr<op_completion> done) {
  const std::uint32_t serial = m.serial();
  const std::size_t size = m.bytes().size();
  const bool awaited = m.expects_reply() && calls_.contains(serial);
  send_status sent = transport_->send(std::move(m), {reply_timeout});
  if (sent.outcome == send_outcome::ok) {
    handed_bytes_ += size;
    if (done) write_waiters_.push_back({handed_bytes_, serial, std::move(done)});
    if (!dispatching_) end_output_batch();
    return;
  }
  // The message did not go (the transport left `m` as it was): its sender learns why. A call
  // learns it through its completion. When the connection is gone it is closed first, so that
  // whoever is told "disconnected" finds it closed (disconnect ends the call too).
  const bool gone = sent.outcome == send_outcome::gone;
  const auto ec = gone ? code_of(connection_errc::disconnected) : boost::system::error_code(sent.error.code);
  if (gone) disconnect(sent.error.message);
  if (awaited) {
    if (!gone) complete_call(serial, ec, {});
  } else if (done) {
    deliver(std::move(done), ec);
  } else {
    report_unsent(std::move(m), ec, sent.error.message);
  }
  if (!gone && !dispatching_) end_output_batch();
}

void connection_core::end_output_batch() {
  // A transport that found its descriptor full is flushed once it is writable, not before.
  if (!open_ || !transport_ || transport_->wants_write()) return;
  flush_output();
}

void connection_core::flush_output() {
  write_queued();
  if (open_) admit_waiting();
}

void connection_core::write_queued() {
  if (!open_ || !transport_) return;
  if (auto r = transport_->flush(); !r) return disconnect(r.error().message);
  output_progressed();
}

void connection_core::complete_written() {
  const std::uint64_t written = written_bytes();
  while (!write_waiters_.empty() && write_waiters_.front().end <= written) {
    auto done = std::move(write_waiters_.front().done);
    write_waiters_.pop_front();
    deliver(std::move(done), {});
  }
}

void connection_core::output_progressed() {
  complete_written();
  if (closing_ && waiting_for_room_.empty() && written_bytes() == handed_bytes_) finish_close();
}

// Room was made: what waited for it goes out, in order, in batches written together.
void connection_core::admit_waiting() {
  if (admitting_) return;
  admitting_ = true;
  bool progressed = true;
  while (open_ && progressed && !waiting_for_room_.empty()) {
    progressed = false;
    const bool was = std::exchange(dispatching_, true);
    while (open_ && !waiting_for_room_.empty() && admit(waiting_for_room_.front())) {
      waiting_for_room_.pop_front();
      progressed = true;
    }
    dispatching_ = was;
    if (progressed && !dispatching_ && open_ && !transport_->wants_write()) write_queued();
  }
  admitting_ = false;
  if (open_) output_progressed();
}

// Sends `w` when it fits; false when it must wait on.
bool connection_core::admit(waiting_send& w) {
  switch (w.what) {
    case waiting_send::kind::flush:
      complete_when_written(std::move(w.done));
      return true;
    case waiting_send::kind::send:
      if (!fits(w.m.bytes().size())) return false;
      assign_serial(w.m);
      transmit(std::move(w.m), call_options{}.timeout, std::move(w.done));
      return true;
    case waiting_send::kind::call:
      if (!fits(w.m.bytes().size())) return false;
      if (!calls_.contains(w.m.serial())) return true;  // cancelled or timed out while it waited
      if (calls_.awaiting() >= transport_->capabilities().max_awaited_replies) {
        backlog_.emplace_back(std::move(w.m), w.reply_timeout);
        return true;
      }
      calls_.mark_sent(w.m.serial());
      transmit(std::move(w.m), w.reply_timeout, nullptr);
      return true;
  }
  return true;
}

// ---- closing ----

void connection_core::close(std::unique_ptr<op_completion> done) {
  if (!open_) return deliver(std::move(done), {});
  closing_ = true;
  if (done) close_waiters_.push_back(std::move(done));
  if (!transport_->wants_write()) write_queued();
  if (open_) output_progressed();
}

void connection_core::finish_close() {
  closing_ = false;
  auto waiters = std::exchange(close_waiters_, {});
  disconnect("closed by this side");
  for (auto& w : waiters) deliver(std::move(w), {});
}

void connection_core::close_timed_out() {
  if (!closing()) return;
  auto waiters = std::exchange(close_waiters_, {});
  const std::size_t left = transport_ ? transport_->queued_bytes() : 0;
  disconnect("closed by this side with " + std::to_string(left) +
             " bytes not yet written when the close timeout passed");
  for (auto& w : waiters) deliver(std::move(w), code_of(connection_errc::timeout));
}

// The connection ended (the transport is closed): everything not written is reported, each
// through its completion, or the send error handler; calls through their own completions.
void connection_core::report_all_unsent(boost::system::error_code ec, const std::string& why) {
  std::vector<std::uint32_t> reported;  // serials whose sender learns through a completion
  for (auto& w : std::exchange(write_waiters_, {})) {
    if (w.serial) reported.push_back(w.serial);
    deliver(std::move(w.done), ec);
  }
  for (auto& w : std::exchange(waiting_for_room_, {})) {
    if (w.done) deliver(std::move(w.done), ec);  // a call ends with the other pending calls
  }
  std::vector<message> unsent = transport_ ? transport_->take_unsent() : std::vector<message>{};
  const std::string reason = "the connection ended before it was written: " + why;
  for (message& m : unsent) {
    const bool has_completion = (m.expects_reply() && calls_.contains(m.serial())) ||
                                std::find(reported.begin(), reported.end(), m.serial()) != reported.end();
    if (!has_completion) report_unsent(std::move(m), ec, reason);
  }
  for (auto& w : std::exchange(close_waiters_, {})) deliver(std::move(w), ec);
}

}  // namespace kbus::detail
