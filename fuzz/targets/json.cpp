// JSON to a message (what `kbus encode` reads): never crashes; what builds, parses.
#include "kbus/json.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int kbus_fuzz_json(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = kbus::message_from_json(text, size && (data[0] & 1) ? kbus::byte_order::big : kbus::byte_order::little);
  if (!m) return 0;
  kbus::parse_options detached;
  detached.fds_detached = true;
  if (!kbus::message::parse({m->bytes().begin(), m->bytes().end()}, {}, detached)) std::abort();
  (void)kbus::message_to_json(*m);
  return 0;
}
