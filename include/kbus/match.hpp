// D-Bus match rules ("Match Rules" in the specification): parsed, formatted, compared, and
// evaluated against a message exactly as the specification says.
//
//   auto rule = kbus::match_rule::parse("type='signal',interface='org.example.Foo',arg0namespace='org.example'");
//   if (rule && rule->matches(msg)) ...
//
// Evaluation works on a kbus::match_input (the header fields and the first 64 arguments of a
// message, as views), so it does not depend on how the message is stored; matches(message)
// builds one.
//
// What cannot be decided from the message alone: a rule whose sender (or destination) is a
// well-known name matches messages from (or to) the connection that is the name's primary
// owner, and only the bus knows the owners: a message carries the unique name. The caller passes
// a name_owner_lookup (the connection keeps one from NameOwnerChanged); without it a well-known
// name in a rule matches only a message whose field is literally that name (as messages from
// the bus driver, org.freedesktop.DBus, are).
//
// eavesdrop='true' is kept, compared and formatted, but it is no condition on a message: it
// tells a bus to also deliver unicast messages addressed to others. matches() ignores it.
#pragma once

#include "kbus/error.hpp"
#include "kbus/message.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kbus {

// libdbus refuses rules longer than this (DBUS_MAXIMUM_MATCH_RULE_LENGTH, dbus-protocol.h;
// dbus-daemon answers LimitsExceeded, dbus-broker MatchRuleInvalid).
inline constexpr std::size_t max_match_rule_length = 1024;
// argN keys exist for N = 0..63 (spec, "Match Rules": "arg[0, 1, 2, 3, ...]" up to arg63).
inline constexpr unsigned max_match_arg = 63;
inline constexpr std::size_t match_arg_count = max_match_arg + 1;

// The bus's name table, as far as match rules need it.
class name_owner_lookup {
 public:
  virtual ~name_owner_lookup() = default;
  // The unique name of the primary owner of the well-known `name`; nullopt when it has none
  // (or the table does not know).
  virtual std::optional<std::string> owner_of(std::string_view name) const = 0;
};

// A name_owner_lookup from any callable std::optional<std::string>(std::string_view).
template <class F>
class name_owner_function final : public name_owner_lookup {
 public:
  explicit name_owner_function(F f) : f_(std::move(f)) {}
  std::optional<std::string> owner_of(std::string_view name) const override { return f_(name); }

 private:
  F f_;
};

// What a body argument is, for match rules: argN looks only at strings, argNpath at strings
// and object paths, arg0namespace at strings.
enum class match_arg_kind : std::uint8_t { other = 0, string, object_path };

struct match_arg {
  match_arg_kind kind = match_arg_kind::other;
  std::string_view text;  // for string and object_path
};

// A message as a match rule sees it. Empty views are absent header fields. `args` holds the
// leading arguments of the body (at most 64 are looked at); an index past its end is an
// argument that does not exist.
struct match_input {
  message_type type = message_type::invalid;
  std::string_view sender;
  std::string_view interface;
  std::string_view member;
  std::string_view path;
  std::string_view destination;
  std::span<const match_arg> args;
};

// The first 64 arguments of a message's body, read once, viewing into the message's buffer
// (keep the message alive). A body that cannot be read ends the list where it fails.
class message_match_args {
 public:
  explicit message_match_args(const message& m);
  std::span<const match_arg> span() const noexcept { return {args_.data(), count_}; }

 private:
  std::array<match_arg, match_arg_count> args_{};
  std::size_t count_ = 0;
};

// The header fields of `m`, with `args` (read from the same message, or empty when no rule
// looks at arguments).
match_input make_match_input(const message& m, std::span<const match_arg> args = {});

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
  std::vector<arg_condition> args;  // sorted by index, at most one per index
  std::optional<std::string> arg0namespace;

  // Never throws: the rule, or an error (errc::invalid_match_rule) naming the offending key
  // and why.
  static result<match_rule> parse(std::string_view text);
  // The canonical form: keys in a fixed order (type, sender, interface, member, path,
  // path_namespace, destination, eavesdrop, argN/argNpath by N, arg0namespace), every value
  // quoted; parse(to_string()) == *this.
  std::string to_string() const;

  // Whether the rule looks at body arguments (argN, argNpath, arg0namespace).
  bool needs_args() const noexcept { return !args.empty() || arg0namespace.has_value(); }

  bool matches(const match_input& m, const name_owner_lookup* names = nullptr) const;
  // Reads the arguments of `m` only when the rule needs them.
  bool matches(const message& m, const name_owner_lookup* names = nullptr) const;

  friend bool operator==(const match_rule&, const match_rule&) = default;
};

}  // namespace kbus
