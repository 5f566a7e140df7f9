// A kdbus device as a client sees it: a handle that takes kdbus ioctls, gives the bytes of its
// receive pool, has a pollable file descriptor (POLLIN while messages wait) and is closed once.
// The kdbus transport talks only to this interface, so the same transport code runs over the
// kdbus kernel module (kernel_device, below), over kbusd's in-process device
// (broker/local_device_handle.hpp, in the broker layer above this one), and over a device that
// cannot map memory at all (CUSE: it reads the pool's bytes instead). No Asio here: the
// connection polls fd() with its own I/O machinery.
#pragma once

#include "kbus/error.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::detail {

// Bytes of the receive pool (a message, a LIST or CONN_INFO answer, HELLO's items): a view into
// a mapped pool, or a copy read from the device, which the slice then owns. Valid while the
// slice lives and its pool offset is not freed (FREE); moving it keeps the bytes where they are.
class received_slice {
 public:
  static received_slice view(std::span<const std::uint8_t> mapped) noexcept { return received_slice(mapped, {}); }
  static received_slice copy(std::vector<std::uint8_t> read) noexcept {
    const std::span<const std::uint8_t> bytes(read.data(), read.size());
    return received_slice(bytes, std::move(read));
  }
  received_slice(received_slice&&) noexcept = default;
  received_slice& operator=(received_slice&&) noexcept = default;
  received_slice(const received_slice&) = delete;
  received_slice& operator=(const received_slice&) = delete;

  std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

 private:
  received_slice(std::span<const std::uint8_t> bytes, std::vector<std::uint8_t> owned) noexcept
      : bytes_(bytes), owned_(std::move(owned)) {}

  std::span<const std::uint8_t> bytes_;
  std::vector<std::uint8_t> owned_;  // what bytes_ views when the slice was read, not mapped
};

class kdbus_device {
 public:
  virtual ~kdbus_device() = default;

  // One kdbus ioctl (`request` is a kdbus::ioctl number, `arg` the command): 0, or the errno.
  virtual int ioctl(unsigned long request, void* arg) noexcept = 0;
  // After HELLO: makes the connection's pool of `size` bytes readable through slice() (a
  // device that maps does it here, once; one that reads has nothing to do). 0 or the errno.
  virtual int open_pool(std::uint64_t size) noexcept = 0;
  // [offset, offset + size) of the pool; an error when it does not lie inside the pool or the
  // pool is not open.
  virtual result<received_slice> slice(std::uint64_t offset, std::uint64_t size) = 0;
  // The file descriptor to poll for POLLIN (messages) and POLLHUP/POLLERR (disconnected); -1
  // once closed.
  virtual int fd() const noexcept = 0;
  // False when the device knows, without a system call, that a RECV would find nothing (no
  // message, no lost-message count, still connected): the reader may spare that RECV. A device
  // that cannot tell so cheaply (the kernel's) says true.
  virtual bool may_have_messages() noexcept { return true; }
  // Releases the pool and closes the handle (idempotent); the destructor does it too.
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
// The device a registered source has at `path`, if any.
std::optional<result<std::unique_ptr<kdbus_device>>> open_registered_device(const std::string& path);
// The device at `path`: a registered source's when one knows the path, else the kernel's bus
// file (open_kernel_device).
result<std::unique_ptr<kdbus_device>> open_device(const std::string& path);

// The default bus file of a kdbus bus: "/sys/fs/kdbus/<uid>-<name>/bus" (kdbus ABI notes
// §2.15, the defaults sd-bus used).
std::string kernel_bus_path(unsigned uid, std::string_view name);

}  // namespace kbus::detail
