#include "platform/control_messages.hpp"

namespace kbus::detail {

cmsghdr* first_control_message(msghdr* msg) noexcept { return CMSG_FIRSTHDR(msg); }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
cmsghdr* next_control_message(msghdr* msg, cmsghdr* current) noexcept { return CMSG_NXTHDR(msg, current); }
#pragma GCC diagnostic pop

}  // namespace kbus::detail
