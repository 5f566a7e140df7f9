#include "wire/parse_double.hpp"

#include "kbus_config.hpp"

#include <charconv>
#include <locale>
#include <sstream>
#include <string>

namespace kbus::detail {

namespace {

// The grammar both ways accept: [-] digits [. digits] [(e|E) [+|-] digits], with digits on at
// least one side of the point (from_chars's "general" format without inf and nan).
bool is_decimal_number(std::string_view t) {
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i - start;
  };
  std::size_t mantissa = digits();
  if (i < t.size() && t[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == t.size();
}

}  // namespace

std::optional<double> parse_double_from_chars([[maybe_unused]] std::string_view text) {
#if KBUS_HAVE_FLOAT_FROM_CHARS
  if (!is_decimal_number(text)) return std::nullopt;
  double d = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return d;
#else
  return std::nullopt;
#endif
}

std::optional<double> parse_double_classic_stream(std::string_view text) {
  if (!is_decimal_number(text)) return std::nullopt;
  std::istringstream in{std::string(text)};
  in.imbue(std::locale::classic());
  double d = 0;
  // Out of range sets failbit (num_get, [facet.num.get.virtuals]).
  if (!(in >> d)) return std::nullopt;
  if (in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  return d;
}

std::optional<double> parse_double(std::string_view text) {
  return KBUS_HAVE_FLOAT_FROM_CHARS ? parse_double_from_chars(text) : parse_double_classic_stream(text);
}

}  // namespace kbus::detail
