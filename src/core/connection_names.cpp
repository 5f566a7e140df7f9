// The end of connecting: connect_options::names, the well-known names a connection requests
// after Hello with the bus driver's RequestName (kbus::bus builds the call), and how a connect
// fails or is cancelled once it has a transport.
#include "core/connection_impl.hpp"
#include "kbus/bus.hpp"

namespace kbus::detail {

namespace {
std::string refusal(const boost::system::error_code& ec, const message& reply) {
  if (ec == make_error_code(connection_errc::error_reply)) {
    const dbus_error e = dbus_error_of(reply);
    return e.name + ": " + e.message;
  }
  return ec.message();
}
}  // namespace

void connection_impl::own_names(std::size_t next) {
  if (next == connect_options_.names.size()) return finish_connect({});
  const name_request& request = connect_options_.names[next];
  core_.call(bus::driver_call("RequestName", request.name.str(), static_cast<std::uint32_t>(request.flags)),
             [this, next, attempt = attempt_](boost::system::error_code ec, message reply) {
               if (attempt != attempt_ || !connect_done_) return;  // closed meanwhile: that ended the connect
               const name_request& r = connect_options_.names[next];
               const std::string what = "cannot own " + r.name.str() + ": ";
               if (ec) return fail_connect(ec, what + refusal(ec, reply));
               auto code = reply.read<std::uint32_t>();
               if (!code) {
                 return fail_connect(make_error_code(connection_errc::peer_sent_invalid_message),
                                     what + "the bus answered RequestName with " + code.error().what());
               }
               const auto answer = static_cast<bus::request_name_reply>(std::get<0>(*code));
               if (!bus::owns_name(answer) && has(r.flags, request_name_flags::do_not_queue)) {
                 return fail_connect(make_error_code(connection_errc::name_not_owned),
                                     what + "the bus answered " + bus::to_string(answer) + " (another connection owns it)");
               }
               own_names(next + 1);
             });
}

void connection_impl::fail_connect(boost::system::error_code ec, const std::string& why) {
  // Later, not inside the core's dispatch of the reply that brought the news.
  boost::asio::post(strand_, [self = shared_from_this(), ec, why, attempt = attempt_] {
    if (attempt != self->attempt_ || !self->connect_done_) return;
    auto done = std::move(self->connect_done_);
    self->core_.disconnect(why);
    self->core_.status().set_last_error(why);
    self->after_core();
    done->complete(ec);
  });
}

void connection_impl::cancel_connect() {
  if (!connect_done_) return;  // it completed already
  auto done = std::move(connect_done_);
  ++attempt_;
  core_.disconnect("the connect was cancelled");
  core_.status().set_last_error("the connect was cancelled");
  done->complete(boost::asio::error::operation_aborted);
}

}  // namespace kbus::detail
