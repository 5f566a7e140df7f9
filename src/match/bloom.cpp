#include "match/bloom.hpp"

#include <bit>
#include <cstring>

namespace kbus::detail {
namespace {

// sd-bus's eight keys (bus-bloom.c), in the byte order written.
constexpr std::array<std::array<std::uint8_t, 16>, 8> bloom_keys{{
    {0xb9, 0x66, 0x0b, 0xf0, 0x46, 0x70, 0x47, 0xc1, 0x88, 0x75, 0xc4, 0x9c, 0x54, 0xb9, 0xbd, 0x15},
    {0xaa, 0xa1, 0x54, 0xa2, 0xe0, 0x71, 0x4b, 0x39, 0xbf, 0xe1, 0xdd, 0x2e, 0x9f, 0xc5, 0x4a, 0x3b},
    {0x63, 0xfd, 0xae, 0xbe, 0xcd, 0x82, 0x48, 0x12, 0xa1, 0x6e, 0x41, 0x26, 0xcb, 0xfa, 0xa0, 0xc8},
    {0x23, 0xbe, 0x45, 0x29, 0x32, 0xd2, 0x46, 0x2d, 0x82, 0x03, 0x52, 0x28, 0xfe, 0x37, 0x17, 0xf5},
    {0x56, 0x3b, 0xbf, 0xee, 0x5a, 0x4f, 0x43, 0x39, 0xaf, 0xaa, 0x94, 0x08, 0xdf, 0xf0, 0xfc, 0x10},
    {0x31, 0x80, 0xc8, 0x73, 0xc7, 0xea, 0x46, 0xd3, 0xaa, 0x25, 0x75, 0x0f, 0x9e, 0x4c, 0x09, 0x29},
    {0x7d, 0xf7, 0x18, 0x4b, 0x7b, 0xa4, 0x44, 0xd5, 0x85, 0x3c, 0x06, 0xe0, 0x65, 0x53, 0x96, 0x6d},
    {0xf2, 0x77, 0xe9, 0x6f, 0x93, 0xb5, 0x4e, 0x71, 0x9a, 0x0c, 0x34, 0x88, 0x39, 0x25, 0xbf, 0x35},
}};

std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

const char* type_name(message_type t) {
  switch (t) {
    case message_type::method_call: return "method_call";
    case message_type::method_return: return "method_return";
    case message_type::error: return "error";
    default: return "signal";
  }
}

}  // namespace

std::uint64_t siphash24(std::string_view data, const std::array<std::uint8_t, 16>& key) noexcept {
  const std::uint64_t k0 = load_le64(key.data()), k1 = load_le64(key.data() + 8);
  std::uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  std::uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  auto round = [&] {
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t m = load_le64(p + i);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  // The last block: remaining bytes, and the length in the top byte.
  std::uint64_t last = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t j = 0; i + j < n; ++j) last |= static_cast<std::uint64_t>(p[i + j]) << (8 * j);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

std::size_t bloom_parameters::index_bytes() const noexcept {
  const std::uint64_t bits = static_cast<std::uint64_t>(size) * 8;
  if (bits < 2) return 0;
  const std::size_t floor_log2 = static_cast<std::size_t>(std::bit_width(bits)) - 1;
  return (floor_log2 + 7) / 8;
}

result<void> bloom_parameters::check() const {
  if (size < min_bloom_size || size > max_bloom_size || size % 8 != 0)
    return error(errc::invalid_value, "bloom size " + std::to_string(size) +
                                          " is not a multiple of 8 bytes from 8 to 4096 (kdbus limits)");
  if (hashes == 0) return error(errc::invalid_value, "bloom hash count is 0");
  if (index_bytes() * hashes > bloom_hash_bytes_available)
    return error(errc::invalid_value, "bloom of " + std::to_string(size) + " bytes with " + std::to_string(hashes) +
                                          " hashes needs " + std::to_string(index_bytes() * hashes) +
                                          " bytes of hash, sd-bus's 8 keys give 64");
  return {};
}

bloom_filter::bloom_filter(bloom_parameters p)
    : params_(p), valid_(static_cast<bool>(p.check())), words_(valid_ ? p.size / 8 : 0, 0) {}

result<bloom_filter> bloom_filter::make(bloom_parameters p) {
  if (auto ok = p.check(); !ok) return ok.error();
  return bloom_filter(p);
}

bool bloom_filter::none() const noexcept {
  for (auto w : words_)
    if (w) return false;
  return true;
}

void bloom_filter::add(std::string_view prefix, std::string_view value) {
  if (!valid_) return;
  std::string data;
  data.reserve(prefix.size() + value.size());
  data.append(prefix);
  data.append(value);
  const std::uint64_t bits = words_.size() * 64;
  const std::size_t width = params_.index_bytes();
  std::size_t key = 0;
  std::uint8_t hash[8];
  std::size_t used = sizeof hash;  // no hash computed yet
  for (std::size_t h = 0; h < params_.hashes; ++h) {
    std::uint64_t index = 0;
    for (std::size_t b = 0; b < width; ++b) {
      if (used == sizeof hash) {
        const std::uint64_t v = siphash24(data, bloom_keys[key++]);
        for (int j = 0; j < 8; ++j) hash[j] = static_cast<std::uint8_t>(v >> (8 * j));
        used = 0;
      }
      index = index << 8 | hash[used++];
    }
    index &= bits - 1;
    words_[index >> 6] |= std::uint64_t{1} << (index & 63);
  }
}

void bloom_filter::add_prefixes(std::string_view prefix, std::string_view value, char separator) {
  add(prefix, value);
  // Each separator, from the last: the prefix with the separator, then without (not empty).
  for (std::size_t at = value.size(); at-- > 0;) {
    if (value[at] != separator) continue;
    add(prefix, value.substr(0, at + 1));
    if (at > 0) add(prefix, value.substr(0, at));
  }
}

bool bloom_filter::contains_all(const bloom_filter& mask) const noexcept {
  if (mask.words_.size() != words_.size()) return false;
  for (std::size_t i = 0; i < words_.size(); ++i)
    if ((words_[i] & mask.words_[i]) != mask.words_[i]) return false;
  return true;
}

bloom_filter bloom_for_message(const message& m, const bloom_parameters& p) {
  bloom_filter f(p);
  f.add("message-type:", type_name(m.type()));
  if (!m.interface().empty()) f.add("interface:", m.interface());
  if (!m.member().empty()) f.add("member:", m.member());
  if (!m.path().empty()) {
    f.add("path:", m.path());
    f.add_prefixes("path-slash-prefix:", m.path(), '/');
  }
  // Every leading argument up to 63, past arguments of other types (more than sd-bus v228
  // added; extra bits are harmless).
  detail::reader r = m.body_reader();
  const std::string_view sig = m.signature();
  std::size_t i = 0;
  for (unsigned index = 0; i < sig.size() && index <= max_match_arg; ++index) {
    const std::size_t end = complete_type_end(sig, i);
    const std::string_view type = sig.substr(i, end - i);
    const std::string n = std::to_string(index);
    if (type == "s" || type == "o" || type == "g") {
      std::string_view v;
      if (!(type == "g" ? r.get_signature(v) : r.get_string(v, type[0]))) break;
      f.add("arg" + n + ":", v);
      f.add_prefixes("arg" + n + "-dot-prefix:", v, '.');
      f.add_prefixes("arg" + n + "-slash-prefix:", v, '/');
    } else if (type == "as" || type == "ao" || type == "ag") {
      std::size_t array_end;
      if (!r.begin_array(type[1] == 'g' ? 1 : 4, array_end)) break;
      while (r.position() < array_end) {
        std::string_view v;
        if (!(type[1] == 'g' ? r.get_signature(v) : r.get_string(v, type[1]))) return f;
        f.add("arg" + n + "-has:", v);
      }
      if (!r.end_array(array_end)) break;
    } else if (!r.skip(type)) {
      break;
    }
    i = end;
  }
  return f;
}

bloom_filter bloom_mask_for_rule(const match_rule& rule, const bloom_parameters& p, unsigned max_arg) {
  bloom_filter f(p);
  if (rule.type) f.add("message-type:", type_name(*rule.type));
  if (rule.interface) f.add("interface:", *rule.interface);
  if (rule.member) f.add("member:", *rule.member);
  if (rule.path) f.add("path:", *rule.path);
  if (rule.path_namespace) f.add("path-slash-prefix:", *rule.path_namespace);
  for (const auto& a : rule.args)
    if (!a.path && a.index <= max_arg) f.add("arg" + std::to_string(a.index) + ":", a.value);
  if (rule.arg0namespace) f.add("arg0-dot-prefix:", *rule.arg0namespace);
  return f;
}

}  // namespace kbus::detail
