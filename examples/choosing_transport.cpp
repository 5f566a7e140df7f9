// 6. Choosing a transport: a D-Bus address is a list of entries, tried in order; the first that
// works is used. kbus offers the socket transports (unix:, tcp:, ...), the kdbus device
// (kernel:) and kbusd's CUSE device (cuse:) with the same API. This program connects to the
// list given (or to "kernel:...;cuse:...;$DBUS_SESSION_BUS_ADDRESS", preferring a kernel bus)
// and says which entry it took and why it skipped the others.
#include <kbus/connection.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  std::string address;
  if (argc > 1) {
    address = argv[1];
  } else {
    const char* session = std::getenv("DBUS_SESSION_BUS_ADDRESS");
    if (!session) return std::cerr << "give an address, or set DBUS_SESSION_BUS_ADDRESS\n", 2;
    const std::string uid = std::to_string(::getuid());
    address = "kernel:path=/sys/fs/kdbus/" + uid + "-user/bus;cuse:path=/dev/kbus/" + uid + "-user;" + session;
  }

  boost::asio::io_context io;
  kbus::connection conn(io.get_executor());
  int status = 0;
  conn.async_connect(address, [&](boost::system::error_code ec) {
    const kbus::connection_info info = conn.info();
    for (const auto& skipped : info.skipped) std::cout << "skipped " << skipped << "\n";
    if (ec) {
      std::cerr << "no entry worked: " << conn.last_error() << "\n";
      status = 1;
      return;
    }
    std::cout << "connected with the " << info.transport << " transport to " << info.address << " as "
              << conn.unique_name() << "\n";
    conn.close();
  });
  io.run();
  return status;
}
