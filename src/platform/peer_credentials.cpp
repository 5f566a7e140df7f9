#include "platform/peer_credentials.hpp"

#include "kbus_config.hpp"
#include "platform/no_sigpipe.hpp"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>
#if KBUS_HAVE_LOCAL_PEERCRED
#include <sys/ucred.h>
#endif

#include <cerrno>
#include <cstring>

namespace kbus::detail {

std::optional<connection_info::credentials> peer_credentials_of(int socket_fd) {
#if KBUS_HAVE_SO_PEERCRED
  // Linux socket(7); OpenBSD getsockopt(2) names the struct sockpeercred (not built here).
  ucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(c.uid), static_cast<std::uint32_t>(c.gid), c.pid};
#elif KBUS_HAVE_LOCAL_PEERCRED
  // FreeBSD unix(4), macOS unix(4): struct xucred at level 0 (SOL_LOCAL), version XUCRED_VERSION;
  // GLib gcredentials.c and libdbus dbus-sysdeps-unix.c read it the same way. Its first group
  // is the effective gid. macOS adds the pid through LOCAL_PEERPID.
  xucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(socket_fd, 0, LOCAL_PEERCRED, &c, &len) != 0 || c.cr_version != XUCRED_VERSION) return std::nullopt;
  connection_info::credentials out{static_cast<std::uint32_t>(c.cr_uid),
                                   static_cast<std::uint32_t>(c.cr_ngroups > 0 ? c.cr_groups[0] : 0), -1};
#if KBUS_HAVE_LOCAL_PEERPID
  pid_t pid = -1;
  socklen_t pid_len = sizeof pid;
  if (::getsockopt(socket_fd, 0, LOCAL_PEERPID, &pid, &pid_len) == 0) out.pid = pid;
#endif
  return out;
#elif KBUS_HAVE_LOCAL_PEEREID
  // NetBSD unix(4): struct unpcbid (pid, euid, egid) at level 0 (SOL_LOCAL); libdbus reads it so.
  unpcbid c{};
  socklen_t len = sizeof c;
  if (::getsockopt(socket_fd, 0, LOCAL_PEEREID, &c, &len) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(c.unp_euid), static_cast<std::uint32_t>(c.unp_egid), c.unp_pid};
#elif KBUS_HAVE_GETPEEREID
  // POSIX-ish getpeereid(3) (the BSDs, macOS, illumos): no pid.
  uid_t uid;
  gid_t gid;
  if (::getpeereid(socket_fd, &uid, &gid) != 0) return std::nullopt;
  return connection_info::credentials{static_cast<std::uint32_t>(uid), static_cast<std::uint32_t>(gid), -1};
#else
  (void)socket_fd;
  return std::nullopt;
#endif
}

bool is_local_socket(int socket_fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  return ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.ss_family == AF_UNIX;
}

ssize_t send_credentials_byte(int socket_fd) {
  const char nul = '\0';
#if KBUS_SEND_SCM_CREDS
  // FreeBSD's dbus-daemon takes EXTERNAL's uid from an SCM_CREDS message (struct cmsgcred, which
  // the kernel fills in) on the first byte: libdbus dbus-sysdeps-unix.c write_credentials_byte
  // sends it with sendmsg and, when a socket refuses it with EINVAL, sends the byte plainly.
  iovec iov{const_cast<char*>(&nul), 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(cmsgcred))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDS;
  c->cmsg_len = CMSG_LEN(sizeof(cmsgcred));
  const ssize_t n = ::sendmsg(socket_fd, &msg, no_sigpipe_send_flags);
  if (n >= 0 || errno != EINVAL) return n;
#endif
  return ::send(socket_fd, &nul, 1, no_sigpipe_send_flags);
}

}  // namespace kbus::detail
