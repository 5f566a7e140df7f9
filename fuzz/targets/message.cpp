// Any bytes as a message: parse must answer with a message or an error; what parses must
// decode, re-encode from its values, and parse again to the same values.
#include "kbus/message.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int kbus_fuzz_message(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data), reinterpret_cast<const std::byte*>(data) + size);
  (void)kbus::message_size(bytes);
  kbus::parse_options options;
  options.fds_detached = size > 0 && (data[0] & 1);
  auto m = kbus::message::parse(std::move(bytes), {}, options);
  if (!m) return 0;
  auto values = m->values();
  if (!values) std::abort();  // a message that parses must decode
  if (m->type() > kbus::message_type::signal || options.fds_detached) return 0;
  kbus::message_builder b(m->type(), m->order());
  b.flags(m->flags());
  if (!m->path().empty()) b.path(kbus::object_path::unchecked(m->path()));
  if (!m->interface().empty()) b.interface(kbus::interface_name::unchecked(m->interface()));
  if (!m->member().empty()) b.member(kbus::member_name::unchecked(m->member()));
  if (!m->error_name().empty()) b.error_name(kbus::error_name::unchecked(m->error_name()));
  if (m->reply_serial()) b.reply_serial(*m->reply_serial());
  if (!m->destination().empty()) b.destination(kbus::bus_name::unchecked(m->destination()));
  if (!m->sender().empty()) b.sender(kbus::bus_name::unchecked(m->sender()));
  b.detached_unix_fds(m->unix_fd_count());
  auto again = std::move(b).build_values(kbus::signature::unchecked(m->signature()), *values);
  if (!again) std::abort();  // values that decoded must encode
  again->set_serial(m->serial());
  kbus::parse_options detached;
  detached.fds_detached = true;
  auto reparsed = kbus::message::parse({again->bytes().begin(), again->bytes().end()}, {}, detached);
  if (!reparsed) std::abort();
  auto values2 = reparsed->values();
  if (!values2 || *values2 != *values) std::abort();
  return 0;
}
