#include "wire/json.hpp"

#include "kbus/json.hpp"
#include "kbus/types.hpp"
#include "wire/parse_double.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>

namespace kbus::detail {
namespace {

// Python's repr() of a float: the shortest round-trip digits, fixed notation for decimal
// exponents in [-4, 16), scientific (two-digit exponent at least) otherwise, and ".0" on
// integral values. Dict keys of type 'd' are written this way.
std::string double_key(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, end);  // "-d.ddde+XX"
  const bool negative = sci[0] == '-';
  const std::size_t e = sci.find('e');
  std::string digits;
  for (std::size_t i = negative ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exponent = std::stoi(sci.substr(e + 1));
  const int decpt = exponent + 1;  // digits before the decimal point
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-decpt), '0');
      out += digits;
    } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
      out += digits;
      out.append(static_cast<std::size_t>(decpt) - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(decpt));
      out += '.';
      out += digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp;
  return out;
}

json double_to_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Infinity" : "-Infinity";
  return d;
}

std::string key_to_string(const value& k) {
  switch (k.code()) {
    case 'y': case 'q': case 'u': case 't': case 'h': return std::to_string(k.as_uint());
    case 'n': case 'i': case 'x': return std::to_string(k.as_int());
    case 'b': return k.as_bool() ? "true" : "false";
    case 'd': return double_key(k.as_double());
    default: return k.as_string();
  }
}

error json_error(const std::string& where, const std::string& what) {
  return error(errc::invalid_value, where + ": " + what);
}

// JSON of the wrong kind for the type (a string where a number belongs, ...).
error shape_error(const std::string& where, const std::string& what) {
  return error(errc::type_mismatch, where + ": " + what);
}

// A JSON value as shown in an error: its text, cut short when long.
std::string shown(const json& j) {
  constexpr std::size_t max_shown = 60;  // enough to recognise the value in a sentence
  std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > max_shown) text = text.substr(0, max_shown) + "...";
  return text;
}

// `depth`: containers (arrays, dict entries, structs, variants) around j. Variants restart the
// type but not the spec's limit of 64 nested containers, so JSON of variants in variants is
// refused at the limit rather than followed without bound.
result<value> from_json(const json& j, std::string_view type, const std::string& where, int depth);

template <class T>
result<T> integer_from(const json& j, const std::string& where, char code) {
  const std::string type_name = std::string("'") + code + "'";
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      return json_error(where, std::to_string(v) + " is out of range for " + type_name);
    return static_cast<T>(v);
  }
  if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (v < 0) return json_error(where, std::to_string(v) + " is out of range for " + type_name);
      if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
        return json_error(where, std::to_string(v) + " is out of range for " + type_name);
    } else {
      if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
          v > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
        return json_error(where, std::to_string(v) + " is out of range for " + type_name);
    }
    return static_cast<T>(v);
  }
  return shape_error(where, "expected an integer for " + type_name + ", got " + shown(j));
}

// A dict key from its JSON object key, as the key's basic type.
template <class T>
result<T> integer_key(const std::string& s, const std::string& where, char code) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
    return json_error(where, "dict key \"" + s + "\" is not a valid '" + std::string(1, code) + "'");
  return v;
}

result<double> double_from_text(const std::string& s, const std::string& where) {
  if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Infinity" || s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
  const auto d = parse_double(s);
  if (!d) return json_error(where, "\"" + s + "\" is not a double");
  return *d;
}

result<value> key_from_string(const std::string& s, char code, const std::string& where) {
  auto wrap = [&](auto r, auto make) -> result<value> {
    if (!r) return r.error();
    return make(*r);
  };
  switch (code) {
    case 'y': return wrap(integer_key<std::uint8_t>(s, where, code), &value::byte);
    case 'n': return wrap(integer_key<std::int16_t>(s, where, code), &value::int16);
    case 'q': return wrap(integer_key<std::uint16_t>(s, where, code), &value::uint16);
    case 'i': return wrap(integer_key<std::int32_t>(s, where, code), &value::int32);
    case 'u': return wrap(integer_key<std::uint32_t>(s, where, code), &value::uint32);
    case 'x': return wrap(integer_key<std::int64_t>(s, where, code), &value::int64);
    case 't': return wrap(integer_key<std::uint64_t>(s, where, code), &value::uint64);
    case 'h': return wrap(integer_key<std::uint32_t>(s, where, code), &value::unix_fd_index);
    case 'd': return wrap(double_from_text(s, where), &value::float64);
    case 'b':
      if (s == "true") return value::boolean(true);
      if (s == "false") return value::boolean(false);
      return json_error(where, "dict key \"" + s + "\" is not \"true\" or \"false\"");
    default: return from_json(json(s), std::string_view(&code, 1), where, 0);
  }
}

// Which D-Bus key a JSON key stands for: "1" and "01", or "1e0" and "1.0", are the same key.
std::string key_identity(const value& k) {
  return k.code() == 's' || k.code() == 'o' || k.code() == 'g' ? "s" + k.as_string() : std::to_string(k.as_uint());
}

}  // namespace

json value_to_json(const value& v) {
  switch (v.code()) {
    case 'y': case 'q': case 'u': case 't': case 'h': return v.as_uint();
    case 'n': case 'i': case 'x': return v.as_int();
    case 'b': return v.as_bool();
    case 'd': return double_to_json(v.as_double());
    case 's': case 'o': case 'g': return v.as_string();
    case 'v': {
      const value& inner = v.items()[0];
      return json{{"type", inner.type()}, {"data", value_to_json(inner)}};
    }
    case 'a': {
      if (v.element_type()[0] == '{') {
        json obj = json::object();
        for (const auto& e : v.items()) obj[key_to_string(e.items()[0])] = value_to_json(e.items()[1]);
        return obj;
      }
      json arr = json::array();
      for (const auto& e : v.items()) arr.push_back(value_to_json(e));
      return arr;
    }
    case '(': {
      json arr = json::array();
      for (const auto& f : v.items()) arr.push_back(value_to_json(f));
      return arr;
    }
    default: return nullptr;
  }
}

result<value> value_from_json(const json& j, std::string_view type, const std::string& where) {
  return from_json(j, type, where, 0);
}

namespace {

result<value> from_json(const json& j, std::string_view type, const std::string& where, int depth) {
  auto wrap = [](auto r, auto make) -> result<value> {
    if (!r) return r.error();
    return make(*r);
  };
  const char c = type.empty() ? '\0' : type[0];
  const int inner_depth = depth + (c == 'a' && type.size() > 1 && type[1] == '{' ? 2 : 1);
  if ((c == 'a' || c == '(' || c == 'v') && inner_depth > max_total_depth)
    return error(errc::nesting_too_deep, where + ": more than " + std::to_string(max_total_depth) + " nested containers");
  switch (c) {
    case 'y': return wrap(integer_from<std::uint8_t>(j, where, c), &value::byte);
    case 'n': return wrap(integer_from<std::int16_t>(j, where, c), &value::int16);
    case 'q': return wrap(integer_from<std::uint16_t>(j, where, c), &value::uint16);
    case 'i': return wrap(integer_from<std::int32_t>(j, where, c), &value::int32);
    case 'u': return wrap(integer_from<std::uint32_t>(j, where, c), &value::uint32);
    case 'x': return wrap(integer_from<std::int64_t>(j, where, c), &value::int64);
    case 't': return wrap(integer_from<std::uint64_t>(j, where, c), &value::uint64);
    case 'h': return wrap(integer_from<std::uint32_t>(j, where, c), &value::unix_fd_index);
    case 'b':
      if (!j.is_boolean()) return shape_error(where, "expected true or false, got " + shown(j));
      return value::boolean(j.get<bool>());
    case 'd':
      if (j.is_number()) return value::float64(j.get<double>());
      if (j.is_string()) return wrap(double_from_text(j.get<std::string>(), where), &value::float64);
      return shape_error(where, "expected a number for 'd', got " + shown(j));
    case 's': {
      if (!j.is_string()) return shape_error(where, "expected a string, got " + shown(j));
      const auto& s = j.get_ref<const std::string&>();
      if (s.find('\0') != std::string::npos) return error(errc::string_contains_nul, where + ": string contains NUL");
      if (!is_valid_utf8(s)) return error(errc::invalid_utf8, where + ": string is not valid UTF-8");
      return value::string(s);
    }
    case 'o': {
      if (!j.is_string()) return shape_error(where, "expected an object path string, got " + shown(j));
      auto p = object_path::make(j.get<std::string>());
      if (!p) return error(p.error().code, where + ": " + p.error().message);
      return value::path(*p);
    }
    case 'g': {
      if (!j.is_string()) return shape_error(where, "expected a signature string, got " + shown(j));
      auto g = kbus::signature::make(j.get<std::string>());
      if (!g) return error(g.error().code, where + ": " + g.error().message);
      return value::sig(*g);
    }
    case 'v': {
      if (!j.is_object() || !j.contains("type") || !j.contains("data") || !j["type"].is_string())
        return shape_error(where, "expected a variant {\"type\": SIGNATURE, \"data\": VALUE}, got " + shown(j));
      const std::string inner_type = j["type"].get<std::string>();
      if (auto ok = check_single_type(inner_type); !ok)
        return error(ok.code, where + ": variant type \"" + inner_type + "\": " + ok.reason);
      auto inner = from_json(j["data"], inner_type, where + ".data", inner_depth);
      if (!inner) return inner.error();
      return value::variant(std::move(*inner));
    }
    case 'a': {
      const std::string_view elem = type.substr(1);
      std::vector<value> items;
      if (elem[0] == '{') {
        if (!j.is_object()) return shape_error(where, "expected an object for '" + std::string(type) + "', got " + shown(j));
        const char key_code = elem[1];
        const std::string_view val_type = elem.substr(2, elem.size() - 3);
        std::set<std::string> seen;
        for (const auto& [k, v] : j.items()) {
          const std::string item_where = where + "[\"" + k + "\"]";
          auto key = key_from_string(k, key_code, item_where);
          if (!key) return key.error();
          if (!seen.insert(key_identity(*key)).second)
            return json_error(item_where, "dict key \"" + k + "\" repeats a key given before in another form");
          auto val = from_json(v, val_type, item_where, inner_depth);
          if (!val) return val.error();
          items.push_back(value::dict_entry(std::move(*key), std::move(*val)));
        }
      } else {
        if (!j.is_array()) return shape_error(where, "expected an array for '" + std::string(type) + "', got " + shown(j));
        std::size_t i = 0;
        for (const auto& e : j) {
          auto v = from_json(e, elem, where + "[" + std::to_string(i++) + "]", inner_depth);
          if (!v) return v.error();
          items.push_back(std::move(*v));
        }
      }
      return value::array(elem, std::move(items));
    }
    case '(': {
      if (!j.is_array()) return shape_error(where, "expected an array for struct '" + std::string(type) + "', got " + shown(j));
      std::vector<value> fields;
      std::size_t i = 1, n = 0;
      while (type[i] != ')') {
        const std::size_t end = scan_complete_type(type, i).end;
        if (n >= j.size())
          return shape_error(where, "struct '" + std::string(type) + "' needs more than " + std::to_string(j.size()) + " fields");
        auto f = from_json(j[n], type.substr(i, end - i), where + "[" + std::to_string(n) + "]", inner_depth);
        if (!f) return f.error();
        fields.push_back(std::move(*f));
        ++n;
        i = end;
      }
      if (n != j.size())
        return shape_error(where, "struct '" + std::string(type) + "' has " + std::to_string(n) + " fields, JSON has " +
                                     std::to_string(j.size()));
      return value::structure(std::move(fields));
    }
    default:
      return error(errc::invalid_signature, where + ": type \"" + std::string(type) + "\" is not a single complete type");
  }
}

}  // namespace

json body_to_json(std::string_view signature, const std::vector<value>& values) {
  json data = json::array();
  for (const auto& v : values) data.push_back(value_to_json(v));
  return json{{"type", signature}, {"data", std::move(data)}};
}

namespace {

struct flag_name {
  message_flags flag;
  const char* name;
};
constexpr flag_name flag_names[] = {
    {message_flags::no_reply_expected, "no_reply_expected"},
    {message_flags::no_auto_start, "no_auto_start"},
    {message_flags::allow_interactive_authorization, "allow_interactive_authorization"},
};

}  // namespace

json message_to_json(const message& m) {
  json h;
  if (m.type() <= message_type::signal) h["type"] = to_string(m.type());
  else h["type"] = static_cast<unsigned>(m.type());  // a type unknown to the spec
  h["serial"] = m.serial();
  auto field = [&](const char* name, std::string_view v) {
    if (!v.empty()) h[name] = v;
  };
  field("path", m.path());
  field("interface", m.interface());
  field("member", m.member());
  field("error_name", m.error_name());
  field("destination", m.destination());
  field("sender", m.sender());
  if (m.reply_serial()) h["reply_serial"] = *m.reply_serial();
  if (m.unix_fd_count() > 0) h["unix_fds"] = m.unix_fd_count();
  json flags = json::array();
  for (const auto& f : flag_names)
    if (any(m.flags() & f.flag)) flags.push_back(f.name);
  h["flags"] = std::move(flags);
  auto values = m.values();
  json body = values ? body_to_json(m.signature(), *values) : json{{"type", m.signature()}, {"data", nullptr}};
  return json{{"header", std::move(h)}, {"body", std::move(body)}};
}

result<message> message_from_json(const json& j, byte_order order) {
  if (!j.is_object() || !j.contains("header") || !j["header"].is_object())
    return json_error("message", "expected {\"header\": {...}, \"body\": {...}}");
  const json& h = j["header"];
  // A misspelt field would otherwise vanish from the message without a word.
  static constexpr const char* header_keys[] = {"type", "serial", "flags", "path", "interface", "member", "error_name",
                                                "destination", "sender", "reply_serial", "unix_fds"};
  for (const auto& [key, unused] : h.items())
    if (std::find(std::begin(header_keys), std::end(header_keys), key) == std::end(header_keys))
      return json_error("header", "\"" + key + "\" is not a header field (" +
                                      "type, serial, flags, path, interface, member, error_name, destination, "
                                      "sender, reply_serial, unix_fds)");
  auto text = [&](const char* key) -> std::string {
    return h.contains(key) && h[key].is_string() ? h[key].get<std::string>() : std::string();
  };
  const std::string type = text("type");
  message_type t;
  if (h.contains("type") && h["type"].is_number_unsigned() && h["type"].get<std::uint64_t>() > 4 &&
      h["type"].get<std::uint64_t>() < 256)
    t = static_cast<message_type>(h["type"].get<std::uint64_t>());
  else if (type == "method_call") t = message_type::method_call;
  else if (type == "method_return") t = message_type::method_return;
  else if (type == "error") t = message_type::error;
  else if (type == "signal") t = message_type::signal;
  else return json_error("header.type", "\"" + type + "\" is not method_call, method_return, error or signal");

  message_builder b(t, order);
  message_flags flags = message_flags::none;
  if (h.contains("flags")) {
    if (!h["flags"].is_array()) return json_error("header.flags", "expected an array of flag names");
    for (const auto& f : h["flags"]) {
      bool known = false;
      for (const auto& n : flag_names)
        if (f.is_string() && f.get<std::string>() == n.name) {
          flags = flags | n.flag;
          known = true;
        }
      if (!known) return json_error("header.flags", f.dump() + " is not a known flag");
    }
  }
  b.flags(flags);
  // Each field is checked as its name type says, with the field named in the error.
  auto set = [&](const char* key, auto make, auto apply) -> result<void> {
    if (!h.contains(key)) return {};
    if (!h[key].is_string()) return json_error(std::string("header.") + key, "expected a string");
    auto n = make(h[key].get<std::string>());
    if (!n) return error(n.error().code, std::string("header.") + key + ": " + n.error().message);
    apply(*n);
    return {};
  };
  result<void> r;
  if (!(r = set("path", &object_path::make, [&](const object_path& v) { b.path(v); }))) return r.error();
  if (!(r = set("interface", &interface_name::make, [&](const interface_name& v) { b.interface(v); }))) return r.error();
  if (!(r = set("member", &member_name::make, [&](const member_name& v) { b.member(v); }))) return r.error();
  if (!(r = set("error_name", &error_name::make, [&](const error_name& v) { b.error_name(v); }))) return r.error();
  if (h.contains("reply_serial")) {
    auto rs = integer_from<std::uint32_t>(h["reply_serial"], "header.reply_serial", 'u');
    if (!rs) return rs.error();
    b.reply_serial(*rs);
  }
  if (!(r = set("destination", &bus_name::make, [&](const bus_name& v) { b.destination(v); }))) return r.error();
  if (!(r = set("sender", &bus_name::make, [&](const bus_name& v) { b.sender(v); }))) return r.error();
  if (h.contains("unix_fds")) {
    auto n = integer_from<std::uint32_t>(h["unix_fds"], "header.unix_fds", 'u');
    if (!n) return n.error();
    b.detached_unix_fds(*n);
  }
  std::uint32_t serial = 1;
  if (h.contains("serial")) {
    auto s = integer_from<std::uint32_t>(h["serial"], "header.serial", 'u');
    if (!s) return s.error();
    serial = *s;
  }

  std::string sig;
  std::vector<value> values;
  if (j.contains("body")) {
    const json& body = j["body"];
    if (!body.is_object() || !body.contains("type") || !body["type"].is_string())
      return json_error("body", "expected {\"type\": SIGNATURE, \"data\": [...]}");
    sig = body["type"].get<std::string>();
    if (auto ok = check_signature(sig); !ok) return error(ok.code, "body.type \"" + sig + "\": " + ok.reason);
    const json empty = json::array();
    const json& data = body.contains("data") ? body["data"] : empty;
    if (!data.is_array()) return json_error("body.data", "expected an array of the body's values");
    std::size_t i = 0, n = 0;
    while (i < sig.size()) {
      const std::size_t end = scan_complete_type(sig, i).end;
      if (n >= data.size()) return shape_error("body.data", "fewer values than the signature \"" + sig + "\" has types");
      auto v = value_from_json(data[n], std::string_view(sig).substr(i, end - i), "body[" + std::to_string(n) + "]");
      if (!v) return v.error();
      values.push_back(std::move(*v));
      ++n;
      i = end;
    }
    if (n != data.size()) return shape_error("body.data", "more values than the signature \"" + sig + "\" has types");
  }
  auto m = std::move(b).build_values(kbus::signature::unchecked(sig), values);
  if (!m) return m.error();
  if (serial == 0) return json_error("header.serial", "serial 0 is not valid");
  m->set_serial(serial);
  return m;
}

}  // namespace kbus::detail

namespace kbus {

// Strings in values built by hand may be invalid UTF-8 (encoding refuses them); JSON text
// cannot hold them, so they are shown with U+FFFD in place of each bad sequence.
std::string to_json(const value& v) {
  return detail::value_to_json(v).dump(-1, ' ', false, detail::json::error_handler_t::replace);
}

result<value> value_from_json(std::string_view text, const signature& type) {
  auto j = detail::json::parse(text, nullptr, false);
  if (j.is_discarded()) return error(errc::invalid_value, "not valid JSON");
  if (auto ok = detail::check_single_type(type.view()); !ok)
    return error(ok.code, "type \"" + type.str() + "\": " + ok.reason);
  return detail::value_from_json(j, type.view());
}

std::string message_to_json(const message& m) {
  return detail::message_to_json(m).dump(-1, ' ', false, detail::json::error_handler_t::replace);
}

result<message> message_from_json(std::string_view text, byte_order order) {
  auto j = detail::json::parse(text, nullptr, false);
  if (j.is_discarded()) return error(errc::invalid_value, "not valid JSON");
  return detail::message_from_json(j, order);
}

}  // namespace kbus
