// An owned Unix file descriptor, the C++ side of the D-Bus type 'h'.
#pragma once

#include <utility>

namespace kbus {

class unix_fd {
 public:
  unix_fd() noexcept = default;
  // Takes ownership of `fd` (closed when this object dies).
  explicit unix_fd(int fd) noexcept : fd_(fd) {}
  unix_fd(const unix_fd&) = delete;
  unix_fd& operator=(const unix_fd&) = delete;
  unix_fd(unix_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unix_fd& operator=(unix_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~unix_fd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;
  // A new descriptor for the same open file, close-on-exec; invalid if dup fails.
  unix_fd dup() const noexcept;

 private:
  int fd_ = -1;
};

}  // namespace kbus
