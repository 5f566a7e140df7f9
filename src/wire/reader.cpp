#include "kbus/detail/wire_io.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace kbus::detail {

namespace {

constexpr std::uint64_t high_bits = 0x8080808080808080ull;
constexpr std::uint64_t low_bits = 0x0101010101010101ull;

// The UTF-8 scan of the spec's rules; NUL counts as an error when `nul_allowed` is false.
// Eight ASCII bytes without NUL are taken at a time.
validation scan_text(std::string_view s, bool nul_allowed) noexcept {
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* p = begin;
  const auto* end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t chunk;
      std::memcpy(&chunk, p, 8);
      const std::uint64_t zero_bytes = nul_allowed ? 0 : (chunk - low_bits) & ~chunk & high_bits;
      if (((chunk & high_bits) | zero_bytes) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == 0 && !nul_allowed)
        return fail(errc::string_contains_nul, static_cast<std::size_t>(p - begin), "string contains a NUL byte");
      ++p;
      continue;
    }
    int extra;
    std::uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      // a continuation byte, an overlong lead (c0, c1) or above U+10FFFF (f5..ff)
      return fail(errc::invalid_utf8, static_cast<std::size_t>(p - begin), "string is not valid UTF-8");
    }
    bool ok = end - p > extra;
    for (int i = 1; ok && i <= extra; ++i) {
      ok = (p[i] & 0xc0) == 0x80;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    ok = ok && !((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000));  // overlong
    ok = ok && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (!ok) return fail(errc::invalid_utf8, static_cast<std::size_t>(p - begin), "string is not valid UTF-8");
    p += extra + 1;
  }
  return {};
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept { return static_cast<bool>(scan_text(s, /*nul_allowed=*/true)); }

validation check_string_text(std::string_view s) noexcept { return scan_text(s, /*nul_allowed=*/false); }

bool reader::fail(errc code, std::string what) { return fail_at(code, pos_, std::move(what)); }
bool reader::fail(errc code, const char* what) { return fail_at(code, pos_, std::string(what)); }
bool reader::fail_at(errc code, std::size_t offset, const char* what) { return fail_at(code, offset, std::string(what)); }

bool reader::fail_at(errc code, std::size_t offset, std::string what) {
  if (!err_) {
    err_ = error(code, std::move(what) + " (at byte " + std::to_string(offset) + ")");
  }
  // Stop every later read.
  end_ = pos_;
  return false;
}

bool reader::string_past_end(std::size_t start, std::uint32_t len) {
  return fail_at(errc::truncated, start, "string of " + std::to_string(len) + " bytes runs past the end");
}

bool reader::check_string_bytes(const char* p, std::uint32_t len, char type_code) {
  if (p[len] != '\0') return fail_at(errc::missing_nul_terminator, pos_ + len, "string is not followed by NUL");
  const std::string_view s(p, len);
  if (type_code == 'o') {
    // An object path is ASCII; a NUL inside is its own error.
    if (const auto nul = s.find('\0'); nul != std::string_view::npos)
      return fail_at(errc::string_contains_nul, pos_ + nul, "string contains a NUL byte");
    if (auto v = check_object_path(s); !v)
      return fail_at(errc::invalid_object_path, pos_ + v.offset, std::string("object path: ") + v.reason);
    return true;
  }
  if (auto v = check_string_text(s); !v) {
    // A NUL anywhere is reported before bad UTF-8, wherever each is.
    if (const auto nul = s.find('\0'); nul != std::string_view::npos)
      return fail_at(errc::string_contains_nul, pos_ + nul, "string contains a NUL byte");
    return fail_at(v.code, pos_, v.reason);
  }
  return true;
}

bool reader::nonzero_padding(std::size_t pad) {
  std::size_t i = 0;
  while (i < pad && data_[pos_ + i] == std::byte{0}) ++i;
  return fail_at(errc::nonzero_padding, pos_ + i, "padding byte is not zero");
}

bool reader::value_past_end(std::size_t pad) {
  // What align() and then the read would have said, in that order.
  if (pad > end_ - pos_) return fail(errc::truncated, "padding runs past the end");
  if (!trusted && !all_zero(data_ + pos_, pad, end_ - pos_)) return nonzero_padding(pad);
  pos_ += pad;
  return fail(errc::truncated, "value runs past the end");
}

bool reader::nesting_too_deep() {
  if (array_depth_ > max_array_depth) return fail(errc::nesting_too_deep, "more than 32 nested arrays");
  if (struct_depth_ > max_struct_depth) return fail(errc::nesting_too_deep, "more than 32 nested structs");
  return fail(errc::nesting_too_deep, "more than 64 nested containers");
}

bool reader::get_long_signature(std::string_view& out) {
  if (pos_ >= end_) return fail(errc::truncated, "signature length runs past the end");
  const std::size_t len = static_cast<std::uint8_t>(data_[pos_]);
  if (len + 2 > end_ - pos_) return fail(errc::truncated, "signature runs past the end");
  const char* p = reinterpret_cast<const char*>(data_ + pos_ + 1);
  std::string_view s(p, len);
  if (trusted) {
    pos_ += len + 2;
    out = s;
    return true;
  }
  if (p[len] != '\0') return fail_at(errc::missing_nul_terminator, pos_ + 1 + len, "signature is not followed by NUL");
  // A single basic type or 'v' (most variants), or an array of one, is a valid signature:
  // no scan needed.
  const auto plain = [](char c) { return is_basic_type_code(c) || c == 'v'; };
  if ((len == 1 && plain(s[0])) || (len == 2 && s[0] == 'a' && plain(s[1]))) {
    pos_ += len + 2;
    out = s;
    return true;
  }
  if (auto v = check_signature(s); !v)
    return fail_at(v.code == errc::nesting_too_deep ? errc::nesting_too_deep : errc::invalid_signature,
                   pos_ + 1 + v.offset, std::string("signature '") + std::string(s) + "': " + v.reason);
  pos_ += len + 2;
  out = s;
  return true;
}

bool reader::array_header(std::size_t element_alignment, std::size_t& array_end) {
  const std::size_t at = (pos_ + 3) & ~std::size_t{3};
  std::uint32_t len{};
  if (!get(len)) return false;
  if (len > max_array_length)
    return fail_at(errc::array_too_long, at, "array of " + std::to_string(len) + " bytes exceeds the 64 MiB limit");
  if (!align(element_alignment)) return false;
  if (len > end_ - pos_) return fail_at(errc::truncated, at, "array of " + std::to_string(len) + " bytes runs past the end");
  array_end = pos_ + len;
  return true;
}

bool reader::begin_array(std::size_t element_alignment, std::size_t& array_end) {
  return array_header(element_alignment, array_end) && enter('a');
}

bool reader::end_array(std::size_t array_end) {
  if (pos_ != array_end)
    return fail_at(errc::array_length_mismatch, pos_, "last array element does not end at the array's declared length");
  leave('a');
  return true;
}

namespace {

// The end of the complete type at `pos` of a signature already validated (check_signature):
// without the scan's checks, which validated signatures need no more.
std::size_t validated_type_end(std::string_view s, std::size_t pos) noexcept {
  while (pos < s.size() && s[pos] == 'a') ++pos;
  if (pos >= s.size()) return s.size();
  if (s[pos] != '(' && s[pos] != '{') return pos + 1;
  int depth = 0;
  for (std::size_t i = pos; i < s.size(); ++i) {
    if (s[i] == '(' || s[i] == '{') ++depth;
    if ((s[i] == ')' || s[i] == '}') && --depth == 0) return i + 1;
  }
  return s.size();
}

}  // namespace

bool is_single_complete_type(std::string_view validated_signature) noexcept {
  return !validated_signature.empty() && validated_type_end(validated_signature, 0) == validated_signature.size();
}

// ---- the validator ----
//
// A signature is turned into a flat program once per skip(); arrays loop back over their
// element's steps. Nothing recurses but variants, whose contents carry their own signature.

namespace {

enum class step_kind : std::uint8_t {
  basic,         // one value of the basic type `size` holds the code of
  variant,       // v
  array,         // a: `size` is the element size when fixed (bytes skipped at once), else 0
  array_end,     // loops back to `jump` while the array has bytes left
  struct_begin,  // ( {   (a struct's end needs no step: its members were read)
};

// Trivial, so a list of them costs nothing to set up.
struct step {
  step_kind kind;
  std::uint8_t size;      // basic: the type code; array: the fixed element size or 0
  std::uint8_t align;     // array: the element alignment
  std::uint8_t arrays;    // containers: how many arrays and structs enclose or are this one,
  std::uint8_t structs;   //   counted inside this signature
  std::uint16_t jump;     // array: its array_end; array_end: the element's first step
};

constexpr std::uint8_t fixed_size_of(char c) noexcept {
  switch (c) {
    case 'y': return 1;
    case 'n': case 'q': return 2;
    case 'i': case 'u': return 4;
    case 'x': case 't': case 'd': return 8;
    default: return 0;
  }
}

// Steps in place for short signatures (almost all), on the heap for long ones.
class step_list {
 public:
  explicit step_list(std::size_t capacity) {
    if (capacity > inline_capacity) heap_.resize(capacity);
    data_ = capacity > inline_capacity ? heap_.data() : inline_;
  }
  void push_back(step_kind kind, std::uint8_t size = 0, std::uint8_t align = 0, std::uint8_t arrays = 0,
                 std::uint8_t structs = 0, std::uint16_t jump = 0) noexcept {
    data_[size_++] = step{kind, size, align, arrays, structs, jump};
  }
  step_list(const step_list&) = delete;
  step_list& operator=(const step_list&) = delete;
  step& operator[](std::size_t i) noexcept { return data_[i]; }
  const step& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::size_t size() const noexcept { return size_; }
  // The deepest arrays and structs the steps reach (set by compile).
  std::uint8_t max_arrays = 0;
  std::uint8_t max_structs = 0;
  std::uint8_t max_containers = 0;

 private:
  static constexpr std::size_t inline_capacity = 32;
  step inline_[inline_capacity];  // left uninitialised: written before read
  std::vector<step> heap_;
  step* data_;
  std::size_t size_ = 0;
};

// The steps of a valid signature (at most two per character: an array adds its end), or
// false for a code this validator does not know. `out` has room for 2 * sig.size() steps.
bool compile(std::string_view sig, step_list& out) {
  // Open containers: the index of their step; arrays close after their single element type.
  std::uint16_t open[2 * max_signature_length + 2];
  int open_count = 0;
  std::uint8_t arrays = 0, structs = 0;
  auto note_depth = [&] {
    out.max_arrays = std::max(out.max_arrays, arrays);
    out.max_structs = std::max(out.max_structs, structs);
    out.max_containers = std::max(out.max_containers, static_cast<std::uint8_t>(arrays + structs));
  };
  auto close_arrays = [&] {
    // Every array whose element type just ended gets its end step.
    while (open_count > 0 && out[open[open_count - 1]].kind == step_kind::array) {
      const std::uint16_t begin = open[--open_count];
      out[begin].jump = static_cast<std::uint16_t>(out.size());
      out.push_back(step_kind::array_end, 0, 0, arrays, structs, static_cast<std::uint16_t>(begin + 1));
      --arrays;
    }
  };
  for (std::size_t i = 0; i < sig.size(); ++i) {
    const char c = sig[i];
    switch (c) {
      case 'y': case 'b': case 'n': case 'q': case 'i': case 'u': case 'x': case 't': case 'd':
      case 'h': case 's': case 'o': case 'g':
        out.push_back(step_kind::basic, static_cast<std::uint8_t>(c));
        break;
      case 'v': out.push_back(step_kind::variant, 0, 0, arrays, structs); break;
      case 'a': {
        if (i + 1 >= sig.size()) return false;
        ++arrays;
        const char e = sig[i + 1];
        const std::uint8_t fixed = fixed_size_of(e);
        out.push_back(step_kind::array, fixed, static_cast<std::uint8_t>(alignment_of_code(e)), arrays, structs);
        note_depth();
        if (fixed) {
          // The element is skipped with the array: no steps for it, the end follows at once.
          const std::uint16_t begin = static_cast<std::uint16_t>(out.size() - 1);
          out[begin].jump = static_cast<std::uint16_t>(out.size());
          out.push_back(step_kind::array_end, 0, 0, arrays, structs, static_cast<std::uint16_t>(begin + 1));
          --arrays;
          ++i;
          close_arrays();
          continue;
        }
        open[open_count++] = static_cast<std::uint16_t>(out.size() - 1);
        continue;  // the element type follows; the array closes after it
      }
      case '(': case '{':
        ++structs;
        open[open_count++] = static_cast<std::uint16_t>(out.size());
        out.push_back(step_kind::struct_begin, 0, 8, arrays, structs);
        note_depth();
        continue;  // not a complete type yet
      case ')': case '}':
        if (open_count == 0 || out[open[open_count - 1]].kind != step_kind::struct_begin) return false;
        --open_count;
        --structs;
        break;
      default:
        return false;
    }
    close_arrays();
  }
  return open_count == 0;
}

// One value of a basic type (the usual variant): read directly.
KBUS_HOT_INLINE bool skip_basic(reader& r, char code) {
  switch (code) {
    case 'y': { std::uint8_t v; return r.get(v); }
    case 'b': { bool v; return r.get_bool(v); }
    case 'n': case 'q': { std::uint16_t v; return r.get(v); }
    case 'i': case 'u': { std::uint32_t v; return r.get(v); }
    case 'h': { std::uint32_t v; return r.get_unix_fd(v); }
    case 'x': case 't': case 'd': { std::uint64_t v; return r.get(v); }
    case 's': case 'o': { std::string_view v; return r.get_string(v, code); }
    case 'g': { std::string_view v; return r.get_signature(v); }
    default: return r.fail(errc::invalid_signature, std::string("unknown type code '") + code + "'");
  }
}

// Runs the steps of `sig` over the reader. `base` is how deep the reader already is (in
// variants and the containers around them), for the spec's nesting limits.
bool validate(reader& r, std::string_view sig, reader::depth base);

bool run(reader& r, const step_list& steps, reader::depth base) {
  // Most signatures cannot reach the spec's nesting limits from where they start: then no
  // step checks them.
  const bool check_depth = base.arrays + steps.max_arrays > max_array_depth ||
                           base.structs + steps.max_structs > max_struct_depth ||
                           base.arrays + base.structs + base.variants + steps.max_containers > max_total_depth;
  std::size_t array_ends[max_array_depth + 1];
  int arrays_open = 0;
  const std::size_t n = steps.size();
  for (std::size_t pc = 0; pc < n;) {
    const step& s = steps[pc];
    switch (s.kind) {
      case step_kind::basic:
        if (!skip_basic(r, static_cast<char>(s.size))) return false;
        ++pc;
        break;
      case step_kind::variant: {
        std::string_view inner;
        if (!r.get_signature(inner)) return false;
        // get_signature validated it; check_single_type says why when it is not one type.
        if (inner.size() != 1 && !is_single_complete_type(inner))
          return r.fail(errc::invalid_signature,
                        std::string("variant signature '") + std::string(inner) + "': " + check_single_type(inner).reason);
        const reader::depth inside{base.arrays + s.arrays, base.structs + s.structs, base.variants + 1};
        if (inside.arrays + inside.structs + inside.variants > max_total_depth)
          return r.fail(errc::nesting_too_deep, "more than 64 nested containers");
        if (!(inner.size() == 1 && inner[0] != 'v' ? skip_basic(r, inner[0]) : validate(r, inner, inside))) return false;
        ++pc;
        break;
      }
      case step_kind::array: {
        std::size_t end;
        if (!r.array_header(s.align, end)) return false;
        const std::size_t len = end - r.position();
        if (check_depth) {
          if (base.arrays + s.arrays > max_array_depth) return r.fail(errc::nesting_too_deep, "more than 32 nested arrays");
          if (base.arrays + s.arrays + base.structs + s.structs + base.variants > max_total_depth)
            return r.fail(errc::nesting_too_deep, "more than 64 nested containers");
        }
        if (s.size) {
          // Fixed-size elements: a whole number of them, skipped at once.
          if (len % s.size != 0)
            return r.fail(errc::array_length_mismatch, "array length is not a multiple of its element size");
          r.skip_bytes(len);
          pc = s.jump + 1u;
        } else if (len == 0) {
          pc = s.jump + 1u;
        } else {
          array_ends[arrays_open++] = end;
          ++pc;
        }
        break;
      }
      case step_kind::array_end: {
        const std::size_t end = array_ends[arrays_open - 1];
        if (r.position() < end) {
          pc = s.jump;  // the next element
        } else if (r.position() == end) {
          --arrays_open;
          ++pc;
        } else {
          return r.fail(errc::array_length_mismatch, "last array element does not end at the array's declared length");
        }
        break;
      }
      case step_kind::struct_begin:
        if (check_depth) {
          if (base.structs + s.structs > max_struct_depth) return r.fail(errc::nesting_too_deep, "more than 32 nested structs");
          if (base.arrays + s.arrays + base.structs + s.structs + base.variants > max_total_depth)
            return r.fail(errc::nesting_too_deep, "more than 64 nested containers");
        }
        if (!r.align(8)) return false;
        ++pc;
        break;
    }
  }
  return true;
}

// An array of one basic type other than the fixed-size ones ("as", "ao", "ab", "ah", "ag").
bool skip_basic_array(reader& r, char element, reader::depth base) {
  std::size_t end;
  if (!r.array_header(alignment_of_code(element), end)) return false;
  if (base.arrays + 1 > max_array_depth) return r.fail(errc::nesting_too_deep, "more than 32 nested arrays");
  if (base.arrays + 1 + base.structs + base.variants > max_total_depth)
    return r.fail(errc::nesting_too_deep, "more than 64 nested containers");
  while (r.position() < end)
    if (!skip_basic(r, element)) return false;
  if (r.position() != end)
    return r.fail(errc::array_length_mismatch, "last array element does not end at the array's declared length");
  return true;
}

bool validate(reader& r, std::string_view sig, reader::depth base) {
  if (sig.size() == 1 && sig[0] != 'v') return skip_basic(r, sig[0]);
  if (sig.size() == 2 && sig[0] == 'a' && is_basic_type_code(sig[1]) && fixed_size_of(sig[1]) == 0)
    return skip_basic_array(r, sig[1], base);
  step_list steps(2 * sig.size());
  if (!compile(sig, steps)) return r.fail(errc::invalid_signature, "signature '" + std::string(sig) + "' is not valid");
  return run(r, steps, base);
}

}  // namespace

bool reader::skip(std::string_view type) { return validate(*this, type, nesting()); }

}  // namespace kbus::detail
