// kdbus items: the walker never reads outside its span and accepts exactly the layouts the
// kernel accepts (size >= 16, inside the span, next item at ALIGN8(size), the walk ending at
// the span's end). What it accepts, written again item by item, walks to the same items; the
// typed accessors never read past a payload.
#include "transport/kdbus/abi.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace {

namespace kd = kbus::kdbus;

struct seen_item {
  std::uint64_t type;
  std::vector<std::uint8_t> payload;
};

// An independent statement of the kernel's layout rule, to check the walker against.
bool layout_ok(std::span<const std::uint8_t> b) {
  std::size_t pos = 0;
  while (pos < b.size()) {
    if (b.size() - pos < 16) return false;
    std::uint64_t size;
    std::memcpy(&size, b.data() + pos, 8);
    if (size < 16 || size > b.size() - pos) return false;
    const std::uint64_t padded = (size + 7) / 8 * 8;
    if (padded >= b.size() - pos) return true;
    pos += padded;
  }
  return true;
}

}  // namespace

extern "C" int kbus_fuzz_kdbus_items(const std::uint8_t* data, std::size_t size) {
  // Copy into an 8-aligned buffer, as a command's items would be; then also walk the raw,
  // possibly unaligned bytes (the walker must not care about the address).
  std::vector<std::uint64_t> aligned((size + 7) / 8, 0);
  if (size) std::memcpy(aligned.data(), data, size);
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(aligned.data()), size);

  std::vector<seen_item> items;
  kd::item_walk_error why{};
  const int r = kd::for_each_item(bytes, [&](const kd::item_ref& it) {
    if (it.offset % 8 != 0) std::abort();
    if (it.payload.data() < bytes.data() || it.payload.data() + it.payload.size() > bytes.data() + bytes.size()) std::abort();
    items.push_back({it.type, {it.payload.begin(), it.payload.end()}});
    // Typed views of the payload: each checks its size first.
    std::uint64_t u = 0;
    if (it.as_u64(u) && it.payload.size() != 8) std::abort();
    std::string_view s;
    if (it.as_string(s) && s.size() >= it.payload.size()) std::abort();
    if (it.as_exact_string(s) && s.size() + 1 != it.payload.size()) std::abort();
    kd::notify_name_change nc{};
    if (it.as(nc) && it.payload.size() != sizeof nc) std::abort();
    kd::vec v{};
    (void)it.as(v);
    if (it.kind() == kd::item_type::make_name && it.as_string(s)) (void)kd::check_sysname(s);
    if (it.kind() == kd::item_type::name && it.as_string(s)) {
      (void)kd::is_valid_well_known_name(s);
      (void)kd::is_valid_well_known_name(s, true);
    }
    return 0;
  }, &why);
  if ((r == 0) != layout_ok(bytes)) std::abort();
  if ((r == 0) != (why == kd::item_walk_error::none)) std::abort();
  const int raw = kd::validate_items(std::span<const std::uint8_t>(data, size));
  if (raw != r) std::abort();
  if (r != 0) return 0;

  // Written again, the items walk to the same list.
  std::vector<std::uint8_t> again;
  kd::item_writer w(again);
  for (const auto& it : items) w.add_raw(it.type, it.payload.data(), it.payload.size());
  std::size_t n = 0;
  if (kd::for_each_item(again, [&](const kd::item_ref& it) {
        if (n >= items.size() || it.type != items[n].type || it.payload.size() != items[n].payload.size() ||
            (!it.payload.empty() && std::memcmp(it.payload.data(), items[n].payload.data(), it.payload.size()) != 0))
          std::abort();
        ++n;
        return 0;
      }) != 0 || n != items.size())
    std::abort();
  return 0;
}
