// The transports built into this library, by address scheme. A new transport is a folder under
// src/transport/ and one line in registry.cpp.
#pragma once

#include "transport/connector.hpp"

#include <string_view>

namespace kbus::detail {

// The connector for `scheme` (address_entry::transport), or nullptr when that transport is not
// built in: the entry is then skipped with "not built in".
connector_fn find_connector(std::string_view scheme) noexcept;

}  // namespace kbus::detail
