#include "kbus/unix_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace kbus {

// Closing and duplicating descriptors is ownership bookkeeping, not I/O: the wire layer
// owns the fds that travel with a message.
void unix_fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

unix_fd unix_fd::dup() const noexcept {
  if (fd_ < 0) return {};
  return unix_fd(::fcntl(fd_, F_DUPFD_CLOEXEC, 3));
}

}  // namespace kbus
