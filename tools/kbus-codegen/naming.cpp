#include "naming.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace kbus::codegen {
namespace {

constexpr std::string_view kReserved[] = {
    // keywords and alternative tokens (C++20)
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
    "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
    "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
    "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
    "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
    "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
    "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    // macros of common headers and of GNU mode, and contextual names best left alone
    "linux", "unix", "major", "minor", "makedev", "errno", "assert"};

bool is_reserved(std::string_view s) {
  static constexpr std::array<std::string_view, 8> more = {"stdin", "stdout", "stderr", "final", "override",
                                                           "import", "module", "i386"};
  return std::find(std::begin(kReserved), std::end(kReserved), s) != std::end(kReserved) ||
         std::find(more.begin(), more.end(), s) != more.end();
}

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_upper(c) || is_lower(c) || is_digit(c) || c == '_'; }

}  // namespace

std::string cpp_identifier(std::string_view in, std::string_view fallback) {
  std::string s;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (is_upper(c)) {
      if (i > 0) {
        const char prev = in[i - 1];
        const bool after_lower = is_lower(prev) || is_digit(prev);
        // the last of an upper-case run of two or more, before a lower-case letter
        const bool ends_run = is_upper(prev) && i + 1 < in.size() && is_lower(in[i + 1]) && i >= 2 &&
                              is_upper(in[i - 2]);
        if (after_lower || ends_run) s += '_';
      }
      s += static_cast<char>(c - 'A' + 'a');
    } else if (is_ident_char(c)) {
      s += c;
    } else {
      s += '_';
    }
  }
  std::string out;
  for (char c : s)
    if (c != '_' || (!out.empty() && out.back() != '_')) out += c;
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty()) out = std::string(fallback);
  if (is_digit(out[0])) out = "n" + out;
  if (is_reserved(out)) out += '_';
  return out;
}

bool usable_identifier(std::string_view s) {
  if (s.empty() || is_digit(s[0]) || is_reserved(s)) return false;
  if (s[0] == '_' || s.find("__") != std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), is_ident_char);
}

std::string scope_names::claim(const std::string& base,
                               const std::function<std::vector<std::string>(const std::string&)>& derive) {
  for (int n = 1;; ++n) {
    // "default_" + 2 is "default_2": never a reserved "__".
    std::string candidate = n == 1 ? base : base + (base.back() == '_' ? "" : "_") + std::to_string(n);
    std::vector<std::string> all{candidate};
    if (derive) {
      auto d = derive(candidate);
      all.insert(all.end(), d.begin(), d.end());
    }
    if (std::none_of(all.begin(), all.end(), [&](const std::string& x) { return taken(x); })) {
      taken_.insert(all.begin(), all.end());
      return candidate;
    }
  }
}

}  // namespace kbus::codegen
