// unix: and launchd: entries: a local stream socket by path, by abstract name (Linux), or by
// the path launchd keeps in its environment.
#include "transport/socket/connectors.hpp"

#include "platform/abstract_socket.hpp"
#include "platform/cloexec.hpp"
#include "platform/launchd.hpp"
#include "transport/socket/handshake.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>

namespace kbus::detail {

namespace {

kbus::error system_error(int e) { return kbus::error(boost::system::error_code(e, boost::system::system_category()), ""); }

// A stream socket, close-on-exec and non-blocking from the start where the system can (one
// syscall instead of four): the handshake then need not set either.
unix_fd open_local_socket() {
#if KBUS_HAVE_SOCK_CLOEXEC
  return unix_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
#else
  unix_fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
  if (fd && (!set_cloexec(fd.get()) || ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK) != 0)) return {};
  return fd;
#endif
}

void handshake(connect_request request, unix_fd fd, connect_handler done) {
  client_handshake_options options{.address = request.entry.to_string(),
                                   .transport = transport_names::unix_socket,
                                   .pipeline_with_unix_fds = true,
                                   .local_and_prepared = true,
                                   .first_message = std::move(request.first_message)};
  async_client_handshake(request.executor, std::move(fd), std::move(options), std::move(done));
}

// `path`: a file system path, or an abstract name after a NUL byte. A local connect completes
// at once (no wait, no reactor registration) unless the listener's queue is full: then the
// socket is waited for, as a TCP connect would be.
void connect_local(connect_request request, std::string path, connect_handler done) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return done(system_error(ENAMETOOLONG));
  std::memcpy(addr.sun_path, path.data(), path.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  unix_fd fd = open_local_socket();
  if (!fd) return done(system_error(errno));
  int r;
  do r = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), length);
  while (r != 0 && errno == EINTR);
  if (r == 0) return handshake(std::move(request), std::move(fd), std::move(done));
  if (errno != EINPROGRESS && errno != EAGAIN) return done(system_error(errno));
  auto waiting = std::make_shared<boost::asio::posix::stream_descriptor>(request.executor);
  boost::system::error_code ec;
  waiting->assign(fd.release(), ec);
  if (ec) return done(kbus::error(ec, ""));
  waiting->async_wait(boost::asio::posix::descriptor_base::wait_write,
                      [request = std::move(request), waiting, done = std::move(done)](boost::system::error_code ec) mutable {
                        unix_fd fd(waiting->release());
                        int error = 0;
                        socklen_t size = sizeof error;
                        if (!ec && ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
                        if (!ec && error) ec = boost::system::error_code(error, boost::system::system_category());
                        if (ec) return done(kbus::error(ec, ""));
                        handshake(std::move(request), std::move(fd), std::move(done));
                      });
}

}  // namespace

void connect_unix(connect_request request, connect_handler done) {
  std::string path;
  if (auto p = request.entry.get("path")) {
    path = std::string(*p);
  } else if (auto a = request.entry.get("abstract")) {
    auto abstract = abstract_socket_path(*a);
    if (!abstract) return done(abstract.error());
    path = std::move(*abstract);
  } else {
    return done(kbus::error(errc::unsupported_address, "only path= and abstract= can be connected to"));
  }
  connect_local(std::move(request), std::move(path), std::move(done));
}

void connect_launchd(connect_request request, connect_handler done) {
  std::string why;
  auto path = launchd_socket_path(std::string(*request.entry.get("env")), why);
  if (!path) return done(kbus::error(errc::unsupported_address, why));
  connect_local(std::move(request), std::move(*path), std::move(done));
}

}  // namespace kbus::detail
