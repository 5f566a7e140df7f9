// The calling process's own memory as the in-process device reaches it: through
// process_vm_readv / process_vm_writev, so that a bad pointer gives EFAULT, never a crash. Each
// call is one system call; the process id they need is cached (and renewed in a forked child),
// so that reading or writing costs no getpid(2) beside it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace kbus::broker::self_memory {

// This process's id and the calling thread's id, each asked of the kernel once (again after a
// fork(2), in the child).
pid_t pid() noexcept;
pid_t tid() noexcept;

// Copies `size` bytes at `address` of this process: 0 or EFAULT.
int read(std::uint64_t address, void* out, std::size_t size) noexcept;
// The bytes from `address` to the end of its page: a read of no more than that either copies
// all or faults at once, so it may read ahead of what is known to be needed.
std::size_t page_room(std::uint64_t address) noexcept;
// Copies `size` bytes to `address` of this process: 0 or EFAULT.
int write(std::uint64_t address, const void* in, std::size_t size) noexcept;

}  // namespace kbus::broker::self_memory
