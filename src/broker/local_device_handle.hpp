// A kdbus_device (transport/kdbus/device.hpp) over kbusd's in-process device: the kdbus
// transport then runs against broker::local_device exactly as against the kernel module.
#pragma once

#include "broker/device.hpp"
#include "transport/kdbus/device.hpp"
#include "transport/kdbus/mapped_pool.hpp"

#include <memory>
#include <optional>
#include <string_view>

namespace kbus::broker {

class local_device_handle final : public kbus::detail::kdbus_device {
 public:
  // Opens `node` ("<bus>/bus" or "<bus>/<endpoint>") on `device`, which must outlive the handle.
  // `as` replaces the caller's credentials (see local_device::open).
  static result<std::unique_ptr<local_device_handle>> open(local_device& device, std::string_view node,
                                                           const std::optional<credentials>& as = std::nullopt);
  // The same, keeping `device` alive as long as the handle: its owner may go first (the bus
  // then goes away under the handle's connection, as a daemon's crash would end it).
  static result<std::unique_ptr<local_device_handle>> open(std::shared_ptr<local_device> device, std::string_view node,
                                                           const std::optional<credentials>& as = std::nullopt);
  ~local_device_handle() override;
  local_device_handle(const local_device_handle&) = delete;
  local_device_handle& operator=(const local_device_handle&) = delete;

  int ioctl(unsigned long request, void* arg) noexcept override;
  int open_pool(std::uint64_t size) noexcept override;
  result<kbus::detail::received_slice> slice(std::uint64_t offset, std::uint64_t size) override;
  int fd() const noexcept override { return fd_; }
  bool may_have_messages() noexcept override;
  void close() noexcept override;

 private:
  local_device_handle(local_device& device, int fd) noexcept : device_(&device), fd_(fd) {}

  local_device* device_;
  std::shared_ptr<local_device> owned_device_;  // when opened with shared ownership
  int fd_;
  kbus::detail::mapped_pool pool_;  // the pool mapping comes from local_device::mmap
};

}  // namespace kbus::broker
