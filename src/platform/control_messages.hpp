// Walking the control messages (cmsg) of a received msghdr. CMSG_NXTHDR is a macro of the C
// library, and musl's compares a size_t with a ptrdiff_t, which clang reports in the code that
// expands it (-Wsign-compare): expanded once here, with that warning off.
#pragma once

#include <sys/socket.h>

namespace kbus::detail {

cmsghdr* first_control_message(msghdr* msg) noexcept;
cmsghdr* next_control_message(msghdr* msg, cmsghdr* current) noexcept;

}  // namespace kbus::detail
