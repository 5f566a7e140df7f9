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

// systemd's defaults for buses it created: 64 bytes (512 bits), 8 hashes (kdbus notes §2.9,
// DEFAULT_BLOOM_SIZE / DEFAULT_BLOOM_N_HASH).
inline constexpr std::size_t default_bloom_size = 64;
inline constexpr std::size_t default_bloom_hashes = 8;
// The kernel's bounds on a bus's bloom size: at least 8 bytes, a multiple of 8, at most
// KDBUS_BUS_BLOOM_MAX_SIZE = 4 KiB (notes §1.8).
inline constexpr std::size_t min_bloom_size = 8;
inline constexpr std::size_t max_bloom_size = 4096;
// sd-bus's fixed table of 8 keys, 8 bytes of SipHash output each: the bytes that feed the bit
// indexes of one string (§2.9, bloom_validate_parameters: w * k <= 64).
inline constexpr std::size_t bloom_key_count = 8;
inline constexpr std::size_t bloom_hash_bytes_available = bloom_key_count * 8;

struct bloom_parameters {
  std::size_t size = default_bloom_size;  // bytes
  std::size_t hashes = default_bloom_hashes;
  // Bytes of hash output per bit index: (floor(log2(bits)) + 7) / 8, as sd-bus computes it
  // (u64log2 is the floor; for a power of two this is the notes' ceil(log2(m)/8)).
  std::size_t index_bytes() const noexcept;
  // Valid: size a multiple of 8 within the kernel's bounds, hashes >= 1, and
  // index_bytes() * hashes within the key table. Any such size works; a size whose bits are
  // not a power of two gives bit = p & (bits - 1), exactly as sd-bus did.
  result<void> check() const;
};

class bloom_filter {
 public:
  // All bits clear. `p` should be valid (check()); with invalid parameters the filter has no
  // words and add() does nothing, rather than read past the key table.
  explicit bloom_filter(bloom_parameters p);
  // The filter, or why the parameters (e.g. a bus's, from HELLO) cannot be used.
  static result<bloom_filter> make(bloom_parameters p);

  // Sets the bits of `prefix` + `value`.
  void add(std::string_view prefix, std::string_view value);
  // Adds `prefix` + value, and `prefix-X-prefix` forms of every separator prefix of it.
  void add_prefixes(std::string_view prefix, std::string_view value, char separator);

  // Whether every bit of `mask` is set here (the kernel's test, per 64-bit word); false when
  // the sizes differ.
  bool contains_all(const bloom_filter& mask) const noexcept;
  bool none() const noexcept;
  bool test_bit(std::size_t bit) const noexcept {
    return (bit >> 6) < words_.size() && ((words_[bit >> 6] >> (bit & 63)) & 1);
  }
  const std::vector<std::uint64_t>& words() const noexcept { return words_; }
  const bloom_parameters& parameters() const noexcept { return params_; }

 private:
  bloom_parameters params_;
  bool valid_;
  std::vector<std::uint64_t> words_;
};

// What a sender puts in the filter of a message (§2.9; sd-bus did it for signals only):
//   message-type:<type>, interface:<i>, member:<m>, path:<p>, path-slash-prefix:<p> and every
//   '/'-prefix of p with and without its trailing '/'; for each leading argument N < 64: a
//   string, object path or signature adds argN:<v>, argN-dot-prefix:<v> and its '.'-prefixes,
//   argN-slash-prefix:<v> and its '/'-prefixes; an array of those adds argN-has:<element> for
//   each element. Arguments of other types are skipped and the walk goes on: the notes'
//   intended behaviour covers all leading string arguments, sd-bus v228 stopped after arg0 (a
//   quirk), and more bits in a filter only cost false positives, never a lost message.
//   Sender and destination are never in the filter.
bloom_filter bloom_for_message(const message& m, const bloom_parameters& p);

// The mask a receiver installs for a rule (§2.9, bus_add_match_internal_kernel): type,
// interface, member, path as above; path_namespace=P -> path-slash-prefix:P; argN=V -> argN:V
// for N <= max_arg; arg0namespace=V -> arg0-dot-prefix:V. argNpath adds nothing (its two-way
// prefix rule cannot be a one-way mask; it is checked in user space), nor do sender,
// destination and eavesdrop (ID/NAME/DST_ID items, or user space). A rule with no bits gives
// an all-zero mask (the caller then sends no BLOOM_MASK item: an empty entry matches all).
// sd-bus v228 senders only put arg0 into their filters (the quirk above): max_arg = 0 keeps
// argN conditions for N >= 1 out of the mask so such signals are not filtered away by the
// kernel (they are then checked in user space).
bloom_filter bloom_mask_for_rule(const match_rule& r, const bloom_parameters& p, unsigned max_arg = max_match_arg);

}  // namespace kbus::detail
