// 4. Properties: a service exposes a read-only Counter and a writable Label on one connection;
// a client on another reads both, sets Label, and sees the change in a property cache that
// PropertiesChanged keeps current.
#include <kbus/object_server.hpp>
#include <kbus/proxy.hpp>
#include <kbus/with_dbus_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

using namespace kbus::literals;

int main() {
  const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (!address) return std::cerr << "DBUS_SESSION_BUS_ADDRESS is not set\n", 2;

  boost::asio::io_context io;
  kbus::connection service(io.get_executor()), client(io.get_executor());
  // The handlers run on the connection's executor: one thread here, so no lock.
  std::uint32_t counter = 7;
  std::string label = "kitchen";
  kbus::object_server server(service);
  server.add("/org/example/Thermostat"_path,
             kbus::interface_definition("org.example.Thermostat1"_iface)
                 .property("Counter"_member, [&] { return counter; })
                 .property("Label"_member, [&] { return label; }, [&](std::string s) { label = std::move(s); }));

  int status = 1;
  auto run = [&]() -> boost::asio::awaitable<void> {
    auto token = kbus::with_dbus_error(boost::asio::use_awaitable);
    co_await service.async_connect(address, token);
    co_await client.async_connect(address, token);
    kbus::proxy thermostat(client, kbus::bus_name(service.unique_name()), "/org/example/Thermostat"_path,
                           "org.example.Thermostat1"_iface);
    std::cout << "Counter = " << co_await thermostat.async_get_property<std::uint32_t>("Counter"_member, token) << "\n";
    std::cout << "Label = " << co_await thermostat.async_get_property<std::string>("Label"_member, token) << "\n";

    co_await thermostat.async_load_properties(token);  // the cache, kept by PropertiesChanged
    co_await thermostat.async_set_property("Label"_member, std::string("hall"), token);
    std::cout << "Label set; the service has " << label << "\n";
    // The service emitted PropertiesChanged before it answered Set; a round trip to it more
    // makes sure the client has read the signal (messages from one sender keep their order).
    co_await thermostat.async_get_property<std::uint32_t>("Counter"_member, token);
    std::cout << "cached Label = " << thermostat.cached_property<std::string>("Label").value_or("?") << "\n";
    status = 0;
    client.close();
    service.close();
  };
  boost::asio::co_spawn(io, run, [&](std::exception_ptr failed) {
    if (!failed) return;
    client.close();
    service.close();
    try {
      std::rethrow_exception(failed);
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
    }
  });
  io.run();
  return status;
}
