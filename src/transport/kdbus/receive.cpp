// Receiving (notes §2.6, §2.7, §2.13): a message slice of the pool becomes a dbus1 message. Its
// payload is copied once, into the message's own buffer, from the slice (a view into a mapped
// pool, or the bytes a reading device copied) or from a memfd; every offset and size in the
// slice is checked before it is used.
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>

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

// Writes a SENDER header field naming `sender` behind the header fields of the dbus1 message in
// `bytes` (moving the body), as message::set_sender would after parsing, but before it: the
// message is then parsed once and its bytes copied once. False, with `bytes` untouched, when
// the fixed header does not hold together (the message then fails to parse the usual way).
bool append_sender_field(std::vector<std::byte>& bytes, std::string_view sender) {
  constexpr std::size_t fixed = 16;  // the fixed header; its last u32 is the fields' length
  if (bytes.size() < fixed) return false;
  const char order = static_cast<char>(bytes[0]);
  if (order != 'l' && order != 'B') return false;
  const bool swap = (order == 'B') != (std::endian::native == std::endian::big);
  auto u32 = [&](std::uint32_t v) { return swap ? ((v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) : v; };
  std::uint32_t fields_len = 0;
  std::memcpy(&fields_len, bytes.data() + 12, 4);
  fields_len = u32(fields_len);
  const std::size_t body = kdbus::align8(fixed + std::size_t{fields_len});
  if (body > bytes.size() || sender.size() > UINT32_MAX - 16) return false;
  // code 7 (SENDER), signature "s", the string's length, the string and its NUL.
  const std::size_t fields_end = body + 8 + sender.size() + 1;
  const std::size_t new_body = kdbus::align8(fields_end);
  bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(body), new_body - body, std::byte{0});
  std::byte* f = bytes.data() + body;
  f[0] = std::byte{7};
  f[1] = std::byte{1};
  f[2] = std::byte{'s'};
  const std::uint32_t len = u32(static_cast<std::uint32_t>(sender.size()));
  std::memcpy(f + 4, &len, 4);
  std::memcpy(f + 8, sender.data(), sender.size());
  const std::uint32_t new_len = u32(static_cast<std::uint32_t>(fields_end - fixed));
  std::memcpy(bytes.data() + 12, &new_len, 4);
  return true;
}

// The message of a slice, its SENDER the kdbus sender's unique name. A message without files
// gets the field while it is still bytes (parsed once, copied once, out of the pool); one whose
// sender wrote a SENDER of its own, or that carries files, is parsed as sent and then given
// its SENDER (message::set_sender, which copies it once more).
result<message> message_of(std::span<const std::uint8_t> slice, std::span<const std::uint8_t> items, slice_contents& c,
                           std::string_view sender) {
  if (c.fds.empty() && c.memfds.empty() && append_sender_field(c.bytes, sender)) {
    if (auto parsed = message::parse(std::move(c.bytes)); parsed) return parsed;
    c.bytes.clear();
    slice_contents again;  // no files to take twice: only the bytes
    if (!read_items(slice, items, again)) return kbus::error(std::make_error_code(std::errc::bad_message), "bad slice");
    c.bytes = std::move(again.bytes);
  }
  auto parsed = message::parse(std::move(c.bytes), std::move(c.fds));
  if (parsed) parsed->set_sender(sender);
  return parsed;
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
  const auto items = bytes.subspan(sizeof head, static_cast<std::size_t>(head.size - sizeof head));
  slice_contents c;
  c.bytes.reserve(bytes.size() + 64);  // room for the SENDER field (message_of)
  if (!read_items(bytes, items, c)) {
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
  auto parsed = message_of(bytes, items, c, kdbus_unique_name(head.src_id));
  // The kdbus header and the dbus1 header must agree on the serial (sd-bus cross-checked, §2.15).
  if (!parsed || parsed->serial() != head.cookie) {
    ++bad_;
    return;
  }
  if ((head.dst_id == kdbus::dst_id_broadcast || driver_->monitoring()) &&
      !driver_->wanted(*parsed, link_.names_attached ? &c.sender_names : nullptr))
    return;
  local_.push_back(std::move(*parsed));
}

}  // namespace kbus::detail
