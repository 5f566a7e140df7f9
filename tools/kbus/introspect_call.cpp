#include "introspect_call.hpp"

#include "kbus/dbus_names.hpp"

namespace kbus::cli {

std::optional<std::string> introspect_xml(session& s, const bus_name& dest, const object_path& path, bool report) {
  auto reply = s.call(message_builder::method_call(dest, path, interface_name::unchecked(dbus_names::introspectable_interface),
                                                   member_name::unchecked("Introspect"))
                          .flags(s.call_flags())
                          .build(),
                      report);
  if (!reply) return std::nullopt;
  auto xml = reply->read<std::string>();
  if (!xml) {
    if (report) s.ctx().fail("the reply to Introspect is not a string: " + xml.error().what());
    return std::nullopt;
  }
  return std::get<0>(std::move(*xml));
}

std::map<std::string, value> get_all(session& s, const bus_name& dest, const object_path& path, const std::string& iface) {
  std::map<std::string, value> out;
  auto reply = s.call(message_builder::method_call(dest, path, interface_name::unchecked(dbus_names::properties_interface),
                                                   member_name::unchecked("GetAll"))
                          .flags(s.call_flags())
                          .build(iface),
                      false);
  if (!reply || reply->signature() != "a{sv}") return out;
  auto values = reply->values();
  if (!values || values->size() != 1) return out;
  for (const auto& entry : (*values)[0].items()) {
    const auto& kv = entry.items();
    if (kv.size() == 2 && kv[1].code() == 'v' && !kv[1].items().empty()) out.emplace(kv[0].as_string(), kv[1].items()[0]);
  }
  return out;
}

std::string child_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

}  // namespace kbus::cli
