// 5. Async with coroutines: three calls to the bus at once (Asio's awaitable operators), then
// a call to a name nobody owns, whose D-Bus error arrives as a kbus::call_error exception.
#include <kbus/bus.hpp>
#include <kbus/dbus_names.hpp>
#include <kbus/proxy.hpp>
#include <kbus/with_dbus_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

using namespace kbus::literals;
using namespace boost::asio::experimental::awaitable_operators;

int main() {
  const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (!address) return std::cerr << "DBUS_SESSION_BUS_ADDRESS is not set\n", 2;

  boost::asio::io_context io;
  kbus::connection conn(io.get_executor());
  auto token = kbus::with_dbus_error(boost::asio::use_awaitable);

  auto run = [&]() -> boost::asio::awaitable<void> {
    co_await conn.async_connect(address, token);
    kbus::proxy driver(conn, kbus::bus_name(kbus::dbus_names::driver_name), kbus::object_path(kbus::dbus_names::driver_path),
                       kbus::interface_name(kbus::dbus_names::driver_interface));
    // All three are on the wire before the first reply comes back.
    auto [id, names, owner] = co_await (driver.async_call<std::string>("GetId"_member, std::tuple{}, token) &&
                                        kbus::bus::async_list_names(conn, token) &&
                                        kbus::bus::async_get_name_owner(conn, kbus::bus_name(conn.unique_name()), token));
    std::cout << "bus id " << id.size() << " hex digits, " << names.size() << " names, "
              << (owner == conn.unique_name() ? "we own our unique name" : "?") << "\n";

    kbus::proxy nobody(conn, "org.example.Nobody"_bus, "/"_path, "org.example.Nobody1"_iface);
    try {
      co_await nobody.async_call<void>("Hello"_member, std::tuple{}, token);
    } catch (const kbus::call_error& e) {
      std::cout << "as expected: " << e.error().name << "\n";
    }
    conn.close();
  };
  int status = 0;
  boost::asio::co_spawn(io, run, [&](std::exception_ptr failed) {
    if (!failed) return;
    status = 1;
    conn.close();
    try {
      std::rethrow_exception(failed);
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
    }
  });
  io.run();
  return status;
}
