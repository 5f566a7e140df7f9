// kbus match RULE [--message FILE]: a rule in canonical form, or whether it matches a message.
#include "commands.hpp"

#include "kbus/json.hpp"
#include "kbus/match.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>

namespace kbus::cli {

int match_command(const global_options&, const arguments& args) {
  constexpr const char* usage = "usage: kbus match RULE [--message FILE]   (FILE: the JSON of kbus decode, - for stdin)\n";
  std::optional<std::string> rule_text;
  std::optional<std::string> message_file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--message") {
      if (i + 1 >= args.size()) {
        std::cerr << "kbus: --message needs a FILE\n" << usage;
        return 2;
      }
      message_file = args[++i];
    } else if (!rule_text) {
      rule_text = args[i];
    } else {
      std::cerr << "kbus: more than one RULE\n" << usage;
      return 2;
    }
  }
  if (!rule_text) {
    std::cerr << usage;
    return 2;
  }
  auto rule = match_rule::parse(*rule_text);
  if (!rule) {
    std::cerr << "kbus: " << rule.error().what() << "\n";
    return 2;
  }
  if (!message_file) {
    std::cout << rule->to_string() << "\n";
    return 0;
  }
  std::string json;
  if (!read_input(*message_file, json)) {
    std::cerr << "kbus: cannot read " << *message_file << ": " << std::strerror(errno) << "\n";
    return 2;
  }
  auto m = message_from_json(json);
  if (!m) {
    std::cerr << "kbus: invalid message: " << m.error().what() << "\n";
    return 2;
  }
  return rule->matches(*m) ? 0 : 1;
}

}  // namespace kbus::cli
