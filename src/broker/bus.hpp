// kbusd's core: the kdbus semantics of the final kernel (kdbus ABI notes §1-2) as a sans-I/O
// object. A front (the CUSE device, the in-process device, later a socket) opens handles on
// the domain's nodes and passes every ioctl through: the command number, the command's bytes
// (exactly `size` bytes, as the kernel copies them; the front writes them back after the call)
// and who is calling. The result is 0 or an errno, as the kernel's ioctl returns -1/errno.
// Everything the core cannot do itself — read the caller's memory (kdbus_msg, PAYLOAD_VEC),
// take and install file descriptors — goes through a peer_io the front supplies per call; pool
// memory comes from the domain_options. The core is not thread-safe: a front serialises calls.
#pragma once

#include "transport/kdbus/abi.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::broker {

// Who calls: what a kernel would take from the calling task, supplied by the front (for the
// in-process device the process's own ids; for CUSE the request's uid/gid/pid and /proc).
struct credentials {
  kdbus::creds ids{};  // uid, euid, suid, fsuid, gid, egid, sgid, fsgid
  kdbus::pids pids{};  // pid, tid, ppid
  std::vector<std::uint64_t> auxgroups;
  std::string tid_comm, pid_comm, exe, cmdline, cgroup, seclabel;
  std::optional<kdbus::audit> audit;
  // Four capability sets of u32 words (inheritable, permitted, effective, bounding) after
  // last_cap; empty = unknown (no CAPS item).
  std::uint32_t last_cap = 0;
  std::vector<std::uint32_t> caps;
  // CAP_IPC_OWNER in the domain's user namespace, judged when the node is opened (notes §4:
  // capabilities are checked at open() time only).
  bool privileged = false;
};

// An opaque reference to a file the front took from a sender (an fd or a memfd); the front
// turns it back into a descriptor in the receiver.
using file_ref = std::shared_ptr<void>;

class peer_io {
 public:
  virtual ~peer_io() = default;
  // Copies `size` bytes at the caller's `address`: 0 or EFAULT.
  virtual int read_user(std::uint64_t address, void* out, std::size_t size) = 0;
  // Takes a passed fd (FDS item): 0, EBADF, or EOPNOTSUPP for kdbus handles and AF_UNIX
  // sockets (notes §2.5).
  virtual int take_fd(int fd, file_ref& out) = 0;
  // Takes a memfd (PAYLOAD_MEMFD): 0, EBADF, EMEDIUMTYPE (not a memfd), ETXTBSY (not sealed),
  // EFAULT (start + size outside the file).
  virtual int take_memfd(int fd, std::uint64_t start, std::uint64_t size, file_ref& out) = 0;
  // Installs a file into the caller (at RECV): the new fd (close-on-exec) or -1.
  virtual int install_fd(const file_ref& file) = 0;
};

// A peer_io for callers whose memory cannot be read and who pass no files (fuzzing, tests).
class null_io final : public peer_io {
 public:
  int read_user(std::uint64_t, void*, std::size_t) override { return EFAULT; }
  int take_fd(int, file_ref&) override { return EBADF; }
  int take_memfd(int, std::uint64_t, std::uint64_t, file_ref&) override { return EBADF; }
  int install_fd(const file_ref&) override { return -1; }
};

// The result of a SEND with KDBUS_SEND_SYNC_REPLY that waits for its reply: the front waits
// (calling expire and looking at sync_result) and finishes the ioctl with sync_result's answer.
inline constexpr int in_progress = -1;

using handle_id = std::uint64_t;

struct domain_options {
  // The page size pool sizes must be a multiple of (HELLO, notes §2.3).
  std::uint64_t page_size = 4096;
  // CLOCK_MONOTONIC and CLOCK_REALTIME in ns (TIMESTAMP items); the front may fake time.
  // Unset: the system clocks.
  std::function<std::uint64_t()> monotonic_ns;
  std::function<std::uint64_t()> realtime_ns;
  // Memory for a connection's pool of `size` bytes, valid until release_pool (empty: ENOMEM).
  // Unset: heap memory the core owns (then nobody but the core sees the pool).
  std::function<std::span<std::uint8_t>(handle_id, std::uint64_t size)> map_pool;
  std::function<void(handle_id, std::span<std::uint8_t>)> release_pool;
};

// poll(2) bits a handle reports (notes §2.6).
struct poll_state {
  bool readable = false;  // queue non-empty or lost messages to report
  bool hangup = false;    // not connected / shut down
};

// One kdbusfs mount: its control node, buses, endpoints, connections and the id counter.
class domain {
 public:
  explicit domain(domain_options options = {});
  ~domain();
  domain(const domain&) = delete;
  domain& operator=(const domain&) = delete;

  // Opens "control", or an endpoint file "<bus>/bus" or "<bus>/<endpoint>". ENOENT when the
  // node does not exist, EACCES when the node's mode does not let `who` in (§2.1).
  int open(std::string_view node, const credentials& who, handle_id& out);
  // The last reference to a handle went away (close): a bus owner's handle destroys its bus,
  // an endpoint owner's its endpoint, a connection disconnects.
  void close(handle_id h);

  // One ioctl. `cmd` holds exactly the command's `size` bytes; the core writes the fields the
  // kernel writes back. Returns 0, an errno, or in_progress (then `ticket` is set).
  int ioctl(handle_id h, std::uint32_t number, std::span<std::uint8_t> cmd, const credentials& who, peer_io& io,
            std::uint64_t* ticket = nullptr);

  // A waiting synchronous SEND: in_progress while no reply came, else its final result with
  // cmd.reply written into `cmd` (the SEND command's bytes); the ticket is then gone. The
  // reply's files are installed through `io`, the waiting caller's.
  int sync_result(std::uint64_t ticket, std::span<std::uint8_t> cmd, peer_io& io);
  // Ends a waiting SEND with `error` (ETIMEDOUT, ECANCELED, EINTR ...) unless it finished; its
  // answer is then available from sync_result.
  void sync_abort(std::uint64_t ticket, int error);
  // The CANCEL_FD of a waiting SEND, if it gave one (the front watches it).
  std::optional<int> sync_cancel_fd(std::uint64_t ticket) const;

  poll_state poll(handle_id h) const;
  // Handles whose poll state may have changed since the last call (the front refreshes them).
  std::vector<handle_id> take_wakeups();

  // Fires the reply timeouts due at `now` (CLOCK_MONOTONIC ns): REPLY_TIMEOUT notifications,
  // ETIMEDOUT for synchronous callers. Returns the next deadline, or UINT64_MAX.
  std::uint64_t expire(std::uint64_t now);
  std::uint64_t next_deadline() const;

  // The pool of a connected handle (empty otherwise), for the front's mapping and tests.
  std::span<const std::uint8_t> pool_memory(handle_id h) const;
  // Whether a handle is a connection (HELLO succeeded and not yet gone).
  bool connected(handle_id h) const;

  // Whether `number` is one of the 16 kdbus ioctl numbers (§1.2); others get ENOTTY.
  static bool known_command(std::uint32_t number) noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace kbus::broker
