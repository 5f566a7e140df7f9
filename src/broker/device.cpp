#include "broker/device.hpp"

#include "broker/proc_credentials.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace kbus::broker {

namespace {

// How often a synchronous SEND with a CANCEL_FD looks at it while it waits.
constexpr auto cancel_poll_interval = std::chrono::milliseconds(5);

std::uint64_t monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

int read_self(std::uint64_t address, void* out, std::size_t size) {
  if (!size) return 0;
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
  const ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(size) ? 0 : EFAULT;
}

int write_self(std::uint64_t address, const void* in, std::size_t size) {
  if (!size) return 0;
  iovec local{const_cast<void*>(in), size};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
  const ssize_t n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(size) ? 0 : EFAULT;
}

// A file taken from a sender: a duplicate descriptor, closed when the last message lets go.
struct owned_fd {
  int fd;
  explicit owned_fd(int f) : fd(f) {}
  ~owned_fd() {
    if (fd >= 0) ::close(fd);
  }
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
};

}  // namespace

struct local_device::state {
  struct pool_map {
    int memfd = -1;
    int ro_fd = -1;
    std::span<std::uint8_t> memory;
  };
  struct node {
    handle_id id = 0;
    std::optional<credentials> as;
    bool signalled = false;
  };

  std::mutex m;
  std::condition_variable cv;        // state changed: sync waiters and wait() look again
  std::condition_variable timer_cv;  // an earlier reply deadline, or stopping
  std::uint64_t timer_armed = UINT64_MAX;
  std::map<int, node> nodes;              // eventfd -> handle
  std::map<handle_id, int> fds;           // handle -> eventfd
  std::map<handle_id, pool_map> pools;
  // Declared after the maps its callbacks use, so that it goes first.
  domain d;
  bool stopping = false;
  std::thread timer;

  explicit state(domain_options o) : d(with_pools(std::move(o))) {
    timer = std::thread([this] { run_timer(); });
  }
  ~state() {
    {
      std::lock_guard lock(m);
      stopping = true;
    }
    timer_cv.notify_all();
    timer.join();
  }

  domain_options with_pools(domain_options o) {
    o.map_pool = [this](handle_id h, std::uint64_t size) { return map_pool(h, size); };
    o.release_pool = [this](handle_id h, std::span<std::uint8_t>) { release_pool(h); };
    return o;
  }

  std::span<std::uint8_t> map_pool(handle_id h, std::uint64_t size) {
    pool_map p;
    p.memfd = memfd_create("kbus-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (p.memfd < 0) return {};
    if (ftruncate(p.memfd, static_cast<off_t>(size)) != 0) {
      ::close(p.memfd);
      return {};
    }
    void* mem = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, p.memfd, 0);
    if (mem == MAP_FAILED) {
      ::close(p.memfd);
      return {};
    }
    // Clients get a read-only descriptor: their mappings can never become writable (§2.4).
    const std::string path = "/proc/self/fd/" + std::to_string(p.memfd);
    p.ro_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    fcntl(p.memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
    p.memory = {static_cast<std::uint8_t*>(mem), static_cast<std::size_t>(size)};
    pools[h] = p;
    return p.memory;
  }

  void release_pool(handle_id h) {
    auto it = pools.find(h);
    if (it == pools.end()) return;
    ::munmap(it->second.memory.data(), it->second.memory.size());
    ::close(it->second.memfd);
    if (it->second.ro_fd >= 0) ::close(it->second.ro_fd);
    pools.erase(it);
  }

  // Brings every handle's eventfd in line with its poll state; wakes the timer when a reply
  // deadline earlier than the one it sleeps for appeared.
  void refresh() {
    if (d.next_deadline() < timer_armed) {
      timer_armed = d.next_deadline();
      timer_cv.notify_all();
    }
    for (handle_id h : d.take_wakeups()) {
      auto f = fds.find(h);
      if (f == fds.end()) continue;
      node& n = nodes[f->second];
      const poll_state ps = d.poll(h);
      const bool want = ps.readable || ps.hangup;
      if (want && !n.signalled) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(f->second, &one, sizeof one);
        n.signalled = true;
      } else if (!want && n.signalled) {
        std::uint64_t v = 0;
        [[maybe_unused]] auto r = ::read(f->second, &v, sizeof v);
        n.signalled = false;
      }
    }
    cv.notify_all();
  }

  void run_timer() {
    std::unique_lock lock(m);
    while (!stopping) {
      const std::uint64_t next = d.expire(monotonic_now());
      refresh();
      timer_armed = next;
      if (next == UINT64_MAX) {
        timer_cv.wait(lock);
      } else {
        const std::uint64_t now = monotonic_now();
        const auto wait = std::chrono::nanoseconds(next > now ? next - now : 0);
        timer_cv.wait_for(lock, wait);
      }
    }
  }

  // The caller: the handle's credentials, or the process's — the /proc parts read once, the
  // ids and the thread id taken anew on every call (cheap system calls).
  credentials caller(const node& n) {
    if (n.as) return *n.as;
    if (!process) process = local_device::process_credentials();
    credentials c = *process;
    uid_t r = 0, e = 0, s = 0;
    gid_t gr = 0, ge = 0, gs = 0;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    c.ids = kdbus::creds{r, e, s, e, gr, ge, gs, ge};
    c.pids.tid = static_cast<std::uint64_t>(gettid());
    return c;
  }
  std::optional<credentials> process;
};

namespace {

class self_io final : public peer_io {
 public:
  explicit self_io(const std::map<int, local_device::state::node>& handles) : handles_(handles) {}
  int read_user(std::uint64_t address, void* out, std::size_t size) override { return read_self(address, out, size); }
  int take_fd(int fd, file_ref& out) override {
    if (handles_.count(fd)) return EOPNOTSUPP;  // a kdbus handle
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) return EBADF;
    if (S_ISSOCK(st.st_mode)) {
      int domain = 0;
      socklen_t len = sizeof domain;
      if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX) return EOPNOTSUPP;
    }
    const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return EBADF;
    out = std::make_shared<owned_fd>(dup);
    return 0;
  }
  int take_memfd(int fd, std::uint64_t start, std::uint64_t size, file_ref& out) override {
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) return EBADF;
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0) return EMEDIUMTYPE;
    constexpr int required = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    if ((seals & required) != required) return ETXTBSY;
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (start > file_size || size > file_size - start) return EFAULT;
    const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return EBADF;
    out = std::make_shared<owned_fd>(dup);
    return 0;
  }
  int install_fd(const file_ref& file) override {
    auto f = std::static_pointer_cast<owned_fd>(file);
    if (!f) return -1;
    return ::fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
  }

 private:
  const std::map<int, local_device::state::node>& handles_;
};

}  // namespace

local_device::local_device() : local_device(domain_options{}) {}
local_device::local_device(domain_options options) : s_(std::make_unique<state>(std::move(options))) {}
local_device::~local_device() {
  std::vector<int> open_fds;
  {
    std::lock_guard lock(s_->m);
    for (auto& [fd, n] : s_->nodes) open_fds.push_back(fd);
  }
  for (int fd : open_fds) close(fd);
}

int local_device::open(std::string_view node) { return open_as(node, std::nullopt); }
int local_device::open(std::string_view node, const credentials& as) { return open_as(node, as); }

int local_device::open_as(std::string_view node, const std::optional<credentials>& as) {
  std::lock_guard lock(s_->m);
  state::node n{0, as, false};
  const credentials who = s_->caller(n);
  if (const int r = s_->d.open(node, who, n.id); r) {
    errno = r;
    return -1;
  }
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    s_->d.close(n.id);
    errno = e;
    return -1;
  }
  s_->fds[n.id] = fd;
  s_->nodes[fd] = std::move(n);
  return fd;
}

int local_device::close(int fd) {
  std::lock_guard lock(s_->m);
  auto it = s_->nodes.find(fd);
  if (it == s_->nodes.end()) {
    errno = EBADF;
    return -1;
  }
  const handle_id h = it->second.id;
  s_->d.close(h);
  s_->release_pool(h);
  s_->fds.erase(h);
  s_->nodes.erase(it);
  ::close(fd);
  s_->refresh();
  return 0;
}

int local_device::ioctl(int fd, unsigned long request, void* arg) {
  const auto address = reinterpret_cast<std::uintptr_t>(arg);
  std::unique_lock lock(s_->m);
  auto it = s_->nodes.find(fd);
  if (it == s_->nodes.end()) {
    errno = EBADF;
    return -1;
  }
  const handle_id h = it->second.id;
  const credentials who = s_->caller(it->second);
  const auto number = static_cast<std::uint32_t>(request);
  if (request > UINT32_MAX || !domain::known_command(number)) {
    errno = ENOTTY;
    return -1;
  }
  // §1.3: an 8-aligned argument, a leading size within bounds, copied as a whole.
  if (address % 8) {
    errno = EFAULT;
    return -1;
  }
  std::uint64_t size = 0;
  if (read_self(address, &size, sizeof size)) {
    errno = EFAULT;
    return -1;
  }
  if (size < kdbus::ioctl_fixed_size(number) || size < sizeof(kdbus::cmd)) {
    errno = EINVAL;
    return -1;
  }
  if (size > kdbus::cmd_max_size) {
    errno = EMSGSIZE;
    return -1;
  }
  std::vector<std::uint8_t> cmd(static_cast<std::size_t>(size));
  if (read_self(address, cmd.data(), cmd.size())) {
    errno = EFAULT;
    return -1;
  }
  self_io io(s_->nodes);
  std::uint64_t ticket = 0;
  int r = s_->d.ioctl(h, number, cmd, who, io, &ticket);
  if (r == in_progress) {
    // A synchronous call: wait for its reply, its deadline, or its CANCEL_FD.
    s_->refresh();
    const auto cancel = s_->d.sync_cancel_fd(ticket);
    for (;;) {
      s_->d.expire(monotonic_now());
      if (cancel) {
        pollfd p{*cancel, POLLIN, 0};
        if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) s_->d.sync_abort(ticket, ECANCELED);
      }
      r = s_->d.sync_result(ticket, cmd, io);
      if (r != in_progress) break;
      const std::uint64_t next = s_->d.next_deadline();
      const std::uint64_t now = monotonic_now();
      auto wait = std::chrono::nanoseconds(next > now ? next - now : 0);
      if (cancel) wait = std::min<std::chrono::nanoseconds>(wait, cancel_poll_interval);
      s_->cv.wait_for(lock, wait);
    }
  }
  s_->refresh();
  if (write_self(address, cmd.data(), cmd.size())) r = r ? r : EFAULT;
  if (r) {
    errno = r;
    return -1;
  }
  return 0;
}

void* local_device::mmap(void* addr, std::size_t length, int prot, int flags, int fd, off_t offset) {
  std::lock_guard lock(s_->m);
  auto it = s_->nodes.find(fd);
  if (it == s_->nodes.end()) {
    errno = EBADF;
    return MAP_FAILED;
  }
  auto p = s_->pools.find(it->second.id);
  if (p == s_->pools.end()) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  if (prot & PROT_WRITE) {
    errno = EPERM;
    return MAP_FAILED;
  }
  if (offset < 0 || static_cast<std::uint64_t>(offset) > p->second.memory.size() ||
      length > p->second.memory.size() - static_cast<std::uint64_t>(offset)) {
    errno = EFAULT;
    return MAP_FAILED;
  }
  if (!(flags & MAP_SHARED)) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  return ::mmap(addr, length, prot, flags, p->second.ro_fd, offset);
}

short local_device::poll_events(int fd) {
  std::lock_guard lock(s_->m);
  auto it = s_->nodes.find(fd);
  if (it == s_->nodes.end()) return POLLNVAL;
  const poll_state ps = s_->d.poll(it->second.id);
  short ev = POLLOUT | POLLWRNORM;
  if (ps.readable) ev |= POLLIN | POLLRDNORM;
  if (ps.hangup) ev |= POLLERR | POLLHUP;
  return ev;
}

short local_device::wait(int fd, short events, int timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  for (;;) {
    const short ev = poll_events(fd);
    if (ev & (events | POLLERR | POLLHUP | POLLNVAL)) return static_cast<short>(ev & (events | POLLERR | POLLHUP | POLLNVAL));
    std::unique_lock lock(s_->m);
    if (timeout_ms < 0) {
      s_->cv.wait_for(lock, std::chrono::milliseconds(50));
    } else {
      if (std::chrono::steady_clock::now() >= until) return 0;
      s_->cv.wait_until(lock, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
    }
  }
}

credentials local_device::process_credentials() { return read_proc_credentials().value_or(credentials{}); }

}  // namespace kbus::broker
