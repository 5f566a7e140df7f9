// The command line: CLI11 parses the options (global ones before or after the command, as
// busctl allows), each command checks its positional arguments, and every usage error exits 2
// with "kbus COMMAND: reason".
#include "cli.hpp"
#include "context.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

namespace kbus::cli {
namespace {

struct command {
  const char* name;
  command_function run;
  const char* synopsis;
};

constexpr command commands[] = {
    {"info", &info_command, "info                                   the address used, the transport, what was skipped"},
    {"list", &list_command, "list [--unique] [--acquirable] [--activatable] [--show-machine]"},
    {"status", &status_command, "status [DEST|PID]                      credentials of a peer, or of the bus"},
    {"introspect", &introspect_command, "introspect DEST PATH [IFACE] [--xml-interface]"},
    {"tree", &tree_command, "tree [DEST...]                         the object tree of services"},
    {"call", &call_command, "call DEST PATH IFACE METHOD [SIG [ARG...]]"},
    {"emit", &emit_command, "emit PATH IFACE SIGNAL [SIG [ARG...]] [--destination DEST]"},
    {"get-property", &get_property_command, "get-property DEST PATH IFACE PROP..."},
    {"set-property", &set_property_command, "set-property DEST PATH IFACE PROP SIG ARG..."},
    {"monitor", &monitor_command, "monitor [--verbose] [MATCH...]         print the bus's traffic"},
    {"capture", &capture_command, "capture [MATCH...]                     the bus's traffic as pcap on stdout"},
    {"wait", &wait_command, "wait DEST PATH IFACE SIGNAL [--timeout SECONDS]"},
    {"decode", &decode_command, "decode [--hex] [FILE]                  a raw message as JSON"},
    {"encode", &encode_command, "encode [--big-endian] [--hex] [FILE]   JSON to a raw message"},
    {"match", &match_command, "match RULE [--message FILE]            a rule in canonical form, or whether it matches"},
};

const command* find_command(std::string_view name) {
  for (const auto& c : commands)
    if (name == c.name) return &c;
  return nullptr;
}

// busctl's boolean option values.
bool parse_bool(const std::string& text, bool& out) {
  if (text == "yes" || text == "true" || text == "1" || text == "on") out = true;
  else if (text == "no" || text == "false" || text == "0" || text == "off") out = false;
  else return false;
  return true;
}

// Global options that take a value in the next argument.
bool takes_value(std::string_view a) {
  return a == "--address" || a == "--timeout" || a == "--expect-reply" || a == "--auto-start" || a == "--destination";
}

struct parsed_line {
  std::vector<std::string> head;  // for CLI11: global options, the command, its options and arguments
  std::vector<std::string> tail;  // after the command's "--": positional arguments only
  std::string command;            // empty: none given
};

// A "--" before the command ends the global options; after it, it ends the command's options,
// so that what follows (negative numbers, text starting with '-') is taken as arguments.
parsed_line split(const std::vector<std::string>& args) {
  parsed_line p;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    p.head.push_back(a);
    if (takes_value(a) && i + 1 < args.size()) p.head.push_back(args[++i]);
  }
  if (i < args.size()) p.command = args[i];
  for (; i < args.size(); ++i) {
    if (args[i] == "--") {
      p.tail.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    p.head.push_back(args[i]);
  }
  return p;
}

std::string main_footer() {
  std::string text = "commands:\n";
  for (const auto& c : commands) text += std::string("  ") + c.synopsis + "\n";
  return text;
}

// "usage: kbus SYNOPSIS" (CLI11 would name the subcommand alone), then its options.
std::string command_help(const command& c, const CLI::App& sub) {
  std::string synopsis = c.synopsis;
  if (auto gap = synopsis.find("   "); gap != std::string::npos) synopsis.resize(gap);
  std::string help = sub.help();
  if (auto at = help.find("usage:"); at != std::string::npos) help.erase(at, help.find('\n', at) + 1 - at);
  return "usage: kbus " + synopsis + "\n" + help;
}

struct raw_options {
  std::string json;
  std::string expect_reply, auto_start;
  std::string destination;
};

// About 115 days: longer waits are meant as "forever" (leave --timeout out for wait), and the
// milliseconds of a call's timeout must stay far from overflow.
constexpr double max_timeout_seconds = 1e7;

void add_global_options(CLI::App& app, options& o, raw_options& raw) {
  app.add_option("--address", o.address, "the bus address (a ';'-separated list)");
  app.add_flag("--system", o.system, "the system bus");
  app.add_flag("--user", o.user, "the session bus (the default)");
  app.add_flag("--json{short}", raw.json, "JSON output: --json=short (one line) or --json=pretty");
  app.add_option("--timeout", o.timeout_seconds, "seconds to wait for a reply (wait: for the signal)")
      ->check(CLI::PositiveNumber & CLI::Range(0.0, max_timeout_seconds));
  app.add_flag("--quiet,-q", o.quiet, "do not print the reply");
  app.add_flag("--full,-l", o.full, "do not shorten columns");
  app.add_flag("--no-legend", o.no_legend, "tables without their header");
  app.add_option("--expect-reply", raw.expect_reply, "--expect-reply=no: do not ask for a reply");
  app.add_option("--auto-start", raw.auto_start, "--auto-start=no: do not start the destination");
  app.add_option("--destination", raw.destination, "emit: send the signal to this name only");
}

void add_command_options(CLI::App& sub, std::string_view name, options& o, std::vector<std::string>& positional) {
  sub.add_option("args", positional, "arguments");
  if (name == "list") {
    sub.add_flag("--unique", o.unique, "unique names only");
    sub.add_flag("--acquirable,--acquired", o.acquirable, "well-known names only");
    sub.add_flag("--activatable", o.activatable, "activatable names only");
    sub.add_flag("--show-machine", o.show_machine, "the MACHINE column");
  } else if (name == "introspect") {
    sub.add_flag("--xml-interface", o.xml_interface, "the XML as received");
  } else if (name == "monitor") {
    sub.add_flag("--verbose", o.verbose, "every header field, the body as a typed tree");
  } else if (name == "decode" || name == "encode") {
    sub.add_flag("--hex", o.hex, "hex text instead of bytes");
    if (name == "encode") sub.add_flag("--big-endian", o.big_endian, "big-endian bytes");
  } else if (name == "match") {
    sub.add_option("--message", o.message_file, "a message as kbus decode prints it (- for stdin)");
  }
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const run_hooks& hooks) {
  const parsed_line line = split(args);
  const command* cmd = line.command.empty() ? nullptr : find_command(line.command);
  const std::string who = cmd ? "kbus " + line.command : "kbus";

  CLI::App app("kbus: a D-Bus client in busctl's manner", "kbus");
  app.get_formatter()->label("Usage", "usage");
  app.footer(main_footer());
  app.fallthrough();
  options o;
  raw_options raw;
  add_global_options(app, o, raw);
  std::vector<std::string> positional;
  for (const auto& c : commands) add_command_options(*app.add_subcommand(c.name, c.synopsis), c.name, o, positional);

  std::vector<std::string> reversed(line.head.rbegin(), line.head.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << (cmd ? command_help(*cmd, *app.get_subcommand(cmd->name)) : app.help());
    return 0;
  } catch (const CLI::ParseError& e) {
    if (!line.command.empty() && !cmd && line.command[0] != '-') {
      err << "kbus: unknown command \"" << line.command << "\"\n" << main_footer();
      return 2;
    }
    err << who << ": " << e.what() << "\n";
    if (!cmd) err << main_footer();
    return 2;
  }
  if (!cmd) {
    if (line.command.empty()) err << "kbus: no command given\n";
    else err << "kbus: unknown command \"" << line.command << "\"\n";
    err << "usage: kbus [--address ADDR | --system | --user] [--json[=short|pretty]] [--timeout SECONDS] COMMAND ...\n"
        << main_footer();
    return 2;
  }
  context ctx{line.command, o, positional, out, err, hooks};
  auto usage = [&](const std::string& why) { return ctx.usage(why); };
  if (o.system + o.user + o.address.has_value() > 1) return usage("--address, --system and --user exclude each other");
  if (raw.json == "short") ctx.opt.json = json_mode::short_form;
  else if (raw.json == "pretty") ctx.opt.json = json_mode::pretty;
  else if (!raw.json.empty()) return usage("--json takes short or pretty, not \"" + raw.json + "\"");
  if (!raw.expect_reply.empty() && !parse_bool(raw.expect_reply, ctx.opt.expect_reply))
    return usage("--expect-reply takes yes or no, not \"" + raw.expect_reply + "\"");
  if (!raw.auto_start.empty() && !parse_bool(raw.auto_start, ctx.opt.auto_start))
    return usage("--auto-start takes yes or no, not \"" + raw.auto_start + "\"");
  if (!raw.destination.empty()) ctx.opt.destination = raw.destination;
  ctx.opt.timeout_given = app.count("--timeout") > 0;
  ctx.args.insert(ctx.args.end(), line.tail.begin(), line.tail.end());
  return cmd->run(ctx);
}

int context::fail(const std::string& why, int code) const {
  err << "kbus " << command << ": " << why << "\n";
  return code;
}

bool context::arg_count(std::size_t min, std::size_t max, const char* synopsis) const {
  if (args.size() >= min && args.size() <= max) return true;
  fail(std::string(args.size() < min ? "too few arguments" : "too many arguments") + "; usage: kbus " + synopsis, 2);
  return false;
}

std::string context::json_text(const std::string& compact) const {
  if (opt.json != json_mode::pretty) return compact;
  return nlohmann::ordered_json::parse(compact).dump(2);
}

}  // namespace kbus::cli
