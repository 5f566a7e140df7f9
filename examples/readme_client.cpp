// A client: calls org.example.Calc's Add from a coroutine and prints the sum.
#include <kbus/proxy.hpp>
#include <kbus/with_dbus_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

using namespace kbus::literals;

int main() {
  boost::asio::io_context io;
  kbus::connection conn(io.get_executor());
  // A D-Bus error reply throws kbus::call_error (its name and message), anything else
  // boost::system::system_error.
  auto token = kbus::with_dbus_error(boost::asio::use_awaitable);

  auto client = [&]() -> boost::asio::awaitable<void> {
    co_await conn.async_connect(std::getenv("DBUS_SESSION_BUS_ADDRESS"), token);
    kbus::proxy calc(conn, "org.example.Calc"_bus, "/org/example/Calc"_path, "org.example.Calc1"_iface);
    std::int32_t sum = co_await calc.async_call<std::int32_t>("Add"_member, std::tuple{2, 40}, token);
    std::cout << sum << "\n";
    conn.close();
  };
  int status = 0;
  boost::asio::co_spawn(io, client, [&](std::exception_ptr failed) {
    if (!failed) return;
    status = 1;
    conn.close();
    try {
      std::rethrow_exception(failed);
    } catch (const kbus::call_error& e) {
      std::cerr << "D-Bus error " << e.error().name << ": " << e.error().message << "\n";
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
    }
  });
  io.run();
  return status;
}
