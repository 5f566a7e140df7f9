// D-Bus values and messages as JSON (nlohmann_json), in kbus's JSON form:
//   integers and doubles as numbers (64-bit integers exact), booleans, strings for s/o/g,
//   arrays and structs as arrays, dicts as objects whose keys are strings (numbers in decimal,
//   booleans "true"/"false", doubles in Python's repr form), variants as {"type", "data"};
//   non-finite doubles as the strings "NaN", "+Infinity", "-Infinity" (read back also as
//   "Infinity"; JSON numbers cannot be non-finite).
// A message is {"header": {...}, "body": {"type": SIGNATURE, "data": [ARG, ...]}}.
// From JSON, errors name the place ("body[2][\"key\"]"): type_mismatch for JSON of the wrong
// kind, invalid_value for integers out of range, keys that are not of the key type (or repeat
// a key in another form, "1" and "01"), nesting_too_deep beyond 64 containers (variants count).
#pragma once

#include "kbus/error.hpp"
#include "kbus/message.hpp"
#include "kbus/value.hpp"

#include <nlohmann/json.hpp>

#include <string_view>

namespace kbus::detail {

using json = nlohmann::ordered_json;

json value_to_json(const value& v);
// `where` names the place in errors ("body[1][\"key\"]").
result<value> value_from_json(const json& j, std::string_view type, const std::string& where = "value");

json body_to_json(std::string_view signature, const std::vector<value>& values);
json message_to_json(const message& m);
result<message> message_from_json(const json& j, byte_order order);

}  // namespace kbus::detail
