// Sending (notes §2.5, §2.11, §2.13): one SEND ioctl per message, its bytes in one PAYLOAD_VEC
// (or a sealed memfd when large), the bloom filter of a signal, the kernel's reply deadline of
// a call; calls to the driver and to nobody are answered locally.
#include "kbus/connection.hpp"
#include "kbus/dbus_names.hpp"
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus/driver_messages.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace kbus::detail {

namespace {

kbus::error sys_error(int e, const std::string& what) {
  const std::error_code code(e, std::system_category());
  return kbus::error(code, what + ": " + code.message());
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// The absolute CLOCK_MONOTONIC deadline of a call (notes §2.11), saturating.
std::uint64_t deadline_ns(std::chrono::microseconds timeout) noexcept {
  const auto us = std::max<std::int64_t>(timeout.count(), 1);
  const std::uint64_t add =
      static_cast<std::uint64_t>(us) > UINT64_MAX / 1000 ? UINT64_MAX : static_cast<std::uint64_t>(us) * 1000;
  const std::uint64_t now = monotonic_ns();
  return add > UINT64_MAX - now ? UINT64_MAX : now + add;
}

// A sealed memfd holding `bytes` (notes §2.13: SHRINK|GROW|WRITE|SEAL), or -1.
int make_sealed_memfd(std::span<const std::byte> bytes) {
  const int fd = ::memfd_create("kbus-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The kernel's reply deadline: the connection's timeout plus the margin, saturating (a
// connection may give the largest duration for "no timeout").
std::chrono::microseconds kernel_reply_deadline(std::chrono::milliseconds timeout, std::chrono::milliseconds margin) noexcept {
  constexpr auto most = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::microseconds::max());
  const auto a = std::clamp(timeout, std::chrono::milliseconds::zero(), most);
  const auto b = std::clamp(margin, std::chrono::milliseconds::zero(), most);
  return std::chrono::duration_cast<std::chrono::microseconds>(b > most - a ? most : a + b);
}

// The errors after which the connection is over (the device is closed or the bus went away).
// ENODEV and ECONNABORTED: a CUSE device whose server went away (the kernel aborts its requests).
bool connection_gone(int err) noexcept {
  return err == ECONNRESET || err == ESHUTDOWN || err == EBADF || err == ENOTCONN || err == ENODEV || err == ECONNABORTED;
}

}  // namespace

send_status kdbus_transport::send(message&& m, const transport_send_options& options) {
  auto sent = send_message(m, kernel_reply_deadline(options.reply_timeout, options_.reply_deadline_margin));
  if (sent) return {};
  const auto outcome = connection_gone(sent.error().code.value()) ? send_outcome::gone : send_outcome::message_failed;
  return {outcome, sent.error()};
}

int kdbus_transport::build_send(const message& m, std::chrono::microseconds reply_deadline, std::uint64_t dst_id,
                                std::string_view dst_name, int memfd) {
  const auto bytes = m.bytes();
  items_.clear();
  kdbus::item_writer w(items_);
  if (!dst_name.empty()) w.add_string(kdbus::item_type::dst_name, dst_name);
  if (memfd >= 0) {
    kdbus::memfd mf{};
    mf.start = 0;
    mf.size = bytes.size();
    mf.fd = memfd;
    w.add_struct(kdbus::item_type::payload_memfd, mf);
  } else {
    kdbus::vec v{};
    v.size = bytes.size();
    v.address = reinterpret_cast<std::uintptr_t>(bytes.data());
    w.add_struct(kdbus::item_type::payload_vec, v);
  }
  kdbus::msg head{};
  head.payload_type = kdbus::payload_dbus;
  head.cookie = m.serial();
  head.dst_id = dst_id;
  if (any(m.flags() & message_flags::no_auto_start)) head.flags |= kdbus::msg_flags::no_auto_start;
  switch (m.type()) {
    case message_type::method_call:
      if (m.expects_reply()) {
        head.flags |= kdbus::msg_flags::expect_reply;
        head.timeout_ns = deadline_ns(reply_deadline);
      }
      break;
    case message_type::method_return:
    case message_type::error:
      head.cookie_reply = m.reply_serial().value_or(0);
      break;
    case message_type::signal: {
      head.flags |= kdbus::msg_flags::signal;
      const auto filter = bloom_for_message(m, link_.bloom);
      std::vector<std::uint8_t> payload(sizeof(kdbus::bloom_filter) + filter.words().size() * 8, 0);
      if (!filter.words().empty())
        std::memcpy(payload.data() + sizeof(kdbus::bloom_filter), filter.words().data(), filter.words().size() * 8);
      w.add(kdbus::item_type::bloom_filter, payload);
      break;
    }
    default: return EINVAL;
  }
  if (!m.fds().empty()) {
    if (m.fds().size() > kdbus::conn_max_fds_per_user) return EMFILE;
    std::vector<std::int32_t> fds;
    for (const auto& f : m.fds()) fds.push_back(f.get());
    w.add_raw(kdbus::to_u64(kdbus::item_type::fds), fds.data(), fds.size() * sizeof(std::int32_t));
  }
  const std::size_t total = sizeof(kdbus::msg) + items_.size();
  if (total > kdbus::cmd_max_size) return EMSGSIZE;
  head.size = total;
  send_buf_.assign((total + 7) / 8, 0);
  std::memcpy(send_buf_.data(), &head, sizeof head);
  std::memcpy(reinterpret_cast<std::uint8_t*>(send_buf_.data()) + sizeof head, items_.data(), items_.size());
  return 0;
}

// ENXIO / ESRCH / EADDRNOTAVAIL: nobody there. A call gets a ServiceUnknown error (notes
// §2.15); anything else is dropped quietly, as on a dbus1 bus. EPERM: the bus policy does not
// let us talk to the destination (notes §2.12): a call gets AccessDenied, as dbus-daemon answers.
bool kdbus_transport::answer_unreachable(const message& m, int err) {
  if (err == EPERM && m.type() == message_type::method_call) {
    if (m.expects_reply()) local_.push_back(policy_refusal(m));
    return true;
  }
  if (err != ENXIO && err != ESRCH && err != EADDRNOTAVAIL) return false;
  if (m.expects_reply())
    local_.push_back(driver_error(m, dbus_errors::service_unknown,
                                  "The name " + std::string(m.destination()) +
                                      (err == EADDRNOTAVAIL ? " is activatable, but auto-start is disabled" : " is not owned"),
                                  link_.unique_name));
  return true;
}

message kdbus_transport::policy_refusal(const message& m) const {
  return driver_error(m, dbus_errors::access_denied,
                      "The bus policy does not let this connection talk to " + std::string(m.destination()),
                      link_.unique_name);
}

result<int> kdbus_transport::submit(const message& m, std::chrono::microseconds reply_deadline, std::uint64_t dst_id,
                                    std::string_view dst_name, kdbus::cmd_send& c) {
  if (!m.fds().empty() && !options_.passes_fds)
    return kbus::error(make_error_code(connection_errc::fds_not_supported),
                       "a " + options_.transport_name + ": connection cannot pass file descriptors");
  int memfd = -1;
  if (m.bytes().size() > options_.memfd_threshold) {
    memfd = make_sealed_memfd(m.bytes());
    if (memfd < 0) return sys_error(errno ? errno : ENOMEM, "cannot put a large message into a memfd");
  }
  int r = build_send(m, reply_deadline, dst_id, dst_name, memfd);
  if (r == 0) {
    c.msg_address = reinterpret_cast<std::uintptr_t>(send_buf_.data());
    r = command(kdbus::ioctl::send, c);
  }
  if (memfd >= 0) ::close(memfd);
  return r;
}

result<void> kdbus_transport::send_message(const message& m, std::chrono::microseconds reply_deadline) {
  if (!open_) return sys_error(ESHUTDOWN, "the kdbus connection is closed");
  const std::string_view dest = m.destination();
  if (dest == dbus_names::driver_name) {
    // The driver takes method calls; anything else addressed to it has nowhere to go.
    if (m.type() == message_type::method_call) {
      take_pool_before_local_answer();
      driver_->handle(m);
    }
    return {};
  }
  std::uint64_t dst_id = kdbus::dst_id_broadcast;
  std::string_view dst_name;
  if (dest.empty()) {
    if (m.type() != message_type::signal) {
      answer_unreachable(m, ESRCH);
      return {};
    }
  } else if (dest[0] == ':') {
    const auto id = kdbus_parse_unique_name(dest);
    if (!id) {
      answer_unreachable(m, ENXIO);
      return {};
    }
    dst_id = *id;
  } else {
    dst_id = kdbus::dst_id_name;
    dst_name = dest;
  }
  kdbus::cmd_send c{};
  const auto sent = submit(m, reply_deadline, dst_id, dst_name, c);
  if (!sent) return sent.error();
  const int r = *sent;
  if (r == 0 || answer_unreachable(m, r)) return {};
  // A reply nobody waits for any more (EBADSLT: the call timed out or was answered) is dropped,
  // as dbus-daemon drops unexpected replies.
  if (r == EBADSLT && (m.type() == message_type::method_return || m.type() == message_type::error)) return {};
  return sys_error(r, "kdbus SEND failed");
}

result<message> kdbus_transport::call(const message& m, std::chrono::microseconds timeout) {
  if (!open_) return sys_error(ESHUTDOWN, "the kdbus connection is closed");
  if (m.type() != message_type::method_call || !m.expects_reply() || m.destination().empty() ||
      m.destination() == dbus_names::driver_name) {
    // Nothing to wait for in the kernel: send, then take what came back locally.
    const std::size_t before = local_.size();
    if (auto r = send_message(m, timeout); !r) return r.error();
    for (std::size_t i = before; i < local_.size(); ++i) {
      if (local_[i].reply_serial() == m.serial() && local_[i].type() != message_type::signal) {
        message reply = std::move(local_[i]);
        local_.erase(local_.begin() + static_cast<std::ptrdiff_t>(i));
        return reply;
      }
    }
    return sys_error(EINVAL, "the message expects no reply");
  }
  std::uint64_t dst_id = kdbus::dst_id_name;
  std::string_view dst_name;
  if (m.destination()[0] == ':') {
    const auto id = kdbus_parse_unique_name(m.destination());
    if (!id) return sys_error(ENXIO, "no such peer");
    dst_id = *id;
  } else {
    dst_name = m.destination();
  }
  kdbus::cmd_send c{};
  c.flags = kdbus::send::sync_reply;
  const auto sent = submit(m, timeout, dst_id, dst_name, c);
  if (!sent) return sent.error();
  const int r = *sent;
  if (r == ENXIO || r == ESRCH || r == EADDRNOTAVAIL)
    return driver_error(m, dbus_errors::service_unknown, "The name " + std::string(m.destination()) + " is not owned",
                        link_.unique_name);
  if (r == EPERM) return policy_refusal(m);
  if (r == ETIMEDOUT) return driver_error(m, dbus_errors::no_reply, "Method call timed out", link_.unique_name);
  if (r == EPIPE || r == EREMOTEIO) return driver_error(m, dbus_errors::no_reply, "Method call peer died", link_.unique_name);
  if (r != 0) return sys_error(r, "kdbus SEND failed");
  const std::size_t before = local_.size();
  take_slice(c.reply.offset, c.reply.msg_size);
  free_slice(c.reply.offset);
  if (local_.size() == before) return sys_error(EBADMSG, "the reply could not be decoded");
  message reply = std::move(local_.back());
  local_.pop_back();
  return reply;
}

}  // namespace kbus::detail
