// D-Bus values and messages as JSON text, in kbus's JSON form (the form `kbus decode` prints):
// integers and doubles as numbers, strings for s/o/g, arrays and structs as arrays, dicts as
// objects with string keys, variants as {"type": SIGNATURE, "data": VALUE}, and a message as
// {"header": {...}, "body": {"type": SIGNATURE, "data": [...]}}.
#pragma once

#include "kbus/error.hpp"
#include "kbus/message.hpp"
#include "kbus/names.hpp"
#include "kbus/value.hpp"

#include <string>
#include <string_view>

namespace kbus {

std::string to_json(const value& v);
result<value> value_from_json(std::string_view json, const signature& type);

std::string message_to_json(const message& m);
result<message> message_from_json(std::string_view json, byte_order order = native_byte_order);

}  // namespace kbus
