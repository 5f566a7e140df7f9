// kbusd's core: the kdbus semantics of the final kernel (kdbus ABI notes §1-2) as a sans-I/O
// object. A front (the CUSE device, the in-process device, later a socket) opens handles on
// the domain's nodes and passes every ioctl through: the command number, the command's bytes
// (exactly `size` bytes, as the kernel copies them; the front writes them back after the call)
// and who is calling. The result is 0 or an errno, as the kernel's ioctl returns -1/errno.
// Everything the core cannot do itself goes through a peer_io (peer_io.hpp) the front supplies
// per call; pool memory comes from the domain_options. The core is not thread-safe: a front
// serialises calls. Inside: domain_impl.hpp, and one file per concept beside it.
#pragma once

#include "broker/credentials.hpp"
#include "broker/peer_io.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace kbus::broker {

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
  // The PAYLOAD_VEC bytes one message may carry (EMSGSIZE beyond): the kernel's limit, above
  // which its clients use a memfd. A front whose clients cannot pass memfds (CUSE) raises it.
  std::uint64_t max_payload_vec_size = kdbus::msg_max_payload_vec_size;
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
  // Whether sync_result would now give the final result (the waiting caller may be woken).
  bool sync_finished(std::uint64_t ticket) const;

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
  // Whether the command looks at the caller's credentials (`who` of ioctl): BUS_MAKE,
  // ENDPOINT_MAKE, HELLO and SEND. For the others a front need not gather them.
  static bool uses_credentials(std::uint32_t number) noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace kbus::broker
