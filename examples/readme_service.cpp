// A service: owns org.example.Calc and serves Add on /org/example/Calc until SIGINT or SIGTERM.
#include <kbus/object_server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdlib>
#include <iostream>

using namespace kbus::literals;

int main() {
  boost::asio::io_context io;                                 // kbus starts no thread of its own
  kbus::connection conn(io.get_executor());

  kbus::object_server server(conn);                           // Introspectable, Properties, Peer too
  server.add("/org/example/Calc"_path,
             kbus::interface_definition("org.example.Calc1"_iface)
                 .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; }));

  // Connects, says Hello, then owns the name (exclusively: if another connection owns it,
  // connecting fails with connection_errc::name_not_owned and last_error() says why).
  int status = 0;
  conn.async_connect(
      std::getenv("DBUS_SESSION_BUS_ADDRESS"),
      [&](boost::system::error_code ec) {
        if (!ec) return void(std::cout << "serving org.example.Calc" << std::endl);
        std::cerr << "cannot serve: " << conn.last_error() << "\n";
        status = 1;
        io.stop();
      },
      {.names = {{"org.example.Calc"_bus}}});

  boost::asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](boost::system::error_code, int) { io.stop(); });
  io.run();
  return status;
}
