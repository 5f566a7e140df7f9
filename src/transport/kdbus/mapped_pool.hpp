// A receive pool mapped read-only into this process (mmap(2), undone with munmap(2)), as the
// kdbus kernel module and kbusd's in-process device give it: its slices are views, with no
// copy, checked to lie inside the mapping.
#pragma once

#include "kbus/error.hpp"
#include "transport/kdbus/device.hpp"

#include <cstddef>
#include <cstdint>

namespace kbus::detail {

class mapped_pool {
 public:
  mapped_pool() = default;
  ~mapped_pool() { unmap(); }
  mapped_pool(const mapped_pool&) = delete;
  mapped_pool& operator=(const mapped_pool&) = delete;

  // 0 when a pool of `size` bytes may be mapped here, else the errno (EBUSY: one is already;
  // EINVAL: empty or larger than the address space).
  int check_size(std::uint64_t size) const noexcept;
  // Takes over a mapping of `size` bytes at `base`.
  void adopt(const void* base, std::size_t size) noexcept;
  void unmap() noexcept;

  result<received_slice> slice(std::uint64_t offset, std::uint64_t size) const;

 private:
  const std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace kbus::detail
