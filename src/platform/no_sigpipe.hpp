// Writing to a socket whose peer has gone must give EPIPE, never kill the process with SIGPIPE:
// a library cannot own the process's signal disposition. Linux and the BSDs have the send flag
// MSG_NOSIGNAL; macOS (whose older SDKs lack the flag) and the BSDs also have the socket
// option SO_NOSIGPIPE instead (set once per socket). Where both exist, both are used.
#pragma once

#include "kbus_config.hpp"

#include <sys/socket.h>

namespace kbus::detail {

// The flags for every send/sendmsg on a socket.
#if KBUS_HAVE_MSG_NOSIGNAL
inline constexpr int no_sigpipe_send_flags = MSG_NOSIGNAL;
#else
inline constexpr int no_sigpipe_send_flags = 0;
#endif

// Sets SO_NOSIGPIPE on `socket_fd` where the system has it; true when nothing else is needed
// (set, or not needed because the send flag covers it).
bool prepare_no_sigpipe(int socket_fd) noexcept;

}  // namespace kbus::detail
