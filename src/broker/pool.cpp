#include "broker/pool.hpp"

#include "transport/kdbus/abi.hpp"

#include <cerrno>

namespace kbus::broker {

pool::pool(std::span<std::uint8_t> memory) : memory_(memory) {
  const std::uint64_t usable = memory.size() & ~std::uint64_t{7};
  if (usable) free_area(0, usable);
}

void pool::free_area(std::uint64_t offset, std::uint64_t size) {
  // Merge with the neighbours.
  auto next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      for (auto [a, b] = free_by_size_.equal_range(prev->second); a != b; ++a)
        if (a->second == prev->first) {
          free_by_size_.erase(a);
          break;
        }
      offset = prev->first;
      size += prev->second;
      free_by_offset_.erase(prev);
    }
  }
  next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.end() && offset + size == next->first) {
    for (auto [a, b] = free_by_size_.equal_range(next->second); a != b; ++a)
      if (a->second == next->first) {
        free_by_size_.erase(a);
        break;
      }
    size += next->second;
    free_by_offset_.erase(next);
  }
  free_by_offset_.emplace(offset, size);
  free_by_size_.emplace(size, offset);
}

int pool::alloc(std::uint64_t bytes, bool accounted, std::uint64_t& offset) {
  const std::uint64_t need = bytes ? kdbus::align8(bytes) : 8;
  if (need < bytes) return EXFULL;
  auto best = free_by_size_.lower_bound(need);
  if (best == free_by_size_.end()) return EXFULL;
  const std::uint64_t area_size = best->first;
  const std::uint64_t at = best->second;
  free_by_size_.erase(best);
  free_by_offset_.erase(at);
  if (area_size > need) {
    free_by_offset_.emplace(at + need, area_size - need);
    free_by_size_.emplace(area_size - need, at + need);
  }
  used_.emplace(at, slice_state{need, accounted, true, false});
  if (accounted) accounted_ += need;
  offset = at;
  return 0;
}

std::span<std::uint8_t> pool::slice(std::uint64_t offset) const noexcept {
  auto it = used_.find(offset);
  if (it == used_.end()) return {};
  return memory_.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(it->second.size));
}

std::uint64_t pool::slice_size(std::uint64_t offset) const noexcept {
  auto it = used_.find(offset);
  return it == used_.end() ? 0 : it->second.size;
}

void pool::maybe_free(std::map<std::uint64_t, slice_state>::iterator it) {
  if (it->second.kernel_ref || it->second.user_ref) return;
  if (it->second.accounted) accounted_ -= it->second.size;
  const auto off = it->first;
  const auto size = it->second.size;
  used_.erase(it);
  free_area(off, size);
}

void pool::publish(std::uint64_t offset) noexcept {
  auto it = used_.find(offset);
  if (it != used_.end()) it->second.user_ref = true;
}

void pool::release_kernel(std::uint64_t offset) noexcept {
  auto it = used_.find(offset);
  if (it == used_.end()) return;
  it->second.kernel_ref = false;
  maybe_free(it);
}

int pool::release_user(std::uint64_t offset) noexcept {
  if (offset == size()) return 0;
  auto it = used_.find(offset);
  if (it == used_.end() || !it->second.user_ref) return ENXIO;
  it->second.user_ref = false;
  maybe_free(it);
  return 0;
}

}  // namespace kbus::broker
