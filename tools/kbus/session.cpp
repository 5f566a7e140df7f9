#include "session.hpp"

#include "kbus/address.hpp"
#include "kbus/bus.hpp"

#include <cstdlib>
#include <unistd.h>

namespace kbus::cli {
namespace {

std::optional<std::string_view> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string_view(v);
}

}  // namespace

std::string address_of(const options& o) {
  if (o.address) return *o.address;
  if (o.system) return default_system_bus_address(env("DBUS_SYSTEM_BUS_ADDRESS"));
  return default_session_bus_address(env("DBUS_SESSION_BUS_ADDRESS"), ::geteuid(), env("XDG_RUNTIME_DIR"));
}

session::session(const context& ctx) : ctx_(ctx), conn_(io_.get_executor()) {}

session::~session() {
  std::lock_guard lock(stop_->mu);
  stop_->io = nullptr;
}

void session::announce_started() {
  if (!ctx_.hooks.started) return;
  {
    std::lock_guard lock(stop_->mu);
    stop_->io = &io_;
  }
  ctx_.hooks.started([state = stop_] {
    std::lock_guard lock(state->mu);
    if (state->io) state->io->stop();
  });
}

bool session::connect() {
  bool done = false;
  boost::system::error_code result;
  conn_.async_connect(address_of(ctx_.opt), [&](boost::system::error_code ec) {
    result = ec;
    done = true;
  });
  run_until([&] { return done; });
  if (!result) return true;
  ctx_.fail("cannot connect: " + conn_.last_error());
  return false;
}

std::optional<message> session::call(message m, bool report) {
  bool done = false;
  boost::system::error_code result;
  message reply;
  const auto timeout = std::chrono::milliseconds(static_cast<long long>(ctx_.opt.timeout_seconds * 1000));
  conn_.async_call(
      std::move(m),
      [&](boost::system::error_code ec, message r) {
        result = ec;
        reply = std::move(r);
        done = true;
      },
      call_options{timeout});
  run_until([&] { return done; });
  if (!result) return reply;
  if (!report) return std::nullopt;
  if (result == make_error_code(connection_errc::error_reply)) {
    const auto e = dbus_error_of(reply);
    ctx_.fail(e.name + ": " + e.message);
  } else {
    ctx_.fail("call failed: " + result.message() + (conn_.last_error().empty() ? "" : " (" + conn_.last_error() + ")"));
  }
  return std::nullopt;
}

bool session::send(message m) {
  conn_.send(std::move(m));
  // The bus answers in order: once GetId's reply is back, the message has been taken.
  return call(bus::driver_call("GetId")).has_value();
}

message_flags session::call_flags() const {
  message_flags f = message_flags::none;
  if (!ctx_.opt.expect_reply) f = f | message_flags::no_reply_expected;
  if (!ctx_.opt.auto_start) f = f | message_flags::no_auto_start;
  return f;
}

}  // namespace kbus::cli
