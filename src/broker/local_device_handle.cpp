#include "broker/local_device_handle.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace kbus::broker {

result<std::unique_ptr<local_device_handle>> local_device_handle::open(local_device& device, std::string_view node,
                                                                       const std::optional<credentials>& as) {
  const int fd = as ? device.open(node, *as) : device.open(node);
  if (fd < 0) {
    const int e = errno;
    return kbus::error(std::error_code(e, std::system_category()),
                       "cannot open '" + std::string(node) + "' on the in-process kdbus device");
  }
  return std::unique_ptr<local_device_handle>(new local_device_handle(device, fd));
}

result<std::unique_ptr<local_device_handle>> local_device_handle::open(std::shared_ptr<local_device> device,
                                                                       std::string_view node,
                                                                       const std::optional<credentials>& as) {
  auto handle = open(*device, node, as);
  if (handle) (*handle)->owned_device_ = std::move(device);
  return handle;
}

local_device_handle::~local_device_handle() { close(); }

int local_device_handle::ioctl(unsigned long request, void* arg) noexcept {
  if (fd_ < 0) return EBADF;
  try {
    return device_->ioctl(fd_, request, arg) == 0 ? 0 : errno;
  } catch (...) {
    return ENOMEM;
  }
}

int local_device_handle::map_pool(std::uint64_t size, const std::uint8_t*& out) noexcept {
  if (fd_ < 0) return EBADF;
  if (pool_) return EBUSY;
  if (size == 0 || size > SIZE_MAX) return EINVAL;
  void* p = device_->mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return errno;
  pool_ = p;
  pool_size_ = static_cast<std::size_t>(size);
  out = static_cast<const std::uint8_t*>(p);
  return 0;
}

void local_device_handle::unmap_pool() noexcept {
  if (pool_) ::munmap(pool_, pool_size_);
  pool_ = nullptr;
  pool_size_ = 0;
}

void local_device_handle::close() noexcept {
  unmap_pool();
  if (fd_ >= 0) device_->close(fd_);
  fd_ = -1;
}

}  // namespace kbus::broker
