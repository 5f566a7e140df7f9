#include "wire/parse_double.hpp"

#include "kbus_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
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

std::optional<double> parse_double_strtod(std::string_view text) {
  if (!is_decimal_number(text)) return std::nullopt;
  // The digits without the point, and the exponent less the fraction's digits ("2.5e3" is
  // "25e2"): with no '.', no locale's decimal point changes what strtod reads.
  std::string spelled;
  spelled.reserve(text.size() + 24);
  std::size_t i = 0;
  long long fraction_digits = 0;
  bool in_fraction = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      in_fraction = true;
      continue;
    }
    spelled += text[i];
    if (in_fraction) ++fraction_digits;
  }
  long long exponent = 0;
  if (i < text.size()) {
    ++i;
    const bool negative = text[i] == '-';
    if (text[i] == '+' || text[i] == '-') ++i;
    // Saturated far beyond any double's range (a few hundred), so it cannot overflow.
    constexpr long long exponent_limit = 1'000'000'000'000;
    for (; i < text.size(); ++i) exponent = std::min(exponent * 10 + (text[i] - '0'), exponent_limit);
    if (negative) exponent = -exponent;
  }
  spelled += 'e';
  spelled += std::to_string(exponent - fraction_digits);
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(spelled.c_str(), &end);
  if (end != spelled.c_str() + spelled.size()) return std::nullopt;
  // ERANGE: beyond the largest double (HUGE_VAL), or so small that it became 0. A subnormal
  // result is a value, as from_chars reads it.
  if (errno == ERANGE && (std::isinf(d) || d == 0)) return std::nullopt;
  return d;
}

std::optional<double> parse_double(std::string_view text) {
  return KBUS_HAVE_FLOAT_FROM_CHARS ? parse_double_from_chars(text) : parse_double_strtod(text);
}

}  // namespace kbus::detail
