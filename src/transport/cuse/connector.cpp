#include "transport/cuse/connector.hpp"

#include "transport/cuse/device.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <boost/asio/post.hpp>

namespace kbus::detail::cuse {

// kbusd's pool is address space it reserves, not memory it takes. Without memfds a message's
// bytes land in the pool, and one sending user may fill a sixth of it (kdbus's quota: half the
// pool takes incoming messages, a third of that one user): room for a message of the D-Bus
// maximum (128 MiB) needs 768 MiB.
constexpr std::uint64_t pool_size = std::uint64_t{1} << 30;

namespace {

kdbus_options transport_options(const std::string& path, const std::string& address) {
  kdbus_options options;
  options.path = path;
  options.address = address;
  options.pool_size = pool_size;
  options.hello_flags = 0;  // no kdbus::hello::accept_fd: nothing can pass one
  options.passes_fds = false;
  options.memfd_threshold = UINT64_MAX;
  options.transport_name = std::string(transport_names::cuse);
  options.reopen = &open_device;
  return options;
}

}  // namespace

void connect(connect_request request, connect_handler done) {
  const auto path = request.entry.get("path");
  if (!path) return done(kbus::error(errc::invalid_address, "a cuse address needs path"));
  auto device = open_device(std::string(*path));
  if (!device) return done(device.error());
  auto t = kdbus_transport::connect(std::move(*device), transport_options(std::string(*path), request.entry.to_string()));
  if (!t) return done(t.error());
  // HELLO is synchronous: the transport is handed over on the executor all the same.
  boost::asio::post(request.executor, [done = std::move(done), t = std::move(*t)]() mutable {
    done(std::unique_ptr<transport>(std::move(t)));
  });
}

}  // namespace kbus::detail::cuse
