#include "transport/kdbus/device.hpp"

#include "transport/kdbus/mapped_pool.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <system_error>

namespace kbus::detail {

namespace {

// Where kdbusfs was mounted (kdbus ABI notes §2.1, §2.15).
constexpr std::string_view kdbusfs_root = "/sys/fs/kdbus/";

class kernel_device final : public kdbus_device {
 public:
  explicit kernel_device(int fd) noexcept : fd_(fd) {}
  ~kernel_device() override { close(); }
  kernel_device(const kernel_device&) = delete;
  kernel_device& operator=(const kernel_device&) = delete;

  int ioctl(unsigned long request, void* arg) noexcept override {
    if (fd_ < 0) return EBADF;
    int r;
    do {
      r = ::ioctl(fd_, request, arg);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
  }
  int open_pool(std::uint64_t size) noexcept override {
    if (fd_ < 0) return EBADF;
    if (const int r = pool_.check_size(size); r != 0) return r;
    void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) return errno;
    pool_.adopt(p, static_cast<std::size_t>(size));
    return 0;
  }
  result<received_slice> slice(std::uint64_t offset, std::uint64_t size) override { return pool_.slice(offset, size); }
  int fd() const noexcept override { return fd_; }
  void close() noexcept override {
    pool_.unmap();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  mapped_pool pool_;
};

}  // namespace

result<std::unique_ptr<kdbus_device>> open_kernel_device(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    const std::error_code code(e, std::system_category());
    return kbus::error(code, "cannot open kdbus bus '" + path + "': " + code.message());
  }
  return std::unique_ptr<kdbus_device>(new kernel_device(fd));
}

namespace {

struct device_sources {
  std::mutex mutex;
  std::uint64_t next_token = 1;
  std::map<std::uint64_t, device_source> by_token;
};

device_sources& sources() {
  static device_sources s;
  return s;
}

}  // namespace

std::uint64_t add_device_source(device_source source) {
  auto& s = sources();
  std::lock_guard lock(s.mutex);
  const std::uint64_t token = s.next_token++;
  s.by_token.emplace(token, std::move(source));
  return token;
}

void remove_device_source(std::uint64_t token) noexcept {
  auto& s = sources();
  std::lock_guard lock(s.mutex);
  s.by_token.erase(token);
}

std::optional<result<std::unique_ptr<kdbus_device>>> open_registered_device(const std::string& path) {
  auto& s = sources();
  std::lock_guard lock(s.mutex);
  for (auto& [token, source] : s.by_token)
    if (auto device = source(path)) return device;
  return std::nullopt;
}

result<std::unique_ptr<kdbus_device>> open_device(const std::string& path) {
  if (auto device = open_registered_device(path)) return std::move(*device);
  return open_kernel_device(path);
}

std::string kernel_bus_path(unsigned uid, std::string_view name) {
  return std::string(kdbusfs_root) + std::to_string(uid) + "-" + std::string(name) + "/bus";
}

}  // namespace kbus::detail
