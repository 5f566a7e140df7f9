// The connector of "kernel:path=<bus file>" address entries (transport/connector.hpp): opens
// the device at the path (open_device: the kernel's bus file, or a registered in-process
// device) and says HELLO. Its failures are the reasons an entry is skipped.
#pragma once

#include "transport/connector.hpp"

namespace kbus::detail::kdbus {

void connect(connect_request request, connect_handler done);

}  // namespace kbus::detail::kdbus
