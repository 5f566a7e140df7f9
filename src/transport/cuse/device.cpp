#include "transport/cuse/device.hpp"

#include "transport/cuse/protocol.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <system_error>

namespace kbus::detail::cuse {

namespace kd = kbus::kdbus;

namespace {

class fd_channel final : public channel {
 public:
  explicit fd_channel(int fd) noexcept : fd_(fd) {}
  ~fd_channel() override { close(); }
  fd_channel(const fd_channel&) = delete;
  fd_channel& operator=(const fd_channel&) = delete;

  ssize_t read(void* buf, std::size_t size) noexcept override {
    return retry([&] { return ::read(fd_, buf, size); });
  }
  ssize_t write(const void* buf, std::size_t size) noexcept override {
    return retry([&] { return ::write(fd_, buf, size); });
  }
  int ioctl(unsigned long request, void* arg) noexcept override {
    return static_cast<int>(retry([&] { return static_cast<ssize_t>(::ioctl(fd_, request, arg)); }));
  }
  int fd() const noexcept override { return fd_; }
  void close() noexcept override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // A request a signal interrupted was answered EINTR by kbusd before it did anything: it is
  // made again (protocol.hpp: nothing is lost or done twice).
  template <class F>
  ssize_t retry(F call) noexcept {
    if (fd_ < 0) return -EBADF;
    for (;;) {
      const ssize_t r = call();
      if (r >= 0) return r;
      if (errno != EINTR) return -errno;
    }
  }

  int fd_;
};

// The bytes at a caller's address (the kdbus transport's own memory).
std::span<const std::uint8_t> at(std::uint64_t address, std::uint64_t size) {
  return {reinterpret_cast<const std::uint8_t*>(static_cast<std::uintptr_t>(address)), static_cast<std::size_t>(size)};
}

}  // namespace

std::unique_ptr<channel> file_channel(int fd) { return std::make_unique<fd_channel>(fd); }

int cuse_device::ioctl(unsigned long request, void* arg) noexcept {
  if (!channel_) return EBADF;
  const auto number = static_cast<std::uint32_t>(request);
  if (number == kd::ioctl::send) return send(arg);
  if (number == kd::ioctl::recv) return recv(arg);
  if (number == kd::ioctl::free) return free(arg);
  return control(number, arg);
}

int cuse_device::control(std::uint32_t number, void* arg) noexcept {
  std::uint64_t size = 0;
  std::memcpy(&size, arg, sizeof size);
  const int r = channel_->ioctl(command_number(number, size), arg);
  return r < 0 ? -r : 0;
}

int cuse_device::send(void* arg) noexcept {
  kd::cmd_send c{};
  std::memcpy(&c, arg, sizeof c);
  // The SEND command, then the kdbus_msg it points at, then the PAYLOAD_VEC bytes that points at.
  const auto cmd = at(reinterpret_cast<std::uintptr_t>(arg), std::min<std::uint64_t>(c.size, kd::cmd_max_size));
  if (c.size < sizeof c || c.size > kd::cmd_max_size) return EINVAL;
  if (c.flags & kd::send::sync_reply) return EOPNOTSUPP;  // not over CUSE: send, then read
  std::uint64_t msg_size = 0;
  std::memcpy(&msg_size, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(c.msg_address)), sizeof msg_size);
  if (msg_size < sizeof(kd::msg) || msg_size > kd::cmd_max_size) return EINVAL;
  std::vector<region> regions;
  regions.push_back({c.msg_address, at(c.msg_address, msg_size)});
  const auto items = at(c.msg_address, msg_size).subspan(sizeof(kd::msg));
  const int walked = kd::for_each_item(items, [&](const kd::item_ref& item) {
    switch (item.kind()) {
      case kd::item_type::payload_vec: {
        kd::vec v{};
        if (!item.as(v)) return EINVAL;
        if (v.address != 0 && v.size != 0) regions.push_back({v.address, at(v.address, v.size)});
        return 0;
      }
      // CUSE passes no files (notes §5.1): refused, never stripped.
      case kd::item_type::fds:
      case kd::item_type::payload_memfd: return EOPNOTSUPP;
      default: return 0;
    }
  });
  if (walked) return walked;
  return write_frame(encode_send_frame(cmd, regions));
}

int cuse_device::write_frame(const std::vector<std::uint8_t>& frame) noexcept {
  constexpr std::size_t chunk_max = max_transfer - sizeof(write_header);
  write_header h;
  h.frame_id = next_frame_id_++;
  h.frame_size = frame.size();
  std::vector<std::uint8_t> chunk;
  chunk.reserve(std::min(frame.size(), chunk_max) + sizeof h);
  std::size_t done = 0;
  do {
    const std::size_t n = std::min(chunk_max, frame.size() - done);
    h.chunk_offset = done;
    chunk.assign(reinterpret_cast<const std::uint8_t*>(&h), reinterpret_cast<const std::uint8_t*>(&h) + sizeof h);
    chunk.insert(chunk.end(), frame.begin() + static_cast<std::ptrdiff_t>(done),
                 frame.begin() + static_cast<std::ptrdiff_t>(done + n));
    const ssize_t r = channel_->write(chunk.data(), chunk.size());
    if (r < 0) return static_cast<int>(-r);
    if (static_cast<std::size_t>(r) != chunk.size()) return EIO;
    done += n;
  } while (done < frame.size());
  return 0;
}

int cuse_device::recv(void* arg) noexcept {
  // The last read said that nothing more waits: this RECV would be answered EAGAIN. kbusd
  // notifies the file when something comes now (protocol.hpp), so only this one is skipped.
  if (std::exchange(nothing_waits_, false)) return EAGAIN;
  kd::cmd_recv c{};
  std::memcpy(&c, arg, sizeof c);
  read_buf_.resize(max_transfer);
  std::vector<std::uint8_t> slice;
  read_header first{};
  for (;;) {
    const ssize_t r = channel_->read(read_buf_.data(), read_buf_.size());
    if (r < 0) return static_cast<int>(-r);
    read_header h{};
    if (static_cast<std::size_t>(r) < sizeof h) return EIO;
    std::memcpy(&h, read_buf_.data(), sizeof h);
    const std::size_t n = static_cast<std::size_t>(r) - sizeof h;
    if (h.magic != read_magic || h.kind != read_kind::message || h.msg_size > pool_size_) return EIO;
    if (slice.empty()) {
      if (h.chunk_offset != 0) return EIO;
      if (h.msg_size == 0) {
        // Only a count of messages the pool could not take: RECV's EAGAIN with it (notes §2.6).
        c.dropped_msgs = h.dropped_msgs;
        c.return_flags = h.return_flags;
        std::memcpy(arg, &c, sizeof c);
        return EAGAIN;
      }
      first = h;
      slice.reserve(static_cast<std::size_t>(h.msg_size));
    } else if (h.offset != first.offset || h.chunk_offset != slice.size()) {
      return EIO;
    }
    if (n > h.msg_size - slice.size()) return EIO;
    slice.insert(slice.end(), read_buf_.begin() + sizeof h, read_buf_.begin() + static_cast<std::ptrdiff_t>(r));
    if (slice.size() == h.msg_size) {
      nothing_waits_ = !(h.flags & read_more);
      break;
    }
  }
  c.msg.offset = first.offset;
  c.msg.msg_size = first.msg_size;
  c.dropped_msgs = first.dropped_msgs;
  c.return_flags = first.return_flags;
  received_[first.offset] = std::move(slice);
  std::memcpy(arg, &c, sizeof c);
  return 0;
}

int cuse_device::free(void* arg) noexcept {
  kd::cmd_free c{};
  std::memcpy(&c, arg, sizeof c);
  // A slice that came with a read was freed in kbusd as it was read.
  if (received_.erase(c.offset)) return 0;
  return control(kd::ioctl::free, arg);
}

int cuse_device::open_pool(std::uint64_t size) noexcept {
  pool_size_ = size;
  return 0;
}

result<received_slice> cuse_device::slice(std::uint64_t offset, std::uint64_t size) {
  auto fail = [](int e, const char* what) {
    const std::error_code code(e, std::system_category());
    return kbus::error(code, std::string(what) + ": " + code.message());
  };
  if (offset > pool_size_ || size > pool_size_ - offset) return fail(EFAULT, "a slice outside the pool");
  // Inside a slice that was read: a view of it (PAYLOAD_OFF items point into their message).
  if (auto it = received_.upper_bound(offset); it != received_.begin()) {
    --it;
    const std::uint64_t at = offset - it->first;
    if (at <= it->second.size() && size <= it->second.size() - at)
      return received_slice::view(std::span<const std::uint8_t>(it->second).subspan(static_cast<std::size_t>(at),
                                                                                    static_cast<std::size_t>(size)));
  }
  if (!channel_) return fail(EBADF, "the CUSE device is closed");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  for (std::uint64_t done = 0; done < size;) {
    slice_request q;
    q.offset = offset + done;
    q.size = std::min<std::uint64_t>(size - done, max_transfer);
    q.address = reinterpret_cast<std::uintptr_t>(bytes.data() + done);
    if (const int r = channel_->ioctl(slice_ioctl, &q); r < 0) return fail(-r, "kbusd's slice ioctl failed");
    done += q.size;
  }
  return received_slice::copy(std::move(bytes));
}

void cuse_device::close() noexcept {
  if (channel_) channel_->close();
  received_.clear();
}

result<std::unique_ptr<kdbus_device>> open_device(const std::string& path) {
  if (auto device = open_registered_device(path)) return std::move(*device);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const std::error_code code(errno, std::system_category());
    return kbus::error(code, "cannot open kbusd's CUSE device '" + path + "': " + code.message());
  }
  return std::unique_ptr<kdbus_device>(new cuse_device(file_channel(fd)));
}

}  // namespace kbus::detail::cuse
