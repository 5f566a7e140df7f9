// The two primitives of marshalling: a writer that appends aligned values to a message
// buffer, and a reader that checks every byte it reads. Typed and dynamic codecs both sit on
// these, so there is one place where alignment, byte order and bounds are handled.
#pragma once

#include "kbus/detail/validate.hpp"
#include "kbus/error.hpp"
#include "kbus/unix_fd.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

// The few reads every value goes through: inlined even into large callers (the validator).
#if defined(__GNUC__) || defined(__clang__)
#define KBUS_HOT_INLINE [[gnu::always_inline]] inline
#define KBUS_COLD [[gnu::cold, gnu::noinline]]
#else
#define KBUS_HOT_INLINE inline
#define KBUS_COLD
#endif

namespace kbus::detail {

// Limits of the D-Bus specification ("Valid Signatures", "Message Format").
inline constexpr std::uint32_t max_array_length = 64u * 1024 * 1024;   // 2^26 bytes
inline constexpr std::uint32_t max_message_length = 128u * 1024 * 1024;  // 2^27 bytes
// Linux's SCM_MAX_FD: at most 253 descriptors travel in one sendmsg().
inline constexpr std::uint32_t max_unix_fds = 253;

template <class T>
constexpr T byteswap(T v) noexcept {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  U u = static_cast<U>(v);
  U r = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    r = static_cast<U>((r << 8) | (u & 0xff));
    u = static_cast<U>(u >> 8);
  }
  return static_cast<T>(r);
}

// Validates UTF-8 as the D-Bus specification requires (no overlongs, no surrogates,
// nothing above U+10FFFF); NUL is reported separately by the caller.
bool is_valid_utf8(std::string_view s) noexcept;
// What a D-Bus string may hold, in one pass: valid UTF-8 without NUL. The failure says which
// (string_contains_nul or invalid_utf8) and at which byte.
validation check_string_text(std::string_view s) noexcept;

// Whether the 8 bytes of `w` are ASCII without NUL.
constexpr bool is_ascii_word(std::uint64_t w) noexcept {
  constexpr std::uint64_t high = 0x8080808080808080ull, low = 0x0101010101010101ull;
  return ((w & high) | ((w - low) & ~w & high)) == 0;
}

// Whether the `n` bytes at `p` are ASCII without NUL (what most strings are, and then valid
// D-Bus text), reading no byte outside them: a few instructions for a short string, inline.
KBUS_HOT_INLINE bool is_plain_ascii(const char* p, std::size_t n) noexcept {
  std::uint64_t w;
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&w, p + i, 8);
      if (!is_ascii_word(w)) return false;
    }
    std::memcpy(&w, p + n - 8, 8);  // the last word, overlapping the one before
    return is_ascii_word(w);
  }
  if (n >= 4) {
    std::uint32_t a, b;  // the first and the last four bytes, overlapping
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    return is_ascii_word(std::uint64_t{a} << 32 | b);
  }
  if (n == 0) return true;
  // One to three bytes: the first, the middle and the last cover them; the rest is 0x01.
  const auto byte = [p](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
  return is_ascii_word(0x0101010101000000ull | byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16);
}

// Whether a signature that check_signature accepted is exactly one complete type (what
// check_single_type adds), without scanning it again.
bool is_single_complete_type(std::string_view validated_signature) noexcept;

// Appends aligned values to a message buffer it owns until take() gives it back. The buffer
// grows in zero-filled steps and the writer keeps its own end: padding costs nothing (the
// bytes are zero already) and an append is one bounds check and one copy.
class writer {
 public:
  // Alignment is relative to the start of the buffer (the message start); `initial` is what
  // the message already holds (its header, when a body follows).
  explicit writer(bool big_endian, std::vector<std::byte> initial = {}) noexcept
      : buf_(std::move(initial)), size_(buf_.size()), swap_(big_endian != (std::endian::native == std::endian::big)) {}
  writer(writer&& other) noexcept
      : fds(other.fds), buf_(std::move(other.buf_)), size_(std::exchange(other.size_, 0)), swap_(other.swap_) {}
  writer& operator=(writer&& other) noexcept {
    fds = other.fds;
    buf_ = std::move(other.buf_);
    size_ = std::exchange(other.size_, 0);
    swap_ = other.swap_;
    return *this;
  }

  // Where 'h' values put their descriptors (null: fds cannot be sent).
  std::vector<unix_fd>* fds = nullptr;

  std::size_t size() const noexcept { return size_; }
  // What has been written so far (patchable, as header flags are).
  std::span<std::byte> written() noexcept { return {buf_.data(), size_}; }
  std::span<const std::byte> written() const noexcept { return {buf_.data(), size_}; }
  // The bytes written, as the buffer of a message.
  std::vector<std::byte> take() && {
    buf_.resize(size_);
    size_ = 0;
    return std::move(buf_);
  }

  bool big_endian() const noexcept { return swap_ != (std::endian::native == std::endian::big); }
  // True when values are written in the other byte order than this machine's.
  bool swaps() const noexcept { return swap_; }

  // Room for at least `more` bytes without another reallocation (a hint).
  void reserve(std::size_t more) {
    if (buf_.capacity() - size_ < more) buf_.reserve(size_ + more);
  }

  void align(std::size_t a) { claim((a - (size_ & (a - 1))) & (a - 1)); }

  template <class T>
  void put(T v) {
    if constexpr (std::is_same_v<T, double>) {
      put(std::bit_cast<std::uint64_t>(v));
    } else {
      static_assert(std::is_integral_v<T>);
      const std::size_t pad = (sizeof(T) - (size_ & (sizeof(T) - 1))) & (sizeof(T) - 1);
      if (swap_) v = byteswap(v);
      std::memcpy(claim(pad + sizeof(T)) + pad, &v, sizeof(T));
    }
  }
  void put_byte(std::uint8_t v) { *claim(1) = static_cast<std::byte>(v); }

  // Patches a 32-bit value written earlier at `offset`.
  void patch_u32(std::size_t offset, std::uint32_t v) noexcept {
    if (swap_) v = byteswap(v);
    std::memcpy(buf_.data() + offset, &v, 4);
  }

  // 's' and 'o': u32 length, bytes, NUL (already there: the buffer grows zero-filled).
  void put_string(std::string_view s) {
    const std::size_t pad = (4 - (size_ & 3)) & 3;
    std::uint32_t len = static_cast<std::uint32_t>(s.size());
    if (swap_) len = byteswap(len);
    std::byte* p = claim(pad + 4 + s.size() + 1) + pad;
    std::memcpy(p, &len, 4);
    if (!s.empty()) std::memcpy(p + 4, s.data(), s.size());
  }

  // 'g': u8 length, bytes, NUL.
  void put_signature(std::string_view s) {
    std::byte* p = claim(s.size() + 2);
    p[0] = static_cast<std::byte>(s.size());
    if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
  }

  // Starts an array whose elements align to `element_alignment`; returns the token for
  // end_array(). The length excludes the padding before the first element.
  struct array_token {
    std::size_t length_offset;
    std::size_t start;
  };
  array_token begin_array(std::size_t element_alignment) {
    put(std::uint32_t{0});
    const std::size_t length_offset = size_ - 4;
    align(element_alignment);
    return {length_offset, size_};
  }
  // False when the array grew beyond the spec's limit (the caller reports it).
  bool end_array(array_token t) noexcept {
    const std::size_t len = size_ - t.start;
    patch_u32(t.length_offset, static_cast<std::uint32_t>(len));
    return len <= max_array_length;
  }

  void append(const void* p, std::size_t n) {
    if (n >= large_append) {
      // Copied once, not zero-filled first: trim to the bytes written, then insert.
      buf_.resize(size_);
      const auto* bytes = static_cast<const std::byte*>(p);
      buf_.insert(buf_.end(), bytes, bytes + n);
      size_ += n;
    } else if (n) {
      std::memcpy(claim(n), p, n);
    }
  }

 private:
  // `n` more bytes at the end, zero until written.
  std::byte* claim(std::size_t n) {
    if (buf_.size() - size_ < n) grow(n);
    std::byte* p = buf_.data() + size_;
    size_ += n;
    return p;
  }
  void grow(std::size_t n) {
    // Bytes past size_ are kept zero: new ones come zero-filled, and nothing writes there.
    // A small buffer (a header and the start of a body) quadruples: most messages then grow
    // once at most, not twice or three times (each a copy and a free).
    const std::size_t need = size_ + n;
    const std::size_t factor = buf_.capacity() < small_buffer ? 4 : 2;
    buf_.resize(need <= buf_.capacity() ? buf_.capacity() : std::max(need, factor * buf_.capacity()));
  }

  // From this size on, appending skips the zero-fill of new room (a large `ay`, say).
  static constexpr std::size_t large_append = 4096;
  // Below this capacity the buffer grows fourfold.
  static constexpr std::size_t small_buffer = 1024;

  std::vector<std::byte> buf_;
  std::size_t size_;
  bool swap_;
};

// Reads values and checks each one against the specification. The first problem stops the
// reader: later calls fail, and error() says what was wrong and at which byte.
class reader {
 public:
  // `data` is the whole message (alignment is relative to its start); reading starts at
  // `pos` and must stay below `end`.
  reader(std::span<const std::byte> data, std::size_t pos, std::size_t end, bool big_endian,
         std::uint32_t unix_fd_count) noexcept
      : data_(data.data()),
        pos_(pos),
        end_(end),
        fds_(unix_fd_count),
        swap_(big_endian != (std::endian::native == std::endian::big)) {}

  // The descriptors that came with the message, for typed reads of unix_fd (may be null).
  const unix_fd* fd_table = nullptr;
  // The bytes were validated already (message::parse checked the whole body): skip the
  // content checks (UTF-8, NUL, padding), keep every bounds check.
  bool trusted = false;

  bool ok() const noexcept { return !err_; }
  const error& get_error() const noexcept {
    static const error none;
    return err_ ? *err_ : none;
  }
  std::size_t position() const noexcept { return pos_; }
  std::size_t end() const noexcept { return end_; }
  bool at_end() const noexcept { return pos_ == end_; }
  bool big_endian() const noexcept { return swap_ != (std::endian::native == std::endian::big); }
  bool swaps() const noexcept { return swap_; }
  // Advances over `n` bytes the caller has checked are there.
  void skip_bytes(std::size_t n) noexcept { pos_ += n; }
  std::uint32_t unix_fd_count() const noexcept { return fds_; }
  const std::byte* data() const noexcept { return data_; }

  // Records the first error only; returns false so callers can `return fail(...)`.
  // Cold and out of line: a hot read that can fail costs one call, not a string's construction.
  KBUS_COLD bool fail(errc code, std::string what);
  KBUS_COLD bool fail(errc code, const char* what);
  KBUS_COLD bool fail_at(errc code, std::size_t offset, std::string what);
  KBUS_COLD bool fail_at(errc code, std::size_t offset, const char* what);

  KBUS_HOT_INLINE bool align(std::size_t a) {
    const std::size_t pad = (a - (pos_ & (a - 1))) & (a - 1);
    if (pad == 0) return true;
    if (pad > end_ - pos_) return fail(errc::truncated, "padding runs past the end");
    if (!trusted && !all_zero(data_ + pos_, pad, end_ - pos_)) return nonzero_padding(pad);
    pos_ += pad;
    return true;
  }

  template <class T>
  KBUS_HOT_INLINE bool get(T& out) {
    if constexpr (std::is_same_v<T, double>) {
      std::uint64_t bits = 0;
      if (!get(bits)) return false;
      out = std::bit_cast<double>(bits);
      return true;
    } else {
      static_assert(std::is_integral_v<T>);
      // The padding and the value checked against the end at once; which one runs past it
      // (and whether the padding is zero) is told out of line.
      const std::size_t pad = (sizeof(T) - (pos_ & (sizeof(T) - 1))) & (sizeof(T) - 1);
      if (end_ - pos_ < pad + sizeof(T)) return value_past_end(pad);
      if (pad != 0 && !trusted && !all_zero(data_ + pos_, pad, end_ - pos_)) return nonzero_padding(pad);
      T v{};
      std::memcpy(&v, data_ + pos_ + pad, sizeof(T));
      out = swap_ ? byteswap(v) : v;
      pos_ += pad + sizeof(T);
      return true;
    }
  }

  bool get_bool(bool& out) {
    std::uint32_t v = 0;
    const std::size_t at = (pos_ + 3) & ~std::size_t{3};
    if (!get(v)) return false;
    if (v > 1) return fail_at(errc::invalid_boolean, at, "boolean is " + std::to_string(v) + ", not 0 or 1");
    out = v != 0;
    return true;
  }

  bool get_unix_fd(std::uint32_t& index) {
    const std::size_t at = (pos_ + 3) & ~std::size_t{3};
    if (!get(index)) return false;
    if (index >= fds_)
      return fail_at(errc::fd_index_out_of_range, at,
                     "unix fd index " + std::to_string(index) + " but the message has " + std::to_string(fds_) + " fds");
    return true;
  }

  // 's' (type_code 's'), 'o' (checked as object path); the view points into the message.
  KBUS_HOT_INLINE bool get_string(std::string_view& out, char type_code = 's') {
    const std::size_t start = (pos_ + 3) & ~std::size_t{3};
    std::uint32_t len{};
    if (!get(len)) return false;
    if (len > end_ - pos_ || end_ - pos_ - len < 1) return string_past_end(start, len);
    const char* p = reinterpret_cast<const char*>(data_ + pos_);
    // Most strings are short ASCII: checked here in a few instructions, the rest out of line.
    if (!trusted && !(p[len] == '\0' && type_code != 'o' && is_plain_ascii(p, len, end_ - pos_)) &&
        !check_string_bytes(p, len, type_code))
      return false;
    pos_ += len + 1;
    out = std::string_view(p, len);
    return true;
  }
  // 'g': a signature (checked). One type code (most variants) is read here; the rest out of line.
  KBUS_HOT_INLINE bool get_signature(std::string_view& out) {
    if (end_ - pos_ >= 3) {
      const char* p = reinterpret_cast<const char*>(data_ + pos_);
      if (p[0] == 1 && p[2] == '\0' && (trusted || is_basic_type_code(p[1]) || p[1] == 'v')) {
        out = std::string_view(p + 1, 1);
        pos_ += 3;
        return true;
      }
    }
    return get_long_signature(out);
  }

  // Array framing: reads the length, aligns to the element, and gives the end offset.
  bool begin_array(std::size_t element_alignment, std::size_t& array_end);
  // The same without the nesting accounting (for callers that count depth themselves).
  bool array_header(std::size_t element_alignment, std::size_t& array_end);
  // Checks that the last element ended exactly at the declared length.
  bool end_array(std::size_t array_end);

  // Depth accounting for arrays and structs (variants can nest beyond the signature).
  bool enter(char container) {
    // Variants restart the signature but not the nesting limits: a message may not nest
    // containers deeper than the spec's 32 arrays, 32 structs and 64 in all. Trusted bytes
    // were checked for that already.
    if (trusted) return true;
    int& depth = container == 'a' ? array_depth_ : (container == '(' || container == '{') ? struct_depth_ : variant_depth_;
    ++depth;
    if (array_depth_ > max_array_depth || struct_depth_ > max_struct_depth ||
        array_depth_ + struct_depth_ + variant_depth_ > max_total_depth)
      return nesting_too_deep();
    return true;
  }
  void leave(char container) noexcept {
    if (trusted) return;
    int& depth = container == 'a' ? array_depth_ : (container == '(' || container == '{') ? struct_depth_ : variant_depth_;
    --depth;
  }

  // Skips values of `type`, a signature check_signature accepted, validating them fully:
  // message bodies, variants and unknown header fields.
  bool skip(std::string_view type);

  // How deep the reader is inside containers.
  struct depth {
    int arrays = 0;
    int structs = 0;
    int variants = 0;
  };
  depth nesting() const noexcept { return {array_depth_, struct_depth_, variant_depth_}; }

 private:
  // Whether the n (< 8) padding bytes at p are zero; `readable` bytes may be read at p.
  static bool all_zero(const std::byte* p, std::size_t n, std::size_t readable) noexcept {
    if (readable >= 8 && std::endian::native == std::endian::little) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      return (w & (~std::uint64_t{0} >> (64 - 8 * n))) == 0;
    }
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] != std::byte{0}) return false;
    return true;
  }
  // True when the `len` bytes at `p` are ASCII without NUL. Reads whole 8-byte words, never
  // beyond the `readable` bytes at `p` (at least len + 1: the terminator).
  static bool is_plain_ascii(const char* p, std::size_t len, std::size_t readable) noexcept {
    constexpr std::uint64_t low = 0x0101010101010101ull;
    constexpr auto clean = is_ascii_word;
    std::uint64_t w;
    if (len < 8) {
      if (readable < 8) return false;  // near the end of the buffer: the slow path
      std::memcpy(&w, p, 8);
      // Bytes past the string become 0x01, which passes.
      const std::uint64_t keep = len == 0 ? 0 : (~std::uint64_t{0} >> (64 - 8 * len));
      if constexpr (std::endian::native == std::endian::little) w = (w & keep) | (low & ~keep);
      else return false;
      return clean(w);
    }
    for (std::size_t i = 0; i + 8 <= len; i += 8) {
      std::memcpy(&w, p + i, 8);
      if (!clean(w)) return false;
    }
    std::memcpy(&w, p + len - 8, 8);  // the last word, overlapping the one before
    return clean(w);
  }

  bool get_long_signature(std::string_view& out);

  // The cold halves of the inline reads above: they record the error and return false.
  bool nonzero_padding(std::size_t pad);
  bool value_past_end(std::size_t pad);
  bool string_past_end(std::size_t start, std::uint32_t len);
  bool check_string_bytes(const char* p, std::uint32_t len, char type_code);
  bool nesting_too_deep();

  const std::byte* data_;
  std::size_t pos_;
  std::size_t end_;
  std::uint32_t fds_;
  bool swap_;
  int array_depth_ = 0;
  int struct_depth_ = 0;
  int variant_depth_ = 0;
  std::optional<error> err_;  // empty until the first failure: a reader costs nothing to make

};

// The alignment of the first byte of a value of the type starting with `code`.
constexpr std::size_t alignment_of_code(char code) noexcept {
  switch (code) {
    case 'y': case 'g': case 'v': return 1;
    case 'n': case 'q': return 2;
    case 'b': case 'i': case 'u': case 'h': case 's': case 'o': case 'a': return 4;
    case 'x': case 't': case 'd': case '(': case '{': return 8;
    default: return 1;
  }
}

}  // namespace kbus::detail
