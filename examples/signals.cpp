// 3. Signals: one connection emits org.example.Clock1.Tick three times, another subscribes to it
// through a proxy and prints each tick. The subscription completes once the bus has the match
// rule, so no tick emitted afterwards is lost.
#include <kbus/object_server.hpp>
#include <kbus/proxy.hpp>
#include <kbus/with_dbus_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

using namespace kbus::literals;

int main() {
  const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (!address) return std::cerr << "DBUS_SESSION_BUS_ADDRESS is not set\n", 2;

  boost::asio::io_context io;
  kbus::connection clock(io.get_executor()), listener(io.get_executor());
  kbus::object_server server(clock);
  server.add("/org/example/Clock"_path,
             kbus::interface_definition("org.example.Clock1"_iface).signal<std::uint32_t>("Tick"_member, {.names = {"count"}}));

  int received = 0;
  kbus::subscription ticks;  // the handler is called while this handle lives
  auto run = [&]() -> boost::asio::awaitable<void> {
    auto token = kbus::with_dbus_error(boost::asio::use_awaitable);
    co_await clock.async_connect(address, token);
    co_await listener.async_connect(address, token);
    // The emitter is known by its unique name here; a service would own a well-known one.
    kbus::proxy proxy(listener, kbus::bus_name(clock.unique_name()), "/org/example/Clock"_path, "org.example.Clock1"_iface);
    ticks = co_await proxy.async_on_signal<std::uint32_t>(
        "Tick"_member,
        [&](std::uint32_t count) {
          std::cout << "tick " << count << std::endl;
          if (++received == 3) {
            clock.close();
            listener.close();
          }
        },
        token);
    for (std::uint32_t n = 1; n <= 3; ++n) server.emit("/org/example/Clock"_path, "org.example.Clock1"_iface, "Tick"_member, n).value();
  };
  boost::asio::co_spawn(io, run, [&](std::exception_ptr failed) {
    if (!failed) return;
    clock.close();
    listener.close();
    try {
      std::rethrow_exception(failed);
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
    }
  });
  io.run();
  return received == 3 ? 0 : 1;
}
