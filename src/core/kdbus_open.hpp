// Opens the kdbus device a kernel: address names: an embedded bus of this process
// (kbus/embedded_bus.hpp), else the kernel's bus file.
#pragma once

#include "transport/kdbus_device.hpp"

#include <memory>
#include <string>

namespace kbus::detail {

result<std::unique_ptr<kdbus_device>> open_kdbus_device(const std::string& path);

}  // namespace kbus::detail
