// A program outside the kbus tree: calls kbus-demo-service's Add on the bus that
// DBUS_SESSION_BUS_ADDRESS names and prints the sum. scripts/test builds it four ways (an
// installed kbus through find_package and through pkg-config, the checkout through
// add_subdirectory and through FetchContent) and runs each against a private bus.
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
  if (!address) {
    std::cerr << "DBUS_SESSION_BUS_ADDRESS is not set\n";
    return 2;
  }
  boost::asio::io_context io;
  kbus::connection conn(io.get_executor());
  auto token = kbus::with_dbus_error(boost::asio::use_awaitable);
  std::int32_t sum = 0;
  auto call = [&]() -> boost::asio::awaitable<void> {
    co_await conn.async_connect(address, token);
    kbus::proxy demo(conn, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface);
    sum = co_await demo.async_call<std::int32_t>("Add"_member, std::tuple{2, 40}, token);
    conn.close();
  };
  int status = 0;
  boost::asio::co_spawn(io, call, [&](std::exception_ptr failed) {
    if (!failed) return;
    status = 1;
    conn.close();
    try {
      std::rethrow_exception(failed);
    } catch (const std::exception& e) {
      std::cerr << "the call failed: " << e.what() << "\n";
    }
  });
  io.run();
  if (status == 0) std::cout << "org.kbus.Demo1.Add(2, 40) = " << sum << "\n";
  return status == 0 && sum == 42 ? 0 : 1;
}
