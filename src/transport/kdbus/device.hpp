// A kdbus device as a client sees it: a handle that takes kdbus ioctls, maps its receive pool
// read-only, has a pollable file descriptor (POLLIN while messages wait) and is closed once.
// The kdbus transport talks only to this interface, so the same transport code runs over the
// kdbus kernel module (kernel_device, below) and over kbusd's in-process device
// (broker/local_device_handle.hpp, in the broker layer above this one). No Asio here: the
// connection polls fd() with its own I/O machinery.
#pragma once

#include "kbus/error.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kbus::detail {

class kdbus_device {
 public:
  virtual ~kdbus_device() = default;

  // One kdbus ioctl (`request` is a kdbus::ioctl number, `arg` the command): 0, or the errno.
  virtual int ioctl(unsigned long request, void* arg) noexcept = 0;
  // Maps `size` bytes of the pool (PROT_READ, MAP_SHARED, offset 0): 0 with `out` set, or the
  // errno. At most one mapping per device; it lives until unmap_pool() or close().
  virtual int map_pool(std::uint64_t size, const std::uint8_t*& out) noexcept = 0;
  virtual void unmap_pool() noexcept = 0;
  // The file descriptor to poll for POLLIN (messages) and POLLHUP/POLLERR (disconnected); -1
  // once closed.
  virtual int fd() const noexcept = 0;
  // Unmaps the pool and closes the handle (idempotent); the destructor does it too.
  virtual void close() noexcept = 0;
};

// The kdbus kernel module: open(2) of a bus file such as /sys/fs/kdbus/<uid>-<name>/bus
// (O_RDWR|O_CLOEXEC|O_NONBLOCK), ioctl(2), mmap(2).
result<std::unique_ptr<kdbus_device>> open_kernel_device(const std::string& path);

// Devices other than the kernel's, reached by path: kbusd's in-process device
// (kbus::embedded_bus, in the broker layer above this one) registers itself here. A source
// answers std::nullopt for a path that is not its own.
using device_source = std::function<std::optional<result<std::unique_ptr<kdbus_device>>>(const std::string& path)>;
// Registers a source (thread-safe); the token removes it again.
std::uint64_t add_device_source(device_source source);
void remove_device_source(std::uint64_t token) noexcept;
// The device at `path`: a registered source's when one knows the path, else the kernel's bus
// file (open_kernel_device).
result<std::unique_ptr<kdbus_device>> open_device(const std::string& path);

// The default bus file of a kdbus bus: "/sys/fs/kdbus/<uid>-<name>/bus" (kdbus ABI notes
// §2.15, the defaults sd-bus used).
std::string kernel_bus_path(unsigned uid, std::string_view name);

}  // namespace kbus::detail
