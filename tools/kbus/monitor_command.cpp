// kbus monitor [--verbose] [MATCH...] and kbus capture [MATCH...]: the bus's traffic through
// BecomeMonitor, printed, or written as pcap to stdout. Both run until SIGINT or SIGTERM, or
// until the bus goes away.
#include "context.hpp"
#include "message_print.hpp"
#include "pcap_writer.hpp"
#include "session.hpp"

#include "kbus/bus.hpp"
#include "kbus/json.hpp"
#include "kbus/match.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>
#include <unistd.h>

namespace kbus::cli {
namespace {

// Becomes a monitor of what `rules` select, hands every message to `on_message`, and runs until
// stopped; the exit code.
int run_monitor(context& ctx, const std::function<void(const message&)>& on_message) {
  for (const auto& rule : ctx.args)
    if (auto r = match_rule::parse(rule); !r) return ctx.usage(r.error().what());
  session s(ctx);
  if (!s.connect()) return 1;
  const std::string self = s.conn().unique_name();
  s.conn().set_message_handler([&](message& m) {
    // Becoming a monitor, the connection loses its own unique name; that is not traffic.
    if (auto lost = bus::as_name_lost(m); lost && *lost == self) return;
    on_message(m);
  });
  bool done = false;
  boost::system::error_code result;
  bus::async_become_monitor(s.conn(), ctx.args, [&](boost::system::error_code ec) {
    result = ec;
    done = true;
  });
  s.run_until([&] { return done; });
  if (result) return ctx.fail("BecomeMonitor failed: " + result.message());
  // Until interrupted, or until the bus goes away.
  boost::asio::signal_set stop(s.io(), SIGINT, SIGTERM);
  stop.async_wait([&](auto, int) { s.io().stop(); });
  s.announce_started();
  while (!s.io().stopped() && s.conn().is_open()) s.io().run_for(std::chrono::milliseconds(200));
  return 0;
}

}  // namespace

int monitor_command(context& ctx) {
  return run_monitor(ctx, [&](const message& m) {
    if (ctx.opt.json != json_mode::off) ctx.out << ctx.json_text(message_to_json(m)) << std::endl;
    else if (ctx.opt.verbose) print_message_verbose(ctx.out, m);
    else print_message_line(ctx.out, m);
  });
}

int capture_command(context& ctx) {
  // As busctl: binary data is not for a terminal.
  if (&ctx.out == &std::cout && ::isatty(STDOUT_FILENO)) return ctx.usage("refusing to write pcap data to a terminal");
  write_pcap_header(ctx.out);
  return run_monitor(ctx, [&](const message& m) { write_pcap_record(ctx.out, m.bytes(), std::chrono::system_clock::now()); });
}

}  // namespace kbus::cli
