#include "transport/kdbus/driver.hpp"

#include "kbus/dbus_names.hpp"
#include "transport/machine_id.hpp"

#include <algorithm>

namespace kbus::detail {

namespace {

// StartServiceByName results (D-Bus specification).
constexpr std::uint32_t start_reply_already_running = 2;

constexpr std::string_view introspection_xml =
    "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n"
    "<node>\n"
    " <interface name=\"org.freedesktop.DBus\">\n"
    "  <method name=\"Hello\"><arg direction=\"out\" type=\"s\"/></method>\n"
    "  <method name=\"RequestName\"><arg direction=\"in\" type=\"s\"/><arg direction=\"in\" type=\"u\"/>"
    "<arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"ReleaseName\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"GetNameOwner\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"s\"/></method>\n"
    "  <method name=\"NameHasOwner\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"b\"/></method>\n"
    "  <method name=\"ListNames\"><arg direction=\"out\" type=\"as\"/></method>\n"
    "  <method name=\"ListActivatableNames\"><arg direction=\"out\" type=\"as\"/></method>\n"
    "  <method name=\"ListQueuedOwners\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"as\"/></method>\n"
    "  <method name=\"AddMatch\"><arg direction=\"in\" type=\"s\"/></method>\n"
    "  <method name=\"RemoveMatch\"><arg direction=\"in\" type=\"s\"/></method>\n"
    "  <method name=\"GetConnectionUnixUser\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"GetConnectionUnixProcessID\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"u\"/></method>\n"
    "  <method name=\"GetConnectionCredentials\"><arg direction=\"in\" type=\"s\"/><arg direction=\"out\" type=\"a{sv}\"/></method>\n"
    "  <method name=\"GetId\"><arg direction=\"out\" type=\"s\"/></method>\n"
    "  <method name=\"StartServiceByName\"><arg direction=\"in\" type=\"s\"/><arg direction=\"in\" type=\"u\"/>"
    "<arg direction=\"out\" type=\"u\"/></method>\n"
    "  <signal name=\"NameOwnerChanged\"><arg type=\"s\"/><arg type=\"s\"/><arg type=\"s\"/></signal>\n"
    "  <signal name=\"NameLost\"><arg type=\"s\"/></signal>\n"
    "  <signal name=\"NameAcquired\"><arg type=\"s\"/></signal>\n"
    " </interface>\n"
    " <interface name=\"org.freedesktop.DBus.Monitoring\">\n"
    "  <method name=\"BecomeMonitor\"><arg direction=\"in\" type=\"as\"/><arg direction=\"in\" type=\"u\"/></method>\n"
    " </interface>\n"
    " <interface name=\"org.freedesktop.DBus.Peer\">\n"
    "  <method name=\"Ping\"/>\n"
    "  <method name=\"GetMachineId\"><arg direction=\"out\" type=\"s\"/></method>\n"
    " </interface>\n"
    " <interface name=\"org.freedesktop.DBus.Introspectable\">\n"
    "  <method name=\"Introspect\"><arg direction=\"out\" type=\"s\"/></method>\n"
    " </interface>\n"
    "</node>\n";

}  // namespace

std::span<const kdbus_driver::method> kdbus_driver::methods() noexcept {
  using namespace dbus_names;
  static constexpr method table[] = {
      {driver_interface, "Hello", &kdbus_driver::hello},
      {driver_interface, "RequestName", &kdbus_driver::request_name},
      {driver_interface, "ReleaseName", &kdbus_driver::release_name},
      {driver_interface, "GetNameOwner", &kdbus_driver::get_name_owner},
      {driver_interface, "NameHasOwner", &kdbus_driver::name_has_owner},
      {driver_interface, "ListNames", &kdbus_driver::list_names},
      {driver_interface, "ListActivatableNames", &kdbus_driver::list_activatable_names},
      {driver_interface, "ListQueuedOwners", &kdbus_driver::list_queued_owners},
      {driver_interface, "AddMatch", &kdbus_driver::add_match},
      {driver_interface, "RemoveMatch", &kdbus_driver::remove_match},
      {driver_interface, "GetConnectionUnixUser", &kdbus_driver::get_connection_unix_user},
      {driver_interface, "GetConnectionUnixProcessID", &kdbus_driver::get_connection_unix_process_id},
      {driver_interface, "GetConnectionCredentials", &kdbus_driver::get_connection_credentials},
      {driver_interface, "GetConnectionSELinuxSecurityContext", &kdbus_driver::get_connection_selinux_security_context},
      {driver_interface, "GetConnectionAdtAuditSessionData", &kdbus_driver::get_connection_adt_audit_session_data},
      {driver_interface, "GetId", &kdbus_driver::get_id},
      {driver_interface, "StartServiceByName", &kdbus_driver::start_service_by_name},
      {driver_interface, "ReloadConfig", &kdbus_driver::reload_config},
      {driver_interface, "UpdateActivationEnvironment", &kdbus_driver::update_activation_environment},
      {monitoring_interface, "BecomeMonitor", &kdbus_driver::become_monitor},
      {peer_interface, "Ping", &kdbus_driver::ping},
      {peer_interface, "GetMachineId", &kdbus_driver::get_machine_id},
      {introspectable_interface, "Introspect", &kdbus_driver::introspect},
  };
  return table;
}

const kdbus_driver::method* kdbus_driver::find_method(std::string_view interface, std::string_view member) noexcept {
  for (const method& m : methods()) {
    if (m.member != member) continue;
    if (m.interface == interface) return &m;
    if (interface.empty() && (m.interface == dbus_names::driver_interface || m.interface == dbus_names::peer_interface))
      return &m;
  }
  return nullptr;
}

void kdbus_driver::handle(const message& call) {
  driver_answer a(t_, call);
  const std::string_view interface = call.interface();
  if (const method* m = find_method(interface, call.member())) return (this->*(m->answer))(a);
  const auto methods_of_interface = [&](const method& m) { return m.interface == interface; };
  const auto table = methods();
  if (!interface.empty() && std::none_of(table.begin(), table.end(), methods_of_interface))
    return a.fail(dbus_errors::unknown_interface, "Unknown interface '" + std::string(interface) + "'");
  a.fail(dbus_errors::unknown_method, "Unknown method '" + std::string(call.member()) + "' on " +
                                          std::string(interface.empty() ? dbus_names::driver_interface : interface));
}

void kdbus_driver::hello(driver_answer& a) {
  if (hello_done_) return a.fail(dbus_errors::failed, "Already handled an Hello message");
  hello_done_ = true;
  a.reply(t_.unique_name());
  // dbus-daemon tells a new connection its unique name (NameAcquired).
  t_.queue_local(driver_signal(driver_signals::name_acquired, t_.unique_name(), t_.unique_name()));
}

void kdbus_driver::get_id(driver_answer& a) { a.reply(t_.bus_id()); }

void kdbus_driver::ping(driver_answer& a) { a.reply(); }

void kdbus_driver::get_machine_id(driver_answer& a) {
  if (const auto& id = machine_id()) return a.reply(*id);
  a.fail(dbus_errors::failed, "this machine has no machine id");
}

void kdbus_driver::introspect(driver_answer& a) { a.reply(std::string(introspection_xml)); }

void kdbus_driver::start_service_by_name(driver_answer& a) {
  auto args = a.args<std::string, std::uint32_t>();
  if (!args) return;
  const std::string& name = std::get<0>(*args);
  conn_info info;
  if (connection_info(name, 0, info) == 0) return a.reply(start_reply_already_running);
  a.fail(dbus_errors::service_unknown, "The name " + name + " was not provided by any activatable service");
}

void kdbus_driver::reload_config(driver_answer& a) { a.reply(); }

void kdbus_driver::update_activation_environment(driver_answer& a) {
  a.fail(dbus_errors::not_supported, "Activation environments are not supported on kdbus");
}

void kdbus_driver::get_connection_selinux_security_context(driver_answer& a) {
  a.fail(dbus_errors::selinux_security_context_unknown, "No SELinux security context known");
}

void kdbus_driver::get_connection_adt_audit_session_data(driver_answer& a) {
  a.fail(dbus_errors::adt_audit_data_unknown, "No audit session data known");
}

}  // namespace kbus::detail
