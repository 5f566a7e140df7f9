#include "kbus/message.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace kbus {

const char* to_string(message_type t) noexcept {
  switch (t) {
    case message_type::method_call: return "method_call";
    case message_type::method_return: return "method_return";
    case message_type::error: return "error";
    case message_type::signal: return "signal";
    default: return "invalid";
  }
}

namespace {

using detail::fixed_header_size;

constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

std::uint32_t load_u32(const std::byte* p, bool big_endian) noexcept {
  std::uint32_t v{};
  std::memcpy(&v, p, 4);
  return big_endian != (std::endian::native == std::endian::big) ? detail::byteswap(v) : v;
}

void store_u32(std::byte* p, std::uint32_t v, bool big_endian) noexcept {
  if (big_endian != (std::endian::native == std::endian::big)) v = detail::byteswap(v);
  std::memcpy(p, &v, 4);
}

// The D-Bus reserved local path and interface (spec "Message Bus Specification"): a message
// carrying them must not come from outside.
constexpr std::string_view local_path = "/org/freedesktop/DBus/Local";
constexpr std::string_view local_interface = "org.freedesktop.DBus.Local";

const char* field_name(std::uint8_t code) {
  switch (code) {
    case 1: return "PATH";
    case 2: return "INTERFACE";
    case 3: return "MEMBER";
    case 4: return "ERROR_NAME";
    case 5: return "REPLY_SERIAL";
    case 6: return "DESTINATION";
    case 7: return "SENDER";
    case 8: return "SIGNATURE";
    case 9: return "UNIX_FDS";
    default: return "unknown";
  }
}

// The type each known header field must have.
char field_type(std::uint8_t code) {
  switch (code) {
    case 1: return 'o';
    case 2: case 3: case 4: case 6: case 7: return 's';
    case 5: case 9: return 'u';
    case 8: return 'g';
    default: return '\0';
  }
}

}  // namespace

result<std::size_t> message_size(std::span<const std::byte> b) {
  if (b.size() < fixed_header_size) return error(errc::truncated, "fewer than 16 bytes of fixed header");
  const char order = static_cast<char>(b[0]);
  if (order != 'l' && order != 'B')
    return error(errc::invalid_byte_order, "first byte is " + std::to_string(static_cast<unsigned>(b[0])) + ", not 'l' or 'B'");
  if (static_cast<std::uint8_t>(b[3]) != detail::protocol_version)
    return error(errc::invalid_protocol_version,
                 "protocol version is " + std::to_string(static_cast<unsigned>(b[3])) + ", not 1");
  const bool big = order == 'B';
  const std::uint64_t body = load_u32(b.data() + 4, big);
  const std::uint64_t fields = load_u32(b.data() + 12, big);
  if (fields > detail::max_array_length)
    return error(errc::array_too_long, "header field array of " + std::to_string(fields) + " bytes exceeds 64 MiB");
  const std::uint64_t total = fixed_header_size + align8(fields) + body;
  if (total > detail::max_message_length)
    return error(errc::message_too_long, "message of " + std::to_string(total) + " bytes exceeds the 128 MiB limit");
  return static_cast<std::size_t>(total);
}

std::optional<std::uint32_t> declared_unix_fds(std::span<const std::byte> m) {
  if (m.size() < fixed_header_size) return std::nullopt;
  const bool big = static_cast<char>(m[0]) == 'B';
  const std::size_t end = fixed_header_size + std::size_t{load_u32(m.data() + 12, big)};
  if (end > m.size()) return std::nullopt;
  std::size_t pos = fixed_header_size;
  while (pos < end) {
    pos = align8(pos);
    // A field: code, a one-character signature (length, type, NUL), the value.
    if (end - pos < 4 || static_cast<std::uint8_t>(m[pos + 1]) != 1) return std::nullopt;
    const auto code = static_cast<std::uint8_t>(m[pos]);
    const char type = static_cast<char>(m[pos + 2]);
    pos += 4;
    if (type == 'u' || type == 's' || type == 'o') {
      pos = (pos + 3) & ~std::size_t{3};
      if (end < pos + 4) return std::nullopt;
      if (type == 'u' && code == static_cast<std::uint8_t>(header_field::unix_fds)) return load_u32(m.data() + pos, big);
      pos += 4 + (type == 'u' ? 0 : std::size_t{load_u32(m.data() + pos, big)} + 1);
    } else if (type == 'g') {
      if (end <= pos) return std::nullopt;
      pos += std::size_t{static_cast<std::uint8_t>(m[pos])} + 2;
    } else {
      return std::nullopt;
    }
  }
  return 0;
}

result<message> message::parse(std::vector<std::byte> bytes, std::vector<unix_fd> fds, const parse_options& options) {
  auto size = message_size(bytes);
  if (!size) return size.error();
  if (*size > options.max_size)
    return error(errc::message_too_long,
                 "message of " + std::to_string(*size) + " bytes exceeds the limit of " + std::to_string(options.max_size));
  if (bytes.size() < *size)
    return error(errc::truncated, "message declares " + std::to_string(*size) + " bytes but has " + std::to_string(bytes.size()));
  if (bytes.size() > *size) {
    // What is wrong inside the message says more than the bytes after it.
    const std::size_t extra = bytes.size() - *size;
    bytes.resize(*size);
    auto inner = parse(std::move(bytes), std::move(fds), options);
    if (!inner) return inner.error();
    return error(errc::trailing_bytes,
                 std::to_string(extra) + " bytes after the end of a " + std::to_string(*size) + "-byte message");
  }
  message m;
  m.buffer_ = std::move(bytes);
  m.fds_ = std::move(fds);
  m.fds_detached_ = options.fds_detached;
  if (auto r = m.index_header(); !r) return r.error();
  const std::uint32_t fd_limit = options.fds_detached ? m.unix_fds_ : static_cast<std::uint32_t>(m.fds_.size());
  if (m.unix_fds_ > fd_limit)
    return error(errc::unix_fds_missing, "UNIX_FDS is " + std::to_string(m.unix_fds_) + " but " +
                                             std::to_string(m.fds_.size()) + " descriptors came with the message");
  const std::uint32_t checked_fds = options.fds_detached ? std::numeric_limits<std::uint32_t>::max() : m.unix_fds_;
  detail::reader r(m.buffer_, m.body_offset_, m.buffer_.size(), m.big_endian_, checked_fds);
  if (!r.skip(m.signature())) return r.get_error();
  m.body_validated_ = true;
  if (!r.at_end())
    return error(errc::body_signature_mismatch, std::to_string(m.buffer_.size() - r.position()) +
                                                    " body bytes left after the values of signature '" +
                                                    std::string(m.signature()) + "' (at byte " +
                                                    std::to_string(r.position()) + ")");
  return m;
}

result<void> message::index_header(bool trusted) {
  const auto* b = buffer_.data();
  big_endian_ = static_cast<char>(b[0]) == 'B';
  const auto type = static_cast<std::uint8_t>(b[1]);
  // Type 0 is invalid; types above 4 are well-formed messages a receiver must ignore (spec).
  if (type == 0) return error(errc::invalid_message_type, "message type is 0 (INVALID)");
  type_ = static_cast<message_type>(type);
  // Unknown flag bits must be ignored (spec); keep only the known ones.
  flags_ = static_cast<message_flags>(static_cast<std::uint8_t>(b[2]) & 0x7);
  serial_ = load_u32(b + 8, big_endian_);
  const std::uint32_t fields_len = load_u32(b + 12, big_endian_);
  const std::size_t fields_end = fixed_header_size + fields_len;
  body_offset_ = static_cast<std::uint32_t>(align8(fields_end));

  path_ = interface_ = member_ = error_name_ = destination_ = sender_ = signature_ = {};
  reply_serial_.reset();
  unix_fds_ = 0;

  detail::reader r(buffer_, fixed_header_size, fields_end, big_endian_, 0);
  r.trusted = trusted;
  std::uint32_t seen = 0;
  while (!r.at_end()) {
    if (!r.align(8)) return r.get_error();
    const std::size_t at = r.position();
    std::uint8_t code{};
    std::string_view sig;
    if (!r.get(code) || !r.get_signature(sig)) return r.get_error();
    if (code == 0) return error(errc::invalid_header_field, "header field code 0 (at byte " + std::to_string(at) + ")");
    const char want = field_type(code);
    if (want == '\0') {
      // Unknown fields must be accepted and ignored (spec), but still be well-formed.
      if (auto ok = detail::check_single_type(sig); !ok)
        return error(errc::invalid_signature, "unknown header field " + std::to_string(code) + " has signature '" +
                                                  std::string(sig) + "': " + ok.reason);
      if (!r.enter('v') || !r.skip(sig)) return r.get_error();
      r.leave('v');
      continue;
    }
    // Only an error needs the sentence.
    auto where = [&] { return std::string(field_name(code)) + " header field (at byte " + std::to_string(at) + ")"; };
    if (seen & (1u << code)) return error(errc::duplicate_header_field, where() + " appears twice");
    seen |= 1u << code;
    if (sig.size() != 1 || sig[0] != want)
      return error(errc::invalid_header_field, where() + " has type '" + std::string(sig) + "', not '" + want + "'");
    if (want == 'u') {
      std::uint32_t v{};
      if (!r.get(v)) return r.get_error();
      if (code == 5) {
        if (v == 0) return error(errc::invalid_header_field, where() + " is 0");
        reply_serial_ = v;
      } else {
        if (v > detail::max_unix_fds)
          return error(errc::invalid_header_field, where() + " is " + std::to_string(v) + ", above the limit of 253");
        unix_fds_ = v;
      }
      continue;
    }
    std::string_view s;
    const bool ok = want == 'g' ? r.get_signature(s) : r.get_string(s, want);
    if (!ok) return r.get_error();
    const span_ref ref{static_cast<std::uint32_t>(reinterpret_cast<const std::byte*>(s.data()) - b),
                       static_cast<std::uint32_t>(s.size())};
    switch (code) {
      case 1: path_ = ref; break;
      case 2: interface_ = ref; break;
      case 3: member_ = ref; break;
      case 4: error_name_ = ref; break;
      case 6: destination_ = ref; break;
      case 7: sender_ = ref; break;
      case 8: signature_ = ref; break;
    }
    if (trusted) continue;
    detail::validation v;
    switch (code) {
      case 2: v = detail::check_interface_name(s); break;
      case 3: v = detail::check_member_name(s); break;
      case 4: v = detail::check_error_name(s); break;
      case 6: case 7: v = detail::check_bus_name(s); break;
    }
    if (!v) return error(v.code, where() + " \"" + std::string(s) + "\": " + v.reason);
  }
  // Padding between the header fields and the body must be zero.
  for (std::size_t i = fields_end; i < body_offset_; ++i)
    if (b[i] != std::byte{0})
      return error(errc::nonzero_padding, "padding before the body is not zero (at byte " + std::to_string(i) + ")");
  // A message built here has serial 0 until it is sent.
  if (serial_ == 0 && !trusted) return error(errc::invalid_header_field, "serial is 0");
  return check_required_fields();
}

result<void> message::check_required_fields() const {
  auto require = [&](span_ref f, const char* name) -> result<void> {
    if (f.size == 0)
      return error(errc::missing_header_field, std::string(name) + " header field is required in a message of this type");
    return {};
  };
  switch (type_) {
    case message_type::method_call:
      if (auto r1 = require(path_, "PATH"); !r1) return r1;
      if (auto r1 = require(member_, "MEMBER"); !r1) return r1;
      break;
    case message_type::signal:
      if (auto r1 = require(path_, "PATH"); !r1) return r1;
      if (auto r1 = require(interface_, "INTERFACE"); !r1) return r1;
      if (auto r1 = require(member_, "MEMBER"); !r1) return r1;
      break;
    case message_type::error:
      if (auto r1 = require(error_name_, "ERROR_NAME"); !r1) return r1;
      [[fallthrough]];
    case message_type::method_return:
      if (!reply_serial_) return error(errc::missing_header_field, "REPLY_SERIAL header field is required in a reply");
      break;
    default:
      break;
  }
  if (path() == local_path)
    return error(errc::invalid_header_field, "PATH is the reserved " + std::string(local_path));
  if (interface() == local_interface)
    return error(errc::invalid_header_field, "INTERFACE is the reserved " + std::string(local_interface));
  return {};
}

void message::set_serial(std::uint32_t serial) noexcept {
  serial_ = serial;
  if (big_endian_ != (std::endian::native == std::endian::big)) serial = detail::byteswap(serial);
  std::memcpy(buffer_.data() + 8, &serial, 4);
}

void message::set_sender(std::string_view unique_name) {
  if (sender_.size == 0) {
    // No SENDER yet (what a bus usually receives): the field goes in place behind the others,
    // into zeroed room (its padding and NUL), and only the body moves.
    const std::size_t at = body_offset_;
    const std::size_t fields_end = at + 8 + unique_name.size() + 1;  // code, "s", length, name, NUL
    const std::size_t body = align8(fields_end);
    buffer_.insert(buffer_.begin() + static_cast<std::ptrdiff_t>(at), body - at, std::byte{0});
    std::byte* f = buffer_.data() + at;
    f[0] = std::byte{static_cast<std::uint8_t>(header_field::sender)};
    f[1] = std::byte{1};
    f[2] = std::byte{'s'};
    store_u32(f + 4, static_cast<std::uint32_t>(unique_name.size()), big_endian_);
    std::memcpy(f + 8, unique_name.data(), unique_name.size());
    store_u32(buffer_.data() + 12, static_cast<std::uint32_t>(fields_end - fixed_header_size), big_endian_);
    sender_ = {static_cast<std::uint32_t>(at + 8), static_cast<std::uint32_t>(unique_name.size())};
    body_offset_ = static_cast<std::uint32_t>(body);
    return;
  }
  // Replacing one: copy every field but SENDER (each field is an 8-aligned struct, so it moves as is),
  // append the new SENDER, and move the body behind it.
  std::vector<std::byte> head(buffer_.begin(), buffer_.begin() + fixed_header_size);
  head.reserve(body_offset_ + unique_name.size() + 16);
  detail::writer w(big_endian_, std::move(head));
  const std::uint32_t fields_len = load_u32(buffer_.data() + 12, big_endian_);
  detail::reader r(buffer_, fixed_header_size, fixed_header_size + fields_len, big_endian_, 0);
  while (!r.at_end()) {
    r.align(8);
    const std::size_t start = r.position();
    std::uint8_t code{};
    std::string_view sig;
    r.get(code);
    r.get_signature(sig);
    r.skip(sig);
    if (code != static_cast<std::uint8_t>(header_field::sender)) {
      w.align(8);
      w.append(buffer_.data() + start, r.position() - start);
    }
  }
  w.align(8);
  w.put_byte(static_cast<std::uint8_t>(header_field::sender));
  w.put_signature("s");
  w.put_string(unique_name);
  w.patch_u32(12, static_cast<std::uint32_t>(w.size() - fixed_header_size));
  w.align(8);
  w.reserve(buffer_.size() - body_offset_);
  w.append(buffer_.data() + body_offset_, buffer_.size() - body_offset_);
  buffer_ = std::move(w).take();
  // The header was valid and the new sender is the caller's responsibility to be a name.
  (void)index_header();
}

result<std::vector<value>> message::values() const {
  std::vector<value> out;
  detail::reader r = body_reader();
  if (!detail::decode_values(r, signature(), out)) return r.get_error();
  return out;
}

detail::reader message::body_reader() const noexcept {
  if (fds_detached_)
    return detail::reader(buffer_, body_offset_, buffer_.size(), big_endian_, std::numeric_limits<std::uint32_t>::max());
  detail::reader r(buffer_, body_offset_, buffer_.size(), big_endian_, unix_fds_);
  if (fds_.size() >= unix_fds_) r.fd_table = fds_.data();
  r.trusted = body_validated_;
  return r;
}

// ---- builder ----

namespace {
// The fixed header of a new message; the builder appends the fields and the body to it.
std::vector<std::byte> fixed_header(message_type type, byte_order order) {
  std::vector<std::byte> b;
  b.reserve(256);
  b.resize(fixed_header_size, std::byte{0});
  b[0] = static_cast<std::byte>(order);
  b[1] = static_cast<std::byte>(type);
  b[3] = static_cast<std::byte>(detail::protocol_version);
  return b;
}
}  // namespace

message_builder::message_builder(message_type type, byte_order order)
    : out_(order == byte_order::big, fixed_header(type, order)) {
  head_.type_ = type;
  head_.big_endian_ = order == byte_order::big;
}

message_builder message_builder::method_call(const bus_name& destination, const object_path& path,
                                             const interface_name& interface, const member_name& member) {
  message_builder b(message_type::method_call);
  b.path(path);
  if (!interface.empty()) b.interface(interface);
  b.member(member);
  if (!destination.empty()) b.destination(destination);
  return b;
}

message_builder message_builder::signal(const object_path& path, const interface_name& interface,
                                        const member_name& member) {
  message_builder b(message_type::signal);
  b.path(path).interface(interface).member(member);
  return b;
}

message_builder message_builder::method_return(const message& call) {
  message_builder b(message_type::method_return);
  b.reply_serial(call.serial());
  if (!call.sender().empty()) b.destination(bus_name::unchecked(call.sender()));
  return b;
}

message_builder message_builder::error(const message& call, const kbus::error_name& name) {
  message_builder b(message_type::error);
  b.error_name(name).reply_serial(call.serial());
  if (!call.sender().empty()) b.destination(bus_name::unchecked(call.sender()));
  return b;
}

message_builder& message_builder::flags(message_flags f) {
  out_.written()[2] = static_cast<std::byte>(f);
  // Unknown bits are written as given and ignored when read (spec).
  head_.flags_ = f & (message_flags::no_reply_expected | message_flags::no_auto_start |
                      message_flags::allow_interactive_authorization);
  return *this;
}

void message_builder::begin_field(header_field code, char type) {
  out_.align(8);
  const auto bit = 1u << static_cast<unsigned>(code);
  if ((fields_seen_ & bit) && duplicate_at_ == 0) duplicate_at_ = out_.size();
  fields_seen_ |= bit;
  out_.put_byte(static_cast<std::uint8_t>(code));
  const char sig[2] = {type, '\0'};
  out_.put_signature(std::string_view(sig, 1));
}

message_builder& message_builder::string_field(header_field code, char type, std::string_view v) {
  begin_field(code, type);
  out_.put_string(v);
  const message::span_ref ref{static_cast<std::uint32_t>(out_.size() - 1 - v.size()), static_cast<std::uint32_t>(v.size())};
  switch (code) {
    case header_field::path: head_.path_ = ref; break;
    case header_field::interface: head_.interface_ = ref; break;
    case header_field::member: head_.member_ = ref; break;
    case header_field::error_name: head_.error_name_ = ref; break;
    case header_field::destination: head_.destination_ = ref; break;
    case header_field::sender: head_.sender_ = ref; break;
    case header_field::signature: head_.signature_ = ref; break;
    default: break;
  }
  return *this;
}

message_builder& message_builder::reply_serial(std::uint32_t serial) {
  begin_field(header_field::reply_serial, 'u');
  out_.put(serial);
  head_.reply_serial_ = serial;
  return *this;
}

message_builder& message_builder::detached_unix_fds(std::uint32_t n) {
  detached_unix_fds_ = n;
  return *this;
}

void message_builder::begin_body(std::string_view sig) {
  if (!sig.empty()) {
    begin_field(header_field::signature, 'g');
    out_.put_signature(sig);
    head_.signature_ = {static_cast<std::uint32_t>(out_.size() - 1 - sig.size()), static_cast<std::uint32_t>(sig.size())};
  }
  if (sig.find('h') != std::string_view::npos || detached_unix_fds_ > 0) {
    // The count is known once the body is written: reserve the field, patch it in finish().
    begin_field(header_field::unix_fds, 'u');
    out_.put(std::uint32_t{0});
    unix_fds_offset_ = out_.size() - 4;
  }
  out_.patch_u32(12, static_cast<std::uint32_t>(out_.size() - fixed_header_size));
  out_.align(8);
  body_start_ = out_.size();
}

message message_builder::finish() {
  const std::size_t body_len = out_.size() - body_start_;
  if (out_.size() > detail::max_message_length)
    throw exception(kbus::error(errc::message_too_long,
                                "message of " + std::to_string(out_.size()) + " bytes exceeds the 128 MiB limit"));
  out_.patch_u32(4, static_cast<std::uint32_t>(body_len));
  const std::uint32_t unix_fds = std::max(detached_unix_fds_, static_cast<std::uint32_t>(fds_.size()));
  if (unix_fds_offset_) out_.patch_u32(unix_fds_offset_, unix_fds);
  if (fds_.size() > detail::max_unix_fds)
    throw exception(kbus::error(errc::invalid_header_field, std::to_string(fds_.size()) +
                                                                " unix fds in one message, above the limit of 253"));
  if (unix_fds > detail::max_unix_fds)
    throw exception(kbus::error(errc::invalid_header_field, "UNIX_FDS header field is " + std::to_string(unix_fds) +
                                                                ", above the limit of 253"));
  if (duplicate_at_)
    throw exception(kbus::error(errc::duplicate_header_field,
                                std::string(field_name(static_cast<std::uint8_t>(out_.written()[duplicate_at_]))) +
                                    " header field (at byte " + std::to_string(duplicate_at_) + ") appears twice"));
  if (head_.reply_serial_ == 0u) throw exception(kbus::error(errc::invalid_header_field, "REPLY_SERIAL header field is 0"));
  // The fields were validated when they were set (the builder knows where each one is), and
  // the body was written from typed or checked values.
  if (head_.type_ == message_type::invalid)
    throw exception(kbus::error(errc::invalid_message_type, "message type is 0 (INVALID)"));
  message m = std::move(head_);
  m.buffer_ = std::move(out_).take();
  m.fds_ = std::move(fds_);
  m.body_offset_ = static_cast<std::uint32_t>(body_start_);
  m.unix_fds_ = unix_fds_offset_ ? unix_fds : 0;
  if (auto r = m.check_required_fields(); !r) throw exception(r.error());
  m.body_validated_ = true;
  return m;
}

result<message> message_builder::build_values(const kbus::signature& sig, const std::vector<value>& values,
                                              std::vector<unix_fd> fds) {
  fds_ = std::move(fds);
  begin_body(sig.view());
  kbus::error err;
  if (!detail::encode_values(out_, sig.view(), values, err)) return err;
  try {
    return finish();
  } catch (const exception& e) {
    return e.get();
  }
}

}  // namespace kbus
