#include "kbus/error.hpp"

namespace kbus {
namespace {

class wire_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "kbus.wire"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::truncated: return "message truncated";
      case errc::invalid_byte_order: return "invalid byte order";
      case errc::invalid_protocol_version: return "unsupported protocol version";
      case errc::invalid_message_type: return "invalid message type";
      case errc::message_too_long: return "message too long";
      case errc::invalid_signature: return "invalid signature";
      case errc::invalid_object_path: return "invalid object path";
      case errc::invalid_bus_name: return "invalid bus name";
      case errc::invalid_interface_name: return "invalid interface name";
      case errc::invalid_member_name: return "invalid member name";
      case errc::invalid_error_name: return "invalid error name";
      case errc::invalid_utf8: return "invalid UTF-8";
      case errc::string_contains_nul: return "string contains NUL";
      case errc::missing_nul_terminator: return "missing NUL terminator";
      case errc::invalid_boolean: return "invalid boolean";
      case errc::nonzero_padding: return "non-zero padding";
      case errc::array_too_long: return "array too long";
      case errc::array_length_mismatch: return "array length mismatch";
      case errc::nesting_too_deep: return "nesting too deep";
      case errc::invalid_header_field: return "invalid header field";
      case errc::missing_header_field: return "missing header field";
      case errc::duplicate_header_field: return "duplicate header field";
      case errc::body_signature_mismatch: return "body does not match signature";
      case errc::trailing_bytes: return "trailing bytes";
      case errc::fd_index_out_of_range: return "unix fd index out of range";
      case errc::unix_fds_missing: return "unix fds missing";
      case errc::type_mismatch: return "type mismatch";
      case errc::invalid_value: return "invalid value";
      case errc::invalid_address: return "invalid address";
      case errc::unsupported_address: return "unsupported address";
      case errc::auth_failed: return "authentication failed";
      case errc::auth_protocol_error: return "authentication protocol error";
      case errc::invalid_match_rule: return "invalid match rule";
    }
    return "unknown kbus.wire error";
  }
};

}  // namespace

const std::error_category& wire_category() noexcept {
  static const wire_category_impl category;
  return category;
}

std::string error::what() const {
  std::string out = code.message();
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

void throw_exception_from_error(const error& e, const boost::source_location&) { throw exception(e); }

}  // namespace kbus
