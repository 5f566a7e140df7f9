// JSON output through the public kbus/json.hpp: bodies as {"type": SIGNATURE, "data": [...]}.
#pragma once

#include "kbus/value.hpp"

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

namespace kbus::cli {

nlohmann::ordered_json value_json(const value& v);
nlohmann::ordered_json body_json(std::string_view signature, const std::vector<value>& values);

}  // namespace kbus::cli
