#include "kbus/detail/wire_io.hpp"

#include <string>

namespace kbus::detail {

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Fast path for ASCII, eight bytes at a time.
    if (end - p >= 8) {
      std::uint64_t chunk;
      std::memcpy(&chunk, p, 8);
      if ((chunk & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
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
      return false;  // continuation byte, overlong lead (c0, c1) or above U+10FFFF (f5..ff)
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return false;  // overlong
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += extra + 1;
  }
  return true;
}

bool reader::fail(errc code, std::string what) { return fail_at(code, pos_, std::move(what)); }

bool reader::fail_at(errc code, std::size_t offset, std::string what) {
  if (!err_.code) {
    err_ = error(code, std::move(what) + " (at byte " + std::to_string(offset) + ")");
  }
  // Stop every later read.
  end_ = pos_;
  return false;
}

bool reader::get_string(std::string_view& out, char type_code) {
  const std::size_t start = (pos_ + 3) & ~std::size_t{3};
  std::uint32_t len{};
  if (!get(len)) return false;
  if (len > end_ - pos_ || end_ - pos_ - len < 1)
    return fail_at(errc::truncated, start, "string of " + std::to_string(len) + " bytes runs past the end");
  const char* p = reinterpret_cast<const char*>(data_ + pos_);
  std::string_view s(p, len);
  if (trusted) {
    pos_ += len + 1;
    out = s;
    return true;
  }
  if (p[len] != '\0') return fail_at(errc::missing_nul_terminator, pos_ + len, "string is not followed by NUL");
  if (s.find('\0') != std::string_view::npos)
    return fail_at(errc::string_contains_nul, pos_ + s.find('\0'), "string contains a NUL byte");
  if (type_code == 'o') {
    if (auto v = check_object_path(s); !v)
      return fail_at(errc::invalid_object_path, pos_ + v.offset, std::string("object path: ") + v.reason);
  } else if (!is_valid_utf8(s)) {
    return fail_at(errc::invalid_utf8, pos_, "string is not valid UTF-8");
  }
  pos_ += len + 1;
  out = s;
  return true;
}

bool reader::get_signature(std::string_view& out) {
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
  // A single basic type or 'v' (most variants) is a valid signature: no scan needed.
  if (len == 1 && (is_basic_type_code(s[0]) || s[0] == 'v')) {
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

bool reader::begin_array(std::size_t element_alignment, std::size_t& array_end) {
  const std::size_t at = (pos_ + 3) & ~std::size_t{3};
  std::uint32_t len{};
  if (!get(len)) return false;
  if (len > max_array_length)
    return fail_at(errc::array_too_long, at, "array of " + std::to_string(len) + " bytes exceeds the 64 MiB limit");
  if (!align(element_alignment)) return false;
  if (len > end_ - pos_) return fail_at(errc::truncated, at, "array of " + std::to_string(len) + " bytes runs past the end");
  array_end = pos_ + len;
  return enter('a');
}

bool reader::end_array(std::size_t array_end) {
  if (pos_ != array_end)
    return fail_at(errc::array_length_mismatch, pos_, "last array element does not end at the array's declared length");
  leave('a');
  return true;
}

bool reader::enter(char container) {
  // Variants restart the signature but not the nesting limits: a message may not nest
  // containers deeper than the spec's 32 arrays, 32 structs and 64 in all.
  switch (container) {
    case 'a':
      if (++array_depth_ > max_array_depth) return fail(errc::nesting_too_deep, "more than 32 nested arrays");
      break;
    case '(':
    case '{':
      if (++struct_depth_ > max_struct_depth) return fail(errc::nesting_too_deep, "more than 32 nested structs");
      break;
    default:
      ++variant_depth_;
      break;
  }
  if (array_depth_ + struct_depth_ + variant_depth_ > max_total_depth)
    return fail(errc::nesting_too_deep, "more than 64 nested containers");
  return true;
}

void reader::leave(char container) noexcept {
  switch (container) {
    case 'a': --array_depth_; break;
    case '(':
    case '{': --struct_depth_; break;
    default: --variant_depth_; break;
  }
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

// Validates one complete value of `type`, which begins at `type[i]`; advances `i` past it.
bool skip_value(reader& r, std::string_view type, std::size_t& i) {
  const char c = type[i];
  switch (c) {
    case 'y': {
      std::uint8_t v{};
      ++i;
      return r.get(v);
    }
    case 'b': {
      bool v{};
      ++i;
      return r.get_bool(v);
    }
    case 'n':
    case 'q': {
      std::uint16_t v{};
      ++i;
      return r.get(v);
    }
    case 'i':
    case 'u': {
      std::uint32_t v{};
      ++i;
      return r.get(v);
    }
    case 'h': {
      std::uint32_t v{};
      ++i;
      return r.get_unix_fd(v);
    }
    case 'x':
    case 't':
    case 'd': {
      std::uint64_t v{};
      ++i;
      return r.get(v);
    }
    case 's':
    case 'o': {
      std::string_view v;
      ++i;
      return r.get_string(v, c);
    }
    case 'g': {
      std::string_view v;
      ++i;
      return r.get_signature(v);
    }
    case 'v': {
      ++i;
      std::string_view inner;
      if (!r.get_signature(inner)) return false;
      // get_signature validated it; check_single_type says why when it is not one type.
      if (!is_single_complete_type(inner))
        return r.fail(errc::invalid_signature,
                      std::string("variant signature '") + std::string(inner) + "': " + check_single_type(inner).reason);
      if (!r.enter('v')) return false;
      std::size_t j = 0;
      if (!skip_value(r, inner, j)) return false;
      r.leave('v');
      return true;
    }
    case 'a': {
      const std::size_t elem = i + 1;
      const std::size_t elem_end = validated_type_end(type, i);  // the whole array type
      std::size_t end;
      if (!r.begin_array(alignment_of_code(type[elem]), end)) return false;
      // Fixed-size elements: check the length is a whole number of them at once.
      const char ec = type[elem];
      const std::size_t fixed = (ec == 'y') ? 1 : (ec == 'n' || ec == 'q') ? 2 : (ec == 'i' || ec == 'u') ? 4
                              : (ec == 'x' || ec == 't' || ec == 'd') ? 8 : 0;
      if (fixed) {
        if ((end - r.position()) % fixed != 0)
          return r.fail(errc::array_length_mismatch, "array length is not a multiple of its element size");
        r.skip_bytes(end - r.position());
      } else {
        while (r.position() < end) {
          std::size_t j = elem;
          if (!skip_value(r, type, j)) return false;
        }
      }
      if (!r.end_array(end)) return false;
      i = elem_end;
      return true;
    }
    case '(':
    case '{': {
      const char close = c == '(' ? ')' : '}';
      if (!r.enter(c) || !r.align(8)) return false;
      ++i;
      while (type[i] != close)
        if (!skip_value(r, type, i)) return false;
      ++i;
      r.leave(c);
      return true;
    }
    default:
      return r.fail(errc::invalid_signature, std::string("unknown type code '") + c + "'");
  }
}

bool reader::skip(std::string_view type) {
  std::size_t i = 0;
  while (i < type.size())
    if (!skip_value(*this, type, i)) return false;
  return true;
}

}  // namespace kbus::detail
