// Receiving (notes §2.6, §2.7, §2.13): a message slice of the pool becomes a dbus1 message. Its
// payload is copied once, into the message's own buffer, from the slice (a view into a mapped
// pool, or the bytes a reading device copied) or from a memfd; every offset and size in the
// slice is checked before it is used.
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kbus::detail {

namespace {

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

// What a message slice's items carry.
struct slice_contents {
  std::vector<std::byte> bytes;  // the dbus1 message
  std::vector<unix_fd> fds;
  std::vector<unix_fd> memfds;  // closed with this
  std::optional<kdbus::item_ref> notification;
  // The sender's well-known names (NAMES metadata), for rules with sender='well.known.Name':
  // views into the slice, which lives until the message is made.
  std::vector<std::string_view> sender_names;
};

// Walks the items of the message in `slice` (its kdbus_msg header skipped): false when an item
// lies or a payload cannot be had.
bool read_items(std::span<const std::uint8_t> slice, std::span<const std::uint8_t> items, slice_contents& out) {
  bool ok = true;
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
          out.sender_names.emplace_back(name);
        break;
      }
      case kdbus::item_type::payload_off: {
        kdbus::vec v{};
        if (!it.as(v) || v.size > max_message_length - std::min<std::size_t>(out.bytes.size(), max_message_length)) {
          ok = false;
          break;
        }
        if (v.offset == ~std::uint64_t{0}) {
          out.bytes.resize(out.bytes.size() + static_cast<std::size_t>(v.size));
        } else if (v.offset <= slice.size() && v.size <= slice.size() - v.offset) {
          const auto* p = reinterpret_cast<const std::byte*>(slice.data() + v.offset);
          out.bytes.insert(out.bytes.end(), p, p + v.size);
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
        out.memfds.emplace_back(mf.fd);
        if (!read_memfd(mf.fd, mf.start, mf.size, out.bytes)) ok = false;
        break;
      }
      case kdbus::item_type::fds:
        for (std::size_t i = 0; i + sizeof(std::int32_t) <= it.payload.size(); i += sizeof(std::int32_t)) {
          std::int32_t fd = -1;
          kdbus::load(it.payload, i, fd);
          out.fds.emplace_back(fd);
        }
        break;
      case kdbus::item_type::name_add:
      case kdbus::item_type::name_remove:
      case kdbus::item_type::name_change:
      case kdbus::item_type::id_add:
      case kdbus::item_type::id_remove:
      case kdbus::item_type::reply_timeout:
      case kdbus::item_type::reply_dead:
        if (!out.notification) out.notification = it;
        break;
      default: break;  // metadata, BLOOM_FILTER, DST_NAME: not needed here
    }
    return 0;
  });
  return walk == 0 && ok;
}

}  // namespace

void kdbus_transport::take_slice(std::uint64_t offset, std::uint64_t size) {
  const auto slice = pool_slice(offset, size);
  kdbus::msg head{};
  if (!slice || !kdbus::load(slice->bytes(), 0, head) || head.size < sizeof head || head.size > slice->bytes().size()) {
    ++bad_;
    return;
  }
  const auto bytes = slice->bytes();
  slice_contents c;
  c.bytes.reserve(bytes.size() + 64);  // room for the SENDER field set_sender adds in place
  if (!read_items(bytes, bytes.subspan(sizeof head, static_cast<std::size_t>(head.size - sizeof head)), c)) {
    ++bad_;
    return;
  }
  if (head.src_id == kdbus::src_id_kernel) {
    if (c.notification) take_notification(*c.notification, head.cookie_reply);
    return;
  }
  if (head.payload_type != kdbus::payload_dbus) {  // GVariant (sd-bus) or unknown: not for us
    ++bad_;
    return;
  }
  auto parsed = message::parse(std::move(c.bytes), std::move(c.fds));
  // The kdbus header and the dbus1 header must agree on the serial (sd-bus cross-checked, §2.15).
  if (!parsed || parsed->serial() != head.cookie) {
    ++bad_;
    return;
  }
  parsed->set_sender(kdbus_unique_name(head.src_id));
  if ((head.dst_id == kdbus::dst_id_broadcast || driver_->monitoring()) &&
      !driver_->wanted(*parsed, link_.names_attached ? &c.sender_names : nullptr))
    return;
  local_.push_back(std::move(*parsed));
}

}  // namespace kbus::detail
