// kbus match RULE [--message FILE]: a rule in canonical form, or whether it matches a message.
#include "context.hpp"

#include "kbus/json.hpp"
#include "kbus/match.hpp"

#include <cerrno>
#include <cstring>

namespace kbus::cli {

int match_command(context& ctx) {
  if (!ctx.arg_count(1, 1, "match RULE [--message FILE]   (FILE: the JSON of kbus decode, - for stdin)")) return 2;
  auto rule = match_rule::parse(ctx.args[0]);
  if (!rule) return ctx.usage(rule.error().what());
  if (!ctx.opt.message_file) {
    ctx.out << rule->to_string() << "\n";
    return 0;
  }
  std::string json;
  if (!read_input(*ctx.opt.message_file, json))
    return ctx.usage("cannot read " + *ctx.opt.message_file + ": " + std::strerror(errno));
  auto m = message_from_json(json);
  if (!m) return ctx.usage("invalid message: " + m.error().what());
  return rule->matches(*m) ? 0 : 1;
}

}  // namespace kbus::cli
