// Signature validation: never crashes, and the scanners agree with the validator.
#include "kbus/detail/validate.hpp"
#include "kbus/names.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int kbus_fuzz_signature(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const bool v = static_cast<bool>(kbus::detail::check_signature(s));
  if (v != static_cast<bool>(kbus::signature::make(s))) std::abort();
  if (v) {
    // A valid signature splits into complete types that end exactly at its end.
    std::size_t i = 0;
    while (i < s.size()) {
      const auto scan = kbus::detail::scan_complete_type(s, i);
      if (!scan.status || scan.end <= i || scan.end > s.size()) std::abort();
      if (kbus::detail::complete_type_end(s, i) != scan.end) std::abort();
      i = scan.end;
    }
  }
  (void)kbus::detail::check_single_type(s);
  (void)kbus::detail::check_object_path(s);
  (void)kbus::detail::check_bus_name(s);
  (void)kbus::detail::check_interface_name(s);
  (void)kbus::detail::check_member_name(s);
  return 0;
}
