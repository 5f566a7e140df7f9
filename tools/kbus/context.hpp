// What every subcommand gets: the options of the command line, its positional arguments, the
// streams to write to, and one way to report errors.
#pragma once

#include "cli.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kbus::cli {

enum class json_mode { off, short_form, pretty };

struct options {
  // Where to connect.
  std::optional<std::string> address;  // --address ADDR
  bool system = false;                 // --system
  bool user = false;                   // --user
  // Output.
  json_mode json = json_mode::off;  // --json[=short|pretty]
  bool quiet = false;               // --quiet: no reply printed
  bool full = false;                // --full: columns not shortened
  bool no_legend = false;           // --no-legend: tables without their header
  bool verbose = false;             // --verbose (monitor): every header field, the body as a tree
  bool xml_interface = false;       // --xml-interface (introspect): the XML as received
  // Calls.
  double timeout_seconds = 25;       // --timeout SECONDS (libdbus's default)
  bool timeout_given = false;        // wait waits forever without it
  bool expect_reply = true;          // --expect-reply=no
  bool auto_start = true;            // --auto-start=no
  std::optional<std::string> destination;  // --destination (emit)
  // list.
  bool unique = false;        // --unique: unique names only
  bool acquirable = false;    // --acquirable (busctl's --acquired): well-known names only
  bool activatable = false;   // --activatable: activatable names only
  bool show_machine = false;  // --show-machine: the MACHINE column
  // decode, encode, match.
  bool hex = false;                         // --hex
  bool big_endian = false;                  // --big-endian
  std::optional<std::string> message_file;  // match --message FILE
};

struct context {
  std::string command;  // "call", "list", ...
  options opt;
  std::vector<std::string> args;  // the positional arguments
  std::ostream& out;
  std::ostream& err;
  const run_hooks& hooks;

  // "kbus COMMAND: why" on err; returns the exit code for convenience.
  int fail(const std::string& why, int code = 1) const;
  int usage(const std::string& why) const { return fail(why, 2); }
  // Exit 2 unless the number of positional arguments is within [min, max].
  bool arg_count(std::size_t min, std::size_t max, const char* synopsis) const;
  // JSON text in the chosen form (short: one line; pretty: indented).
  std::string json_text(const std::string& compact_json) const;
};

using command_function = int (*)(context&);

int info_command(context&);
int list_command(context&);
int status_command(context&);
int introspect_command(context&);
int tree_command(context&);
int call_command(context&);
int emit_command(context&);
int get_property_command(context&);
int set_property_command(context&);
int monitor_command(context&);
int capture_command(context&);
int wait_command(context&);
int decode_command(context&);
int encode_command(context&);
// Exit 0: canonical rule printed, or the rule matches; 1: it does not match; 2: bad rule/usage.
int match_command(context&);

// Reads all of FILE, or of stdin when `path` is empty or "-"; false with errno on failure.
bool read_input(const std::string& path, std::string& out);

}  // namespace kbus::cli
