#include "broker/device.hpp"

#include "broker/proc_credentials.hpp"
#include "broker/self_memory.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace kbus::broker {

namespace {

// How often a synchronous SEND with a CANCEL_FD looks at it while it waits.
constexpr auto cancel_poll_interval = std::chrono::milliseconds(5);
// The longest wait() sleeps before it looks at the handle again.
constexpr int wait_slice_ms = 50;
// What one read of caller memory takes at most beyond what is known to be needed (the rest of
// the page, up to this): a command, or a message and its small payload, in one system call.
constexpr std::size_t read_ahead = 512;

std::uint64_t monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// The calling thread's user and group ids (uid, euid, suid, fsuid = euid, and the same of gids).
kdbus::creds current_ids() {
  uid_t r = 0, e = 0, s = 0;
  gid_t gr = 0, ge = 0, gs = 0;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  return kdbus::creds{r, e, s, e, gr, ge, gs, ge};
}

// The ioctl's command (§1.3): an 8-aligned argument, a leading size within bounds, copied as a
// whole, in one read when it lies in one page.
int read_command(std::uint64_t address, std::uint32_t number, std::vector<std::uint8_t>& cmd) {
  if (address % 8) return EFAULT;
  std::uint8_t head[read_ahead];
  const std::size_t got = std::min(sizeof head, self_memory::page_room(address));
  if (self_memory::read(address, head, got)) return EFAULT;
  std::uint64_t size = 0;
  std::memcpy(&size, head, sizeof size);
  if (size < kdbus::ioctl_fixed_size(number) || size < sizeof(kdbus::cmd)) return EINVAL;
  if (size > kdbus::cmd_max_size) return EMSGSIZE;
  cmd.resize(static_cast<std::size_t>(size));
  const std::size_t have = std::min(got, cmd.size());
  std::memcpy(cmd.data(), head, have);
  if (have < cmd.size() && self_memory::read(address + have, cmd.data() + have, cmd.size() - have)) return EFAULT;
  return 0;
}

// Writes back what the command changed of `before` (the kernel writes back the fields it
// sets): nothing when it changed nothing.
int write_back(std::uint64_t address, const std::vector<std::uint8_t>& before, const std::vector<std::uint8_t>& after) {
  std::size_t first = 0, last = after.size();
  while (first < last && first < before.size() && before[first] == after[first]) ++first;
  while (last > first && last <= before.size() && before[last - 1] == after[last - 1]) --last;
  return self_memory::write(address + first, after.data() + first, last - first);
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
  // A caller waiting in a synchronous SEND: woken alone, once its call has its answer, after
  // the waker let go of the lock (so that it does not wake into a held lock).
  struct sync_waiter {
    std::condition_variable cv;
    bool woken = false;
  };
  using waiters = std::vector<std::shared_ptr<sync_waiter>>;
  static void wake(const waiters& w) {
    for (const auto& x : w) x->cv.notify_one();
  }

  std::mutex m;
  std::map<std::uint64_t, std::shared_ptr<sync_waiter>> sync_waiters;  // by ticket
  // The timer sleeps in a timerfd armed for the earliest reply deadline: arming it wakes
  // nobody, and the timer thread runs only when a deadline is due.
  int timer_fd = -1;
  std::uint64_t timer_armed = UINT64_MAX;
  std::map<int, node> nodes;              // eventfd -> handle
  std::map<handle_id, int> fds;           // handle -> eventfd
  std::map<handle_id, pool_map> pools;
  // Declared after the maps its callbacks use, so that it goes first.
  domain d;
  bool stopping = false;
  std::thread timer;

  explicit state(domain_options o) : d(with_pools(std::move(o))) {
    timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (timer_fd < 0) throw std::system_error(errno, std::generic_category(), "the in-process device's timer");
    timer = std::thread([this] { run_timer(); });
  }
  ~state() {
    {
      std::lock_guard lock(m);
      stopping = true;
      arm_timer_at(1);  // due at once: the timer thread wakes and sees `stopping`
    }
    timer.join();
    ::close(timer_fd);
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

  void arm_timer_at(std::uint64_t when) {
    itimerspec at{};
    at.it_value.tv_sec = static_cast<time_t>(when / 1000000000ull);
    at.it_value.tv_nsec = static_cast<long>(when % 1000000000ull);
    if (!at.it_value.tv_sec && !at.it_value.tv_nsec) at.it_value.tv_nsec = 1;  // zero would disarm it
    ::timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &at, nullptr);
  }

  // Brings every handle's eventfd in line with its poll state, wakes the synchronous callers
  // whose calls finished, and arms the timer for a reply deadline earlier than it knew of.
  // Each woken thread is woken once, and only when it has something to do; the synchronous
  // callers are woken by the caller of refresh, through `wake`, once it let go of the lock.
  void refresh(waiters& wake) {
    if (const std::uint64_t next = d.next_deadline(); next < timer_armed) {
      timer_armed = next;
      arm_timer_at(next);
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
    for (auto& [ticket, w] : sync_waiters)
      if (!w->woken && d.sync_finished(ticket)) {
        w->woken = true;
        wake.push_back(w);
      }
  }

  void run_timer() {
    for (;;) {
      std::uint64_t expirations = 0;
      if (::read(timer_fd, &expirations, sizeof expirations) < 0 && errno != EINTR) return;
      waiters woken;
      {
        std::lock_guard lock(m);
        if (stopping) return;
        timer_armed = UINT64_MAX;
        d.expire(monotonic_now());
        refresh(woken);  // arms the timer again for the next deadline
      }
      wake(woken);
    }
  }

  // The caller: the handle's credentials, or the process's — the /proc parts read once, the
  // ids as taken for this call (current_ids), the thread id once per thread.
  const credentials& caller(const node& n, const kdbus::creds& ids) {
    if (n.as) return *n.as;
    if (!process) process = local_device::process_credentials();
    process->ids = ids;
    process->pids.tid = static_cast<std::uint64_t>(self_memory::tid());
    return *process;
  }
  std::optional<credentials> process;

  // A synchronous call: waits (without the lock) for its reply, its deadline, or its
  // CANCEL_FD, woken only by its own answer.
  int wait_sync_reply(std::unique_lock<std::mutex>& lock, std::uint64_t ticket, std::vector<std::uint8_t>& cmd,
                      peer_io& io) {
    auto self = std::make_shared<sync_waiter>();
    sync_waiter& w = *self;
    sync_waiters[ticket] = self;
    const auto cancel = d.sync_cancel_fd(ticket);
    int r;
    for (;;) {
      d.expire(monotonic_now());
      if (cancel) {
        pollfd p{*cancel, POLLIN, 0};
        if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) d.sync_abort(ticket, ECANCELED);
      }
      r = d.sync_result(ticket, cmd, io);
      if (r != in_progress) break;
      const std::uint64_t next = d.next_deadline();
      const std::uint64_t now = monotonic_now();
      auto wait = std::chrono::nanoseconds(next > now ? next - now : 0);
      if (cancel) wait = std::min<std::chrono::nanoseconds>(wait, cancel_poll_interval);
      // The callee learns of the call here, the last thing before this thread sleeps, so that
      // it does not wake into the lock this thread still holds.
      w.woken = false;
      waiters others;
      refresh(others);
      wake(others);  // (rare: another call ended at this moment)
      if (w.woken) continue;  // ours too: its answer is there
      w.cv.wait_for(lock, wait);
    }
    sync_waiters.erase(ticket);
    return r;
  }
};

namespace {

class self_io final : public peer_io {
 public:
  explicit self_io(const std::map<int, local_device::state::node>& handles) : handles_(handles) {}
  // One read for a message's header and its items, which SEND reads in two steps: what was
  // read ahead serves the second (one snapshot, as the kernel's single copy would be).
  int read_user(std::uint64_t address, void* out, std::size_t size) override {
    if (!size) return 0;
    if (address >= ahead_at_ && address - ahead_at_ <= ahead_size_ && size <= ahead_size_ - (address - ahead_at_)) {
      std::memcpy(out, ahead_ + (address - ahead_at_), size);
      return 0;
    }
    const std::size_t room = std::min(sizeof ahead_, self_memory::page_room(address));
    if (size > room) return self_memory::read(address, out, size);
    if (self_memory::read(address, ahead_, room)) return EFAULT;
    ahead_at_ = address;
    ahead_size_ = room;
    std::memcpy(out, ahead_, size);
    return 0;
  }
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
  std::uint8_t ahead_[read_ahead];
  std::uint64_t ahead_at_ = 0;
  std::size_t ahead_size_ = 0;
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
  const credentials& who = s_->caller(n, current_ids());
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
  state::waiters woken;
  {
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
    s_->refresh(woken);
  }
  state::wake(woken);
  return 0;
}

int local_device::ioctl(int fd, unsigned long request, void* arg) {
  const auto address = reinterpret_cast<std::uintptr_t>(arg);
  const auto number = static_cast<std::uint32_t>(request);
  const bool known = request <= UINT32_MAX && domain::known_command(number);
  // The command is read, and its answer written, outside the lock: only this call sees them.
  std::vector<std::uint8_t> cmd;
  const int read_error = known ? read_command(address, number, cmd) : 0;
  // The ids are taken anew on every call that uses them (two cheap system calls), before the
  // lock.
  const bool uses_credentials = domain::uses_credentials(number);
  const kdbus::creds ids = uses_credentials ? current_ids() : kdbus::creds{};
  std::vector<std::uint8_t> before;
  int r = 0;
  state::waiters woken;
  {
    std::unique_lock lock(s_->m);
    auto it = s_->nodes.find(fd);
    if (it == s_->nodes.end()) {
      errno = EBADF;
      return -1;
    }
    if (!known) {
      errno = ENOTTY;
      return -1;
    }
    if (read_error) {
      errno = read_error;
      return -1;
    }
    before = cmd;
    static const credentials unused;
    const handle_id h = it->second.id;
    const credentials& who = uses_credentials ? s_->caller(it->second, ids) : unused;
    self_io io(s_->nodes);
    std::uint64_t ticket = 0;
    r = s_->d.ioctl(h, number, cmd, who, io, &ticket);
    if (r == in_progress) r = s_->wait_sync_reply(lock, ticket, cmd, io);
    s_->refresh(woken);
  }
  state::wake(woken);
  if (write_back(address, before, cmd)) r = r ? r : EFAULT;
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
    int slice = wait_slice_ms;
    if (timeout_ms >= 0) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return 0;
      slice = static_cast<int>(std::min<std::int64_t>(
          slice, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
    }
    // The handle's eventfd is readable while the handle is readable or hung up.
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, slice);
  }
}

credentials local_device::process_credentials() { return read_proc_credentials().value_or(credentials{}); }

}  // namespace kbus::broker
