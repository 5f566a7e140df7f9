#include "transport/kdbus/kdbus_transport.hpp"

#include "kbus/dbus_errors.hpp"
#include "kbus/names.hpp"
#include "transport/kdbus/driver.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <system_error>

namespace kbus::detail {

namespace {

constexpr std::string_view driver_name = "org.freedesktop.DBus";
constexpr std::string_view driver_path = "/org/freedesktop/DBus";

kbus::error sys_error(int e, std::string what) {
  return kbus::error(std::error_code(e, std::system_category()), std::move(what));
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// The absolute CLOCK_MONOTONIC deadline of a call (notes §2.11), saturating.
std::uint64_t deadline_ns(std::chrono::microseconds timeout) noexcept {
  const auto us = std::max<std::int64_t>(timeout.count(), 1);
  const std::uint64_t add = static_cast<std::uint64_t>(us) > UINT64_MAX / 1000 ? UINT64_MAX : static_cast<std::uint64_t>(us) * 1000;
  const std::uint64_t now = monotonic_ns();
  return add > UINT64_MAX - now ? UINT64_MAX : now + add;
}

// A signal from the driver (sender org.freedesktop.DBus, serial (uint32_t)-1).
template <class... Args>
message driver_signal(std::string_view member, std::string_view destination, const Args&... args) {
  auto b = message_builder::signal(object_path::unchecked(driver_path), interface_name::unchecked(driver_name),
                                   member_name::unchecked(member));
  b.sender(bus_name::unchecked(driver_name));
  if (!destination.empty()) b.destination(bus_name::unchecked(destination));
  message m = b.build(args...);
  m.set_serial(kdbus_synthetic_serial);
  return m;
}

// Reads [start, start + size) of a memfd the device installed (PAYLOAD_MEMFD).
bool read_memfd(int fd, std::uint64_t start, std::uint64_t size, std::vector<std::byte>& out) {
  if (fd < 0 || size > max_message_length - std::min<std::uint64_t>(out.size(), max_message_length)) return false;
  if (start > static_cast<std::uint64_t>(INT64_MAX) - size) return false;
  const std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(size));
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out.data() + at + done, static_cast<std::size_t>(size) - done,
                              static_cast<off_t>(start + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
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

}  // namespace

std::string kdbus_unique_name(std::uint64_t id) { return ":1." + std::to_string(id); }

std::optional<std::uint64_t> kdbus_parse_unique_name(std::string_view name) {
  if (name.size() < 4 || name.substr(0, 3) != ":1.") return std::nullopt;
  const auto digits = name.substr(3);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  std::uint64_t id = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || p != digits.data() + digits.size() || id == 0) return std::nullopt;
  return id;
}

result<std::unique_ptr<kdbus_transport>> kdbus_transport::connect(std::unique_ptr<kdbus_device> device,
                                                                  const kdbus_options& options) {
  if (!device) return sys_error(EBADF, "no kdbus device");
  std::unique_ptr<kdbus_transport> t(new kdbus_transport());
  t->device_ = std::move(device);
  if (auto r = t->hello(options); !r) return r.error();
  t->driver_ = std::make_unique<kdbus_driver>(*t);
  if (options.hello_flags & kdbus::hello::monitor) t->driver_->monitor_with(options.monitor_rules);
  return t;
}

kdbus_transport::~kdbus_transport() { close(); }

int kdbus_transport::fd() const noexcept { return device_ ? device_->fd() : -1; }

void kdbus_transport::close() noexcept {
  if (device_) device_->close();
  pool_ = nullptr;
}

std::string kdbus_transport::bus_id() const {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (const auto b : id128_) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

std::optional<std::span<const std::uint8_t>> kdbus_transport::pool_slice(std::uint64_t offset,
                                                                         std::uint64_t size) const noexcept {
  if (!pool_ || offset > pool_size_ || size > pool_size_ - offset) return std::nullopt;
  return std::span<const std::uint8_t>(pool_ + offset, static_cast<std::size_t>(size));
}

int kdbus_transport::free_slice(std::uint64_t offset) noexcept {
  kdbus::cmd_free c{};
  c.offset = offset;
  return command(kdbus::ioctl::free, c);
}

result<void> kdbus_transport::hello(const kdbus_options& options) {
  kdbus::cmd_hello h{};
  h.flags = options.hello_flags;
  h.attach_flags_send = options.attach_flags_send;
  h.attach_flags_recv = options.attach_flags_recv;
  h.pool_size = options.pool_size;
  items_.clear();
  if (!options.description.empty()) {
    if (kdbus::check_sysname(options.description) != 0)
      return sys_error(EINVAL, "invalid kdbus connection description '" + options.description + "'");
    kdbus::item_writer(items_).add_string(kdbus::item_type::conn_description, options.description);
  }
  if (const int r = command(kdbus::ioctl::hello, h, items_); r != 0)
    return sys_error(r == ENOTTY ? ESOCKTNOSUPPORT : r, r == ENOTTY ? "incompatible kdbus API version (HELLO)"
                                                                    : "kdbus HELLO failed");
  // sd-bus refused buses with unknown features in the upper 32 bits of bus_flags (notes §2.3).
  if (h.bus_flags >> 32) return sys_error(EPROTONOSUPPORT, "the kdbus bus has incompatible features");
  if (h.id == 0 || h.id == kdbus::dst_id_broadcast) return sys_error(EPROTO, "kdbus HELLO returned an invalid id");
  id_ = h.id;
  bus_flags_ = h.bus_flags;
  // NAMES is implicit metadata (notes §2.7): asked for, it comes with every message.
  names_attached_ = (options.attach_flags_recv & kdbus::attach::names) != 0;
  std::memcpy(id128_.data(), h.id128, sizeof h.id128);
  unique_name_ = kdbus_unique_name(id_);
  pool_size_ = options.pool_size;
  if (const int r = device_->map_pool(pool_size_, pool_); r != 0) return sys_error(r, "cannot map the kdbus pool");

  // The HELLO slice carries one BLOOM_PARAMETER item (notes §2.3).
  const auto slice = pool_slice(h.offset, h.items_size);
  bool have_bloom = false;
  if (slice) {
    kdbus::for_each_item(*slice, [&](const kdbus::item_ref& it) {
      kdbus::bloom_parameter bp{};
      if (it.kind() == kdbus::item_type::bloom_parameter && it.as(bp) && bp.size <= SIZE_MAX && bp.n_hash <= SIZE_MAX) {
        bloom_.size = static_cast<std::size_t>(bp.size);
        bloom_.hashes = static_cast<std::size_t>(bp.n_hash);
        have_bloom = true;
      }
      return 0;
    });
  }
  free_slice(h.offset);
  if (!slice) return sys_error(EPROTO, "kdbus HELLO returned a slice outside the pool");
  if (!have_bloom) return sys_error(EPROTO, "kdbus HELLO returned no bloom parameters");
  if (auto ok = bloom_.check(); !ok) return ok.error();
  // A monitor gets everything and may add no match entries (notes §3, test 8).
  if (options.hello_flags & kdbus::hello::monitor) return {};
  if (const int r = add_internal_matches(); r != 0) return sys_error(r, "cannot add the kdbus match entries");
  return {};
}

// dbus1 semantics on kdbus: unicast signals to us are not subject to matches (a DST_ID=self
// entry, notes §2.8), and we learn of our own names' changes (NameAcquired / NameLost).
int kdbus_transport::add_internal_matches() {
  auto add = [&](auto&& fill) {
    items_.clear();
    kdbus::item_writer w(items_);
    fill(w);
    kdbus::cmd_match c{};
    c.cookie = kdbus_internal_match_cookie;
    return command(kdbus::ioctl::match_add, c, items_);
  };
  if (const int r = add([&](kdbus::item_writer& w) { w.add_u64(kdbus::item_type::dst_id, id_); })) return r;
  const kdbus::notify_id_change any{kdbus::match_id_any, 0}, self{id_, 0};
  struct {
    kdbus::item_type type;
    bool old_is_self;
  } const own[] = {{kdbus::item_type::name_add, false},
                   {kdbus::item_type::name_change, false},
                   {kdbus::item_type::name_change, true},
                   {kdbus::item_type::name_remove, true}};
  for (const auto& o : own) {
    const kdbus::notify_name_change nc{o.old_is_self ? self : any, o.old_is_self ? any : self};
    if (const int r = add([&](kdbus::item_writer& w) { w.add_struct(o.type, nc); })) return r;
  }
  return 0;
}

int kdbus_transport::build_send(const message& m, std::chrono::microseconds timeout, std::uint64_t dst_id,
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
        head.timeout_ns = deadline_ns(timeout);
      }
      break;
    case message_type::method_return:
    case message_type::error:
      head.cookie_reply = m.reply_serial().value_or(0);
      break;
    case message_type::signal: {
      head.flags |= kdbus::msg_flags::signal;
      const auto filter = bloom_for_message(m, bloom_);
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
// §2.15); anything else is dropped quietly, as on a dbus1 bus.
bool kdbus_transport::answer_unreachable(const message& m, int err) {
  if (err != ENXIO && err != ESRCH && err != EADDRNOTAVAIL) return false;
  if (m.expects_reply()) {
    auto b = message_builder::error(m, error_name::unchecked(dbus_errors::service_unknown));
    b.sender(bus_name::unchecked(driver_name));
    if (m.sender().empty()) b.destination(bus_name::unchecked(unique_name_));
    message e = b.build(std::string("The name ") + std::string(m.destination()) +
                        (err == EADDRNOTAVAIL ? " is activatable, but auto-start is disabled" : " is not owned"));
    e.set_serial(kdbus_synthetic_serial);
    local_.push_back(std::move(e));
  }
  return true;
}

result<void> kdbus_transport::send(const message& m, std::chrono::microseconds timeout) {
  if (!pool_) return sys_error(ESHUTDOWN, "the kdbus connection is closed");
  const std::string_view dest = m.destination();
  if (dest == driver_name) {
    // The driver takes method calls; anything else addressed to it has nowhere to go.
    if (m.type() == message_type::method_call) driver_->handle(m);
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
  int memfd = -1;
  if (m.bytes().size() > kdbus_memfd_threshold) {
    memfd = make_sealed_memfd(m.bytes());
    if (memfd < 0) return sys_error(errno ? errno : ENOMEM, "cannot put a large message into a memfd");
  }
  int r = build_send(m, timeout, dst_id, dst_name, memfd);
  if (r == 0) {
    kdbus::cmd_send c{};
    c.msg_address = reinterpret_cast<std::uintptr_t>(send_buf_.data());
    r = command(kdbus::ioctl::send, c);
  }
  if (memfd >= 0) ::close(memfd);
  if (r == 0 || answer_unreachable(m, r)) return {};
  // A reply nobody waits for any more (EBADSLT: the call timed out or was answered) is dropped,
  // as dbus-daemon drops unexpected replies.
  if (r == EBADSLT && (m.type() == message_type::method_return || m.type() == message_type::error)) return {};
  return sys_error(r, "kdbus SEND failed");
}

result<message> kdbus_transport::call(const message& m, std::chrono::microseconds timeout) {
  if (!pool_) return sys_error(ESHUTDOWN, "the kdbus connection is closed");
  if (m.type() != message_type::method_call || !m.expects_reply() || m.destination().empty() ||
      m.destination() == driver_name) {
    // Nothing to wait for in the kernel: send, then take what came back locally.
    const std::size_t before = local_.size();
    if (auto r = send(m, timeout); !r) return r.error();
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
  int memfd = -1;
  if (m.bytes().size() > kdbus_memfd_threshold) {
    memfd = make_sealed_memfd(m.bytes());
    if (memfd < 0) return sys_error(errno ? errno : ENOMEM, "cannot put a large message into a memfd");
  }
  int r = build_send(m, timeout, dst_id, dst_name, memfd);
  kdbus::cmd_send c{};
  if (r == 0) {
    c.flags = kdbus::send::sync_reply;
    c.msg_address = reinterpret_cast<std::uintptr_t>(send_buf_.data());
    r = command(kdbus::ioctl::send, c);
  }
  if (memfd >= 0) ::close(memfd);
  auto no_reply = [&](std::string_view name, std::string text) -> result<message> {
    auto b = message_builder::error(m, error_name::unchecked(name));
    b.sender(bus_name::unchecked(driver_name));
    if (m.sender().empty()) b.destination(bus_name::unchecked(unique_name_));
    message e = b.build(std::move(text));
    e.set_serial(kdbus_synthetic_serial);
    return e;
  };
  if (r == ENXIO || r == ESRCH || r == EADDRNOTAVAIL)
    return no_reply(dbus_errors::service_unknown, "The name " + std::string(m.destination()) + " is not owned");
  if (r == ETIMEDOUT) return no_reply(dbus_errors::no_reply, "Method call timed out");
  if (r == EPIPE || r == EREMOTEIO) return no_reply(dbus_errors::no_reply, "Method call peer died");
  if (r != 0) return sys_error(r, "kdbus SEND failed");
  const std::size_t before = local_.size();
  take_slice(c.reply.offset, c.reply.msg_size);
  free_slice(c.reply.offset);
  if (local_.size() == before) return sys_error(EBADMSG, "the reply could not be decoded");
  message reply = std::move(local_.back());
  local_.pop_back();
  return reply;
}

result<std::optional<message>> kdbus_transport::receive() {
  for (;;) {
    if (!local_.empty()) {
      message m = std::move(local_.front());
      local_.pop_front();
      return std::optional<message>(std::move(m));
    }
    if (!pool_) return sys_error(ESHUTDOWN, "the kdbus connection is closed");
    kdbus::cmd_recv c{};
    const int r = command(kdbus::ioctl::recv, c);
    if (c.return_flags & kdbus::recv::return_dropped_msgs) dropped_ += c.dropped_msgs;
    if (r == EAGAIN) return std::optional<message>();
    if (r != 0) return sys_error(r, "kdbus RECV failed");
    take_slice(c.msg.offset, c.msg.msg_size);
    free_slice(c.msg.offset);
  }
}

void kdbus_transport::take_slice(std::uint64_t offset, std::uint64_t size) {
  const auto slice = pool_slice(offset, size);
  kdbus::msg head{};
  if (!slice || !kdbus::load(*slice, 0, head) || head.size < sizeof head || head.size > slice->size()) {
    ++bad_;
    return;
  }
  const auto items = slice->subspan(sizeof head, static_cast<std::size_t>(head.size - sizeof head));
  std::vector<std::byte> bytes;
  std::vector<unix_fd> fds;
  std::vector<unix_fd> memfds;
  bool ok = true;
  std::optional<kdbus::item_ref> notification;
  // The sender's well-known names (NAMES metadata), for rules with sender='well.known.Name':
  // views into the slice, which lives until the message is made.
  std::vector<std::string_view> sender_names;
  const int walk = kdbus::for_each_item(items, [&](const kdbus::item_ref& it) {
    switch (it.kind()) {
      case kdbus::item_type::owned_name: {
        kdbus::name flags{};
        kdbus::item_ref text = it;
        text.payload = it.payload.subspan(std::min(it.payload.size(), sizeof flags));
        std::string_view name;
        // A name only queued for, or held as an activator, is not owned (notes §2.10).
        if (kdbus::load(it.payload, 0, flags) && text.as_string(name) &&
            !(flags.flags & (kdbus::name_flags::in_queue | kdbus::name_flags::activator)))
          sender_names.emplace_back(name);
        break;
      }
      case kdbus::item_type::payload_off: {
        kdbus::vec v{};
        if (!it.as(v) || v.size > max_message_length - std::min<std::size_t>(bytes.size(), max_message_length)) {
          ok = false;
          break;
        }
        if (v.offset == ~std::uint64_t{0}) {
          bytes.resize(bytes.size() + static_cast<std::size_t>(v.size));
        } else if (v.offset <= slice->size() && v.size <= slice->size() - v.offset) {
          const auto* p = reinterpret_cast<const std::byte*>(slice->data() + v.offset);
          bytes.insert(bytes.end(), p, p + v.size);
        } else {
          ok = false;
        }
        break;
      }
      case kdbus::item_type::payload_memfd: {
        kdbus::memfd mf{};
        if (!it.as(mf)) {
          ok = false;
          break;
        }
        memfds.emplace_back(mf.fd);
        if (!read_memfd(mf.fd, mf.start, mf.size, bytes)) ok = false;
        break;
      }
      case kdbus::item_type::fds:
        for (std::size_t i = 0; i + sizeof(std::int32_t) <= it.payload.size(); i += sizeof(std::int32_t)) {
          std::int32_t fd = -1;
          kdbus::load(it.payload, i, fd);
          fds.emplace_back(fd);
        }
        break;
      case kdbus::item_type::name_add:
      case kdbus::item_type::name_remove:
      case kdbus::item_type::name_change:
      case kdbus::item_type::id_add:
      case kdbus::item_type::id_remove:
      case kdbus::item_type::reply_timeout:
      case kdbus::item_type::reply_dead:
        if (!notification) notification = it;
        break;
      default: break;  // metadata, BLOOM_FILTER, DST_NAME: not needed here
    }
    return 0;
  });
  if (walk != 0 || !ok) {
    ++bad_;
    return;
  }
  if (head.src_id == kdbus::src_id_kernel) {
    if (notification) take_notification(*notification, head.cookie_reply);
    return;
  }
  if (head.payload_type != kdbus::payload_dbus) {  // GVariant (sd-bus) or unknown: not for us
    ++bad_;
    return;
  }
  auto parsed = message::parse(std::move(bytes), std::move(fds));
  // The kdbus header and the dbus1 header must agree on the serial (sd-bus cross-checked, §2.15).
  if (!parsed || parsed->serial() != head.cookie) {
    ++bad_;
    return;
  }
  parsed->set_sender(kdbus_unique_name(head.src_id));
  if ((head.dst_id == kdbus::dst_id_broadcast || driver_->monitoring()) &&
      !driver_->wanted(*parsed, names_attached_ ? &sender_names : nullptr))
    return;
  local_.push_back(std::move(*parsed));
}

// NameOwnerChanged is a broadcast: it also reaches us through the entries that tell us of our
// own names, and only a rule decides whether we get it.
void kdbus_transport::queue_if_wanted(message driver_broadcast) {
  if (driver_->wanted(driver_broadcast, nullptr)) local_.push_back(std::move(driver_broadcast));
}

void kdbus_transport::take_notification(const kdbus::item_ref& it, std::uint64_t cookie_reply) {
  switch (it.kind()) {
    case kdbus::item_type::name_add:
    case kdbus::item_type::name_remove:
    case kdbus::item_type::name_change: {
      kdbus::notify_name_change nc{};
      if (!kdbus::load(it.payload, 0, nc)) return;
      kdbus::item_ref rest = it;
      rest.payload = it.payload.subspan(sizeof nc);
      std::string_view name;
      if (!rest.as_string(name) || !kdbus::is_valid_well_known_name(name)) return;
      // An owner that is only queued, or an activator, is no owner (notes §2.10, §2.15).
      const std::uint64_t not_owner = kdbus::name_flags::in_queue | kdbus::name_flags::activator;
      const bool has_old = it.kind() != kdbus::item_type::name_add && nc.old_id.id != 0 && !(nc.old_id.flags & not_owner);
      const bool has_new = it.kind() != kdbus::item_type::name_remove && nc.new_id.id != 0 && !(nc.new_id.flags & not_owner);
      const std::string old_owner = has_old ? kdbus_unique_name(nc.old_id.id) : std::string();
      const std::string new_owner = has_new ? kdbus_unique_name(nc.new_id.id) : std::string();
      if (old_owner == new_owner) return;
      queue_if_wanted(driver_signal("NameOwnerChanged", {}, std::string(name), old_owner, new_owner));
      if (has_old && nc.old_id.id == id_) local_.push_back(driver_signal("NameLost", unique_name_, std::string(name)));
      if (has_new && nc.new_id.id == id_)
        local_.push_back(driver_signal("NameAcquired", unique_name_, std::string(name)));
      return;
    }
    case kdbus::item_type::id_add:
    case kdbus::item_type::id_remove: {
      kdbus::notify_id_change ic{};
      if (!it.as(ic) || ic.id == 0) return;
      const std::string n = kdbus_unique_name(ic.id);
      if (it.kind() == kdbus::item_type::id_add)
        queue_if_wanted(driver_signal("NameOwnerChanged", {}, n, std::string(), n));
      else
        queue_if_wanted(driver_signal("NameOwnerChanged", {}, n, n, std::string()));
      return;
    }
    case kdbus::item_type::reply_timeout:
    case kdbus::item_type::reply_dead: {
      if (cookie_reply == 0 || cookie_reply > UINT32_MAX) return;
      message_builder b(message_type::error);
      b.error_name(error_name::unchecked(dbus_errors::no_reply));
      b.reply_serial(static_cast<std::uint32_t>(cookie_reply));
      b.sender(bus_name::unchecked(driver_name));
      b.destination(bus_name::unchecked(unique_name_));
      message e = b.build(std::string(it.kind() == kdbus::item_type::reply_timeout ? "Method call timed out"
                                                                                    : "Method call peer died"));
      e.set_serial(kdbus_synthetic_serial);
      local_.push_back(std::move(e));
      return;
    }
    default: return;
  }
}

}  // namespace kbus::detail
