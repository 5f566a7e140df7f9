// Validators of the D-Bus specification's name and signature grammars. constexpr, so a
// literal can be checked at compile time; used at run time by the name types and the parser.
#pragma once

#include "kbus/error.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace kbus::detail {

// Limits of the D-Bus specification ("Valid Names", "Valid Signatures").
inline constexpr std::size_t max_name_length = 255;        // bus, interface, member, error names
inline constexpr std::size_t max_signature_length = 255;
inline constexpr int max_array_depth = 32;
inline constexpr int max_struct_depth = 32;
inline constexpr int max_total_depth = 64;                  // arrays + structs (+ dict entries)

// Where a validator found a problem: the code and the byte offset in the checked string.
struct validation {
  errc code = errc::ok;
  std::size_t offset = 0;
  const char* reason = "";
  constexpr explicit operator bool() const noexcept { return code == errc::ok; }
};

constexpr validation fail(errc code, std::size_t offset, const char* reason) noexcept {
  return {code, offset, reason};
}

constexpr bool is_ascii_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_ascii_digit(char c) noexcept { return c >= '0' && c <= '9'; }
// [A-Za-z0-9_] by a table: names are checked a character at a time, on every message parsed.
inline constexpr auto name_char_table = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<std::size_t>(c)] = is_ascii_alpha(static_cast<char>(c)) || is_ascii_digit(static_cast<char>(c)) || c == '_';
  return t;
}();
constexpr bool is_name_char(char c) noexcept { return name_char_table[static_cast<unsigned char>(c)]; }

// "/" or "/" followed by elements of [A-Za-z0-9_]+ separated by single slashes.
constexpr validation check_object_path(std::string_view s) noexcept {
  constexpr errc e = errc::invalid_object_path;
  if (s.empty()) return fail(e, 0, "object path is empty");
  if (s[0] != '/') return fail(e, 0, "object path must begin with '/'");
  if (s.size() == 1) return {};
  if (s.back() == '/') return fail(e, s.size() - 1, "object path must not end with '/'");
  for (std::size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (is_name_char(c)) continue;
    if (c == '/') {
      if (s[i - 1] == '/') return fail(e, i, "object path has an empty element");
    } else {
      return fail(e, i, "object path element has a character outside [A-Za-z0-9_]");
    }
  }
  return {};
}

// Shared by interface and error names: two or more elements of [A-Za-z_][A-Za-z0-9_]*.
constexpr validation check_dotted_name(std::string_view s, errc e, const char* what_empty) noexcept {
  if (s.empty()) return fail(e, 0, what_empty);
  if (s.size() > max_name_length) return fail(e, max_name_length, "name longer than 255 bytes");
  std::size_t elements = 1;
  bool at_element_start = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_name_char(c) && !(at_element_start && is_ascii_digit(c))) {
      at_element_start = false;
    } else if (c == '.') {
      if (at_element_start) return fail(e, i, "name has an empty element");
      ++elements;
      at_element_start = true;
    } else if (at_element_start) {
      return fail(e, i, "name element must not begin with a digit or other character");
    } else {
      return fail(e, i, "name has a character outside [A-Za-z0-9_]");
    }
  }
  if (at_element_start) return fail(e, s.size(), "name ends with '.'");
  if (elements < 2) return fail(e, 0, "name needs at least two elements");
  return {};
}

constexpr validation check_interface_name(std::string_view s) noexcept {
  return check_dotted_name(s, errc::invalid_interface_name, "interface name is empty");
}

constexpr validation check_error_name(std::string_view s) noexcept {
  return check_dotted_name(s, errc::invalid_error_name, "error name is empty");
}

// [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes.
constexpr validation check_member_name(std::string_view s) noexcept {
  constexpr errc e = errc::invalid_member_name;
  if (s.empty()) return fail(e, 0, "member name is empty");
  if (s.size() > max_name_length) return fail(e, max_name_length, "member name longer than 255 bytes");
  if (is_ascii_digit(s[0])) return fail(e, 0, "member name must not begin with a digit");
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!is_name_char(s[i])) return fail(e, i, "member name has a character outside [A-Za-z0-9_]");
  return {};
}

// Unique (":1.42") or well-known ("org.example.Name") bus name. Elements of unique names may
// begin with a digit; '-' is allowed in both.
constexpr validation check_bus_name(std::string_view s) noexcept {
  constexpr errc e = errc::invalid_bus_name;
  if (s.empty()) return fail(e, 0, "bus name is empty");
  if (s.size() > max_name_length) return fail(e, max_name_length, "bus name longer than 255 bytes");
  const bool unique = s[0] == ':';
  std::size_t i = unique ? 1 : 0;
  std::size_t elements = 1;
  bool at_element_start = true;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (at_element_start) return fail(e, i, "bus name has an empty element");
      ++elements;
      at_element_start = true;
    } else if (is_name_char(c) || c == '-') {
      if (at_element_start && !unique && is_ascii_digit(c))
        return fail(e, i, "well-known bus name element must not begin with a digit");
      at_element_start = false;
    } else {
      return fail(e, i, "bus name has a character outside [A-Za-z0-9_-]");
    }
  }
  if (at_element_start) return fail(e, s.size(), unique && s.size() == 1 ? "unique name is only ':'" : "bus name ends with '.'");
  if (elements < 2) return fail(e, 0, "bus name needs at least two elements");
  return {};
}

constexpr bool is_basic_type_code(char c) noexcept {
  switch (c) {
    case 'y': case 'b': case 'n': case 'q': case 'i': case 'u': case 'x': case 't':
    case 'd': case 'h': case 's': case 'o': case 'g':
      return true;
    default:
      return false;
  }
}

// Result of scanning one complete type: where it ends, or what is wrong.
struct type_scan {
  validation status;
  std::size_t end = 0;
};

// Scans the single complete type starting at `pos`, with the array and struct depths already
// entered by the caller. Iterative, so hostile input cannot exhaust the stack.
constexpr type_scan scan_complete_type(std::string_view s, std::size_t pos, int array_depth = 0,
                                       int struct_depth = 0) noexcept {
  constexpr errc e = errc::invalid_signature;
  // Each open container: '(' or '{' with the number of complete types seen in it so far.
  struct frame {
    char open;
    int members;
    int arrays_before;  // array prefixes pending when the container opened
  };
  frame stack[max_total_depth + 2];  // written before read: no cost to set up
  int depth = 0;
  int pending_arrays = 0;  // 'a' prefixes waiting for their element type
  const int base_array_depth = array_depth;
  const int base_struct_depth = struct_depth;
  std::size_t i = pos;
  while (true) {
    if (i >= s.size())
      return {fail(e, i, pending_arrays ? "array without element type" : "signature ends inside a type"), i};
    const char c = s[i];
    bool completed = false;  // a complete type ended at i
    if (c == 'a') {
      if (array_depth + 1 > max_array_depth) return {fail(errc::nesting_too_deep, i, "more than 32 nested arrays"), i};
      if (array_depth + struct_depth + 1 > max_total_depth)
        return {fail(errc::nesting_too_deep, i, "more than 64 nested containers"), i};
      ++array_depth;
      ++pending_arrays;
      ++i;
      if (i < s.size() && s[i] == '{') {
        // A dict entry: only as an array element.
        if (struct_depth + 1 > max_struct_depth) return {fail(errc::nesting_too_deep, i, "more than 32 nested structs"), i};
        if (depth >= max_total_depth) return {fail(errc::nesting_too_deep, i, "more than 64 nested containers"), i};
        stack[depth++] = {'{', 0, pending_arrays};
        pending_arrays = 0;
        ++struct_depth;
        ++i;
        if (i >= s.size()) return {fail(e, i, "signature ends inside a dict entry"), i};
        if (s[i] == '}') return {fail(e, i, "dict entry must have exactly two types"), i};
        if (!is_basic_type_code(s[i])) return {fail(e, i, "dict entry key must be a basic type"), i};
      }
      continue;
    }
    if (c == '(') {
      if (struct_depth + 1 > max_struct_depth) return {fail(errc::nesting_too_deep, i, "more than 32 nested structs"), i};
      if (array_depth + struct_depth + 1 > max_total_depth || depth >= max_total_depth)
        return {fail(errc::nesting_too_deep, i, "more than 64 nested containers"), i};
      stack[depth++] = {'(', 0, pending_arrays};
      pending_arrays = 0;
      ++struct_depth;
      ++i;
      continue;
    }
    // An 'a' right before a closing bracket lacks its element type, whatever else is wrong.
    if ((c == ')' || c == '}') && pending_arrays) return {fail(e, i, "array without element type"), i};
    if (c == ')') {
      if (depth == 0 || stack[depth - 1].open != '(') return {fail(e, i, "unexpected ')'"), i};
      if (stack[depth - 1].members == 0) return {fail(e, i, "empty struct"), i};
      --struct_depth;
      pending_arrays = stack[--depth].arrays_before;
      completed = true;
    } else if (c == '}') {
      if (depth == 0 || stack[depth - 1].open != '{') return {fail(e, i, "unexpected '}'"), i};
      if (stack[depth - 1].members != 2) return {fail(e, i, "dict entry must have exactly two types"), i};
      --struct_depth;
      pending_arrays = stack[--depth].arrays_before;
      // The dict entry closes the array that introduced it.
      completed = true;
    } else if (c == '{') {
      return {fail(e, i, "dict entry outside an array"), i};
    } else if (is_basic_type_code(c) || c == 'v') {
      completed = true;
    } else {
      return {fail(e, i, "unknown type code"), i};
    }
    if (completed) {
      // A complete type closes every array prefix waiting for it.
      array_depth -= pending_arrays;
      pending_arrays = 0;
      ++i;
      if (depth == 0) break;
      auto& top = stack[depth - 1];
      ++top.members;
      if (top.open == '{' && top.members > 2) return {fail(e, i - 1, "dict entry must have exactly two types"), i};
    }
  }
  (void)base_array_depth;
  (void)base_struct_depth;
  return {{}, i};
}

// The end of the complete type at `pos` of an already validated signature; also accepts a
// dict entry "{..}" on its own (an array's element type taken out of its array).
constexpr std::size_t complete_type_end(std::string_view s, std::size_t pos) noexcept {
  if (pos < s.size() && s[pos] == '{') {
    int depth = 0;
    for (std::size_t i = pos; i < s.size(); ++i) {
      if (s[i] == '(' || s[i] == '{') ++depth;
      if ((s[i] == ')' || s[i] == '}') && --depth == 0) return i + 1;
    }
    return s.size();
  }
  return scan_complete_type(s, pos).end;
}

// A whole signature: zero or more complete types, at most 255 bytes.
constexpr validation check_signature(std::string_view s) noexcept {
  if (s.size() > max_signature_length) return fail(errc::invalid_signature, max_signature_length, "signature longer than 255 bytes");
  std::size_t i = 0;
  while (i < s.size()) {
    auto scan = scan_complete_type(s, i);
    if (!scan.status) return scan.status;
    i = scan.end;
  }
  return {};
}

// Exactly one complete type (what a variant carries, what an array holds).
constexpr validation check_single_type(std::string_view s) noexcept {
  if (auto v = check_signature(s); !v) return v;
  if (s.empty()) return fail(errc::invalid_signature, 0, "empty signature where one type is required");
  if (scan_complete_type(s, 0).end != s.size())
    return fail(errc::invalid_signature, scan_complete_type(s, 0).end, "more than one complete type");
  return {};
}

}  // namespace kbus::detail
