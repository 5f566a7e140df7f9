// The two primitives of marshalling: a writer that appends aligned values to a message
// buffer, and a reader that checks every byte it reads. Typed and dynamic codecs both sit on
// these, so there is one place where alignment, byte order and bounds are handled.
#pragma once

#include "kbus/detail/validate.hpp"
#include "kbus/error.hpp"
#include "kbus/unix_fd.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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

// Whether a signature that check_signature accepted is exactly one complete type (what
// check_single_type adds), without scanning it again.
bool is_single_complete_type(std::string_view validated_signature) noexcept;

class writer {
 public:
  // Appends to `buf`; alignment is relative to the start of `buf` (the message start).
  writer(std::vector<std::byte>& buf, bool big_endian) noexcept
      : buf_(buf), swap_(big_endian != (std::endian::native == std::endian::big)) {}

  // Where 'h' values put their descriptors (null: fds cannot be sent).
  std::vector<unix_fd>* fds = nullptr;

  std::vector<std::byte>& buffer() noexcept { return buf_; }
  std::size_t size() const noexcept { return buf_.size(); }
  bool big_endian() const noexcept { return swap_ != (std::endian::native == std::endian::big); }
  // True when values are written in the other byte order than this machine's.
  bool swaps() const noexcept { return swap_; }

  void align(std::size_t a) {
    const std::size_t pad = (a - (buf_.size() & (a - 1))) & (a - 1);
    if (pad) buf_.resize(buf_.size() + pad, std::byte{0});
  }

  template <class T>
  void put(T v) {
    if constexpr (std::is_same_v<T, double>) {
      put(std::bit_cast<std::uint64_t>(v));
    } else {
      static_assert(std::is_integral_v<T>);
      align(sizeof(T));
      if (swap_) v = byteswap(v);
      append(&v, sizeof(T));
    }
  }

  // Patches a 32-bit value written earlier at `offset`.
  void patch_u32(std::size_t offset, std::uint32_t v) noexcept {
    if (swap_) v = byteswap(v);
    std::memcpy(buf_.data() + offset, &v, 4);
  }

  // 's' and 'o': u32 length, bytes, NUL.
  void put_string(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    append(s.data(), s.size());
    buf_.push_back(std::byte{0});
  }

  // 'g': u8 length, bytes, NUL.
  void put_signature(std::string_view s) {
    buf_.push_back(static_cast<std::byte>(s.size()));
    append(s.data(), s.size());
    buf_.push_back(std::byte{0});
  }

  // Starts an array whose elements align to `element_alignment`; returns the token for
  // end_array(). The length excludes the padding before the first element.
  struct array_token {
    std::size_t length_offset;
    std::size_t start;
  };
  array_token begin_array(std::size_t element_alignment) {
    put(std::uint32_t{0});
    const std::size_t length_offset = buf_.size() - 4;
    align(element_alignment);
    return {length_offset, buf_.size()};
  }
  // False when the array grew beyond the spec's limit (the caller reports it).
  bool end_array(array_token t) noexcept {
    const std::size_t len = buf_.size() - t.start;
    patch_u32(t.length_offset, static_cast<std::uint32_t>(len));
    return len <= max_array_length;
  }

  void append(const void* p, std::size_t n) {
    const std::size_t at = buf_.size();
    buf_.resize(at + n);
    if (n) std::memcpy(buf_.data() + at, p, n);
  }

 private:
  std::vector<std::byte>& buf_;
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

  bool ok() const noexcept { return !err_.code; }
  const error& get_error() const noexcept { return err_; }
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
  bool fail(errc code, std::string what);
  bool fail_at(errc code, std::size_t offset, std::string what);

  bool align(std::size_t a) {
    const std::size_t pad = (a - (pos_ & (a - 1))) & (a - 1);
    if (pad == 0) return true;
    if (pad > end_ - pos_) return fail(errc::truncated, "padding runs past the end");
    if (!trusted)
      for (std::size_t i = 0; i < pad; ++i)
      if (data_[pos_ + i] != std::byte{0}) return fail_at(errc::nonzero_padding, pos_ + i, "padding byte is not zero");
    pos_ += pad;
    return true;
  }

  template <class T>
  bool get(T& out) {
    if constexpr (std::is_same_v<T, double>) {
      std::uint64_t bits = 0;
      if (!get(bits)) return false;
      out = std::bit_cast<double>(bits);
      return true;
    } else {
      static_assert(std::is_integral_v<T>);
      if (!align(sizeof(T))) return false;
      if (end_ - pos_ < sizeof(T)) return fail(errc::truncated, "value runs past the end");
      T v{};
      std::memcpy(&v, data_ + pos_, sizeof(T));
      out = swap_ ? byteswap(v) : v;
      pos_ += sizeof(T);
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
  bool get_string(std::string_view& out, char type_code = 's');
  // 'g': a signature (checked).
  bool get_signature(std::string_view& out);

  // Array framing: reads the length, aligns to the element, and gives the end offset.
  bool begin_array(std::size_t element_alignment, std::size_t& array_end);
  // Checks that the last element ended exactly at the declared length.
  bool end_array(std::size_t array_end);

  // Depth accounting for arrays and structs (variants can nest beyond the signature).
  bool enter(char container);
  void leave(char container) noexcept;

  // Skips one complete value of `type` (validating it fully). Used for variants and unknown
  // header fields, and by the dynamic validator.
  bool skip(std::string_view type);

 private:
  const std::byte* data_;
  std::size_t pos_;
  std::size_t end_;
  std::uint32_t fds_;
  bool swap_;
  int array_depth_ = 0;
  int struct_depth_ = 0;
  int variant_depth_ = 0;
  error err_;

  friend bool skip_value(reader&, std::string_view, std::size_t&);
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
