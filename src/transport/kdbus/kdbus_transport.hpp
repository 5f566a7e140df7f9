// The kdbus transport (kdbus ABI notes §2.3-2.6, §2.15), sans-I/O: it performs ioctls on a
// kdbus_device and never blocks or polls by itself. The connection polls fd() for POLLIN (with
// Asio or anything else) and then calls receive() until it returns no message.
//
//   auto t = kdbus_transport::connect(std::move(device), options);   // HELLO + pool mapping
//   t->send(msg);                       // msg.serial() set; its bytes in ONE PAYLOAD_VEC
//   while (auto m = t->receive()) { if (!*m) break; dispatch(std::move(**m)); }
//
// Messages are dbus1-marshalled (payload_type KDBUS_PAYLOAD_DBUS): marshalled once, the kernel
// (or kbusd) copies the bytes straight into the receiver's pool. Calls to org.freedesktop.DBus
// are answered locally by the emulated bus driver (kdbus_driver.hpp); kernel notifications
// become NameOwnerChanged / NameAcquired / NameLost signals and NoReply errors. Such locally
// made messages do not make fd() readable: call receive() after every send() (has_local() says
// whether any wait). Not thread-safe: one thread (or strand) drives a transport.
//
// For the connection (src/core/connection.cpp): an address "kernel:path=<bus file>" opens
// open_kernel_device(path) and connect()s; wait for fd() readable (POLLIN) with Asio
// (posix::stream_descriptor::async_wait(wait_read)), then drain receive(); after each send()
// drain receive() too, as driver replies are queued locally. Errors from send()/receive() with
// ECONNRESET, ESHUTDOWN, EBADF or ENOTCONN end the connection; others fail only that message.
#pragma once

#include "kbus/error.hpp"
#include "kbus/match.hpp"
#include "kbus/message.hpp"
#include "match/bloom.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/device.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kbus::detail {

class kdbus_driver;

// sd-bus's pool size (kdbus ABI notes §2.3: bus_kernel_take_fd, 16 MiB).
inline constexpr std::uint64_t default_kdbus_pool_size = 16 * 1024 * 1024;
// The default method call timeout of dbus-daemon and sd-bus (25 s).
inline constexpr std::chrono::microseconds default_kdbus_call_timeout = std::chrono::seconds(25);
// Messages whose bytes exceed what one message may carry in PAYLOAD_VEC items (KDBUS_MSG_MAX_
// PAYLOAD_VEC_SIZE, notes §1.8) travel in a sealed memfd (PAYLOAD_MEMFD, notes §2.13).
inline constexpr std::uint64_t kdbus_memfd_threshold = kdbus::msg_max_payload_vec_size;
// The serial of messages the transport makes itself (sd-bus: (uint32_t)-1, notes §2.15).
inline constexpr std::uint32_t kdbus_synthetic_serial = 0xffffffffu;
// Match cookies: the transport's own entries (unicast signals to us, our names' changes) use
// this one; the driver's AddMatch rules count up from kdbus_first_rule_cookie.
inline constexpr std::uint64_t kdbus_internal_match_cookie = 1;
inline constexpr std::uint64_t kdbus_first_rule_cookie = 0x100;

struct kdbus_options {
  std::uint64_t pool_size = default_kdbus_pool_size;  // a multiple of the page size
  std::uint64_t hello_flags = kdbus::hello::accept_fd;
  // What we allow to be attached to our messages, and what we want on received ones (sd-bus:
  // _KDBUS_ATTACH_ANY and NAMES, notes §2.3).
  std::uint64_t attach_flags_send = kdbus::attach::any;
  std::uint64_t attach_flags_recv = kdbus::attach::names;
  std::string description;  // CONN_DESCRIPTION; empty: none
  // With kdbus::hello::monitor in hello_flags: of what the bus copies to a monitor, what to
  // keep (BecomeMonitor's rules; all when empty).
  std::vector<match_rule> monitor_rules;
};

class kdbus_transport {
 public:
  // HELLO on `device` (an opened bus file), maps the pool, reads the bloom parameters, installs
  // the match entries that deliver unicast signals and our own names' changes.
  static result<std::unique_ptr<kdbus_transport>> connect(std::unique_ptr<kdbus_device> device,
                                                          const kdbus_options& options = {});
  ~kdbus_transport();
  kdbus_transport(const kdbus_transport&) = delete;
  kdbus_transport& operator=(const kdbus_transport&) = delete;

  // The descriptor to poll for POLLIN (messages wait) and POLLHUP/POLLERR; -1 when closed.
  int fd() const noexcept;
  std::uint64_t id() const noexcept { return id_; }
  const std::string& unique_name() const noexcept { return unique_name_; }
  // The bus UUID from HELLO as 32 hex digits (GetId).
  std::string bus_id() const;
  const bloom_parameters& bloom() const noexcept { return bloom_; }
  std::uint64_t bus_flags() const noexcept { return bus_flags_; }

  // Sends `m` (its serial set; its fds go in a KDBUS_ITEM_FDS). A method call to
  // org.freedesktop.DBus is answered by the emulated driver, a call to a missing peer with a
  // ServiceUnknown error: both are queued locally (has_local()). `timeout` bounds the reply of
  // a call that expects one (a NoReply error comes when it passes). Errors carry the errno in a
  // system_category code: ECONNRESET/EBADF/ESHUTDOWN mean the connection is gone.
  result<void> send(const message& m, std::chrono::microseconds timeout = default_kdbus_call_timeout);

  // A synchronous call (KDBUS_SEND_SYNC_REPLY): blocks until the reply (or a NoReply /
  // ServiceUnknown error reply made locally). For callers that own the thread (benchmarks,
  // blocking APIs); the connection uses send() + receive(). Driver calls are answered locally.
  result<message> call(const message& m, std::chrono::microseconds timeout = default_kdbus_call_timeout);

  // The next message: those made locally first, then the pool's (RECV; the slice is freed).
  // std::nullopt: nothing waits. Malformed messages from the device are dropped and counted.
  result<std::optional<message>> receive();
  bool has_local() const noexcept { return !local_.empty(); }

  // Broadcasts the kernel could not queue for us (DROPPED_MSGS), and messages dropped as bad.
  std::uint64_t dropped_messages() const noexcept { return dropped_; }
  std::uint64_t bad_messages() const noexcept { return bad_; }

  // BYEBYE is not needed: closing disconnects (releases names, fails pending replies).
  void close() noexcept;

  // For the driver (kdbus_driver.cpp): the device, the pool, and locally made messages.
  kdbus_device& device() noexcept { return *device_; }
  // A slice of the pool after checking it lies inside: empty when it does not (or no pool).
  std::optional<std::span<const std::uint8_t>> pool_slice(std::uint64_t offset, std::uint64_t size) const noexcept;
  int free_slice(std::uint64_t offset) noexcept;
  void queue_local(message m) { local_.push_back(std::move(m)); }
  // An ioctl with a command built as `head` + items (8-aligned); the head is written back.
  template <class T>
  int command(unsigned long request, T& head, std::span<const std::uint8_t> items = {});

 private:
  kdbus_transport() = default;
  result<void> hello(const kdbus_options& options);
  int add_internal_matches();
  int build_send(const message& m, std::chrono::microseconds timeout, std::uint64_t dst_id, std::string_view dst_name,
                 int memfd);
  // Turns the message slice at `offset` into messages on local_ (or drops it); frees nothing.
  void take_slice(std::uint64_t offset, std::uint64_t size);
  void take_notification(const kdbus::item_ref& item, std::uint64_t cookie_reply);
  void queue_if_wanted(message driver_broadcast);
  bool answer_unreachable(const message& m, int err);

  std::unique_ptr<kdbus_device> device_;
  std::unique_ptr<kdbus_driver> driver_;
  const std::uint8_t* pool_ = nullptr;
  std::uint64_t pool_size_ = 0;
  std::uint64_t id_ = 0;
  std::uint64_t bus_flags_ = 0;
  bool names_attached_ = false;  // received messages carry their sender's names (we asked)
  std::array<std::uint8_t, 16> id128_{};
  std::string unique_name_;
  bloom_parameters bloom_;
  std::deque<message> local_;
  std::vector<std::uint64_t> send_buf_;  // the kdbus_msg being sent (8-aligned), reused
  std::vector<std::uint8_t> items_;      // scratch for items, reused
  std::uint64_t dropped_ = 0;
  std::uint64_t bad_ = 0;
};

// ":1.<id>"; and back (nullopt unless the text is exactly that with a decimal id > 0).
std::string kdbus_unique_name(std::uint64_t id);
std::optional<std::uint64_t> kdbus_parse_unique_name(std::string_view name);

template <class T>
int kdbus_transport::command(unsigned long request, T& head, std::span<const std::uint8_t> items) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  if (sizeof(T) + items.size() > kdbus::cmd_max_size) return EMSGSIZE;
  auto buf = kdbus::command_words(head, items);
  const int r = device_->ioctl(request, buf.data());
  std::memcpy(&head, buf.data(), sizeof(T));
  return r;
}

}  // namespace kbus::detail
