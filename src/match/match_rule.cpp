#include "kbus/match.hpp"

#include "kbus/detail/validate.hpp"

#include <algorithm>
#include <array>

namespace kbus {
namespace {

error rule_error(std::string_view key, const std::string& why) {
  if (key.empty()) return error(errc::invalid_match_rule, why);
  return error(errc::invalid_match_rule, "key '" + std::string(key) + "': " + why);
}

// arg0namespace is a bus-name-like prefix that may have a single element (spec, and
// dbus-daemon's _dbus_validate_bus_namespace): non-empty elements of [A-Za-z0-9_-], none
// starting with a digit, no trailing '.'.
bool valid_namespace(std::string_view s) {
  if (s.empty() || s.size() > detail::max_name_length) return false;
  bool at_start = true;
  for (char c : s) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
    } else if (detail::is_name_char(c) || c == '-') {
      if (at_start && detail::is_ascii_digit(c)) return false;
      at_start = false;
    } else {
      return false;
    }
  }
  return !at_start;
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

// The spec's quoting: values in single quotes are literal; outside quotes \' is an apostrophe
// and any other backslash is itself; an unquoted ',' ends the value.
std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  out += '\'';
  return out;
}

// String arguments of a message body, by index, read on demand.
class string_args {
 public:
  explicit string_args(const message& m) : m_(m) {}

  // The argument's type code and text (text only for 's' and 'o'); '\0' when there is none.
  std::pair<char, std::string_view> get(unsigned index) {
    if (!loaded_) load();
    if (index >= types_.size()) return {'\0', {}};
    return {types_[index], texts_[index]};
  }

 private:
  void load() {
    loaded_ = true;
    detail::reader r = m_.body_reader();
    const std::string_view sig = m_.signature();
    std::size_t i = 0;
    while (i < sig.size() && types_.size() <= max_match_arg) {
      const std::size_t end = detail::complete_type_end(sig, i);
      const char c = sig[i];
      std::string_view text;
      if (c == 's' || c == 'o') {
        if (!r.get_string(text, c)) return;
      } else if (!r.skip(sig.substr(i, end - i))) {
        return;
      }
      types_.push_back(c);
      texts_.push_back(text);
      i = end;
    }
  }

  const message& m_;
  bool loaded_ = false;
  std::vector<char> types_;
  std::vector<std::string_view> texts_;
};

bool path_prefix_match(std::string_view arg, std::string_view value) {
  // argNpath: equal, or either one is a '/'-terminated prefix of the other (spec).
  if (arg == value) return true;
  if (!value.empty() && value.back() == '/' && arg.starts_with(value)) return true;
  if (!arg.empty() && arg.back() == '/' && value.starts_with(arg)) return true;
  return false;
}

}  // namespace

result<match_rule> match_rule::parse(std::string_view text) {
  if (text.size() > max_match_rule_length)
    return rule_error({}, "rule of " + std::to_string(text.size()) + " bytes is longer than the limit of 1024");
  match_rule rule;
  std::size_t i = 0;
  bool first = true;
  std::vector<std::string> seen;
  while (i < text.size()) {
    // Whitespace may lead an element (dbus-daemon accepts it); nowhere else.
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i == text.size()) {
      if (first) break;  // all whitespace: the empty rule
      break;              // whitespace after a trailing comma
    }
    if (text[i] == ',') return rule_error({}, first ? "rule begins with ','" : "empty element between commas");
    first = false;
    const std::size_t eq = text.find('=', i);
    const std::size_t comma = text.find(',', i);
    if (eq == std::string_view::npos || (comma != std::string_view::npos && comma < eq))
      return rule_error(text.substr(i, std::min(comma, text.size()) - i), "has no '=value'");
    const std::string_view key = text.substr(i, eq - i);
    i = eq + 1;
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
    if (i < text.size()) ++i;  // the comma; a trailing one is allowed

    const std::string key_text(key);
    if (std::find(seen.begin(), seen.end(), key_text) != seen.end()) return rule_error(key, "appears twice");
    seen.push_back(key_text);
    auto check = [&](detail::validation v, const char* what) -> result<void> {
      if (!v) return rule_error(key, "\"" + value + "\" is not a valid " + what + ": " + v.reason);
      return {};
    };
    result<void> ok;
    if (key == "type") {
      rule.type = type_from_name(value);
      if (!rule.type) return rule_error(key, "\"" + value + "\" is not signal, method_call, method_return or error");
    } else if (key == "sender") {
      if (!(ok = check(detail::check_bus_name(value), "bus name"))) return ok.error();
      rule.sender = value;
    } else if (key == "interface") {
      if (!(ok = check(detail::check_interface_name(value), "interface name"))) return ok.error();
      rule.interface = value;
    } else if (key == "member") {
      if (!(ok = check(detail::check_member_name(value), "member name"))) return ok.error();
      rule.member = value;
    } else if (key == "path") {
      if (!(ok = check(detail::check_object_path(value), "object path"))) return ok.error();
      rule.path = value;
    } else if (key == "path_namespace") {
      if (!(ok = check(detail::check_object_path(value), "object path"))) return ok.error();
      rule.path_namespace = value;
    } else if (key == "destination") {
      if (!(ok = check(detail::check_bus_name(value), "bus name"))) return ok.error();
      rule.destination = value;
    } else if (key == "eavesdrop") {
      if (value != "true" && value != "false") return rule_error(key, "\"" + value + "\" is not true or false");
      rule.eavesdrop = value == "true";
    } else if (key.starts_with("arg")) {
      // argN, argNpath, arg0namespace: N is decimal, 0..63.
      std::size_t d = 3;
      unsigned n = 0;
      while (d < key.size() && detail::is_ascii_digit(key[d]) && n <= max_match_arg) n = n * 10 + unsigned(key[d++] - '0');
      const std::string_view suffix = key.substr(d);
      if (d == 3) return rule_error(key, "argN needs a decimal N");
      if (d < key.size() && detail::is_ascii_digit(key[d])) return rule_error(key, "N is above 63");
      if (n > max_match_arg) return rule_error(key, "N is above 63");
      if (suffix == "namespace") {
        if (n != 0) return rule_error(key, "only arg0namespace exists");
        if (!valid_namespace(value)) return rule_error(key, "\"" + value + "\" is not a valid namespace");
        rule.arg0namespace = value;
      } else if (suffix.empty() || suffix == "path") {
        const bool path = suffix == "path";
        for (const auto& a : rule.args)
          if (a.index == n) return rule_error(key, "arg" + std::to_string(n) + " has two conditions");
        if (path && value.empty()) return rule_error(key, "an argNpath value cannot be empty");
        rule.args.push_back({n, path, value});
      } else {
        return rule_error(key, "unknown key");
      }
    } else {
      return rule_error(key, "unknown key");
    }
  }
  if (rule.path && rule.path_namespace) return rule_error("path_namespace", "cannot be combined with path");
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

bool match_rule::matches(const message& m, const name_owner_lookup& owner_of) const {
  if (type && m.type() != *type) return false;
  if (sender && m.sender() != *sender) {
    if ((*sender)[0] == ':' || !owner_of) return false;
    auto owner = owner_of(*sender);
    if (!owner || *owner != m.sender()) return false;
  }
  if (interface && m.interface() != *interface) return false;
  if (member && m.member() != *member) return false;
  if (path && m.path() != *path) return false;
  if (path_namespace) {
    const std::string_view p = m.path();
    const std::string_view ns = *path_namespace;
    if (p.empty()) return false;
    if (ns != "/" && p != ns && !(p.starts_with(ns) && p.size() > ns.size() && p[ns.size()] == '/')) return false;
  }
  if (destination && m.destination() != *destination) return false;
  if (args.empty() && !arg0namespace) return true;

  string_args body(m);
  for (const auto& a : args) {
    auto [code, text] = body.get(a.index);
    if (a.path) {
      if ((code != 's' && code != 'o') || !path_prefix_match(text, a.value)) return false;
    } else if (code != 's' || text != a.value) {
      return false;
    }
  }
  if (arg0namespace) {
    auto [code, text] = body.get(0);
    const std::string_view ns = *arg0namespace;
    if (code != 's') return false;
    if (text != ns && !(text.starts_with(ns) && text.size() > ns.size() && text[ns.size()] == '.')) return false;
  }
  return true;
}

}  // namespace kbus
