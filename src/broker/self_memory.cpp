#include "broker/self_memory.hpp"

#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace kbus::broker::self_memory {

namespace {

constexpr std::uint64_t page = 4096;  // the smallest page size: a read within it cannot half-fault

std::atomic<pid_t> cached_pid{0};
thread_local pid_t cached_tid = 0;

// In a forked child the ids are the child's own: the forking thread is its only thread.
void forget_ids() noexcept {
  cached_pid.store(0, std::memory_order_relaxed);
  cached_tid = 0;
}

}  // namespace

pid_t pid() noexcept {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, forget_ids); });
  pid_t p = cached_pid.load(std::memory_order_relaxed);
  if (!p) {
    p = ::getpid();
    cached_pid.store(p, std::memory_order_relaxed);
  }
  return p;
}

pid_t tid() noexcept {
  (void)pid();  // registers the fork handler that renews the cache
  if (!cached_tid) cached_tid = ::gettid();
  return cached_tid;
}

int read(std::uint64_t address, void* out, std::size_t size) noexcept {
  if (!size) return 0;
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
  const ssize_t n = process_vm_readv(pid(), &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(size) ? 0 : EFAULT;
}

std::size_t page_room(std::uint64_t address) noexcept { return static_cast<std::size_t>(page - address % page); }

int write(std::uint64_t address, const void* in, std::size_t size) noexcept {
  if (!size) return 0;
  iovec local{const_cast<void*>(in), size};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
  const ssize_t n = process_vm_writev(pid(), &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(size) ? 0 : EFAULT;
}

}  // namespace kbus::broker::self_memory
