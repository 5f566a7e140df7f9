// 7. A peer-to-peer connection: no bus. A kbus::server listens on a socket in a fresh
// directory, serves an object on the connection it accepts, and a client connects straight to
// it (connect_options::bus = false: no Hello, no names) and calls Add.
#include <kbus/address.hpp>
#include <kbus/object_server.hpp>
#include <kbus/proxy.hpp>
#include <kbus/server.hpp>
#include <kbus/with_dbus_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

using namespace kbus::literals;

int main() {
  boost::asio::io_context io;
  // unix:tmpdir= makes a socket of its own in that directory.
  kbus::server server(io.get_executor());
  server.listen("unix:tmpdir=" + kbus::escape_address_value(std::filesystem::temp_directory_path().string()));
  std::cout << "listening on " << server.address() << "\n";

  // The server side: one client, one object.
  std::optional<kbus::connection> peer;
  std::optional<kbus::object_server> objects;
  server.async_accept([&](boost::system::error_code ec, kbus::connection accepted) {
    if (ec) return;
    peer.emplace(std::move(accepted));
    objects.emplace(*peer);
    objects->add("/org/example/Calc"_path, kbus::interface_definition("org.example.Calc1"_iface)
                                               .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; }));
    server.close();  // no more clients
  });

  int status = 1;
  kbus::connection client(io.get_executor());
  auto run = [&]() -> boost::asio::awaitable<void> {
    auto token = kbus::with_dbus_error(boost::asio::use_awaitable);
    co_await client.async_connect(server.address(), token, {.bus = false});
    // No bus routes the call: the destination stays empty.
    kbus::proxy calc(client, kbus::bus_name{}, "/org/example/Calc"_path, "org.example.Calc1"_iface);
    std::cout << "2 + 40 = " << co_await calc.async_call<std::int32_t>("Add"_member, std::tuple{2, 40}, token) << "\n";
    status = 0;
    client.close();
    if (peer) peer->close();
  };
  boost::asio::co_spawn(io, run, [&](std::exception_ptr failed) {
    if (!failed) return;
    client.close();
    server.close();
    if (peer) peer->close();
    try {
      std::rethrow_exception(failed);
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
    }
  });
  io.run();
  return status;
}
