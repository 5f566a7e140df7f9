// D-Bus values and messages as JSON text, in kbus's JSON form (the form `kbus decode` prints):
// integers and doubles as numbers, strings for s/o/g, arrays and structs as arrays, dicts as
// objects with string keys, variants as {"type": SIGNATURE, "data": VALUE}, and a message as
// {"header": {...}, "body": {"type": SIGNATURE, "data": [...]}}.
// Dict keys that are numbers are written in decimal (doubles as Python's repr() writes them),
// booleans as "true"/"false". Non-finite doubles, which JSON numbers cannot hold, are the
// strings "NaN", "+Infinity" and "-Infinity". The header lists "flags" (no_reply_expected,
// no_auto_start, allow_interactive_authorization) and the fields present: path, interface,
// member, error_name, destination, sender, reply_serial, unix_fds.
//
// Reading JSON checks it against the signature; errors name the place, e.g.
// body[2]["key"]: type_mismatch (JSON of the wrong kind), invalid_value (integer out of range,
// a dict key not of the key type), nesting_too_deep, or the name/UTF-8 error of a string.
#pragma once

#include "kbus/error.hpp"
#include "kbus/message.hpp"
#include "kbus/names.hpp"
#include "kbus/value.hpp"

#include <string>
#include <string_view>

namespace kbus {

// Strings that are not valid UTF-8 (possible only in values built by hand) show U+FFFD.
std::string to_json(const value& v);
result<value> value_from_json(std::string_view json, const signature& type);

std::string message_to_json(const message& m);
// The serial is the header's (1 when absent). Header keys other than those above are refused.
result<message> message_from_json(std::string_view json, byte_order order = native_byte_order);

}  // namespace kbus
