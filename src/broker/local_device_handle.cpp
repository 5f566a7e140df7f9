#include "broker/local_device_handle.hpp"

#include <poll.h>
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
    const std::error_code code(errno, std::system_category());
    return kbus::error(code, "cannot open '" + std::string(node) + "' on the in-process kdbus device: " + code.message());
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

int local_device_handle::open_pool(std::uint64_t size) noexcept {
  if (fd_ < 0) return EBADF;
  if (const int r = pool_.check_size(size); r != 0) return r;
  void* p = device_->mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return errno;
  pool_.adopt(p, static_cast<std::size_t>(size));
  return 0;
}

result<kbus::detail::received_slice> local_device_handle::slice(std::uint64_t offset, std::uint64_t size) {
  return pool_.slice(offset, size);
}

bool local_device_handle::may_have_messages() noexcept {
  if (fd_ < 0) return true;  // RECV says what is wrong
  try {
    return device_->poll_events(fd_) & (POLLIN | POLLERR | POLLHUP | POLLNVAL);
  } catch (...) {
    return true;
  }
}

void local_device_handle::close() noexcept {
  pool_.unmap();
  if (fd_ >= 0) device_->close(fd_);
  fd_ = -1;
}

}  // namespace kbus::broker
