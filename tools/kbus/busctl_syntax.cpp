#include "busctl_syntax.hpp"

#include "kbus/detail/validate.hpp"
#include "kbus/names.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace kbus::cli {
namespace {

class arg_parser {
 public:
  explicit arg_parser(std::span<const std::string> args) : args_(args) {}

  result<value> parse(std::string_view type) {
    const std::size_t arg_index = next_;
    if (next_ >= args_.size())
      return error(errc::type_mismatch, "too few arguments for the signature: missing a value of type '" +
                                            std::string(type) + "'");
    const char c = type[0];
    if (c == 'a') {
      auto count = take_count();
      if (!count) return count.error();
      const std::string_view elem = type.substr(1);
      std::vector<value> items;
      for (std::size_t i = 0; i < *count; ++i) {
        if (elem[0] == '{') {
          const std::size_t key_end = 2;  // key is one basic type code
          auto k = parse(elem.substr(1, 1));
          if (!k) return k.error();
          auto v = parse(elem.substr(key_end, elem.size() - key_end - 1));
          if (!v) return v.error();
          items.push_back(value::dict_entry(std::move(*k), std::move(*v)));
        } else {
          auto e = parse(elem);
          if (!e) return e.error();
          items.push_back(std::move(*e));
        }
      }
      return value::array(elem, std::move(items));
    }
    if (c == 'v') {
      const std::string& sig = args_[next_++];
      if (auto ok = detail::check_single_type(sig); !ok)
        return error(errc::invalid_signature,
                     "argument " + std::to_string(arg_index + 1) + ": \"" + sig + "\" is not a single complete type: " + ok.reason);
      auto inner = parse(sig);
      if (!inner) return inner.error();
      return value::variant(std::move(*inner));
    }
    if (c == '(') {
      std::vector<value> fields;
      std::size_t i = 1;
      while (type[i] != ')') {
        const std::size_t end = detail::scan_complete_type(type, i).end;
        auto f = parse(type.substr(i, end - i));
        if (!f) return f.error();
        fields.push_back(std::move(*f));
        i = end;
      }
      return value::structure(std::move(fields));
    }
    return parse_basic(c, args_[next_++], arg_index);
  }

  bool done() const noexcept { return next_ == args_.size(); }
  std::size_t used() const noexcept { return next_; }

 private:
  result<std::size_t> take_count() {
    const std::string& s = args_[next_];
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || p != s.data() + s.size())
      return error(errc::invalid_value, "argument " + std::to_string(next_ + 1) + ": \"" + s +
                                            "\" is not an array element count");
    if (n > args_.size() - next_ - 1)
      return error(errc::type_mismatch, "argument " + std::to_string(next_ + 1) + ": array of " + s +
                                            " elements, but fewer arguments follow");
    ++next_;
    return n;
  }

  template <class T>
  static result<value> integer(const std::string& s, std::size_t index, value (*make)(T)) {
    T v{};
    const char* first = s.data();
    const char* last = s.data() + s.size();
    int base = 10;
    // busctl takes decimal; hex with 0x is accepted too, as systemd's parsers do.
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      first += 2;
      base = 16;
    }
    auto [p, ec] = std::from_chars(first, last, v, base);
    if (ec != std::errc{} || p != last || first == last)
      return error(errc::invalid_value, "argument " + std::to_string(index + 1) + ": \"" + s + "\" is not a valid " +
                                            std::string(std::numeric_limits<T>::is_signed ? "signed" : "unsigned") +
                                            " " + std::to_string(sizeof(T) * 8) + "-bit integer");
    return make(v);
  }

  static result<value> parse_basic(char c, const std::string& s, std::size_t index) {
    switch (c) {
      case 'y': return integer<std::uint8_t>(s, index, &value::byte);
      case 'n': return integer<std::int16_t>(s, index, &value::int16);
      case 'q': return integer<std::uint16_t>(s, index, &value::uint16);
      case 'i': return integer<std::int32_t>(s, index, &value::int32);
      case 'u': return integer<std::uint32_t>(s, index, &value::uint32);
      case 'x': return integer<std::int64_t>(s, index, &value::int64);
      case 't': return integer<std::uint64_t>(s, index, &value::uint64);
      case 'h': return integer<std::uint32_t>(s, index, &value::unix_fd_index);
      case 'b': {
        // systemd's parse_boolean().
        for (const char* t : {"1", "yes", "y", "true", "t", "on"})
          if (s == t) return value::boolean(true);
        for (const char* f : {"0", "no", "n", "false", "f", "off"})
          if (s == f) return value::boolean(false);
        return error(errc::invalid_value, "argument " + std::to_string(index + 1) + ": \"" + s + "\" is not a boolean");
      }
      case 'd': {
        errno = 0;
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE)
          return error(errc::invalid_value, "argument " + std::to_string(index + 1) + ": \"" + s + "\" is not a number");
        return value::float64(d);
      }
      case 's': return value::string(s);
      case 'o': {
        auto p = object_path::make(s);
        if (!p) return error(p.error().code, "argument " + std::to_string(index + 1) + ": " + p.error().message);
        return value::path(*p);
      }
      case 'g': {
        auto g = kbus::signature::make(s);
        if (!g) return error(g.error().code, "argument " + std::to_string(index + 1) + ": " + g.error().message);
        return value::sig(*g);
      }
      default:
        return error(errc::invalid_signature, std::string("type code '") + c + "' cannot be given on the command line");
    }
  }

  std::span<const std::string> args_;
  std::size_t next_ = 0;
};

// systemd's cescape(): C escapes, other control and non-ASCII bytes as octal.
void append_escaped(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\'': out += "\\'"; break;
      default:
        if (c < ' ' || c >= 127) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_value(std::string& out, const value& v) {
  // Structs and dict entries are just their fields, so only leaves and prefixes add a space.
  if (v.code() != '(' && v.code() != '{' && !out.empty()) out += ' ';
  switch (v.code()) {
    case 'y': case 'q': case 'u': case 't': case 'h':
      out += std::to_string(v.as_uint());
      return;
    case 'n': case 'i': case 'x':
      out += std::to_string(v.as_int());
      return;
    case 'b':
      out += v.as_bool() ? "true" : "false";
      return;
    case 'd': {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", v.as_double());
      out += buf;
      return;
    }
    case 's': case 'o': case 'g':
      append_escaped(out, v.as_string());
      return;
    case 'v':
      out += v.items()[0].type();
      append_value(out, v.items()[0]);
      return;
    case 'a':
      out += std::to_string(v.items().size());
      for (const auto& e : v.items()) append_value(out, e);
      return;
    case '(':
    case '{':
      for (const auto& f : v.items()) append_value(out, f);
      return;
    default:
      return;
  }
}

}  // namespace

result<std::vector<value>> parse_busctl_args(std::string_view signature, std::span<const std::string> args) {
  if (auto ok = detail::check_signature(signature); !ok)
    return error(ok.code, "signature \"" + std::string(signature) + "\": " + ok.reason);
  arg_parser p(args);
  std::vector<value> out;
  std::size_t i = 0;
  while (i < signature.size()) {
    const std::size_t end = detail::scan_complete_type(signature, i).end;
    auto v = p.parse(signature.substr(i, end - i));
    if (!v) return v.error();
    out.push_back(std::move(*v));
    i = end;
  }
  if (!p.done())
    return error(errc::type_mismatch, "too many arguments for signature \"" + std::string(signature) + "\": " +
                                          std::to_string(args.size() - p.used()) + " left over");
  return out;
}

std::string format_busctl_value(const value& v) {
  std::string out;
  append_value(out, v);
  return out;
}

std::string format_busctl(std::string_view signature, const std::vector<value>& values) {
  if (signature.empty()) return {};
  std::string out(signature);
  for (const auto& v : values) append_value(out, v);
  return out;
}

}  // namespace kbus::cli
