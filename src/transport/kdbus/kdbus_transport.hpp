// The kdbus transport (kdbus ABI notes §2.3-2.6, §2.15): a detail::transport over a
// kdbus_device. It performs ioctls and never blocks or polls by itself.
//
//   auto t = kdbus_transport::connect(std::move(device), options);   // HELLO, pool, matches
//   t->send(std::move(msg), {});        // msg.serial() set: one SEND ioctl, its bytes in ONE PAYLOAD_VEC
//   // wait_fd() readable (POLLIN):
//   auto r = t->receive(receive_mode::read_once);   // then buffered, until std::nullopt
//
// Messages are dbus1-marshalled (payload_type KDBUS_PAYLOAD_DBUS): marshalled once, the kernel
// (or kbusd) copies the bytes straight into the receiver's pool. There is no output queue:
// send() hands the message over at once. Calls to org.freedesktop.DBus are answered by the
// emulated bus driver (driver.hpp), BecomeMonitor included (monitor.cpp); kernel notifications
// become NameOwnerChanged / NameAcquired / NameLost signals and NoReply errors. Such messages
// are made locally and do not make wait_fd() readable: has_pending_input() says they wait. Not
// thread-safe: one thread (or strand) drives a transport.
#pragma once

#include "kbus/address.hpp"
#include "kbus/error.hpp"
#include "kbus/match.hpp"
#include "kbus/message.hpp"
#include "match/bloom.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/device.hpp"
#include "transport/transport.hpp"

#include <boost/container/deque.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kbus::detail {

class kdbus_driver;

// The pool: address space the bus maps, filled only as messages land. sd-bus took 16 MiB (kdbus
// ABI notes §2.3: bus_kernel_take_fd); with kdbus's quota one sending user may then hold just
// 2.7 MiB (a third of the free half) in a receiver that is a moment behind, and broadcasts
// beyond it are dropped: three signals of 1 MiB sent at once already were. 64 MiB gives a
// sender 10.7 MiB.
inline constexpr std::uint64_t default_kdbus_pool_size = 64 * 1024 * 1024;
// The default method call timeout of dbus-daemon and sd-bus (25 s).
inline constexpr std::chrono::microseconds default_kdbus_call_timeout = std::chrono::seconds(25);
// The kernel's deadline for a reply is the connection's reply timeout plus this: the connection
// keeps its own timer and ends the call itself; the kernel's deadline, a little later, only
// frees its reply tracking (its NoReply then finds no call waiting).
inline constexpr std::chrono::milliseconds kdbus_reply_deadline_margin{1000};
// Messages whose bytes exceed what one message may carry in PAYLOAD_VEC items (KDBUS_MSG_MAX_
// PAYLOAD_VEC_SIZE, notes §1.8) travel in a sealed memfd (PAYLOAD_MEMFD, notes §2.13).
inline constexpr std::uint64_t kdbus_memfd_threshold = kbus::kdbus::msg_max_payload_vec_size;
// The serial of messages the transport makes itself (sd-bus: (uint32_t)-1, notes §2.15).
inline constexpr std::uint32_t kdbus_synthetic_serial = 0xffffffffu;
// Match cookies: the transport's own entries (unicast signals to us, our names' changes) use
// this one; the driver's AddMatch rules count up from kdbus_first_rule_cookie.
inline constexpr std::uint64_t kdbus_internal_match_cookie = 1;
inline constexpr std::uint64_t kdbus_first_rule_cookie = 0x100;

struct kdbus_options {
  std::uint64_t pool_size = default_kdbus_pool_size;  // a multiple of the page size
  std::uint64_t hello_flags = kbus::kdbus::hello::accept_fd;
  // What we allow to be attached to our messages, and what we want on received ones (sd-bus:
  // _KDBUS_ATTACH_ANY and NAMES, notes §2.3).
  std::uint64_t attach_flags_send = kbus::kdbus::attach::any;
  std::uint64_t attach_flags_recv = kbus::kdbus::attach::names;
  std::string description;  // CONN_DESCRIPTION; empty: none
  // With kdbus::hello::monitor in hello_flags: of what the bus copies to a monitor, what to
  // keep (BecomeMonitor's rules; all when empty).
  std::vector<match_rule> monitor_rules;
  // The path the device was opened from (open_device): BecomeMonitor opens it again for the
  // monitor connection. Empty: BecomeMonitor is refused.
  std::string path;
  // The address entry the device was reached by, for info().
  std::string address;
  // Added to transport_send_options::reply_timeout for the kernel's reply deadline.
  std::chrono::milliseconds reply_deadline_margin = kdbus_reply_deadline_margin;
  // What the device can carry. kbusd's CUSE device passes no files (notes §5.1): no fds, and
  // large messages go as PAYLOAD_VEC bytes instead of a memfd.
  bool passes_fds = true;
  std::uint64_t memfd_threshold = kdbus_memfd_threshold;  // UINT64_MAX: never a memfd
  // The transport's name in info() (transport_names).
  std::string transport_name{transport_names::kernel};
  // How BecomeMonitor opens `path` again.
  result<std::unique_ptr<kdbus_device>> (*reopen)(const std::string& path) = &open_device;
};

// An ioctl with a command built as `head` + items (8-aligned); the head is written back.
template <class T>
int kdbus_command(kdbus_device& device, unsigned long request, T& head, std::span<const std::uint8_t> items = {}) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  if (sizeof(T) + items.size() > kbus::kdbus::cmd_max_size) return EMSGSIZE;
  auto buf = kbus::kdbus::command_words(head, items);
  const int r = device.ioctl(request, buf.data());
  std::memcpy(&head, buf.data(), sizeof(T));
  return r;
}

class kdbus_transport final : public transport {
 public:
  // HELLO on `device` (an opened bus file), opens the pool, reads the bloom parameters,
  // installs the match entries that deliver unicast signals and our own names' changes.
  static result<std::unique_ptr<kdbus_transport>> connect(std::unique_ptr<kdbus_device> device,
                                                          const kdbus_options& options = {});
  ~kdbus_transport() override;
  kdbus_transport(const kdbus_transport&) = delete;
  kdbus_transport& operator=(const kdbus_transport&) = delete;

  // ---- detail::transport ----
  // Changes when BecomeMonitor made this a monitor connection.
  int wait_fd() const noexcept override;
  // One SEND ioctl; a call gets the kernel deadline options.reply_timeout plus the margin of
  // kdbus_options. A call to org.freedesktop.DBus is answered by the emulated driver, a call to
  // a missing peer with a ServiceUnknown error: both onto the local queue. gone: ECONNRESET,
  // ESHUTDOWN, EBADF or ENOTCONN; any other error fails only this message.
  send_status send(message&& m, const transport_send_options& options) override;
  result<void> flush() override { return {}; }
  bool wants_write() const noexcept override { return false; }
  std::size_t queued_bytes() const noexcept override { return 0; }
  // Messages are handed to the device at once: nothing is ever left unsent in here.
  std::vector<message> take_unsent() override { return {}; }
  // The local queue first; then, in read_once mode, one RECV from the pool (its slice freed).
  // Messages the rules do not want and malformed ones are dropped (and counted): one RECV may
  // yield nothing while more wait, and wait_fd() stays readable then.
  result<std::optional<message>> receive(receive_mode mode) override;
  bool has_pending_input() const noexcept override { return !local_.empty(); }
  const transport_capabilities& capabilities() const noexcept override;
  connection_info info() const override;
  // BYEBYE is not needed: closing disconnects (releases names, fails pending replies).
  void close() noexcept override;

  // ---- kdbus ----
  std::uint64_t id() const noexcept { return link_.id; }
  const std::string& unique_name() const noexcept { return link_.unique_name; }
  // The bus UUID from HELLO as 32 hex digits (GetId).
  std::string bus_id() const;
  const bloom_parameters& bloom() const noexcept { return link_.bloom; }
  std::uint64_t bus_flags() const noexcept { return link_.bus_flags; }

  // A synchronous call (KDBUS_SEND_SYNC_REPLY): blocks until the reply (or a NoReply /
  // ServiceUnknown error reply made locally). For callers that own the thread (benchmarks,
  // blocking APIs); a connection uses send() + receive(). Driver calls are answered locally.
  result<message> call(const message& m, std::chrono::microseconds timeout = default_kdbus_call_timeout);

  // Broadcasts the kernel could not queue for us (DROPPED_MSGS), and messages dropped as bad.
  std::uint64_t dropped_messages() const noexcept { return dropped_; }
  std::uint64_t bad_messages() const noexcept { return bad_; }

  // ---- for the driver (driver*.cpp) ----
  // A slice of the pool, after checking that it lies inside.
  result<received_slice> pool_slice(std::uint64_t offset, std::uint64_t size);
  int free_slice(std::uint64_t offset) noexcept;
  void queue_local(message m) { local_.push_back(std::move(m)); }
  template <class T>
  int command(unsigned long request, T& head, std::span<const std::uint8_t> items = {}) {
    return kdbus_command(*link_.device, request, head, items);
  }
  // BecomeMonitor: a HELLO with kdbus::hello::monitor on the bus file this transport came
  // from. On success this transport goes on as that connection and the old one is closed (its
  // names go, as BecomeMonitor's do); the driver then starts monitoring.
  result<void> reopen_as_monitor();
  // Takes every message the pool holds now onto local_, in order: 0, or the errno of the RECV
  // that failed.
  int take_pool();
  void take_pool_before_local_answer();

 private:
  // One connection to the bus, as HELLO made it (hello.cpp); a monitor replaces it whole.
  struct link {
    std::unique_ptr<kdbus_device> device;
    std::uint64_t pool_size = 0;
    std::uint64_t id = 0;
    std::uint64_t bus_flags = 0;
    bool names_attached = false;  // received messages carry their sender's names (we asked)
    std::array<std::uint8_t, 16> id128{};
    std::string unique_name;
    bloom_parameters bloom;
  };
  static result<link> open_link(std::unique_ptr<kdbus_device> device, const kdbus_options& options);

  kdbus_transport() = default;
  // send.cpp
  result<void> send_message(const message& m, std::chrono::microseconds reply_deadline);
  int build_send(const message& m, std::chrono::microseconds reply_deadline, std::uint64_t dst_id,
                 std::string_view dst_name, int memfd);
  // The SEND ioctl of `m` with `c`'s flags (its memfd made when large, and closed again): 0 or
  // the ioctl's errno; an error before anything was sent (fds this device cannot pass, no memfd).
  result<int> submit(const message& m, std::chrono::microseconds reply_deadline, std::uint64_t dst_id,
                     std::string_view dst_name, kbus::kdbus::cmd_send& c);
  bool answer_unreachable(const message& m, int err);
  // The AccessDenied reply to a call the bus policy refused (EPERM, notes §2.12).
  message policy_refusal(const message& m) const;
  // receive.cpp: turns the message slice at `offset` into messages on local_ (or drops it);
  // frees nothing.
  void take_slice(std::uint64_t offset, std::uint64_t size);
  // notifications.cpp
  void take_notification(const kbus::kdbus::item_ref& item, std::uint64_t cookie_reply);
  void queue_if_wanted(message driver_broadcast);

  link link_;
  kdbus_options options_;
  transport_capabilities capabilities_;  // as connected: a monitor connection is made with the same
  bool open_ = false;
  std::unique_ptr<kdbus_driver> driver_;
  boost::container::deque<message> local_;
  int recv_error_ = 0;  // a RECV that failed after messages were taken: reported once they are out
  std::vector<std::uint64_t> send_buf_;  // the kdbus_msg being sent (8-aligned), reused
  std::vector<std::uint8_t> items_;      // scratch for items, reused
  std::uint64_t dropped_ = 0;
  std::uint64_t bad_ = 0;
};

// ":1.<id>"; and back (nullopt unless the text is exactly that with a decimal id > 0).
std::string kdbus_unique_name(std::uint64_t id);
std::optional<std::uint64_t> kdbus_parse_unique_name(std::string_view name);

}  // namespace kbus::detail
