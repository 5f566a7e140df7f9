// kbus::value: a D-Bus value whose type is known only at run time (the command line,
// proxies made from live introspection, JSON). Typed code uses C++ types directly (types.hpp).
#pragma once

#include "kbus/error.hpp"
#include "kbus/names.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kbus {

class value {
 public:
  value() = default;  // no value (type ""), e.g. the state after a move
  value(const value&) = default;
  value(value&&) noexcept = default;
  value& operator=(const value&) = default;
  value& operator=(value&&) noexcept = default;
  // Frees nested containers without recursion: a value built by hand may nest far deeper
  // than any message allows, and dropping it must not exhaust the stack.
  ~value();

  static value byte(std::uint8_t v) { return scalar("y", v); }
  static value boolean(bool v) { return scalar("b", v ? 1 : 0); }
  static value int16(std::int16_t v) { return scalar("n", static_cast<std::uint64_t>(static_cast<std::int64_t>(v))); }
  static value uint16(std::uint16_t v) { return scalar("q", v); }
  static value int32(std::int32_t v) { return scalar("i", static_cast<std::uint64_t>(static_cast<std::int64_t>(v))); }
  static value uint32(std::uint32_t v) { return scalar("u", v); }
  static value int64(std::int64_t v) { return scalar("x", static_cast<std::uint64_t>(v)); }
  static value uint64(std::uint64_t v) { return scalar("t", v); }
  static value float64(double v);
  // Index into the message's fd list (what travels on the wire).
  static value unix_fd_index(std::uint32_t v) { return scalar("h", v); }
  static value string(std::string_view s) { return text("s", s); }
  static value path(const object_path& p) { return text("o", p.view()); }
  static value sig(const kbus::signature& g) { return text("g", g.view()); }

  // Containers do not validate their elements here; encoding checks every value against
  // the signature and reports a mismatch. The element type of a dict is "{KV}".
  static value array(std::string_view element_type, std::vector<value> elements);
  static value structure(std::vector<value> fields);
  static value dict_entry(value key, value val);
  static value variant(value contained);

  // The single complete type of this value ("" when empty).
  std::string_view type() const noexcept { return type_; }
  char code() const noexcept { return type_.empty() ? '\0' : type_[0]; }
  bool empty() const noexcept { return type_.empty(); }

  // Numbers: as_uint for y q u t h and b, as_int for n i x, as_double for d.
  std::uint64_t as_uint() const noexcept { return bits_; }
  std::int64_t as_int() const noexcept { return static_cast<std::int64_t>(bits_); }
  double as_double() const noexcept;
  bool as_bool() const noexcept { return bits_ != 0; }
  // s o g
  const std::string& as_string() const noexcept { return text_; }
  // Array elements, struct fields, dict entry {key, value}, or the variant's one value.
  const std::vector<value>& items() const noexcept { return items_; }
  std::vector<value>& items() noexcept { return items_; }
  // The element type of an array ("" for other kinds).
  std::string_view element_type() const noexcept {
    return code() == 'a' ? std::string_view(type_).substr(1) : std::string_view{};
  }

  friend bool operator==(const value&, const value&) = default;

 private:
  static value scalar(const char* type, std::uint64_t bits) {
    value v;
    v.type_ = type;
    v.bits_ = bits;
    return v;
  }
  static value text(const char* type, std::string_view s) {
    value v;
    v.type_ = type;
    v.text_.assign(s);
    return v;
  }

  std::string type_;
  std::uint64_t bits_ = 0;  // integers, booleans, fd indexes, doubles (bit pattern)
  std::string text_;
  std::vector<value> items_;
};

}  // namespace kbus
