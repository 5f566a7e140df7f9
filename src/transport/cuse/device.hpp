// A kdbus_device (transport/kdbus/device.hpp) over kbusd's CUSE device, speaking the protocol
// of protocol.hpp: SEND becomes write(2)s of a send frame, RECV one read(2) (the slice is then
// held here and freed here: the server freed it as it was read; the RECV after a read that
// said nothing more waits is EAGAIN without a read), control commands stay ioctls,
// and other pool slices are copied out with the slice ioctl. No mmap, no fds: a message that
// carries fds or memfds is refused (EOPNOTSUPP) before anything is written.
#pragma once

#include "transport/kdbus/device.hpp"

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kbus::detail::cuse {

// The system calls the device makes on its file: a real file descriptor, or, in tests, kbusd's
// device server reached in this process.
class channel {
 public:
  virtual ~channel() = default;
  // As read(2), write(2) and ioctl(2), but returning -errno instead of setting errno.
  virtual ssize_t read(void* buf, std::size_t size) noexcept = 0;
  virtual ssize_t write(const void* buf, std::size_t size) noexcept = 0;
  virtual int ioctl(unsigned long request, void* arg) noexcept = 0;
  virtual int fd() const noexcept = 0;
  virtual void close() noexcept = 0;
};

// A channel over a file descriptor (owned).
std::unique_ptr<channel> file_channel(int fd);

class cuse_device final : public kdbus_device {
 public:
  explicit cuse_device(std::unique_ptr<channel> ch) : channel_(std::move(ch)) {}
  ~cuse_device() override { close(); }
  cuse_device(const cuse_device&) = delete;
  cuse_device& operator=(const cuse_device&) = delete;

  int ioctl(unsigned long request, void* arg) noexcept override;
  int open_pool(std::uint64_t size) noexcept override;
  result<received_slice> slice(std::uint64_t offset, std::uint64_t size) override;
  int fd() const noexcept override { return channel_ ? channel_->fd() : -1; }
  void close() noexcept override;

 private:
  int send(void* arg) noexcept;
  int recv(void* arg) noexcept;
  int free(void* arg) noexcept;
  int control(std::uint32_t number, void* arg) noexcept;
  int write_frame(const std::vector<std::uint8_t>& frame) noexcept;

  std::unique_ptr<channel> channel_;
  std::uint64_t pool_size_ = 0;
  std::uint64_t next_frame_id_ = 1;
  // Slices read with RECV and not yet freed, by pool offset.
  std::map<std::uint64_t, std::vector<std::uint8_t>> received_;
  std::vector<std::uint8_t> read_buf_;
  // The last read's header said that a read now would be answered EAGAIN (protocol.hpp's
  // read_more): the next RECV answers so without a read. kbusd notifies the file's pollers when
  // something comes after that read, so nothing waits unseen.
  bool nothing_waits_ = false;
};

// Opens a kbusd CUSE device (O_RDWR|O_CLOEXEC|O_NONBLOCK), or the device a registered source
// (transport/kdbus/device.hpp) has at `path`.
result<std::unique_ptr<kdbus_device>> open_device(const std::string& path);

}  // namespace kbus::detail::cuse
