// Validated D-Bus names from the command line.
#pragma once

#include "context.hpp"

#include "kbus/names.hpp"
#include "kbus/value.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kbus::cli {

// The name, or nullopt after reporting "WHAT: why" as a usage error.
template <class Name>
std::optional<Name> name_arg(const context& ctx, const std::string& text, const char* what) {
  auto n = Name::make(text);
  if (!n) {
    ctx.usage(std::string(what) + ": " + n.error().message);
    return std::nullopt;
  }
  return *n;
}

// DEST PATH IFACE MEMBER, the first four positional arguments of call, set-property and wait.
struct member_target {
  bus_name dest;
  object_path path;
  interface_name iface;
  member_name member;
};
// nullopt after reporting each bad one; `member_label` names the fourth (METHOD, PROP, SIGNAL).
inline std::optional<member_target> member_target_args(const context& ctx, const char* member_label) {
  auto dest = name_arg<bus_name>(ctx, ctx.args[0], "DEST");
  auto path = name_arg<object_path>(ctx, ctx.args[1], "PATH");
  auto iface = name_arg<interface_name>(ctx, ctx.args[2], "IFACE");
  auto member = name_arg<member_name>(ctx, ctx.args[3], member_label);
  if (!dest || !path || !iface || !member) return std::nullopt;
  return member_target{std::move(*dest), std::move(*path), std::move(*iface), std::move(*member)};
}

struct body_values {
  std::string signature;
  std::vector<value> values;
};
// "SIGNATURE ARG..." from the positional arguments at `from` on (none: an empty body);
// nullopt after reporting why.
std::optional<body_values> body_args(const context& ctx, std::size_t from);

}  // namespace kbus::cli
