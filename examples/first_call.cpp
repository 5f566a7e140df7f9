// 1. A first call: asks the bus which names it knows (org.freedesktop.DBus.ListNames) and
// prints them, one a line. Blocking calls, from main, while a second thread runs the connection.
#include <kbus/dbus_names.hpp>
#include <kbus/proxy.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <iostream>
#include <thread>

int main() {
  const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (!address) return std::cerr << "DBUS_SESSION_BUS_ADDRESS is not set\n", 2;

  boost::asio::io_context io;
  kbus::connection conn(io.get_executor());
  // kbus starts no thread: this one runs the connection. A blocking call waits for it, so it
  // must come from another thread (on the executor's own thread it fails with would_deadlock).
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });

  int status = 0;
  try {
    conn.connect(address);  // says Hello: the connection gets a unique name
    kbus::proxy driver(conn, kbus::bus_name(kbus::dbus_names::driver_name), kbus::object_path(kbus::dbus_names::driver_path),
                       kbus::interface_name(kbus::dbus_names::driver_interface));
    for (const auto& name : driver.call<std::vector<std::string>>(kbus::member_name("ListNames")))
      std::cout << name << (name == conn.unique_name() ? "  (this program)" : "") << "\n";
  } catch (const std::exception& e) {  // kbus::call_error for a D-Bus error, system_error else
    std::cerr << e.what() << "\n";
    status = 1;
  }
  conn.close();
  work.reset();
  runner.join();
  return status;
}
