// Name types of D-Bus: each validates on construction, so a value of the type is always valid.
//
//   auto p = kbus::object_path::make(text);       // result<object_path>, never throws
//   kbus::object_path q{"/org/example"};          // throws kbus::exception if invalid
//   using namespace kbus::literals;
//   auto r = "/org/example"_path;                 // checked at compile time
#pragma once

#include "kbus/detail/validate.hpp"
#include "kbus/error.hpp"

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kbus {

namespace detail {

// A compile-time string literal, for literal operators that validate at compile time.
template <std::size_t N>
struct fixed_string {
  char data[N]{};
  constexpr fixed_string(const char (&s)[N]) noexcept {
    for (std::size_t i = 0; i < N; ++i) data[i] = s[i];
  }
  constexpr std::string_view view() const noexcept { return {data, N - 1}; }
};

struct object_path_traits {
  static constexpr validation check(std::string_view s) noexcept { return check_object_path(s); }
  static constexpr const char* what = "object path";
};
struct bus_name_traits {
  static constexpr validation check(std::string_view s) noexcept { return check_bus_name(s); }
  static constexpr const char* what = "bus name";
};
struct interface_name_traits {
  static constexpr validation check(std::string_view s) noexcept { return check_interface_name(s); }
  static constexpr const char* what = "interface name";
};
struct member_name_traits {
  static constexpr validation check(std::string_view s) noexcept { return check_member_name(s); }
  static constexpr const char* what = "member name";
};
struct error_name_traits {
  static constexpr validation check(std::string_view s) noexcept { return check_error_name(s); }
  static constexpr const char* what = "error name";
};
struct signature_traits {
  static constexpr validation check(std::string_view s) noexcept { return check_signature(s); }
  static constexpr const char* what = "signature";
};

// Builds the sentence of an error for `what` = `text`, rejected as `v` says.
error name_error(const char* what, std::string_view text, const validation& v);

}  // namespace detail

// A validated string of one D-Bus name kind. Cheap to copy for short names (SSO).
template <class Traits>
class basic_name {
 public:
  // The empty signature is valid; the other kinds have no valid empty value, but a
  // default-constructed name is allowed as "not set" (check with empty()).
  basic_name() = default;

  // Throws kbus::exception when `s` is invalid.
  explicit basic_name(std::string_view s) : value_(s) {
    if (auto v = Traits::check(s); !v) throw exception(detail::name_error(Traits::what, s, v));
  }

  // Never throws: the name, or an error that says what is wrong and where.
  static result<basic_name> make(std::string_view s) {
    if (auto v = Traits::check(s); !v) return detail::name_error(Traits::what, s, v);
    return basic_name(valid_tag{}, s);
  }

  // For text already validated (by the parser); no check.
  static basic_name unchecked(std::string_view s) { return basic_name(valid_tag{}, s); }

  static constexpr bool is_valid(std::string_view s) noexcept { return static_cast<bool>(Traits::check(s)); }

  const std::string& str() const noexcept { return value_; }
  std::string_view view() const noexcept { return value_; }
  operator std::string_view() const noexcept { return value_; }
  const char* c_str() const noexcept { return value_.c_str(); }
  bool empty() const noexcept { return value_.empty(); }
  std::size_t size() const noexcept { return value_.size(); }

  friend bool operator==(const basic_name&, const basic_name&) = default;
  // Not defaulted: libc++ before 16 gives std::string no <=>, so a defaulted one is deleted there.
  friend std::strong_ordering operator<=>(const basic_name& a, const basic_name& b) noexcept {
    return a.value_.compare(b.value_) <=> 0;
  }

 private:
  struct valid_tag {};
  // The string made once at its size (not default-made, then assigned).
  basic_name(valid_tag, std::string_view s) : value_(s) {}

  std::string value_;
};

using object_path = basic_name<detail::object_path_traits>;
using bus_name = basic_name<detail::bus_name_traits>;          // unique or well-known
using interface_name = basic_name<detail::interface_name_traits>;
using member_name = basic_name<detail::member_name_traits>;
using error_name = basic_name<detail::error_name_traits>;
using signature = basic_name<detail::signature_traits>;

inline bool is_unique_name(const bus_name& n) noexcept { return !n.empty() && n.view()[0] == ':'; }

namespace literals {

// The literal operators fail to compile when the text is invalid.
template <detail::fixed_string S>
object_path operator""_path() {
  static_assert(detail::check_object_path(S.view()), "invalid D-Bus object path");
  return object_path::unchecked(S.view());
}
template <detail::fixed_string S>
bus_name operator""_bus() {
  static_assert(detail::check_bus_name(S.view()), "invalid D-Bus bus name");
  return bus_name::unchecked(S.view());
}
template <detail::fixed_string S>
interface_name operator""_iface() {
  static_assert(detail::check_interface_name(S.view()), "invalid D-Bus interface name");
  return interface_name::unchecked(S.view());
}
template <detail::fixed_string S>
member_name operator""_member() {
  static_assert(detail::check_member_name(S.view()), "invalid D-Bus member name");
  return member_name::unchecked(S.view());
}
template <detail::fixed_string S>
error_name operator""_error() {
  static_assert(detail::check_error_name(S.view()), "invalid D-Bus error name");
  return error_name::unchecked(S.view());
}
template <detail::fixed_string S>
signature operator""_sig() {
  static_assert(detail::check_signature(S.view()), "invalid D-Bus signature");
  return signature::unchecked(S.view());
}

}  // namespace literals
}  // namespace kbus

template <class Traits>
struct std::hash<kbus::basic_name<Traits>> {
  std::size_t operator()(const kbus::basic_name<Traits>& n) const noexcept {
    return std::hash<std::string_view>{}(n.view());
  }
};
