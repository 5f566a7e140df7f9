// kdbus bloom filters as sd-bus computed them (kdbus ABI notes §2.9): the filter a signal
// carries and the mask a match rule installs. A mask matches a filter when every bit of the
// mask is set in the filter; a false positive only costs a local check.
#pragma once

#include "kbus/error.hpp"
#include "kbus/match.hpp"
#include "kbus/message.hpp"

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kbus::detail {

// SipHash-2-4 (Aumasson and Bernstein), 64-bit output, 128-bit key.
std::uint64_t siphash24(std::string_view data, const std::array<std::uint8_t, 16>& key) noexcept;

// systemd's defaults for buses it created: 64 bytes (512 bits), 8 hashes.
inline constexpr std::size_t default_bloom_size = 64;
inline constexpr std::size_t default_bloom_hashes = 8;
// sd-bus's fixed table of keys: at most 8 hashes of 8 bytes feed the bit indexes.
inline constexpr std::size_t bloom_hash_bytes_available = 8 * 8;

struct bloom_parameters {
  std::size_t size = default_bloom_size;  // bytes, a multiple of 8, bits a power of two
  std::size_t hashes = default_bloom_hashes;
  // Valid when the bits are a power of two and the index bytes fit the key table.
  result<void> check() const;
};

class bloom_filter {
 public:
  explicit bloom_filter(bloom_parameters p);

  // Sets the bits of `prefix` + `value`.
  void add(std::string_view prefix, std::string_view value);
  // Adds `prefix` + value, and `prefix-X-prefix` forms of every separator prefix of it.
  void add_prefixes(std::string_view prefix, std::string_view value, char separator);

  bool contains_all(const bloom_filter& mask) const noexcept;
  bool test_bit(std::size_t bit) const noexcept { return (words_[bit >> 6] >> (bit & 63)) & 1; }
  const std::vector<std::uint64_t>& words() const noexcept { return words_; }
  const bloom_parameters& parameters() const noexcept { return params_; }

 private:
  bloom_parameters params_;
  std::vector<std::uint64_t> words_;
};

// What a sender puts in the filter of a signal.
bloom_filter bloom_for_message(const message& m, const bloom_parameters& p);
// The mask a receiver installs for a rule (argNpath and sender/destination add no bits).
bloom_filter bloom_mask_for_rule(const match_rule& r, const bloom_parameters& p);

}  // namespace kbus::detail
