// Address lists: parse never crashes; what parses formats back to text that parses to the same.
#include "kbus/address.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int kbus_fuzz_address(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = kbus::parse_address_list(text);
  if (!entries) return 0;
  std::string again;
  for (const auto& e : *entries) {
    (void)e.check();
    if (!again.empty()) again += ';';
    again += e.to_string();
  }
  auto reparsed = kbus::parse_address_list(again);
  if (!reparsed || *reparsed != *entries) std::abort();
  return 0;
}
