#include "json_output.hpp"

#include "kbus/json.hpp"

namespace kbus::cli {

nlohmann::ordered_json value_json(const value& v) { return nlohmann::ordered_json::parse(to_json(v)); }

nlohmann::ordered_json body_json(std::string_view signature, const std::vector<value>& values) {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  for (const auto& v : values) data.push_back(value_json(v));
  return {{"type", std::string(signature)}, {"data", std::move(data)}};
}

}  // namespace kbus::cli
