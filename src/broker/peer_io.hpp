// What kbusd's core cannot do itself and asks the front for, per call: read the caller's
// memory (kdbus_msg, PAYLOAD_VEC), take and install file descriptors.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kbus::broker {

// An opaque reference to a file the front took from a sender (an fd or a memfd); the front
// turns it back into a descriptor in the receiver.
using file_ref = std::shared_ptr<void>;

class peer_io {
 public:
  virtual ~peer_io() = default;
  // Copies `size` bytes at the caller's `address`: 0 or EFAULT.
  virtual int read_user(std::uint64_t address, void* out, std::size_t size) = 0;
  // Takes a passed fd (FDS item): 0, EBADF, or EOPNOTSUPP for kdbus handles and AF_UNIX
  // sockets (notes §2.5).
  virtual int take_fd(int fd, file_ref& out) = 0;
  // Takes a memfd (PAYLOAD_MEMFD): 0, EBADF, EMEDIUMTYPE (not a memfd), ETXTBSY (not sealed),
  // EFAULT (start + size outside the file).
  virtual int take_memfd(int fd, std::uint64_t start, std::uint64_t size, file_ref& out) = 0;
  // Installs a file into the caller (at RECV): the new fd (close-on-exec) or -1.
  virtual int install_fd(const file_ref& file) = 0;
};

// A peer_io for callers whose memory cannot be read and who pass no files (fuzzing, tests).
class null_io final : public peer_io {
 public:
  int read_user(std::uint64_t, void*, std::size_t) override { return EFAULT; }
  int take_fd(int, file_ref&) override { return EBADF; }
  int take_memfd(int, std::uint64_t, std::uint64_t, file_ref&) override { return EBADF; }
  int install_fd(const file_ref&) override { return -1; }
};

}  // namespace kbus::broker
