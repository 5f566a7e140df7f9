// busctl's command-line syntax for D-Bus values, both ways:
//   arguments:  "a{sv}" {"2", "key1", "s", "hello", "key2", "u", "7"}
//   output:     a{sv} 2 "key1" s "hello" "key2" u 7
// Arrays give their element count first, variants their signature; structs and dict entries
// are their fields in order. Strings are printed C-escaped in double quotes, doubles with %g,
// as busctl prints them.
#pragma once

#include "kbus/error.hpp"
#include "kbus/value.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::cli {

// Parses `args` as the values of `signature` (a whole body signature). Every argument must be
// used; errors say which argument and why.
result<std::vector<value>> parse_busctl_args(std::string_view signature, std::span<const std::string> args);

// "SIGNATURE value value ..." as busctl prints a reply; empty for an empty body.
std::string format_busctl(std::string_view signature, const std::vector<value>& values);

// One value without its type prefix ("\"hello\"", "2 1 2" for "ai", ...).
std::string format_busctl_value(const value& v);

}  // namespace kbus::cli
