// A body against a signature: the input is "SIGNATURE\0BODY", the first byte's low bit picks
// the byte order. Validation (skip) and decoding must agree.
#include "kbus/detail/wire_io.hpp"
#include "kbus/types.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" int kbus_fuzz_body(const std::uint8_t* data, std::size_t size) {
  const void* nul = std::memchr(data, 0, size);
  if (!nul || size == 0) return 0;
  const std::size_t sig_len = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - data);
  const std::string_view sig(reinterpret_cast<const char*>(data), sig_len);
  if (!kbus::detail::check_signature(sig)) return 0;
  // The body starts at the next multiple of 8, as in a message.
  const std::size_t start = (sig_len + 1 + 7) & ~std::size_t{7};
  if (start > size) return 0;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const bool big = data[0] & 1;
  kbus::detail::reader validator(bytes, start, size, big, 4);
  const bool valid = validator.skip(sig) && validator.at_end();
  kbus::detail::reader decoder(bytes, start, size, big, 4);
  std::vector<kbus::value> values;
  const bool decoded = kbus::detail::decode_values(decoder, sig, values) && decoder.at_end();
  if (valid != decoded) std::abort();
  if (decoded) {
    // Re-encoding reproduces the body exactly (padding and all).
    kbus::detail::writer w(big, std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(start)));
    kbus::error err;
    if (!kbus::detail::encode_values(w, sig, values, err)) std::abort();
    const std::vector<std::byte> out = std::move(w).take();
    if (out.size() != size || std::memcmp(out.data() + start, data + start, size - start) != 0) std::abort();
  }
  return 0;
}
