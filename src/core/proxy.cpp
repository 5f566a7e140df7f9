#include "kbus/proxy.hpp"

#include <boost/system/system_error.hpp>

namespace kbus {

namespace detail {

message wait_for_reply(std::future<std::pair<boost::system::error_code, message>> f) {
  auto [ec, reply] = f.get();
  if (ec == make_error_code(connection_errc::error_reply)) throw dbus_exception(dbus_error_of(reply));
  if (ec) throw boost::system::system_error(ec);
  return std::move(reply);
}

}  // namespace detail

proxy::proxy(connection& c, bus_name destination, object_path path, interface_name iface)
    : conn_(&c), destination_(std::move(destination)), path_(std::move(path)), interface_(std::move(iface)) {}

proxy::proxy(connection& c, bus_name destination, object_path path, introspection::interface description)
    : conn_(&c),
      destination_(std::move(destination)),
      path_(std::move(path)),
      interface_(interface_name(description.name)),
      description_(std::move(description)) {}

message proxy::introspect_call(const bus_name& d, const object_path& p) {
  return message_builder::method_call(d, p, interface_name::unchecked("org.freedesktop.DBus.Introspectable"),
                                      member_name::unchecked("Introspect"))
      .build();
}

result<proxy> proxy::from_introspection(connection& c, const bus_name& d, const object_path& p, const interface_name& i,
                                        const message& reply) {
  auto xml = reply.read<std::string>();
  if (!xml) return xml.error();
  auto node = introspection::parse(std::get<0>(*xml));
  if (!node) return node.error();
  const auto* desc = node->find_interface(i.view());
  if (!desc) return error(errc::invalid_value, "the object " + p.str() + " of " + d.str() + " has no interface " + i.str());
  return proxy(c, d, p, *desc);
}

proxy proxy::introspect(connection& c, bus_name destination, object_path path, interface_name iface) {
  std::promise<std::pair<boost::system::error_code, message>> done;
  auto f = done.get_future();
  c.async_call(introspect_call(destination, path), [&done](boost::system::error_code ec, message reply) {
    done.set_value({ec, std::move(reply)});
  });
  auto made = from_introspection(c, destination, path, iface, detail::wait_for_reply(std::move(f)));
  if (!made) throw exception(made.error());
  return std::move(*made);
}

message_builder proxy::method_call(const member_name& member) const {
  return message_builder::method_call(destination_, path_, interface_, member);
}

message_builder proxy::properties_call(const char* member) const {
  return message_builder::method_call(destination_, path_, interface_name::unchecked("org.freedesktop.DBus.Properties"),
                                      member_name::unchecked(member));
}

std::optional<error> proxy::check_call(const member_name& member, std::string_view in, std::string_view out) const {
  if (!conn_) return error(make_error_code(connection_errc::not_connected), "the proxy has no connection");
  if (!description_) return std::nullopt;
  const auto* m = description_->find_method(member.view());
  if (!m) return error(errc::invalid_value, "interface " + interface_.str() + " has no method " + member.str());
  if (m->in_signature() != in)
    return error(errc::type_mismatch, member.str() + " takes '" + m->in_signature() + "', not '" + std::string(in) + "'");
  if (m->out_signature() != out)
    return error(errc::type_mismatch, member.str() + " returns '" + m->out_signature() + "', not '" + std::string(out) + "'");
  return std::nullopt;
}

std::optional<error> proxy::check_property(const member_name& name, std::string_view type, bool write) const {
  if (!conn_) return error(make_error_code(connection_errc::not_connected), "the proxy has no connection");
  if (!description_) return std::nullopt;
  // Services often leave their properties out of their introspection data (dbus-python's
  // always do): a property that is not described goes to the service, which decides.
  const auto* p = description_->find_property(name.view());
  if (!p) return std::nullopt;
  if (p->type != type)
    return error(errc::type_mismatch, "property " + name.str() + " has type '" + p->type + "', not '" + std::string(type) + "'");
  if (write && !p->writable()) return error(errc::invalid_value, "property " + name.str() + " is read-only");
  if (!write && !p->readable()) return error(errc::invalid_value, "property " + name.str() + " is write-only");
  return std::nullopt;
}

result<message> proxy::values_call(const member_name& member, const std::vector<value>& args) const {
  if (!conn_) return error(make_error_code(connection_errc::not_connected), "the proxy has no connection");
  std::string sig;
  if (description_) {
    const auto* m = description_->find_method(member.view());
    if (!m) return error(errc::invalid_value, "interface " + interface_.str() + " has no method " + member.str());
    sig = m->in_signature();
  } else {
    for (const auto& v : args) sig += v.type();
  }
  auto s = signature::make(sig);
  if (!s) return s.error();
  return method_call(member).build_values(*s, args);
}

message proxy::blocking_call(message m) {
  std::promise<std::pair<boost::system::error_code, message>> done;
  auto f = done.get_future();
  conn_->async_call(std::move(m), [&done](boost::system::error_code ec, message reply) {
    done.set_value({ec, std::move(reply)});
  });
  return detail::wait_for_reply(std::move(f));
}

std::vector<value> proxy::call_values(const member_name& member, const std::vector<value>& args) {
  auto m = values_call(member, args);
  if (!m) throw exception(m.error());
  auto v = blocking_call(std::move(*m)).values();
  if (!v) throw exception(v.error());
  return std::move(*v);
}

std::map<std::string, variant> proxy::get_all_properties() {
  auto r = blocking_call(properties_call("GetAll").build(interface_.str()))
               .read<std::map<std::string, variant>>();
  if (!r) throw exception(r.error());
  return std::move(std::get<0>(*r));
}

}  // namespace kbus
