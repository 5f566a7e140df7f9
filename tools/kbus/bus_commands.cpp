// The subcommands that talk to a bus: info, list, call, emit, get-property, set-property, monitor.
#include "busctl_syntax.hpp"
#include "commands.hpp"

#include "kbus/address.hpp"
#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus/match.hpp"
#include "wire/json.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace kbus::cli {
namespace {

std::optional<std::string_view> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string_view(v);
}

std::string address_of(const global_options& o) {
  if (o.address) return *o.address;
  if (o.system) return default_system_bus_address(env("DBUS_SYSTEM_BUS_ADDRESS"));
  return default_session_bus_address(env("DBUS_SESSION_BUS_ADDRESS"), ::geteuid(), env("XDG_RUNTIME_DIR"));
}

// One connection driven on this thread: each step runs the io_context until it completes.
class session {
 public:
  explicit session(const global_options& o) : options_(o), conn_(io_.get_executor()) {}

  bool connect() {
    bool done = false;
    boost::system::error_code result;
    conn_.async_connect(address_of(options_), [&](boost::system::error_code ec) {
      result = ec;
      done = true;
    });
    run(done);
    if (!result) return true;
    std::cerr << "kbus: cannot connect: " << conn_.last_error() << "\n";
    return false;
  }

  // The reply, or nullopt after printing why (exit code in `status`).
  std::optional<message> call(message m, int& status) {
    bool done = false;
    boost::system::error_code result;
    message reply;
    conn_.async_call(std::move(m), [&](boost::system::error_code ec, message r) {
      result = ec;
      reply = std::move(r);
      done = true;
    }, call_options{std::chrono::milliseconds(static_cast<long long>(options_.timeout_seconds * 1000))});
    run(done);
    if (!result) return reply;
    status = 1;
    if (result == make_error_code(connection_errc::error_reply)) {
      const auto e = dbus_error_of(reply);
      std::cerr << "kbus: " << e.name << ": " << e.message << "\n";
    } else {
      std::cerr << "kbus: call failed: " << result.message()
                << (conn_.last_error().empty() ? "" : " (" + conn_.last_error() + ")") << "\n";
    }
    return std::nullopt;
  }

  connection& conn() { return conn_; }
  boost::asio::io_context& io() { return io_; }

 private:
  void run(const bool& done) {
    while (!done && !io_.stopped()) io_.run_one();
    io_.restart();
  }

  global_options options_;
  boost::asio::io_context io_;
  connection conn_;
};

template <class Name>
std::optional<Name> name_arg(const std::string& text, const char* what) {
  auto n = Name::make(text);
  if (!n) {
    std::cerr << "kbus: " << what << ": " << n.error().message << "\n";
    return std::nullopt;
  }
  return *n;
}

// "SIGNATURE ARG..." from the command line into a body.
std::optional<std::pair<std::string, std::vector<value>>> body_args(const arguments& args, std::size_t from) {
  if (args.size() <= from) return std::pair<std::string, std::vector<value>>{};
  const std::string sig = args[from];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(from) + 1, args.end());
  auto values = parse_busctl_args(sig, rest);
  if (!values) {
    std::cerr << "kbus: " << values.error().what() << "\n";
    return std::nullopt;
  }
  return std::pair<std::string, std::vector<value>>{sig, std::move(*values)};
}

void print_body(const global_options& o, std::string_view sig, const std::vector<value>& values) {
  if (o.json) std::cout << detail::body_to_json(sig, values).dump() << "\n";
  else if (!sig.empty()) std::cout << format_busctl(sig, values) << "\n";
}

}  // namespace

int info_command(const global_options& o, const arguments& args) {
  if (!args.empty()) {
    std::cerr << "usage: kbus info\n";
    return 2;
  }
  session s(o);
  if (!s.connect()) return 1;
  const auto& i = s.conn().info();
  if (o.json) {
    detail::json j{{"address", i.address},         {"transport", i.transport},
                   {"skipped", i.skipped},         {"unique_name", i.unique_name},
                   {"server_guid", i.server_guid}, {"unix_fd_passing", i.unix_fd_passing}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "address:         " << i.address << "\n"
            << "transport:       " << i.transport << "\n";
  for (const auto& skipped : i.skipped) std::cout << "skipped:         " << skipped << "\n";
  std::cout << "unique name:     " << i.unique_name << "\n"
            << "server guid:     " << i.server_guid << "\n"
            << "unix fd passing: " << (i.unix_fd_passing ? "yes" : "no") << "\n";
  return 0;
}

int list_command(const global_options& o, const arguments& args) {
  if (!args.empty()) {
    std::cerr << "usage: kbus list\n";
    return 2;
  }
  session s(o);
  if (!s.connect()) return 1;
  int status = 0;
  auto reply = s.call(bus::driver_call("ListNames"), status);
  if (!reply) return status;
  auto names = std::get<0>(reply->read<std::vector<std::string>>().value());
  std::sort(names.begin(), names.end());
  detail::json rows = detail::json::array();
  if (!o.json) std::printf("%-40s %8s %8s %s\n", "NAME", "PID", "UID", "CONNECTION");
  for (const auto& name : names) {
    std::string owner = name;
    std::uint32_t pid = 0, uid = 0;
    int ignored = 0;
    if (name[0] != ':')
      if (auto r = s.call(bus::driver_call("GetNameOwner", name), ignored)) owner = std::get<0>(r->read<std::string>().value());
    if (auto r = s.call(bus::driver_call("GetConnectionUnixProcessID", name), ignored)) pid = std::get<0>(r->read<std::uint32_t>().value());
    if (auto r = s.call(bus::driver_call("GetConnectionUnixUser", name), ignored)) uid = std::get<0>(r->read<std::uint32_t>().value());
    if (o.json) rows.push_back({{"name", name}, {"pid", pid}, {"uid", uid}, {"unique_name", owner}});
    else std::printf("%-40s %8u %8u %s\n", name.c_str(), pid, uid, owner.c_str());
  }
  if (o.json) std::cout << rows.dump() << "\n";
  return 0;
}

int call_command(const global_options& o, const arguments& args) {
  if (args.size() < 4) {
    std::cerr << "usage: kbus call DEST PATH IFACE METHOD [SIGNATURE [ARG...]]\n";
    return 2;
  }
  auto dest = name_arg<bus_name>(args[0], "DEST");
  auto path = name_arg<object_path>(args[1], "PATH");
  auto iface = name_arg<interface_name>(args[2], "IFACE");
  auto member = name_arg<member_name>(args[3], "METHOD");
  auto body = body_args(args, 4);
  if (!dest || !path || !iface || !member || !body) return 2;
  auto m = message_builder::method_call(*dest, *path, *iface, *member).build_values(kbus::signature(body->first), body->second);
  if (!m) {
    std::cerr << "kbus: " << m.error().what() << "\n";
    return 2;
  }
  session s(o);
  if (!s.connect()) return 1;
  int status = 0;
  auto reply = s.call(std::move(*m), status);
  if (!reply) return status;
  auto values = reply->values();
  if (!values) {
    std::cerr << "kbus: invalid reply: " << values.error().what() << "\n";
    return 1;
  }
  print_body(o, reply->signature(), *values);
  return 0;
}

int emit_command(const global_options& o, const arguments& args) {
  if (args.size() < 3) {
    std::cerr << "usage: kbus emit PATH IFACE SIGNAL [SIGNATURE [ARG...]]\n";
    return 2;
  }
  auto path = name_arg<object_path>(args[0], "PATH");
  auto iface = name_arg<interface_name>(args[1], "IFACE");
  auto member = name_arg<member_name>(args[2], "SIGNAL");
  auto body = body_args(args, 3);
  if (!path || !iface || !member || !body) return 2;
  auto m = message_builder::signal(*path, *iface, *member).build_values(kbus::signature(body->first), body->second);
  if (!m) {
    std::cerr << "kbus: " << m.error().what() << "\n";
    return 2;
  }
  session s(o);
  if (!s.connect()) return 1;
  s.conn().send(std::move(*m));
  // A round trip after it: the signal is on its way once the reply is back.
  int status = 0;
  return s.call(bus::driver_call("GetId"), status) ? 0 : status;
}

int get_property_command(const global_options& o, const arguments& args) {
  if (args.size() != 4) {
    std::cerr << "usage: kbus get-property DEST PATH IFACE PROP\n";
    return 2;
  }
  auto dest = name_arg<bus_name>(args[0], "DEST");
  auto path = name_arg<object_path>(args[1], "PATH");
  auto iface = name_arg<interface_name>(args[2], "IFACE");
  auto prop = name_arg<member_name>(args[3], "PROP");
  if (!dest || !path || !iface || !prop) return 2;
  auto m = message_builder::method_call(*dest, *path, interface_name::unchecked("org.freedesktop.DBus.Properties"),
                                        member_name::unchecked("Get"))
               .build(iface->str(), prop->str());
  session s(o);
  if (!s.connect()) return 1;
  int status = 0;
  auto reply = s.call(std::move(m), status);
  if (!reply) return status;
  auto values = reply->values();
  if (!values || values->size() != 1 || (*values)[0].code() != 'v') {
    std::cerr << "kbus: the reply to Get is not a variant\n";
    return 1;
  }
  // As busctl: the property's own type and value, not the variant around it.
  const value& inner = (*values)[0].items()[0];
  if (o.json) std::cout << detail::json{{"type", inner.type()}, {"data", detail::value_to_json(inner)}}.dump() << "\n";
  else std::cout << inner.type() << " " << format_busctl_value(inner) << "\n";
  return 0;
}

int set_property_command(const global_options& o, const arguments& args) {
  if (args.size() < 6) {
    std::cerr << "usage: kbus set-property DEST PATH IFACE PROP SIGNATURE ARG...\n";
    return 2;
  }
  auto dest = name_arg<bus_name>(args[0], "DEST");
  auto path = name_arg<object_path>(args[1], "PATH");
  auto iface = name_arg<interface_name>(args[2], "IFACE");
  auto prop = name_arg<member_name>(args[3], "PROP");
  auto body = body_args(args, 4);
  if (!dest || !path || !iface || !prop || !body) return 2;
  if (body->second.size() != 1) {
    std::cerr << "kbus: a property has one value, the signature \"" << body->first << "\" gives "
              << body->second.size() << "\n";
    return 2;
  }
  auto m = message_builder::method_call(*dest, *path, interface_name::unchecked("org.freedesktop.DBus.Properties"),
                                        member_name::unchecked("Set"))
               .build_values(kbus::signature::unchecked("ssv"),
                             {value::string(iface->str()), value::string(prop->str()), value::variant(body->second[0])});
  if (!m) {
    std::cerr << "kbus: " << m.error().what() << "\n";
    return 2;
  }
  session s(o);
  if (!s.connect()) return 1;
  int status = 0;
  return s.call(std::move(*m), status) ? 0 : status;
}

int monitor_command(const global_options& o, const arguments& args) {
  for (const auto& rule : args) {
    if (auto r = match_rule::parse(rule); !r) {
      std::cerr << "kbus: " << r.error().what() << "\n";
      return 2;
    }
  }
  session s(o);
  if (!s.connect()) return 1;
  s.conn().set_message_handler([&](message& m) {
    // Becoming a monitor, the connection loses its own unique name; that is not traffic.
    if (auto lost = bus::as_name_lost(m); lost && *lost == s.conn().unique_name()) return;
    if (o.json) {
      std::cout << detail::message_to_json(m).dump() << std::endl;
      return;
    }
    static constexpr const char* types[] = {"invalid", "method_call", "method_return", "error", "signal"};
    std::cout << "type=" << (m.type() <= message_type::signal ? types[static_cast<int>(m.type())] : "unknown")
              << " sender=" << m.sender() << " destination=" << m.destination() << " serial=" << m.serial();
    if (m.reply_serial()) std::cout << " reply_serial=" << *m.reply_serial();
    if (!m.path().empty()) std::cout << " path=" << m.path();
    if (!m.interface().empty()) std::cout << " interface=" << m.interface();
    if (!m.member().empty()) std::cout << " member=" << m.member();
    if (!m.error_name().empty()) std::cout << " error_name=" << m.error_name();
    std::cout << "\n";
    if (auto v = m.values(); v && !m.signature().empty()) std::cout << "  " << format_busctl(m.signature(), *v) << "\n";
    std::cout.flush();
  });
  bool done = false;
  boost::system::error_code result;
  bus::async_become_monitor(s.conn(), args, [&](boost::system::error_code ec) {
    result = ec;
    done = true;
  });
  while (!done) s.io().run_one();
  if (result) {
    std::cerr << "kbus: BecomeMonitor failed: " << result.message() << "\n";
    return 1;
  }
  // Until interrupted, or until the bus goes away.
  boost::asio::signal_set stop(s.io(), SIGINT, SIGTERM);
  stop.async_wait([&](auto, int) { s.io().stop(); });
  while (!s.io().stopped() && s.conn().is_open()) s.io().run_for(std::chrono::milliseconds(200));
  return 0;
}

}  // namespace kbus::cli
