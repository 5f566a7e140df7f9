// The subcommands of the `kbus` program. Each takes the global options and its own arguments
// and returns the exit code: 0 success, 1 failure of the operation, 2 bad usage.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kbus::cli {

struct global_options {
  std::optional<std::string> address;  // --address ADDR
  bool system = false;                 // --system
  bool user = false;                   // --user
  bool json = false;                   // --json
  double timeout_seconds = 25;         // --timeout SECONDS (libdbus's default)
};

using arguments = std::vector<std::string>;

int decode_command(const global_options& options, const arguments& args);
int encode_command(const global_options& options, const arguments& args);
int info_command(const global_options& options, const arguments& args);
int list_command(const global_options& options, const arguments& args);
int call_command(const global_options& options, const arguments& args);
int emit_command(const global_options& options, const arguments& args);
int get_property_command(const global_options& options, const arguments& args);
int set_property_command(const global_options& options, const arguments& args);
int monitor_command(const global_options& options, const arguments& args);
// Exit 0: canonical rule printed, or the rule matches; 1: it does not match; 2: bad rule/usage.
int match_command(const global_options& options, const arguments& args);

// Reads all of FILE, or of stdin when `path` is empty or "-"; false with errno on failure.
bool read_input(const std::string& path, std::string& out);

}  // namespace kbus::cli
