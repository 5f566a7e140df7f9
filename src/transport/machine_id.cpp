#include "transport/machine_id.hpp"

#include <fstream>

namespace kbus::detail {

namespace {
// D-Bus specification, "UUIDs": libdbus reads the second when the first is missing.
constexpr const char* machine_id_files[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
constexpr std::size_t machine_id_length = 32;

std::optional<std::string> read_machine_id() {
  for (const char* file : machine_id_files) {
    std::ifstream in(file);
    std::string id;
    if (in >> id && id.size() == machine_id_length && id.find_first_not_of("0123456789abcdef") == std::string::npos)
      return id;
  }
  return std::nullopt;
}
}  // namespace

const std::optional<std::string>& machine_id() {
  static const std::optional<std::string> id = read_machine_id();
  return id;
}

}  // namespace kbus::detail
