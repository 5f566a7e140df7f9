// The in-process device: kbusd's core (bus.hpp) served inside the process through the kdbus
// ioctl numbers and structs, as if it were the kdbus kernel module. A handle is a real file
// descriptor (an eventfd: poll(2) it, POLLIN while messages wait), the pool is a real shared
// mapping (a memfd, mapped read-only by the client), and ioctl/mmap/close go through this
// object instead of the kernel. Caller memory is read and written through process_vm_readv /
// process_vm_writev (self_memory.hpp), so a bad pointer gives EFAULT, never a crash; a command
// is read in one such call and only what the core changed is written back, both outside the
// lock. Thread-safe: one lock serialises the core; a synchronous SEND waits without holding it
// and is woken only by its own answer; a timer thread, asleep in a timerfd armed for the
// earliest reply deadline, runs only when one is due.
#pragma once

#include "broker/domain.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace kbus::broker {

class local_device {
 public:
  local_device();
  explicit local_device(domain_options options);
  ~local_device();
  local_device(const local_device&) = delete;
  local_device& operator=(const local_device&) = delete;

  // Opens a node as open(2) would: "control", "<bus>/bus" or "<bus>/<endpoint>". Returns the
  // handle (a file descriptor), or -1 with errno (ENOENT, EACCES). `as` replaces the caller's
  // credentials for everything done through this handle (tests, or a front that proxies).
  int open(std::string_view node);
  int open(std::string_view node, const credentials& as);
  // close(2): 0, or -1 with errno EBADF.
  int close(int fd);
  // ioctl(2) with a kdbus command: 0, or -1 with errno.
  int ioctl(int fd, unsigned long request, void* arg);
  // mmap(2) of a connection's pool: PROT_READ and MAP_SHARED only (PROT_WRITE: EPERM), within
  // the pool (EFAULT beyond it). MAP_FAILED with errno on failure; munmap(2) releases it.
  void* mmap(void* addr, std::size_t length, int prot, int flags, int fd, off_t offset);
  // The poll(2) events of a handle: POLLOUT|POLLWRNORM, POLLIN|POLLRDNORM when a message or a
  // lost-message count waits, POLLERR|POLLHUP when not connected or shut down.
  short poll_events(int fd);
  // Waits up to `timeout_ms` (negative: forever) for `events` on a handle; returns the events
  // that are set (0 on timeout).
  short wait(int fd, short events, int timeout_ms);

  // The calling process's credentials as a kernel would report them (ids, pids, comm, exe,
  // cmdline, cgroup, caps, audit; privileged when CAP_IPC_OWNER is effective).
  static credentials process_credentials();

  struct state;

 private:
  int open_as(std::string_view node, const std::optional<credentials>& as);

  std::unique_ptr<state> s_;
};

}  // namespace kbus::broker
