// A connection's receive pool (kdbus ABI notes §2.4): a byte region the front supplies (for the
// in-process device a memfd mapping the client sees read-only), carved into 8-byte aligned
// slices, best fit. A slice is held by the bus (a queued message) and/or by the user (an offset
// handed out by RECV, HELLO, CONN_INFO, LIST ...); it returns to the free space when both have
// let go. Slices of the incoming queue are "accounted": the quota rule counts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>

namespace kbus::broker {

class pool {
 public:
  pool() = default;
  explicit pool(std::span<std::uint8_t> memory);

  std::uint64_t size() const noexcept { return memory_.size(); }
  std::span<std::uint8_t> memory() const noexcept { return memory_; }
  // Bytes of accounted slices (the incoming queue's share, §2.4).
  std::uint64_t accounted() const noexcept { return accounted_; }

  // A slice of at least `bytes` (rounded up to 8), held by the bus; EXFULL when no free area is
  // large enough. A zero-byte request gets an 8-byte slice, so every slice has its own offset.
  int alloc(std::uint64_t bytes, bool accounted, std::uint64_t& offset);
  std::span<std::uint8_t> slice(std::uint64_t offset) const noexcept;
  std::uint64_t slice_size(std::uint64_t offset) const noexcept;

  // The user now holds the slice too (it was returned by an ioctl).
  void publish(std::uint64_t offset) noexcept;
  // The bus lets go of the slice.
  void release_kernel(std::uint64_t offset) noexcept;
  // KDBUS_CMD_FREE: the user lets go. ENXIO unless `offset` is a slice the user holds; the
  // empty offset (= pool size) is accepted and ignored (notes §7.7).
  int release_user(std::uint64_t offset) noexcept;

  // Slices in use (for tests and bounds).
  std::size_t slices_in_use() const noexcept { return used_.size(); }

 private:
  struct slice_state {
    std::uint64_t size;
    bool accounted;
    bool kernel_ref;
    bool user_ref;
  };
  void free_area(std::uint64_t offset, std::uint64_t size);
  void maybe_free(std::map<std::uint64_t, slice_state>::iterator it);

  std::span<std::uint8_t> memory_;
  std::uint64_t accounted_ = 0;
  std::map<std::uint64_t, slice_state> used_;
  std::map<std::uint64_t, std::uint64_t> free_by_offset_;        // offset -> size
  std::multimap<std::uint64_t, std::uint64_t> free_by_size_;     // size -> offset
};

}  // namespace kbus::broker
