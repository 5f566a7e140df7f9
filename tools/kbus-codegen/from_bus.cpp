#include "from_bus.hpp"

#include "xml_reader.hpp"

#include <kbus/bus.hpp>
#include <kbus/connection.hpp>
#include <kbus/dbus_names.hpp>
#include <kbus/message.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace kbus::codegen {
namespace {

std::string default_address(bool system) {
  if (system) {
    const char* a = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return a ? a : "unix:path=/run/dbus/system_bus_socket";
  }
  const char* a = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (!a) throw std::runtime_error("DBUS_SESSION_BUS_ADDRESS is not set: give --address");
  return a;
}

std::string introspect(connection& c, const bus_name& dest, const std::string& path) {
  auto p = object_path::make(path);
  if (!p) throw std::runtime_error("invalid object path '" + path + "': " + p.error().message);
  auto reply = c.call(message_builder::method_call(dest, *p, interface_name::unchecked(dbus_names::introspectable_interface),
                                                   member_name::unchecked(dbus_names::introspect_member))
                          .build());
  auto xml = reply.read<std::string>();
  if (!xml) throw std::runtime_error(path + ": the Introspect reply is not a string: " + xml.error().message);
  return std::get<0>(std::move(*xml));
}

bool standard(const interface_model& i) { return i.name.rfind("org.freedesktop.DBus.", 0) == 0; }

}  // namespace

std::string object_stem(const std::string& path) {
  std::string s = path.size() > 1 ? path.substr(1) : "root";
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

std::vector<document_model> read_from_bus(const bus_source& source) {
  auto dest = bus_name::make(source.destination);
  if (!dest) throw std::runtime_error("invalid bus name '" + source.destination + "': " + dest.error().message);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::vector<document_model> out;
  try {
    connection c(io.get_executor());
    c.connect(source.address.empty() ? default_address(source.system) : source.address);
    std::vector<std::string> todo(source.paths.rbegin(), source.paths.rend());
    while (!todo.empty()) {
      std::string path = todo.back();
      todo.pop_back();
      const std::string stem = object_stem(path);
      document_model doc = read_document(introspect(c, *dest, path), stem + ".xml");
      std::erase_if(doc.interfaces, standard);
      if (source.recursive)
        for (auto it = doc.children.rbegin(); it != doc.children.rend(); ++it)
          todo.push_back((path == "/" ? "" : path) + "/" + *it);
      if (!doc.interfaces.empty()) out.push_back(std::move(doc));
    }
    c.close();
  } catch (...) {
    work.reset();
    io.stop();
    runner.join();
    throw;
  }
  work.reset();
  io.stop();
  runner.join();
  return out;
}

}  // namespace kbus::codegen
