#include "kbus/names.hpp"

#include <string>

namespace kbus::detail {

error name_error(const char* what, std::string_view text, const validation& v) {
  std::string msg;
  msg += what;
  msg += " \"";
  // Keep the sentence readable for huge or binary input.
  constexpr std::size_t shown = 80;
  for (char c : text.substr(0, shown)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      msg += "\\x";
      msg += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      msg += hex[static_cast<unsigned char>(c) & 0xf];
    } else {
      msg += c;
    }
  }
  if (text.size() > shown) msg += "...";
  msg += "\" at offset ";
  msg += std::to_string(v.offset);
  msg += ": ";
  msg += v.reason;
  return error(v.code, std::move(msg));
}

}  // namespace kbus::detail
