// Errors of kbus: an error code and a sentence that says what is wrong and where.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace kbus {

// Everything the wire layer (messages, names, signatures, addresses, SASL, match rules)
// can find wrong with its input. The wire layer never throws: it returns one of these.
enum class errc {
  ok = 0,
  truncated,                  // fewer bytes than the data says there are
  invalid_byte_order,         // first byte neither 'l' nor 'B'
  invalid_protocol_version,   // major protocol version is not 1
  invalid_message_type,       // type 0 (unknown types above 4 are reported as this too)
  message_too_long,           // over the spec's 128 MiB
  invalid_signature,          // signature grammar or limits
  invalid_object_path,
  invalid_bus_name,
  invalid_interface_name,
  invalid_member_name,
  invalid_error_name,
  invalid_utf8,
  string_contains_nul,
  missing_nul_terminator,
  invalid_boolean,            // a boolean other than 0 or 1
  nonzero_padding,
  array_too_long,             // over the spec's 64 MiB
  array_length_mismatch,      // elements do not end exactly at the declared length
  nesting_too_deep,           // more than 32 arrays or 32 structs deep, or 64 containers
  invalid_header_field,       // a known header field with the wrong type or value
  missing_header_field,       // a field the message type requires is absent
  duplicate_header_field,
  body_signature_mismatch,    // body bytes do not match the SIGNATURE field
  trailing_bytes,             // bytes left after the last value
  fd_index_out_of_range,      // an 'h' value not below the message's fd count
  unix_fds_missing,           // the UNIX_FDS field asks for more fds than came with the message
  type_mismatch,              // a value does not have the type the signature asks for
  invalid_value,              // a value that cannot be represented (e.g. JSON out of range)
  invalid_address,
  unsupported_address,        // well-formed, but the transport is not built in or not usable here
  auth_failed,                // SASL: every mechanism was rejected
  auth_protocol_error,        // SASL: the peer broke the protocol
  invalid_match_rule,
};

const std::error_category& wire_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), wire_category()};
}

// An error code with a human-readable sentence: what is wrong, and where
// (byte offset, field, key ...). The code is for programs, the message for people.
struct error {
  std::error_code code;
  std::string message;

  error() = default;
  error(std::error_code c, std::string m) : code(c), message(std::move(m)) {}
  error(errc c, std::string m) : code(make_error_code(c)), message(std::move(m)) {}

  // "invalid_utf8: string at byte 40 is not valid UTF-8"
  std::string what() const;
  friend bool operator==(const error& e, errc c) noexcept { return e.code == make_error_code(c); }
};

// What the throwing overloads throw.
class exception : public std::system_error {
 public:
  explicit exception(const error& e) : std::system_error(e.code, e.message), error_(e) {}
  const kbus::error& get() const noexcept { return error_; }

 private:
  kbus::error error_;
};

template <class T>
using result = boost::system::result<T, error>;

// Lets result<T>::value() throw kbus::exception (found by argument-dependent lookup).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

}  // namespace kbus

template <>
struct std::is_error_code_enum<kbus::errc> : std::true_type {};
