// Arrays and dicts read in place: a view of an array in a message, decoded element by element
// as it is iterated, with no allocation. Like std::string_view it points into the message's
// buffer and is valid while the message lives.
//
//   auto [props] = signal.read<kbus::dict_view<std::string_view, kbus::variant>>().value();
//   for (const auto& [name, value] : props) ...
//
// Reading the message checks every element (a std::variant element whose wire type none of
// its alternatives has fails the read, as it does for std::vector); iterating cannot fail.
#pragma once

#include "kbus/types.hpp"

#include <cstddef>
#include <iterator>
#include <span>
#include <utility>

namespace kbus {

namespace detail {

// Whether decoding a T from bytes that already passed validation always succeeds. Views of
// such elements are read without decoding them; the others are decoded once when read.
template <class T>
struct infallible_decode : std::bool_constant<is_fixed_int<T> || std::is_same_v<T, bool> || std::is_same_v<T, double>> {};
template <>
struct infallible_decode<std::string_view> : std::true_type {};
template <>
struct infallible_decode<std::string> : std::true_type {};
template <>
struct infallible_decode<object_path> : std::true_type {};
template <>
struct infallible_decode<kbus::signature> : std::true_type {};
template <>
struct infallible_decode<std::span<const std::uint8_t>> : std::true_type {};
template <class T, class A>
struct infallible_decode<std::vector<T, A>> : infallible_decode<T> {};
template <class... Ts>
struct infallible_decode<std::tuple<Ts...>> : std::bool_constant<(infallible_decode<Ts>::value && ...)> {};
template <class A, class B>
struct infallible_decode<std::pair<A, B>> : std::bool_constant<infallible_decode<A>::value && infallible_decode<B>::value> {};

// A dict entry as an array element: aligned to 8, key then value.
template <class K, class V>
struct dict_entry_codec {
  static constexpr auto signature = sig_string<1>{"{"} + codec<K>::signature + codec<V>::signature + sig_string<1>{"}"};
  static void encode(writer& w, const std::pair<K, V>& e) {
    w.align(8);
    codec<K>::encode(w, e.first);
    codec<V>::encode(w, e.second);
  }
  static bool decode(reader& r, std::pair<K, V>& e) {
    if (!r.enter('{')) return false;
    if (!r.align(8) || !codec<K>::decode(r, e.first) || !codec<V>::decode(r, e.second)) return false;
    r.leave('{');
    return true;
  }
};

// Reads one element of a view as iterating it will, without keeping it: whether the bytes
// decode as T. Decoding into a T answers for any T; a dict entry whose value is a
// std::variant is checked without building the pair and the variant (the entry's key and the
// matching alternative are decoded into locals).
template <class T, class Element>
struct element_check {
  static bool check(reader& r) {
    T e{};
    return Element::decode(r, e);
  }
};
template <class V>
struct value_check {
  static bool check(reader& r) {
    V v{};
    return codec<V>::decode(r, v);
  }
};
template <class... Ts>
struct value_check<std::variant<Ts...>> {
  static bool check(reader& r) {
    std::string_view sig;
    if (!r.get_signature(sig) || !r.enter('v')) return false;
    bool ok = false;
    if (!(try_alternative<Ts>(r, sig, ok) || ...)) {
      return codec<std::variant<Ts...>>::fail_no_alternative(r, sig);
    }
    if (ok) r.leave('v');
    return ok;
  }
  template <class A>
  static bool try_alternative(reader& r, std::string_view sig, bool& ok) {
    if (!same_signature(sig, codec<A>::signature)) return false;
    A a{};
    ok = codec<A>::decode(r, a);
    return true;
  }
};
template <class K, class V>
struct element_check<std::pair<K, V>, dict_entry_codec<K, V>> {
  static bool check(reader& r) {
    K k{};
    if (!r.enter('{')) return false;
    if (!r.align(8) || !codec<K>::decode(r, k) || !value_check<V>::check(r)) return false;
    r.leave('{');
    return true;
  }
};

// Where a view's elements are: the message's bytes and how to read them.
struct view_source {
  const std::byte* data = nullptr;  // the message start (the alignment base)
  std::size_t begin = 0;            // the first element
  std::size_t end = 0;              // one past the last
  const unix_fd* fd_table = nullptr;
  std::uint32_t unix_fd_count = 0;
  bool big_endian = false;

  reader reader_at(std::size_t pos) const noexcept {
    reader r(std::span<const std::byte>(data, end), pos, end, big_endian, unix_fd_count);
    r.fd_table = fd_table;
    r.trusted = true;  // checked when the view was read
    return r;
  }
};

template <class T, class Element>
class array_view_base {
 public:
  using value_type = T;

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    iterator() = default;
    const T& operator*() const noexcept { return value_; }
    const T* operator->() const noexcept { return &value_; }
    iterator& operator++() {
      load(next_);
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      load(next_);
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.at_ == b.at_; }

   private:
    friend class array_view_base;
    iterator(const view_source& source, std::size_t at) : reader_(source.reader_at(at)), end_(source.end) { load(at); }
    void load(std::size_t at) {
      at_ = at;
      if (at_ >= end_) return;
      value_ = T{};  // a codec may add to what it decodes into (a user's container, say)
      Element::decode(reader_, value_);  // cannot fail: the view was checked when it was read
      next_ = reader_.position();
    }
    reader reader_{std::span<const std::byte>(), 0, 0, false, 0};  // at the next element
    std::size_t end_ = 0;
    std::size_t at_ = 0;
    std::size_t next_ = 0;
    T value_{};
  };
  using const_iterator = iterator;

  array_view_base() = default;

  iterator begin() const { return iterator(source_, source_.begin); }
  iterator end() const { return iterator(source_, source_.end); }
  bool empty() const noexcept { return source_.begin == source_.end; }
  // The array's bytes on the wire (without the length and the padding before the elements).
  std::size_t size_bytes() const noexcept { return source_.end - source_.begin; }

  friend bool operator==(const array_view_base& a, const array_view_base& b) {
    auto i = a.begin(), j = b.begin();
    const auto ie = a.end(), je = b.end();
    for (; i != ie && j != je; ++i, ++j)
      if (!(*i == *j)) return false;
    return i == ie && j == je;
  }

  static void encode(writer& w, const array_view_base& v) {
    auto token = w.begin_array(alignment_of_code(Element::signature.chars[0]));
    for (const auto& e : v) Element::encode(w, e);
    end_array_for_encoding(w, token);
  }

  static bool decode(reader& r, array_view_base& v) {
    std::size_t end;
    if (!r.begin_array(alignment_of_code(Element::signature.chars[0]), end)) return false;
    const std::size_t begin = r.position();
    if (r.trusted && infallible_decode<T>::value) {
      r.skip_bytes(end - begin);
    } else {
      // Unchecked bytes, or elements that may not have the C++ type: decode each once now,
      // so iterating never meets an error.
      while (r.position() < end)
        if (!element_check<T, Element>::check(r)) return false;
    }
    v.source_ = {r.data(), begin, end, r.fd_table, r.unix_fd_count(), r.big_endian()};
    return r.end_array(end);
  }

 private:
  view_source source_;
};

}  // namespace detail

// An array of T ("aT"), read in place.
template <class T>
class array_view : public detail::array_view_base<T, codec<T>> {};

// A dict ("a{KV}"), read in place as (key, value) pairs in wire order. Keys are not made
// unique: a later entry with an equal key follows the earlier one.
template <class K, class V>
class dict_view : public detail::array_view_base<std::pair<K, V>, detail::dict_entry_codec<K, V>> {
  static_assert(detail::is_basic_type<K>(), "D-Bus dict keys must be of a basic type");
};

template <class T>
struct codec<array_view<T>> {
  using base = detail::array_view_base<T, codec<T>>;
  static constexpr auto signature = detail::sig_string<1>{"a"} + codec<T>::signature;
  static void encode(detail::writer& w, const array_view<T>& v) { base::encode(w, v); }
  static bool decode(detail::reader& r, array_view<T>& v) { return base::decode(r, v); }
};

template <class K, class V>
struct codec<dict_view<K, V>> {
  using base = detail::array_view_base<std::pair<K, V>, detail::dict_entry_codec<K, V>>;
  static constexpr auto signature = detail::sig_string<1>{"a"} + detail::dict_entry_codec<K, V>::signature;
  static void encode(detail::writer& w, const dict_view<K, V>& v) { base::encode(w, v); }
  static bool decode(detail::reader& r, dict_view<K, V>& v) { return base::decode(r, v); }
};

namespace detail {
template <class T>
struct infallible_decode<array_view<T>> : infallible_decode<T> {};
template <class K, class V>
struct infallible_decode<dict_view<K, V>> : std::bool_constant<infallible_decode<K>::value && infallible_decode<V>::value> {};
}  // namespace detail

}  // namespace kbus
