#include "transport/kdbus/connector.hpp"

#include "transport/kdbus/device.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <boost/asio/post.hpp>

namespace kbus::detail::kdbus {

void connect(connect_request request, connect_handler done) {
  const auto path = request.entry.get("path");
  if (!path) return done(kbus::error(errc::invalid_address, "a kernel address needs path"));
  auto device = open_device(std::string(*path));
  if (!device) return done(device.error());
  kdbus_options options;
  options.path = std::string(*path);
  options.address = request.entry.to_string();
  auto t = kdbus_transport::connect(std::move(*device), options);
  if (!t) return done(t.error());
  // HELLO is synchronous: the transport is handed over on the executor all the same.
  boost::asio::post(request.executor, [done = std::move(done), t = std::move(*t)]() mutable {
    done(std::unique_ptr<transport>(std::move(t)));
  });
}

}  // namespace kbus::detail::kdbus
