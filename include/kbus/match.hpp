// D-Bus match rules ("Match Rules" in the spec): parsed, formatted, compared, and evaluated
// against a message exactly as the specification says.
//
//   auto rule = kbus::match_rule::parse("type='signal',interface='org.example.Foo',arg0namespace='org.example'");
//   if (rule && rule->matches(msg)) ...
//
// What cannot be decided locally: a rule whose sender is a well-known name matches messages
// from the unique name that owns it; the bus knows the owner, the message only carries the
// unique name. Pass a name_owner_lookup (the connection keeps one from NameOwnerChanged);
// without it, such a sender matches only a message whose SENDER is literally that name (as
// messages from the bus driver, org.freedesktop.DBus, are).
#pragma once

#include "kbus/error.hpp"
#include "kbus/message.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kbus {

// libdbus refuses rules longer than this (DBUS_MAXIMUM_MATCH_RULE_LENGTH).
inline constexpr std::size_t max_match_rule_length = 1024;
// argN keys exist for N = 0..63 (spec).
inline constexpr unsigned max_match_arg = 63;

// The unique name owning a well-known name, if any.
using name_owner_lookup = std::function<std::optional<std::string>(std::string_view well_known_name)>;

struct match_rule {
  // An argument condition: argN='v' (string) or argNpath='v' (string or object path).
  struct arg_condition {
    unsigned index = 0;
    bool path = false;
    std::string value;
    friend bool operator==(const arg_condition&, const arg_condition&) = default;
  };

  std::optional<message_type> type;
  std::optional<std::string> sender;
  std::optional<std::string> interface;
  std::optional<std::string> member;
  std::optional<std::string> path;
  std::optional<std::string> path_namespace;
  std::optional<std::string> destination;
  std::optional<bool> eavesdrop;
  std::vector<arg_condition> args;  // sorted by index
  std::optional<std::string> arg0namespace;

  // Never throws: the rule, or an error naming the offending key and why.
  static result<match_rule> parse(std::string_view text);
  // The canonical form: keys in a fixed order, values quoted; parse(to_string()) == *this.
  std::string to_string() const;

  bool matches(const message& m, const name_owner_lookup& owner_of = {}) const;

  friend bool operator==(const match_rule&, const match_rule&) = default;
};

}  // namespace kbus
