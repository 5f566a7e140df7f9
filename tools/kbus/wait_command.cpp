// kbus wait DEST PATH IFACE SIGNAL [--timeout SECONDS]: waits for one signal, prints its body as
// call prints a reply and exits 0; exits 1 when the timeout passes first.
#include "busctl_syntax.hpp"
#include "context.hpp"
#include "json_output.hpp"
#include "names_arg.hpp"
#include "session.hpp"

#include "kbus/match.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <csignal>
#include <sstream>

namespace kbus::cli {

int wait_command(context& ctx) {
  if (!ctx.arg_count(4, 4, "wait DEST PATH IFACE SIGNAL [--timeout SECONDS]")) return 2;
  auto target = member_target_args(ctx, "SIGNAL");
  if (!target) return 2;
  auto rule = match_rule::parse("type='signal',sender='" + target->dest.str() + "',path='" + target->path.str() +
                                "',interface='" + target->iface.str() + "',member='" + target->member.str() + "'");
  if (!rule) return ctx.usage(rule.error().what());

  session s(ctx);
  if (!s.connect()) return 1;
  // What the signal carried (a message handed to a handler is not ours to keep).
  struct signal_body {
    std::string signature;
    result<std::vector<value>> values;
  };
  std::optional<signal_body> received;
  bool subscribed = false;
  boost::system::error_code sub_error;
  subscription sub;
  s.conn().async_subscribe(
      *rule, [&](const message& m) {
        if (!received) received.emplace(signal_body{std::string(m.signature()), m.values()});
        s.io().stop();
      },
      [&](boost::system::error_code ec, subscription handle) {
        sub_error = ec;
        sub = std::move(handle);
        subscribed = true;
      });
  s.run_until([&] { return subscribed; });
  if (sub_error) return ctx.fail("cannot subscribe: " + sub_error.message());

  bool timed_out = false;
  boost::asio::steady_timer timer(s.io());
  if (ctx.opt.timeout_given) {
    timer.expires_after(std::chrono::microseconds(static_cast<long long>(ctx.opt.timeout_seconds * 1e6)));
    timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      timed_out = true;
      s.io().stop();
    });
  }
  boost::asio::signal_set stop(s.io(), SIGINT, SIGTERM);
  stop.async_wait([&](auto, int) { s.io().stop(); });
  s.announce_started();
  while (!received && !timed_out && !s.io().stopped() && s.conn().is_open()) s.io().run_for(std::chrono::milliseconds(200));

  if (!received) {
    if (timed_out) {
      std::ostringstream seconds;
      seconds << ctx.opt.timeout_seconds;
      return ctx.fail("timed out after " + seconds.str() + " s waiting for " + target->iface.str() + "." + target->member.str());
    }
    return ctx.fail(s.conn().is_open() ? "interrupted" : "the bus went away");
  }
  const auto& values = received->values;
  if (!values) return ctx.fail("invalid signal: " + values.error().what());
  if (ctx.opt.quiet) return 0;
  if (ctx.opt.json != json_mode::off) ctx.out << ctx.json_text(body_json(received->signature, *values).dump()) << "\n";
  else if (!received->signature.empty()) ctx.out << format_busctl(received->signature, *values) << "\n";
  return 0;
}

}  // namespace kbus::cli
