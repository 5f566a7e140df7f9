#include "transport/kdbus/mapped_pool.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace kbus::detail {

int mapped_pool::check_size(std::uint64_t size) const noexcept {
  if (base_) return EBUSY;
  if (size == 0 || size > SIZE_MAX) return EINVAL;
  return 0;
}

void mapped_pool::adopt(const void* base, std::size_t size) noexcept {
  unmap();
  base_ = static_cast<const std::uint8_t*>(base);
  size_ = size;
}

void mapped_pool::unmap() noexcept {
  if (base_) ::munmap(const_cast<std::uint8_t*>(base_), size_);
  base_ = nullptr;
  size_ = 0;
}

result<received_slice> mapped_pool::slice(std::uint64_t offset, std::uint64_t size) const {
  if (!base_) return kbus::error(std::error_code(EBADF, std::system_category()), "the kdbus pool is not mapped");
  if (offset > size_ || size > size_ - offset)
    return kbus::error(std::error_code(EFAULT, std::system_category()),
                       "the slice at " + std::to_string(offset) + " (" + std::to_string(size) +
                           " bytes) lies outside the kdbus pool of " + std::to_string(size_) + " bytes");
  return received_slice::view({base_ + offset, static_cast<std::size_t>(size)});
}

}  // namespace kbus::detail
