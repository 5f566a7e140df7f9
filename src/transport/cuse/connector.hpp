// The connector of "cuse:path=<device>" address entries (transport/connector.hpp): opens kbusd's
// CUSE device and says HELLO over it with the kdbus transport, set up for a device that maps
// nothing and passes no files. A missing device is the reason the entry is skipped.
#pragma once

#include "transport/connector.hpp"

namespace kbus::detail::cuse {

void connect(connect_request request, connect_handler done);

}  // namespace kbus::detail::cuse
