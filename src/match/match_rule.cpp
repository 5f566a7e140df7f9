#include "kbus/match.hpp"

#include "kbus/detail/validate.hpp"

#include <algorithm>

namespace kbus {
namespace {

error rule_error(std::string_view key, const std::string& why) {
  if (key.empty()) return error(errc::invalid_match_rule, why);
  return error(errc::invalid_match_rule, "key '" + std::string(key) + "': " + why);
}

// Whitespace that may lead an element or end the rule: dbus-daemon's ISWHITE (bus/signals.c).
// The spec's grammar has none; both buses accept it there and nowhere else that matters.
constexpr bool is_rule_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// arg0namespace is a bus-name-like prefix that may have a single element (spec, and
// dbus-daemon's _dbus_validate_bus_namespace): non-empty elements of [A-Za-z0-9_-], none
// starting with a digit, no trailing '.', at most 255 bytes.
const char* namespace_problem(std::string_view s) {
  if (s.empty()) return "a namespace cannot be empty";
  if (s.size() > detail::max_name_length) return "a namespace is at most 255 bytes";
  bool at_start = true;
  for (char c : s) {
    if (c == '.') {
      if (at_start) return "a namespace has no empty elements and does not end with '.'";
      at_start = true;
    } else if (detail::is_name_char(c) || c == '-') {
      if (at_start && detail::is_ascii_digit(c)) return "a namespace element does not begin with a digit";
      at_start = false;
    } else {
      return "a namespace has only [A-Za-z0-9_-] and '.'";
    }
  }
  if (at_start) return "a namespace has no empty elements and does not end with '.'";
  return nullptr;
}

std::optional<message_type> type_from_name(std::string_view v) {
  if (v == "signal") return message_type::signal;
  if (v == "method_call") return message_type::method_call;
  if (v == "method_return") return message_type::method_return;
  if (v == "error") return message_type::error;
  return std::nullopt;
}

const char* type_name(message_type t) {
  switch (t) {
    case message_type::method_call: return "method_call";
    case message_type::method_return: return "method_return";
    case message_type::error: return "error";
    default: return "signal";
  }
}

// The spec's quoting, for the canonical form: the value in single quotes; an apostrophe closes
// the quotes, is written \' and the quotes reopen.
std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  out += '\'';
  return out;
}

// argNpath (spec): equal, or either one is a prefix of the other that ends with '/'.
bool path_prefix_match(std::string_view arg, std::string_view value) {
  if (arg == value) return true;
  if (!value.empty() && value.back() == '/' && arg.starts_with(value)) return true;
  if (!arg.empty() && arg.back() == '/' && value.starts_with(arg)) return true;
  return false;
}

// The connection a bus name stands for: itself when unique, its primary owner when well-known.
std::optional<std::string> resolve(std::string_view name, const name_owner_lookup* names) {
  if (!name.empty() && name[0] == ':') return std::string(name);
  if (!names) return std::nullopt;
  return names->owner_of(name);
}

// sender= and destination=: the names are the same, or stand for the same connection (as
// dbus-daemon's connection_is_primary_owner decides on the bus).
bool same_connection(std::string_view rule_name, std::string_view message_name, const name_owner_lookup* names) {
  if (message_name.empty()) return false;
  if (rule_name == message_name) return true;
  const auto a = resolve(rule_name, names);
  if (!a) return false;
  const auto b = resolve(message_name, names);
  return b && *a == *b;
}

// What the key argN / argNpath / arg0namespace asks for.
struct arg_key {
  unsigned index;
  enum { plain, path, name_space } kind;
};

result<arg_key> parse_arg_key(std::string_view key) {
  // "arg" + decimal N (leading zeros allowed, as both buses do; no sign, unlike dbus-daemon's
  // strtoul) + "", "path" or "namespace".
  std::size_t d = 3;
  unsigned long n = 0;
  while (d < key.size() && detail::is_ascii_digit(key[d])) {
    if (n <= max_match_arg) n = n * 10 + static_cast<unsigned>(key[d] - '0');
    ++d;
  }
  if (d == 3) return rule_error(key, "unknown key (argN needs a decimal N from 0 to 63)");
  const std::string_view suffix = key.substr(d);
  arg_key k{static_cast<unsigned>(n), arg_key::plain};
  if (suffix == "path") k.kind = arg_key::path;
  else if (suffix == "namespace") k.kind = arg_key::name_space;
  else if (!suffix.empty())
    return rule_error(key, "unknown key (after argN only 'path', or 'namespace' for arg0, may follow)");
  if (n > max_match_arg) return rule_error(key, "argument number is above 63");
  if (k.kind == arg_key::name_space && n != 0) return rule_error(key, "only arg0namespace exists");
  return k;
}

}  // namespace

message_match_args::message_match_args(const message& m) {
  detail::reader r = m.body_reader();
  const std::string_view sig = m.signature();
  std::size_t i = 0;
  while (i < sig.size() && count_ < match_arg_count) {
    const std::size_t end = detail::complete_type_end(sig, i);
    const char c = sig[i];
    match_arg a;
    if (c == 's' || c == 'o') {
      if (!r.get_string(a.text, c)) return;
      a.kind = c == 's' ? match_arg_kind::string : match_arg_kind::object_path;
    } else if (!r.skip(sig.substr(i, end - i))) {
      return;
    }
    args_[count_++] = a;
    i = end;
  }
}

match_input make_match_input(const message& m, std::span<const match_arg> args) {
  match_input in;
  in.type = m.type();
  in.sender = m.sender();
  in.interface = m.interface();
  in.member = m.member();
  in.path = m.path();
  in.destination = m.destination();
  in.args = args;
  return in;
}

result<match_rule> match_rule::parse(std::string_view text) {
  if (text.size() > max_match_rule_length)
    return rule_error({}, "the rule is " + std::to_string(text.size()) + " bytes long, the limit is " +
                              std::to_string(max_match_rule_length));
  if (text.find('\0') != std::string_view::npos) return rule_error({}, "the rule contains a NUL byte");
  if (!detail::is_valid_utf8(text)) return rule_error({}, "the rule is not valid UTF-8");
  match_rule rule;
  std::size_t i = 0;
  std::vector<std::string_view> seen;
  while (true) {
    while (i < text.size() && is_rule_space(text[i])) ++i;
    if (i == text.size()) break;  // the empty rule, or whitespace after a trailing comma
    const std::size_t start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',') ++i;
    const std::string_view key = text.substr(start, i - start);
    if (key.empty())
      return rule_error({}, text[start] == ',' ? (start == 0 ? "the rule begins with ','" : "an element between commas is empty")
                                               : "an element at byte " + std::to_string(start) + " has no key before '='");
    if (i == text.size() || text[i] == ',') return rule_error(key, "has no '=value'");
    ++i;  // '='

    // The spec's quoting: inside single quotes everything is literal up to the next quote;
    // outside, \' is an apostrophe, any other backslash is itself, and ',' ends the value.
    std::string value;
    bool quoted = false;
    while (i < text.size()) {
      const char c = text[i];
      if (quoted) {
        if (c == '\'') quoted = false;
        else value += c;
        ++i;
      } else if (c == '\'') {
        quoted = true;
        ++i;
      } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\'') {
        value += '\'';
        i += 2;
      } else if (c == ',') {
        break;
      } else {
        value += c;
        ++i;
      }
    }
    if (quoted) return rule_error(key, "the quoted value is not closed");
    if (i < text.size()) ++i;  // the comma; a trailing one is allowed (both buses)

    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return rule_error(key, "appears twice");
    seen.push_back(key);
    auto invalid = [&](detail::validation v, const char* what) {
      return rule_error(key, "'" + value + "' is not a valid " + what + ": " + v.reason);
    };
    if (key == "type") {
      rule.type = type_from_name(value);
      if (!rule.type) return rule_error(key, "'" + value + "' is not signal, method_call, method_return or error");
    } else if (key == "sender" || key == "destination") {
      if (auto v = detail::check_bus_name(value); !v) return invalid(v, "bus name");
      (key == "sender" ? rule.sender : rule.destination) = value;
    } else if (key == "interface") {
      if (auto v = detail::check_interface_name(value); !v) return invalid(v, "interface name");
      rule.interface = value;
    } else if (key == "member") {
      if (auto v = detail::check_member_name(value); !v) return invalid(v, "member name");
      rule.member = value;
    } else if (key == "path" || key == "path_namespace") {
      if (auto v = detail::check_object_path(value); !v) return invalid(v, "object path");
      if (rule.path || rule.path_namespace) return rule_error(key, "path and path_namespace cannot be combined");
      (key == "path" ? rule.path : rule.path_namespace) = value;
    } else if (key == "eavesdrop") {
      if (value != "true" && value != "false") return rule_error(key, "'" + value + "' is not true or false");
      rule.eavesdrop = value == "true";
    } else if (key.starts_with("arg")) {
      auto k = parse_arg_key(key);
      if (!k) return k.error();
      if (k->kind == arg_key::name_space) {
        if (const char* why = namespace_problem(value)) return rule_error(key, "'" + value + "' is not a valid namespace: " + why);
        rule.arg0namespace = value;
      } else {
        for (const auto& a : rule.args)
          if (a.index == k->index) return rule_error(key, "argument " + std::to_string(k->index) + " has a condition already");
        // argNpath: the spec's values are object paths or '/'-ended prefixes of them; the buses
        // take any string, and an empty one never matches anything but an empty string.
        rule.args.push_back({k->index, k->kind == arg_key::path, value});
      }
    } else {
      return rule_error(key, "unknown key");
    }
  }
  std::sort(rule.args.begin(), rule.args.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return rule;
}

std::string match_rule::to_string() const {
  std::string out;
  auto add = [&](std::string_view key, std::string_view value) {
    if (!out.empty()) out += ',';
    out += key;
    out += '=';
    out += quote(value);
  };
  if (type) add("type", type_name(*type));
  if (sender) add("sender", *sender);
  if (interface) add("interface", *interface);
  if (member) add("member", *member);
  if (path) add("path", *path);
  if (path_namespace) add("path_namespace", *path_namespace);
  if (destination) add("destination", *destination);
  if (eavesdrop) add("eavesdrop", *eavesdrop ? "true" : "false");
  for (const auto& a : args) add("arg" + std::to_string(a.index) + (a.path ? "path" : ""), a.value);
  if (arg0namespace) add("arg0namespace", *arg0namespace);
  return out;
}

bool match_rule::matches(const match_input& m, const name_owner_lookup* names) const {
  if (type && m.type != *type) return false;
  if (interface && m.interface != *interface) return false;
  if (member && m.member != *member) return false;
  if (path && m.path != *path) return false;
  if (path_namespace) {
    // The path itself or a descendant; '/' is every path (spec). A message without a path
    // (a reply) does not match.
    const std::string_view p = m.path;
    const std::string_view ns = *path_namespace;
    if (p.empty()) return false;
    if (ns != "/" && p != ns && !(p.starts_with(ns) && p.size() > ns.size() && p[ns.size()] == '/')) return false;
  }
  for (const auto& a : args) {
    if (a.index >= m.args.size()) return false;
    const match_arg& arg = m.args[a.index];
    if (a.path) {
      // argNpath: a string or an object path (spec).
      if (arg.kind == match_arg_kind::other || !path_prefix_match(arg.text, a.value)) return false;
    } else if (arg.kind != match_arg_kind::string || arg.text != a.value) {
      // argN: only a string argument (spec: "only string arguments").
      return false;
    }
  }
  if (arg0namespace) {
    // arg0 is a string equal to the namespace or beginning with it and a '.'.
    if (m.args.empty() || m.args[0].kind != match_arg_kind::string) return false;
    const std::string_view t = m.args[0].text;
    const std::string_view ns = *arg0namespace;
    if (t != ns && !(t.starts_with(ns) && t.size() > ns.size() && t[ns.size()] == '.')) return false;
  }
  // Names last: they may ask the table.
  if (sender && !same_connection(*sender, m.sender, names)) return false;
  // destination: only messages addressed to that connection (a unicast signal, a call), never
  // a broadcast.
  if (destination && !same_connection(*destination, m.destination, names)) return false;
  return true;
}

bool match_rule::matches(const message& m, const name_owner_lookup* names) const {
  if (!needs_args()) return matches(make_match_input(m), names);
  const message_match_args args(m);
  return matches(make_match_input(m, args.span()), names);
}

}  // namespace kbus
