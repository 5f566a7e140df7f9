// C++ types and their D-Bus signatures, computed at compile time, and the typed codecs that
// marshal them.
//
//   static_assert(kbus::signature_of<std::map<std::string, kbus::variant>>() == "a{sv}");
//
// The extension point for your own types is kbus::codec<T>. For an aggregate struct, derive
// from kbus::aggregate_codec (its fields, in order, become a D-Bus struct):
//
//   struct point { std::int32_t x; std::int32_t y; std::string label; };
//   template <> struct kbus::codec<point> : kbus::aggregate_codec<point> {};   // "(iis)"
//
// A full specialisation provides: `static constexpr auto signature` (a detail::sig_string),
// `static void encode(detail::writer&, const T&)` and `static bool decode(detail::reader&, T&)`.
#pragma once

#include "kbus/detail/wire_io.hpp"
#include "kbus/names.hpp"
#include "kbus/unix_fd.hpp"
#include "kbus/value.hpp"

#include <boost/pfr/core.hpp>
#include <boost/pfr/tuple_size.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace kbus {

namespace detail {

// A signature built at compile time.
template <std::size_t N>
struct sig_string {
  char chars[N + 1]{};
  constexpr sig_string() = default;
  constexpr sig_string(const char (&s)[N + 1]) noexcept {
    for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
  }
  static constexpr std::size_t size() noexcept { return N; }
  constexpr std::string_view view() const noexcept { return {chars, N}; }
  constexpr operator std::string_view() const noexcept { return view(); }
};
template <std::size_t N>
sig_string(const char (&)[N]) -> sig_string<N - 1>;

template <std::size_t A, std::size_t B>
constexpr sig_string<A + B> operator+(const sig_string<A>& a, const sig_string<B>& b) noexcept {
  sig_string<A + B> r;
  for (std::size_t i = 0; i < A; ++i) r.chars[i] = a.chars[i];
  for (std::size_t i = 0; i < B; ++i) r.chars[A + i] = b.chars[i];
  return r;
}

template <class T>
using plain = std::remove_cvref_t<T>;

}  // namespace detail

// The extension point: specialise for your types (see the top of this file).
template <class T, class Enable = void>
struct codec;

namespace detail {
// Whether a type has a codec.
template <class T, class = void>
struct has_codec : std::false_type {};
template <class T>
struct has_codec<T, std::void_t<decltype(codec<T>::signature)>> : std::true_type {};
}  // namespace detail

// A value of any D-Bus type, carried as the D-Bus type VARIANT ('v').
class variant {
 public:
  variant() = default;
  explicit variant(value v) : value_(std::move(v)) {}
  // Any C++ type with a codec.
  template <class T>
    requires(!std::is_same_v<detail::plain<T>, variant> && !std::is_same_v<detail::plain<T>, value> &&
             detail::has_codec<detail::plain<T>>::value)
  variant(const T& v);

  const value& get() const noexcept { return value_; }
  value& get() noexcept { return value_; }
  std::string_view type() const noexcept { return value_.type(); }

  // The contained value as T; an error when its signature is not T's.
  template <class T>
  result<T> as() const;

  friend bool operator==(const variant&, const variant&) = default;

 private:
  value value_;
};

namespace detail {

// The dynamic codec (src/wire/value.cpp): used for kbus::value, kbus::variant, and validation.
bool encode_value(writer& w, const value& v, error& err);
bool decode_value(reader& r, std::string_view type, value& out);
// A sequence of values against a whole signature (a message body).
bool encode_values(writer& w, std::string_view sig, const std::vector<value>& values, error& err);
bool decode_values(reader& r, std::string_view sig, std::vector<value>& out);

// Strings a program hands to the encoder must be what the spec allows (valid UTF-8, no NUL):
// throws kbus::exception otherwise, as sd-bus refuses them on append.
void check_text_for_encoding(std::string_view s);
// The same, with plain ASCII (most strings) checked inline.
KBUS_HOT_INLINE void check_string_for_encoding(std::string_view s) {
  if (!is_plain_ascii(s.data(), s.size())) check_text_for_encoding(s);
}
// Ends an array the program built; throws kbus::exception (errc::array_too_long) when it
// exceeds the spec's 64 MiB, which every receiver must refuse.
void end_array_for_encoding(writer& w, writer::array_token token);


template <class T>
constexpr bool is_basic_type() {
  constexpr auto s = codec<T>::signature.view();
  return s.size() == 1 && is_basic_type_code(s[0]);
}

template <char C>
struct basic_codec_base {
  static constexpr sig_string<1> signature{{C, '\0'}};
};

template <class T>
constexpr bool is_fixed_int = std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                              (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8) &&
                              !(sizeof(T) == 1 && std::is_signed_v<T>);

template <class T>
constexpr char int_code() {
  if constexpr (sizeof(T) == 1) return 'y';
  else if constexpr (sizeof(T) == 2) return std::is_signed_v<T> ? 'n' : 'q';
  else if constexpr (sizeof(T) == 4) return std::is_signed_v<T> ? 'i' : 'u';
  else return std::is_signed_v<T> ? 'x' : 't';
}

}  // namespace detail

// The signature of one or more C++ types, at compile time.
template <class... Ts>
constexpr auto signature_of() noexcept {
  if constexpr (sizeof...(Ts) == 0) return detail::sig_string<0>{};
  else return (codec<detail::plain<Ts>>::signature + ...);
}

// ---- basic types ----

template <class T>
struct codec<T, std::enable_if_t<detail::is_fixed_int<T>>> : detail::basic_codec_base<detail::int_code<T>()> {
  static void encode(detail::writer& w, T v) {
    if constexpr (sizeof(T) == 1) w.put_byte(static_cast<std::uint8_t>(v));
    else w.put(v);
  }
  KBUS_HOT_INLINE static bool decode(detail::reader& r, T& v) { return r.get(v); }
};

template <>
struct codec<bool> : detail::basic_codec_base<'b'> {
  static void encode(detail::writer& w, bool v) { w.put(std::uint32_t{v ? 1u : 0u}); }
  static bool decode(detail::reader& r, bool& v) { return r.get_bool(v); }
};

template <>
struct codec<double> : detail::basic_codec_base<'d'> {
  static void encode(detail::writer& w, double v) { w.put(v); }
  static bool decode(detail::reader& r, double& v) { return r.get(v); }
};

template <>
struct codec<std::string> : detail::basic_codec_base<'s'> {
  static void encode(detail::writer& w, std::string_view v) {
    detail::check_string_for_encoding(v);
    w.put_string(v);
  }
  static bool decode(detail::reader& r, std::string& v) {
    std::string_view s;
    if (!r.get_string(s)) return false;
    v.assign(s);
    return true;
  }
};

// Decoding gives a view into the message buffer: no copy, valid while the message lives.
template <>
struct codec<std::string_view> : detail::basic_codec_base<'s'> {
  static void encode(detail::writer& w, std::string_view v) {
    detail::check_string_for_encoding(v);
    w.put_string(v);
  }
  KBUS_HOT_INLINE static bool decode(detail::reader& r, std::string_view& v) { return r.get_string(v); }
};

template <>
struct codec<const char*> : detail::basic_codec_base<'s'> {
  static void encode(detail::writer& w, const char* v) { codec<std::string_view>::encode(w, v); }
};
template <std::size_t N>
struct codec<char[N]> : detail::basic_codec_base<'s'> {
  static void encode(detail::writer& w, const char (&v)[N]) { codec<std::string_view>::encode(w, std::string_view(v)); }
};

template <>
struct codec<object_path> : detail::basic_codec_base<'o'> {
  static void encode(detail::writer& w, const object_path& v) { w.put_string(v.view()); }
  static bool decode(detail::reader& r, object_path& v) {
    std::string_view s;
    if (!r.get_string(s, 'o')) return false;
    v = object_path::unchecked(s);
    return true;
  }
};

template <>
struct codec<kbus::signature> : detail::basic_codec_base<'g'> {
  static void encode(detail::writer& w, const kbus::signature& v) { w.put_signature(v.view()); }
  static bool decode(detail::reader& r, kbus::signature& v) {
    std::string_view s;
    if (!r.get_signature(s)) return false;
    v = kbus::signature::unchecked(s);
    return true;
  }
};

// Bus, interface, member and error names travel as strings and are checked when read.
template <class Traits>
  requires(!std::is_same_v<Traits, detail::object_path_traits> && !std::is_same_v<Traits, detail::signature_traits>)
struct codec<basic_name<Traits>> : detail::basic_codec_base<'s'> {
  static void encode(detail::writer& w, const basic_name<Traits>& v) { w.put_string(v.view()); }
  static bool decode(detail::reader& r, basic_name<Traits>& v) {
    const std::size_t at = r.position();
    std::string_view s;
    if (!r.get_string(s)) return false;
    if (auto ok = Traits::check(s); !ok)
      return r.fail_at(ok.code, at, std::string(Traits::what) + ": " + ok.reason);
    v = basic_name<Traits>::unchecked(s);
    return true;
  }
};

template <>
struct codec<unix_fd> : detail::basic_codec_base<'h'> {
  static void encode(detail::writer& w, const unix_fd& fd);
  static bool decode(detail::reader& r, unix_fd& fd);
};

// ---- containers ----

template <class T, class A>
struct codec<std::vector<T, A>> {
  static constexpr auto signature = detail::sig_string<1>{"a"} + codec<T>::signature;
  static constexpr std::size_t element_alignment = detail::alignment_of_code(codec<T>::signature.chars[0]);

  static void encode(detail::writer& w, const std::vector<T, A>& v) {
    auto token = w.begin_array(element_alignment);
    if constexpr (sizeof(T) == 1 && detail::is_fixed_int<T>) {
      w.append(v.data(), v.size());
    } else if constexpr (detail::is_fixed_int<T> || std::is_same_v<T, double>) {
      if (!w.swaps()) {
        w.append(v.data(), v.size() * sizeof(T));  // same byte order: one copy
      } else {
        for (const T& e : v) codec<T>::encode(w, e);
      }
    } else {
      for (const auto& e : v) codec<T>::encode(w, e);
    }
    detail::end_array_for_encoding(w, token);
  }

  static bool decode(detail::reader& r, std::vector<T, A>& v) {
    std::size_t end;
    if (!r.begin_array(element_alignment, end)) return false;
    v.clear();
    if constexpr (detail::is_fixed_int<T> || std::is_same_v<T, double>) {
      const std::size_t bytes = end - r.position();
      if (bytes % sizeof(T) != 0) return r.fail(errc::array_length_mismatch, "array length is not a multiple of its element size");
      v.resize(bytes / sizeof(T));
      if (sizeof(T) == 1 || !r.swaps()) {
        // Elements are contiguous and aligned: one copy (booleans are not fixed ints).
        if (bytes) std::memcpy(v.data(), r.data() + r.position(), bytes);
        r.skip_bytes(bytes);
      } else {
        for (auto& e : v)
          if (!codec<T>::decode(r, e)) return false;
      }
    } else {
      // Every element takes at least its alignment in bytes: a bound for the count that a
      // hostile length cannot inflate beyond the bytes actually there.
      v.reserve((end - r.position()) / std::max<std::size_t>(element_alignment, 4));
      while (r.position() < end) {
        T e{};
        if (!codec<T>::decode(r, e)) return false;
        v.push_back(std::move(e));
      }
    }
    return r.end_array(end);
  }
};

// A byte array as a view: encoding copies it once, decoding points into the message buffer
// (valid while the message lives), with no copy at all.
template <>
struct codec<std::span<const std::uint8_t>> {
  static constexpr detail::sig_string<2> signature{"ay"};
  static void encode(detail::writer& w, std::span<const std::uint8_t> v) {
    auto token = w.begin_array(1);
    w.append(v.data(), v.size());
    detail::end_array_for_encoding(w, token);
  }
  static bool decode(detail::reader& r, std::span<const std::uint8_t>& v) {
    std::size_t end;
    if (!r.begin_array(1, end)) return false;
    v = {reinterpret_cast<const std::uint8_t*>(r.data() + r.position()), end - r.position()};
    r.skip_bytes(end - r.position());
    return r.end_array(end);
  }
};

namespace detail {
// An array read element by element into a container that appends (std::deque, std::list) or
// inserts (std::set: equal elements on the wire collapse into one).
template <class C, class T>
struct sequence_codec {
  static constexpr auto signature = sig_string<1>{"a"} + codec<T>::signature;
  static constexpr std::size_t element_alignment = alignment_of_code(codec<T>::signature.chars[0]);
  static void encode(writer& w, const C& c) {
    auto token = w.begin_array(element_alignment);
    for (const auto& e : c) codec<T>::encode(w, e);
    end_array_for_encoding(w, token);
  }
  static bool decode(reader& r, C& c) {
    std::size_t end;
    if (!r.begin_array(element_alignment, end)) return false;
    c.clear();
    while (r.position() < end) {
      T e{};
      if (!codec<T>::decode(r, e)) return false;
      if constexpr (requires { c.push_back(std::move(e)); }) c.push_back(std::move(e));
      else c.insert(std::move(e));
    }
    return r.end_array(end);
  }
};
}  // namespace detail

template <class T, class A>
struct codec<std::deque<T, A>> : detail::sequence_codec<std::deque<T, A>, T> {};
template <class T, class A>
struct codec<std::list<T, A>> : detail::sequence_codec<std::list<T, A>, T> {};
template <class T, class C, class A>
struct codec<std::set<T, C, A>> : detail::sequence_codec<std::set<T, C, A>, T> {};

template <class T, std::size_t N>
struct codec<std::array<T, N>> {
  static constexpr auto signature = detail::sig_string<1>{"a"} + codec<T>::signature;
  static constexpr std::size_t element_alignment = detail::alignment_of_code(codec<T>::signature.chars[0]);
  static void encode(detail::writer& w, const std::array<T, N>& v) {
    auto token = w.begin_array(element_alignment);
    for (const auto& e : v) codec<T>::encode(w, e);
    detail::end_array_for_encoding(w, token);
  }
  static bool decode(detail::reader& r, std::array<T, N>& v) {
    std::size_t end;
    if (!r.begin_array(element_alignment, end)) return false;
    std::size_t n = 0;
    while (r.position() < end) {
      if (n == N) return r.fail(errc::type_mismatch, "array has more than " + std::to_string(N) + " elements");
      if (!codec<T>::decode(r, v[n++])) return false;
    }
    if (n != N) return r.fail(errc::type_mismatch, "array has " + std::to_string(n) + " elements, expected " + std::to_string(N));
    return r.end_array(end);
  }
};

namespace detail {
template <class Map, class K, class V>
struct map_codec {
  static_assert(is_basic_type<K>(), "D-Bus dict keys must be of a basic type");
  static constexpr auto signature =
      sig_string<2>{"a{"} + codec<K>::signature + codec<V>::signature + sig_string<1>{"}"};
  static void encode(writer& w, const Map& m) {
    auto token = w.begin_array(8);
    for (const auto& [k, v] : m) {
      w.align(8);
      codec<K>::encode(w, k);
      codec<V>::encode(w, v);
    }
    detail::end_array_for_encoding(w, token);
  }
  static bool decode(reader& r, Map& m) {
    std::size_t end;
    if (!r.begin_array(8, end)) return false;
    m.clear();
    while (r.position() < end) {
      if (!r.align(8)) return false;
      K k{};
      V v{};
      if (!codec<K>::decode(r, k) || !codec<V>::decode(r, v)) return false;
      insert(m, std::move(k), std::move(v));
    }
    return r.end_array(end);
  }

 private:
  // Spec: later entries with an equal key replace earlier ones (as libdbus/GLib do).
  // Senders mostly write keys in order (every ordered map does): the hint at the end makes
  // that one comparison per entry. try_emplace leaves `v` alone when the key is there.
  static void insert(Map& m, K&& k, V&& v) {
    const std::size_t before = m.size();
    auto it = m.try_emplace(m.end(), std::move(k), std::move(v));
    if (m.size() == before) it->second = std::move(v);
  }
};

template <class Tuple, std::size_t... I>
void encode_fields(writer& w, const Tuple& t, std::index_sequence<I...>) {
  (codec<plain<std::tuple_element_t<I, Tuple>>>::encode(w, std::get<I>(t)), ...);
}
template <class Tuple, std::size_t... I>
bool decode_fields(reader& r, Tuple& t, std::index_sequence<I...>) {
  return (codec<plain<std::tuple_element_t<I, Tuple>>>::decode(r, std::get<I>(t)) && ...);
}
}  // namespace detail

template <class K, class V, class C, class A>
struct codec<std::map<K, V, C, A>> : detail::map_codec<std::map<K, V, C, A>, K, V> {};
template <class K, class V, class H, class E, class A>
struct codec<std::unordered_map<K, V, H, E, A>> : detail::map_codec<std::unordered_map<K, V, H, E, A>, K, V> {};

template <class... Ts>
struct codec<std::tuple<Ts...>> {
  static_assert(sizeof...(Ts) > 0, "D-Bus has no empty struct");
  static constexpr auto signature = detail::sig_string<1>{"("} + signature_of<Ts...>() + detail::sig_string<1>{")"};
  static void encode(detail::writer& w, const std::tuple<Ts...>& t) {
    w.align(8);
    detail::encode_fields(w, t, std::index_sequence_for<Ts...>{});
  }
  static bool decode(detail::reader& r, std::tuple<Ts...>& t) {
    if (!r.enter('(')) return false;
    if (!r.align(8) || !detail::decode_fields(r, t, std::index_sequence_for<Ts...>{})) return false;
    r.leave('(');
    return true;
  }
};

template <class A, class B>
struct codec<std::pair<A, B>> {
  static constexpr auto signature = detail::sig_string<1>{"("} + signature_of<A, B>() + detail::sig_string<1>{")"};
  static void encode(detail::writer& w, const std::pair<A, B>& p) {
    w.align(8);
    codec<A>::encode(w, p.first);
    codec<B>::encode(w, p.second);
  }
  static bool decode(detail::reader& r, std::pair<A, B>& p) {
    if (!r.enter('(')) return false;
    if (!r.align(8) || !codec<A>::decode(r, p.first) || !codec<B>::decode(r, p.second)) return false;
    r.leave('(');
    return true;
  }
};

// An aggregate struct as a D-Bus struct, fields in declaration order (Boost.PFR).
template <class T>
struct aggregate_codec {
  static_assert(std::is_aggregate_v<T>, "aggregate_codec needs an aggregate type");
  using fields = decltype(boost::pfr::structure_to_tuple(std::declval<const T&>()));
  static constexpr auto signature = codec<fields>::signature;
  static void encode(detail::writer& w, const T& v) {
    w.align(8);
    detail::encode_fields(w, boost::pfr::structure_tie(v), std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
  }
  static bool decode(detail::reader& r, T& v) {
    if (!r.enter('(')) return false;
    auto tie = boost::pfr::structure_tie(v);
    if (!r.align(8) || !detail::decode_fields(r, tie, std::make_index_sequence<boost::pfr::tuple_size_v<T>>{}))
      return false;
    r.leave('(');
    return true;
  }
};

// std::variant<Ts...> travels as a VARIANT; reading picks the alternative whose signature
// equals the one on the wire, and fails if none does.
namespace detail {
// A signature against one known at compile time, character by character (no memcmp call).
template <std::size_t N>
constexpr bool same_signature(std::string_view s, const sig_string<N>& known) noexcept {
  if (s.size() != N) return false;
  for (std::size_t i = 0; i < N; ++i)
    if (s[i] != known.chars[i]) return false;
  return true;
}
}  // namespace detail

template <class... Ts>
struct codec<std::variant<Ts...>> : detail::basic_codec_base<'v'> {
  static void encode(detail::writer& w, const std::variant<Ts...>& v) {
    std::visit(
        [&w](const auto& alt) {
          using A = detail::plain<decltype(alt)>;
          w.put_signature(codec<A>::signature.view());
          codec<A>::encode(w, alt);
        },
        v);
  }
  static bool decode(detail::reader& r, std::variant<Ts...>& v) {
    std::string_view sig;
    if (!r.get_signature(sig)) return false;
    if (!r.enter('v')) return false;
    bool ok = false;
    // The alternatives are tried in order until one has the signature (|| stops there).
    if (!(try_alternative<Ts>(r, sig, v, ok) || ...)) return fail_no_alternative(r, sig);
    if (ok) r.leave('v');
    return ok;
  }
  // What a read says of a variant whose signature no alternative has.
  static bool fail_no_alternative(detail::reader& r, std::string_view sig) {
    return r.fail(errc::type_mismatch, "variant holds '" + std::string(sig) + "', which no alternative of the C++ variant has");
  }

 private:
  // False when `sig` is not A's; else decodes A into `v` and says in `ok` whether it could.
  template <class A>
  static bool try_alternative(detail::reader& r, std::string_view sig, std::variant<Ts...>& v, bool& ok) {
    if (!detail::same_signature(sig, codec<A>::signature)) return false;
    // Decoded in place (on failure the read fails, whatever the variant holds).
    ok = codec<A>::decode(r, v.template emplace<A>());
    return true;
  }
};

template <>
struct codec<variant> : detail::basic_codec_base<'v'> {
  static void encode(detail::writer& w, const variant& v);
  static bool decode(detail::reader& r, variant& v);
};

// The dynamic value as a body argument is not typed at compile time: use
// message_builder::build_values for bodies whose signature is known only at run time.

template <class T>
  requires(!std::is_same_v<detail::plain<T>, variant> && !std::is_same_v<detail::plain<T>, value> &&
           detail::has_codec<detail::plain<T>>::value)
variant::variant(const T& v) {
  detail::writer w(std::endian::native == std::endian::big);
  codec<detail::plain<T>>::encode(w, v);
  detail::reader r(w.written(), 0, w.size(), std::endian::native == std::endian::big, 0);
  constexpr auto sig = codec<detail::plain<T>>::signature;
  detail::decode_value(r, sig.view(), value_);
}

template <class T>
result<T> variant::as() const {
  constexpr auto sig = codec<T>::signature;
  if (value_.type() != sig.view())
    return error(errc::type_mismatch, "variant holds '" + std::string(value_.type()) + "', not '" + std::string(sig.view()) + "'");
  detail::writer w(std::endian::native == std::endian::big);
  error err;
  if (!detail::encode_value(w, value_, err)) return err;
  detail::reader r(w.written(), 0, w.size(), std::endian::native == std::endian::big, 0);
  T out{};
  if (!codec<T>::decode(r, out)) return r.get_error();
  return out;
}

}  // namespace kbus
