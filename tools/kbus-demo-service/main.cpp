// kbus-demo-service: a service made with kbus's object server, for demonstrations and for
// tests with real peers. It owns org.kbus.Demo and serves /org/kbus/Demo (org.kbus.Demo1) with
// an object manager for the items below it.
//
//   kbus-demo-service [--address ADDR]     (default: the session bus)
//
// Prints "READY" on stdout once the name is owned; SIGTERM or SIGINT ends it.
#include "kbus/address.hpp"
#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus/object_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

namespace {

using namespace kbus::literals;

constexpr const char* usage = "usage: kbus-demo-service [--address ADDR]\n";

struct demo {
  boost::asio::io_context& io;
  kbus::connection conn;
  kbus::object_server server;
  boost::asio::steady_timer tick_timer;
  std::uint32_t counter = 0;
  std::string label = "kbus";
  std::uint32_t next_item = 1;
  std::map<std::string, std::string> items;  // path -> name

  explicit demo(boost::asio::io_context& i) : io(i), conn(i.get_executor()), server(conn), tick_timer(i) {}

  kbus::interface_definition item_interface(const std::string& path) {
    return kbus::interface_definition("org.kbus.Demo1.Item"_iface)
        .property("Name"_member, [this, path] { return items.count(path) ? items[path] : std::string(); },
                  {.emits_changed = kbus::emits_changed::constant});
  }

  void serve() {
    auto iface =
        kbus::interface_definition("org.kbus.Demo1"_iface)
            .method("Echo"_member, [](kbus::variant v) { return v; }, {.in_names = {"value"}, .out_names = {"value"}})
            .method("Add"_member, [](std::int32_t a, std::int32_t b) { return static_cast<std::int32_t>(
                                                                          static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b)); },
                    {.in_names = {"a", "b"}, .out_names = {"sum"}})
            .method("Sleep"_member,
                    [this](kbus::async_reply<std::uint32_t> reply, std::uint32_t ms) {
                      // Answered when the timer fires; other calls go on meanwhile.
                      auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(ms));
                      timer->async_wait([timer, reply, ms](boost::system::error_code) { reply.reply(ms); });
                    },
                    {.in_names = {"milliseconds"}, .out_names = {"milliseconds"}})
            .method("Fail"_member,
                    []() -> kbus::method_result<void> {
                      return kbus::dbus_error{"org.kbus.Demo1.Error.Failed", "the demo failed, as asked"};
                    })
            .method("AddItem"_member,
                    [this](std::string name) -> kbus::method_result<kbus::object_path> {
                      const std::string path = "/org/kbus/Demo/items/" + std::to_string(next_item++);
                      items[path] = name;
                      if (auto ok = server.add(kbus::object_path(path), item_interface(path)); !ok)
                        return kbus::dbus_error{std::string(kbus::dbus_errors::failed), ok.error().message};
                      return kbus::object_path(path);
                    },
                    {.in_names = {"name"}, .out_names = {"path"}})
            .method("RemoveItem"_member,
                    [this](kbus::object_path path) -> kbus::method_result<void> {
                      if (!path.view().starts_with("/org/kbus/Demo/items/") || !server.remove(path))
                        return kbus::dbus_error{std::string(kbus::dbus_errors::unknown_object), "no item at " + path.str()};
                      items.erase(path.str());
                      return {};
                    },
                    {.in_names = {"path"}})
            .signal<std::uint32_t>("Tick"_member, {.names = {"count"}})
            .property("Counter"_member, [this] { return counter; })
            .property("Label"_member, [this] { return label; }, [this](std::string s) { label = std::move(s); })
            .property("Version"_member, [] { return std::string("1.0"); }, {.emits_changed = kbus::emits_changed::constant});
    server.add("/org/kbus/Demo"_path, iface).value();
    server.add_object_manager("/org/kbus/Demo"_path).value();
  }

  void tick() {
    tick_timer.expires_after(std::chrono::seconds(1));
    tick_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      ++counter;
      (void)server.emit("/org/kbus/Demo"_path, "org.kbus.Demo1"_iface, "Tick"_member, counter);
      (void)server.property_changed("/org/kbus/Demo"_path, "org.kbus.Demo1"_iface, "Counter"_member);
      tick();
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string address;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--address" && i + 1 < argc) {
      address = argv[++i];
    } else if (a.rfind("--address=", 0) == 0) {
      address = a.substr(10);
    } else if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << usage;
      return 2;
    }
  }
  if (address.empty()) {
    const char* env = std::getenv("DBUS_SESSION_BUS_ADDRESS");
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    address = kbus::default_session_bus_address(env ? std::optional<std::string_view>(env) : std::nullopt,
                                                static_cast<unsigned>(::geteuid()),
                                                runtime ? std::optional<std::string_view>(runtime) : std::nullopt);
  }

  boost::asio::io_context io;
  demo d(io);
  d.serve();
  int status = 0;
  d.conn.async_connect(address, [&](boost::system::error_code ec) {
    if (ec) {
      std::cerr << "kbus-demo-service: cannot connect: " << d.conn.last_error() << "\n";
      status = 1;
      io.stop();
      return;
    }
    kbus::bus::async_request_name(d.conn, "org.kbus.Demo"_bus, kbus::bus::request_name_flags::do_not_queue,
                                  [&](boost::system::error_code ec2, kbus::bus::request_name_reply r) {
                                    if (ec2 || r != kbus::bus::request_name_reply::primary_owner) {
                                      std::cerr << "kbus-demo-service: cannot own org.kbus.Demo\n";
                                      status = 1;
                                      io.stop();
                                      return;
                                    }
                                    std::cout << "READY" << std::endl;
                                    d.tick();
                                  });
  });
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  io.run();
  return status;
}
