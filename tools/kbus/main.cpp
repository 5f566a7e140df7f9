// kbus: a D-Bus command-line client in the manner of busctl.
#include "commands.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>

namespace {

using kbus::cli::arguments;
using kbus::cli::global_options;

struct command {
  const char* name;
  int (*run)(const global_options&, const arguments&);
  const char* synopsis;
};

constexpr command commands[] = {
    {"info", &kbus::cli::info_command, "info                                   the address used, the transport, what was skipped"},
    {"list", &kbus::cli::list_command, "list                                   the names on the bus"},
    {"call", &kbus::cli::call_command, "call DEST PATH IFACE METHOD [SIG [ARG...]]"},
    {"emit", &kbus::cli::emit_command, "emit PATH IFACE SIGNAL [SIG [ARG...]]"},
    {"get-property", &kbus::cli::get_property_command, "get-property DEST PATH IFACE PROP"},
    {"set-property", &kbus::cli::set_property_command, "set-property DEST PATH IFACE PROP SIG ARG..."},
    {"monitor", &kbus::cli::monitor_command, "monitor [MATCH...]                     print the bus's traffic"},
    {"decode", &kbus::cli::decode_command, "decode [--hex] [FILE]                  a raw message as JSON"},
    {"encode", &kbus::cli::encode_command, "encode [--big-endian] [--hex] [FILE]   JSON to a raw message"},
    {"match", &kbus::cli::match_command, "match RULE [--message FILE]            a rule in canonical form, or whether it matches"},
};

void usage(std::ostream& out) {
  out << "usage: kbus [--address ADDR | --system | --user] [--json] [--timeout SECONDS] COMMAND ...\n\ncommands:\n";
  for (const auto& c : commands) out << "  " << c.synopsis << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  global_options options;
  int i = 1;
  // Global options come before the command; "--" ends them.
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "kbus: " << name << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--") {
      ++i;
      break;
    } else if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else if (a == "--address") {
      options.address = value("--address");
    } else if (a.rfind("--address=", 0) == 0) {
      options.address = std::string(a.substr(10));
    } else if (a == "--system") {
      options.system = true;
    } else if (a == "--user") {
      options.user = true;
    } else if (a == "--json" || a == "--json=short") {
      options.json = true;
    } else if (a == "--timeout") {
      char* end = nullptr;
      const char* v = value("--timeout");
      options.timeout_seconds = std::strtod(v, &end);
      if (*v == '\0' || *end != '\0' || options.timeout_seconds <= 0) {
        std::cerr << "kbus: --timeout needs a positive number of seconds, not \"" << v << "\"\n";
        return 2;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "kbus: unknown option " << a << "\n";
      usage(std::cerr);
      return 2;
    } else {
      break;
    }
  }
  if (options.system + options.user + options.address.has_value() > 1) {
    std::cerr << "kbus: --address, --system and --user exclude each other\n";
    return 2;
  }
  if (i >= argc) {
    usage(std::cerr);
    return 2;
  }
  const std::string_view name = argv[i];
  arguments args(argv + i + 1, argv + argc);
  // "--" after the command ends its options too, so negative numbers pass as arguments.
  if (name != "decode" && name != "encode")
    if (auto dd = std::find(args.begin(), args.end(), "--"); dd != args.end()) args.erase(dd);
  for (const auto& c : commands)
    if (name == c.name) return c.run(options, args);
  std::cerr << "kbus: unknown command \"" << name << "\"\n";
  usage(std::cerr);
  return 2;
}
