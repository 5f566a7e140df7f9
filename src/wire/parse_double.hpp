// A double from text, the same in every locale: what std::from_chars does, where the standard
// library has it for floating point (libstdc++ 11+). libc++ (Debian's 14, zig 0.11's 16, macOS's)
// has it for integers only, so there strtod reads the number, spelled without its decimal point
// so that no locale matters (KBUS_HAVE_FLOAT_FROM_CHARS, cmake/platform.cmake). A stream imbued
// with the classic locale would not do: libc++'s refuses subnormal numbers (strtod's ERANGE).
#pragma once

#include <optional>
#include <string_view>

namespace kbus::detail {

// The double that all of `text` spells in decimal (digits, one '.', an exponent; a leading '-'
// but no '+', no spaces, no hex), or nullopt: malformed, trailing characters, or out of range.
std::optional<double> parse_double(std::string_view text);

// The two ways, for tests: std::from_chars (nullopt always where the library lacks it) and
// strtod, which every C library has.
std::optional<double> parse_double_from_chars(std::string_view text);
std::optional<double> parse_double_strtod(std::string_view text);

}  // namespace kbus::detail
