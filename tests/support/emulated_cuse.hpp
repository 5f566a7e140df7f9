// kbusd's device server reached in this process the way the kernel's CUSE reaches it: reads,
// writes, and unrestricted ioctls whose retries copy the caller's memory in and out (kdbus ABI
// notes §5.1), with an eventfd per open file that the server's poll notifications raise
// (refresh says how). It lets the device protocol be tested on a host whose kernel has no CUSE;
// the VM suite (label vm) runs the same client against the real kernel and kbusd.
#pragma once

#include "kbusd/device_server.hpp"
#include "transport/cuse/device.hpp"
#include "transport/cuse/protocol.hpp"

#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace kbus::test {

class emulated_cuse {
 public:
  explicit emulated_cuse(kbusd::server_options options) : core_(std::make_shared<core>(std::move(options))) {
    static std::atomic<unsigned> counter{0};
    path_ = "/kbus-emulated-cuse/" + std::to_string(getpid()) + "." + std::to_string(counter++);
    token_ = detail::add_device_source([this](const std::string& wanted)
                                           -> std::optional<result<std::unique_ptr<detail::kdbus_device>>> {
      if (wanted != path_) return std::nullopt;
      auto ch = open_channel();
      if (!ch) return result<std::unique_ptr<detail::kdbus_device>>(kbus::error(std::error_code(ENOENT, std::system_category()), "no device"));
      return result<std::unique_ptr<detail::kdbus_device>>(std::unique_ptr<detail::kdbus_device>(new detail::cuse::cuse_device(std::move(ch))));
    });
  }
  // As kbusd's death would: the open files see the device go (ENODEV, and POLLHUP).
  ~emulated_cuse() {
    detail::remove_device_source(token_);
    std::lock_guard lock(core_->m);
    core_->server.reset();
    core_->refresh();
  }
  emulated_cuse(const emulated_cuse&) = delete;
  emulated_cuse& operator=(const emulated_cuse&) = delete;

  std::string address() const { return "cuse:path=" + path_; }

  // The requests the kernel would have sent kbusd, by kind: each one is a round trip. A poll
  // notification counts as the POLL it makes the kernel send (its client waits in epoll).
  struct request_counts {
    std::uint64_t writes = 0;
    std::uint64_t reads = 0;
    std::uint64_t empty_reads = 0;  // answered EAGAIN
    std::uint64_t polls = 0;
    std::uint64_t ioctls = 0;  // each retry of one counts
    std::uint64_t total() const { return writes + reads + empty_reads + polls + ioctls; }
  };
  request_counts requests() const {
    std::lock_guard lock(core_->m);
    return core_->counts;
  }

  // One open of the device, as a client's open(2) would make it.
  std::unique_ptr<detail::cuse::channel> open_channel() {
    std::lock_guard lock(core_->m);
    kbusd::device_server::handle h = 0;
    if (!core_->server || core_->server->open(me(), h) != 0) return nullptr;
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    core_->events[h] = {fd, false};
    core_->refresh();
    return std::make_unique<channel>(core_, h, fd);
  }

 private:
  struct signal_state {
    int fd;
    bool raised;
  };

  // The server and the open files' eventfds, shared with the open files: they outlive the
  // device, as a client's file outlives kbusd.
  struct core {
    explicit core(kbusd::server_options options) : server(std::in_place, std::move(options)) {}
    std::mutex m;
    std::optional<kbusd::device_server> server;
    std::map<kbusd::device_server::handle, signal_state> events;
    request_counts counts;

    // Every open file's eventfd as the kernel's poll finds it (called with m held). Under CUSE
    // a poller learns of a change only from kbusd's poll notification, after which the kernel
    // polls the file again: so the eventfd is raised (a new edge for epoll) when kbusd notifies
    // a file that then has something, and lowered when the file has nothing. A file that kbusd
    // should have notified and did not stays quiet, as under the kernel, and its client waits.
    void refresh() {
      std::set<kbusd::device_server::handle> notified;
      if (server)
        for (const auto& w : server->take_wakeups())
          if (w.notify && notified.insert(w.h).second && events.count(w.h)) ++counts.polls;
      for (auto& [h, st] : events) {
        bool ready = true;  // the device is gone: POLLHUP, and no notification is needed
        bool told = !server;
        if (server) {
          const auto ps = server->poll(h);
          ready = ps.readable || ps.hangup;
          told = notified.count(h) > 0;
        }
        if (ready && (told || (!server && !st.raised))) {
          const std::uint64_t one = 1;
          [[maybe_unused]] auto r = ::write(st.fd, &one, sizeof one);
          st.raised = true;
        } else if (!ready && st.raised) {
          std::uint64_t v = 0;
          [[maybe_unused]] auto r = ::read(st.fd, &v, sizeof v);
          st.raised = false;
        }
      }
    }
  };

  class channel final : public detail::cuse::channel {
   public:
    channel(std::shared_ptr<core> dev, kbusd::device_server::handle h, int fd) : dev_(std::move(dev)), h_(h), fd_(fd) {}
    ~channel() override { close(); }
    ssize_t read(void* buf, std::size_t size) noexcept override {
      std::lock_guard lock(dev_->m);
      if (!dev_->server) return -ENODEV;
      std::vector<std::uint8_t> out;
      const int r = dev_->server->read(h_, std::min(size, detail::cuse::max_read), me(), out);
      ++(r == EAGAIN ? dev_->counts.empty_reads : dev_->counts.reads);
      dev_->refresh();
      if (r) return -r;
      std::memcpy(buf, out.data(), out.size());
      return static_cast<ssize_t>(out.size());
    }
    ssize_t write(const void* buf, std::size_t size) noexcept override {
      std::lock_guard lock(dev_->m);
      if (!dev_->server) return -ENODEV;
      const auto n = dev_->server->write(h_, {static_cast<const std::uint8_t*>(buf), size}, me());
      ++dev_->counts.writes;
      dev_->refresh();
      return static_cast<ssize_t>(n);
    }
    int ioctl(unsigned long request, void* arg) noexcept override {
      std::lock_guard lock(dev_->m);
      if (!dev_->server) return -ENODEV;
      std::vector<std::uint8_t> in;
      std::size_t out_size = 0;
      for (int round = 0;; ++round) {
        // The kernel's own bound on retries is the iovec count; a server that loops is a bug.
        if (round > 8) return -EIO;
        auto step = dev_->server->ioctl(h_, static_cast<std::uint32_t>(request), reinterpret_cast<std::uintptr_t>(arg), in,
                                       out_size, me());
        ++dev_->counts.ioctls;
        if (!step.retry) {
          dev_->refresh();
          if (step.error) return -step.error;
          // The answer goes to the out ranges of the last retry, in order.
          std::size_t at = 0;
          for (const auto& r : last_out_) {
            const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(r.size), step.output.size() - at);
            if (n && copy_out(r.address, step.output.data() + at, n)) return -EFAULT;
            at += n;
          }
          return 0;
        }
        in.clear();
        for (const auto& r : step.in) {
          const std::size_t old = in.size();
          in.resize(old + static_cast<std::size_t>(r.size));
          if (copy_in(r.address, in.data() + old, static_cast<std::size_t>(r.size))) return -EFAULT;
        }
        out_size = 0;
        for (const auto& r : step.out) out_size += static_cast<std::size_t>(r.size);
        last_out_ = step.out;
      }
    }
    int fd() const noexcept override { return fd_; }
    void close() noexcept override {
      if (fd_ < 0) return;
      std::lock_guard lock(dev_->m);
      if (dev_->server) dev_->server->release(h_);
      dev_->events.erase(h_);
      ::close(fd_);
      fd_ = -1;
      dev_->refresh();
    }

   private:
    // As the kernel copies: a bad address is EFAULT, never a crash.
    static int copy_in(std::uint64_t address, void* out, std::size_t size) {
      iovec local{out, size}, remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
      return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size) ? 0 : EFAULT;
    }
    static int copy_out(std::uint64_t address, const void* in, std::size_t size) {
      iovec local{const_cast<void*>(in), size}, remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
      return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size) ? 0 : EFAULT;
    }

    std::shared_ptr<core> dev_;
    kbusd::device_server::handle h_;
    int fd_;
    std::vector<kbusd::user_range> last_out_;
  };

  static kbusd::caller me() {
    return {static_cast<std::uint32_t>(getuid()), static_cast<std::uint32_t>(getgid()), static_cast<std::uint32_t>(gettid())};
  }

  std::shared_ptr<core> core_;
  std::string path_;
  std::uint64_t token_ = 0;
};

}  // namespace kbus::test
