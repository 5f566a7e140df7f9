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

struct body_values {
  std::string signature;
  std::vector<value> values;
};
// "SIGNATURE ARG..." from the positional arguments at `from` on (none: an empty body);
// nullopt after reporting why.
std::optional<body_values> body_args(const context& ctx, std::size_t from);

}  // namespace kbus::cli
