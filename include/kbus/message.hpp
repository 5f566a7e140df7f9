// A D-Bus message: one contiguous buffer (fixed header, header fields, body), built once and
// read in place. Only the serial is patched, at send time.
//
//   auto call = kbus::message_builder::method_call("org.example.Svc"_bus, "/org/example"_path,
//                                                  "org.example.Iface"_iface, "Add"_member)
//                   .build(std::int32_t{2}, std::int32_t{3});
//   auto [sum] = reply.read<std::int32_t>().value();
#pragma once

#include "kbus/array_view.hpp"
#include "kbus/error.hpp"
#include "kbus/names.hpp"
#include "kbus/types.hpp"
#include "kbus/unix_fd.hpp"
#include "kbus/value.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

namespace kbus {

// Values above 4 are types this library does not know: such messages parse, and the
// connection ignores them, as the spec asks.
enum class message_type : std::uint8_t { invalid = 0, method_call = 1, method_return = 2, error = 3, signal = 4 };
// The type's name as sd-bus and busctl print it ("method_call", "method_return", "error",
// "signal"; "invalid" for any other value).
const char* to_string(message_type t) noexcept;

// Header flags of the spec ("Message Format").
enum class message_flags : std::uint8_t {
  none = 0,
  no_reply_expected = 0x1,
  no_auto_start = 0x2,
  allow_interactive_authorization = 0x4,
};
constexpr message_flags operator|(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr message_flags operator&(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
constexpr bool any(message_flags f) noexcept { return f != message_flags::none; }

enum class byte_order : std::uint8_t { little = 'l', big = 'B' };
inline constexpr byte_order native_byte_order =
    std::endian::native == std::endian::big ? byte_order::big : byte_order::little;

// Header field codes of the spec.
enum class header_field : std::uint8_t {
  path = 1,
  interface = 2,
  member = 3,
  error_name = 4,
  reply_serial = 5,
  destination = 6,
  sender = 7,
  signature = 8,
  unix_fds = 9,
};

namespace detail {
// The fixed header is 16 bytes: endianness, type, flags, version, body length, serial,
// header-field array length.
inline constexpr std::size_t fixed_header_size = 16;
inline constexpr std::uint8_t protocol_version = 1;
}  // namespace detail

// How many bytes the whole message takes, from its first 16 bytes (for framing a stream);
// an error when they cannot start a valid message or it would exceed the spec's limit.
result<std::size_t> message_size(std::span<const std::byte> first_16_bytes);

// The UNIX_FDS header field of a whole framed message, read without parsing it (0 when there
// is none): a stream transport gives each message the descriptors it declares, in order,
// however its reads split the stream. nullopt when a field is not one this scan steps over;
// parsing then judges the message.
std::optional<std::uint32_t> declared_unix_fds(std::span<const std::byte> message_bytes);

struct parse_options {
  // Lower this to protect a process from large messages; never above the spec's 128 MiB.
  std::size_t max_size = detail::max_message_length;
  // The message was stored without its descriptors (a capture, a file): the UNIX_FDS field
  // is not held against the descriptors present, and 'h' indexes are not checked (a capture
  // may even show a peer's 'h' values without UNIX_FDS, which GDBus sends and libdbus takes).
  bool fds_detached = false;
};

class message {
 public:
  message() = default;
  message(message&&) noexcept = default;
  message& operator=(message&&) noexcept = default;

  // Validates the whole message (header and body) and keeps `bytes` as its buffer: no copy.
  // `fds` are the descriptors that came with it (the UNIX_FDS field may not ask for more).
  static result<message> parse(std::vector<std::byte> bytes, std::vector<unix_fd> fds = {},
                               const parse_options& options = {});

  message_type type() const noexcept { return type_; }
  message_flags flags() const noexcept { return flags_; }
  bool expects_reply() const noexcept {
    return type_ == message_type::method_call && !any(flags_ & message_flags::no_reply_expected);
  }
  byte_order order() const noexcept { return big_endian_ ? byte_order::big : byte_order::little; }
  std::uint32_t serial() const noexcept { return serial_; }
  std::optional<std::uint32_t> reply_serial() const noexcept { return reply_serial_; }

  // Header fields; empty when the message has none. They view into the buffer.
  std::string_view path() const noexcept { return field(path_); }
  std::string_view interface() const noexcept { return field(interface_); }
  std::string_view member() const noexcept { return field(member_); }
  std::string_view error_name() const noexcept { return field(error_name_); }
  std::string_view destination() const noexcept { return field(destination_); }
  std::string_view sender() const noexcept { return field(sender_); }
  std::string_view signature() const noexcept { return field(signature_); }
  std::uint32_t unix_fd_count() const noexcept { return unix_fds_; }

  std::span<const std::byte> bytes() const noexcept { return buffer_; }
  std::span<const std::byte> body_bytes() const noexcept {
    return std::span<const std::byte>(buffer_).subspan(body_offset_);
  }
  const std::vector<unix_fd>& fds() const noexcept { return fds_; }
  std::vector<unix_fd> take_fds() noexcept { return std::move(fds_); }

  // Sets the serial in the buffer (at send time).
  void set_serial(std::uint32_t serial) noexcept;
  // Sets or replaces the SENDER field, as a bus does before it delivers (rebuilds the header).
  void set_sender(std::string_view unique_name);

  // The body as typed values: an error when the signature is not that of Ts...
  template <class... Ts>
  result<std::tuple<Ts...>> read() const;
  // The body as dynamic values.
  result<std::vector<value>> values() const;

  // A reader of the body for code that walks it value by value.
  detail::reader body_reader() const noexcept;

  // Gives the buffer back (to receive the next message into it without an allocation).
  std::vector<std::byte> release_buffer() && noexcept { return std::move(buffer_); }

 private:
  friend class message_builder;
  struct span_ref {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };
  std::string_view field(span_ref r) const noexcept {
    return {reinterpret_cast<const char*>(buffer_.data()) + r.offset, r.size};
  }
  // Finds the header fields; `trusted` skips the checks for a header this library built.
  result<void> index_header(bool trusted = false);
  // What the spec requires of the fields found: those the type needs, no reserved local path
  // or interface.
  result<void> check_required_fields() const;

  std::vector<std::byte> buffer_;
  std::vector<unix_fd> fds_;
  message_type type_ = message_type::invalid;
  message_flags flags_ = message_flags::none;
  bool big_endian_ = false;
  bool fds_detached_ = false;
  bool body_validated_ = false;
  std::uint32_t serial_ = 0;
  std::optional<std::uint32_t> reply_serial_;
  std::uint32_t unix_fds_ = 0;
  std::uint32_t body_offset_ = 0;
  span_ref path_, interface_, member_, error_name_, destination_, sender_, signature_;
};

// Builds a message in one buffer: header fields as they are set, then the body, once.
class message_builder {
 public:
  explicit message_builder(message_type type, byte_order order = native_byte_order);

  static message_builder method_call(const bus_name& destination, const object_path& path,
                                     const interface_name& interface, const member_name& member);
  static message_builder signal(const object_path& path, const interface_name& interface, const member_name& member);
  // A reply to `call` (REPLY_SERIAL and DESTINATION from it).
  static message_builder method_return(const message& call);
  static message_builder error(const message& call, const error_name& name);

  message_builder& flags(message_flags f);
  message_builder& path(const object_path& p) { return string_field(header_field::path, 'o', p.view()); }
  message_builder& interface(const interface_name& i) { return string_field(header_field::interface, 's', i.view()); }
  message_builder& member(const member_name& m) { return string_field(header_field::member, 's', m.view()); }
  message_builder& error_name(const kbus::error_name& e) { return string_field(header_field::error_name, 's', e.view()); }
  message_builder& destination(const bus_name& d) { return string_field(header_field::destination, 's', d.view()); }
  message_builder& sender(const bus_name& s) { return string_field(header_field::sender, 's', s.view()); }
  message_builder& reply_serial(std::uint32_t serial);
  // For a message stored without its descriptors (a file, a capture): UNIX_FDS says `n`
  // even though no descriptor travels with the built message.
  message_builder& detached_unix_fds(std::uint32_t n);

  // Finishes with a typed body (its signature computed at compile time).
  // The builder is spent afterwards (its buffer becomes the message's).
  template <class... Args>
  message build(const Args&... args);
  // Finishes with a body known at run time; an error when the values do not match `sig`.
  // 'h' values index into `fds`, which the message takes.
  result<message> build_values(const kbus::signature& sig, const std::vector<value>& values,
                               std::vector<unix_fd> fds = {});

 private:
  message_builder& string_field(header_field code, char type, std::string_view v);
  // Starts a header field (aligned, its code and one-letter signature); notes a duplicate.
  void begin_field(header_field code, char type);
  void begin_body(std::string_view sig);
  message finish();

  detail::writer out_;
  std::vector<unix_fd> fds_;
  // The header as it is written (type, flags, the fields' places), so that finish() need not
  // read it back.
  message head_;
  std::uint32_t fields_seen_ = 0;       // bit n: field n was written
  std::size_t duplicate_at_ = 0;        // where a field written twice starts (0: none)
  std::size_t body_start_ = 0;
  std::size_t unix_fds_offset_ = 0;  // where the UNIX_FDS value is patched, if reserved
  std::uint32_t detached_unix_fds_ = 0;
};

// ---- implementation of the templates ----

template <class... Args>
message message_builder::build(const Args&... args) {
  constexpr auto sig = signature_of<Args...>();
  static_assert(sig.size() <= detail::max_signature_length, "body signature longer than 255 bytes");
  begin_body(sig.view());
  out_.fds = &fds_;
  (codec<detail::plain<Args>>::encode(out_, args), ...);
  return finish();
}

template <class... Ts>
result<std::tuple<Ts...>> message::read() const {
  constexpr auto sig = signature_of<Ts...>();
  if (signature() != sig.view())
    return kbus::error(errc::type_mismatch, "body has signature '" + std::string(signature()) + "', expected '" +
                                                std::string(sig.view()) + "'");
  std::tuple<Ts...> out{};
  detail::reader r = body_reader();
  if (!detail::decode_fields(r, out, std::index_sequence_for<Ts...>{})) return r.get_error();
  if (!r.at_end())
    return kbus::error(errc::body_signature_mismatch, "bytes left after the values of signature '" +
                                                          std::string(signature()) + "'");
  return out;
}

}  // namespace kbus
