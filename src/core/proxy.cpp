#include "kbus/proxy.hpp"

#include "kbus/dbus_names.hpp"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace kbus {

namespace {


// Keeps a cache current: PropertiesChanged of one interface, and Get for what it invalidates.
void apply_change(const std::weak_ptr<detail::property_cache>& weak, connection* conn, const bus_name& destination,
                  const object_path& path, const interface_name& iface, const message& m) {
  auto cache = weak.lock();
  if (!cache) return;
  auto r = m.read<std::string, std::map<std::string, variant>, std::vector<std::string>>();
  if (!r) return;
  auto& [name, changed, invalidated] = *r;
  if (name != iface.view()) return;
  std::vector<std::string> names;
  std::function<void(const std::vector<std::string>&)> listener;
  {
    std::lock_guard lock(cache->mu);
    for (auto& [k, v] : changed) {
      names.push_back(k);
      cache->values.insert_or_assign(k, std::move(v));
    }
    for (const auto& k : invalidated) cache->values.erase(k);
    listener = cache->listener;
  }
  if (listener && !names.empty()) listener(names);
  for (const auto& k : invalidated) {
    auto get = message_builder::method_call(destination, path, interface_name::unchecked(dbus_names::properties_interface),
                                            member_name::unchecked("Get"))
                   .build(iface.str(), k);
    conn->async_call(std::move(get), [weak, k](boost::system::error_code ec, message reply) {
      auto cache = weak.lock();
      if (ec || !cache) return;
      auto v = reply.read<variant>();
      if (!v) return;
      std::function<void(const std::vector<std::string>&)> listener;
      {
        std::lock_guard lock(cache->mu);
        cache->values.insert_or_assign(k, std::move(std::get<0>(*v)));
        listener = cache->listener;
      }
      if (listener) listener({k});
    });
  }
}

}  // namespace

proxy::proxy(connection& c, bus_name destination, object_path path, interface_name iface)
    : conn_(&c), destination_(std::move(destination)), path_(std::move(path)), interface_(std::move(iface)) {}

proxy::proxy(connection& c, bus_name destination, object_path path, introspection::interface description)
    : conn_(&c),
      destination_(std::move(destination)),
      path_(std::move(path)),
      interface_(interface_name(description.name)),
      description_(std::move(description)) {}

message proxy::introspect_call(const bus_name& d, const object_path& p) {
  return message_builder::method_call(d, p, interface_name::unchecked(dbus_names::introspectable_interface),
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
  auto made = from_introspection(c, destination, path, iface, c.call(introspect_call(destination, path)));
  if (!made) throw exception(made.error());
  return std::move(*made);
}

message_builder proxy::method_call(const member_name& member) const {
  return message_builder::method_call(destination_, path_, interface_, member);
}

message_builder proxy::properties_call(const char* member) const {
  return message_builder::method_call(destination_, path_, interface_name::unchecked(dbus_names::properties_interface),
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

message proxy::blocking_call(message m) { return conn_->call(std::move(m)); }

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

match_rule proxy::signal_rule(const member_name& member) const {
  match_rule r;
  r.type = message_type::signal;
  r.sender = destination_.str();
  r.path = path_.str();
  r.interface = interface_.str();
  r.member = member.str();
  return r;
}

std::optional<error> proxy::check_signal(const member_name& member, std::string_view sig) const {
  if (!conn_) return error(make_error_code(connection_errc::not_connected), "the proxy has no connection");
  if (!description_) return std::nullopt;
  const auto* s = description_->find_signal(member.view());
  if (!s) return error(errc::invalid_value, "interface " + interface_.str() + " has no signal " + member.str());
  if (s->signature() != sig)
    return error(errc::type_mismatch, "signal " + member.str() + " carries '" + s->signature() + "', not '" +
                                          std::string(sig) + "'");
  return std::nullopt;
}

std::shared_ptr<detail::property_cache> proxy::cache() const {
  if (!cache_) cache_ = std::make_shared<detail::property_cache>();
  return cache_;
}

namespace {

// The cancellation of a proxy operation made of steps, each bound to `signal` in turn.
struct step_cancellation {
  boost::asio::cancellation_signal signal;
  bool requested = false;
};

}  // namespace

void proxy::start_load_properties(std::function<void(boost::system::error_code)> done,
                                  boost::asio::cancellation_slot slot, dbus_error* failure) {
  if (!conn_) return done(make_error_code(connection_errc::not_connected));
  auto c = cache();
  match_rule rule;
  rule.type = message_type::signal;
  rule.sender = destination_.str();
  rule.path = path_.str();
  rule.interface = std::string(dbus_names::properties_interface);
  rule.member = "PropertiesChanged";
  rule.args.push_back({0, false, interface_.str()});
  std::weak_ptr<detail::property_cache> weak = c;
  auto on_change = [weak, conn = conn_, d = destination_, p = path_, i = interface_](const message& m) {
    apply_change(weak, conn, d, p, i, m);
  };
  auto get_all = properties_call("GetAll").build(interface_.str());
  // One cancellation for both steps: a cancellation that comes after the subscription completed
  // and before GetAll is on its way would reach neither step's slot, so it is remembered and
  // GetAll is not made.
  auto cancel = std::make_shared<step_cancellation>();
  if (slot.is_connected())
    slot.assign([cancel](boost::asio::cancellation_type type) {
      cancel->requested = true;
      cancel->signal.emit(type);
    });
  conn_->async_subscribe(
      std::move(rule), std::move(on_change),
      boost::asio::bind_cancellation_slot(cancel->signal.slot(), [c, done, conn = conn_, get_all = std::move(get_all),
                                                                 cancel, failure](boost::system::error_code ec,
                                                                                  subscription s) mutable {
        if (ec) return done(ec);
        if (cancel->requested) return done(boost::asio::error::operation_aborted);
        {
          std::lock_guard lock(c->mu);
          c->sub = std::move(s);
        }
        auto got_all = [c, done, failure](boost::system::error_code ec2, message reply) {
          detail::note_dbus_error(failure, ec2, reply);
          if (ec2) return done(ec2);
          auto all = reply.read<std::map<std::string, variant>>();
          if (!all) return done(boost::system::error_code(all.error().code));
          std::vector<std::string> names;
          std::function<void(const std::vector<std::string>&)> listener;
          {
            std::lock_guard lock(c->mu);
            for (auto& [k, v] : std::get<0>(*all)) {
              names.push_back(k);
              c->values.insert_or_assign(k, std::move(v));
            }
            c->loaded = true;
            listener = c->listener;
          }
          if (listener && !names.empty()) listener(names);
          done({});
        };
        conn->async_call(std::move(get_all), boost::asio::bind_cancellation_slot(cancel->signal.slot(), std::move(got_all)));
      }));
}

void proxy::load_properties() {
  if (!conn_) throw boost::system::system_error(make_error_code(connection_errc::not_connected));
  if (detail::blocking_would_deadlock(*conn_))
    throw boost::system::system_error(make_error_code(connection_errc::would_deadlock));
  std::promise<boost::system::error_code> done;
  auto f = done.get_future();
  dbus_error failure;
  start_load_properties([&done](boost::system::error_code ec) { done.set_value(ec); }, {}, &failure);
  const auto ec = f.get();
  if (ec == make_error_code(connection_errc::error_reply) && !failure.name.empty()) throw call_error(failure);
  if (ec) throw boost::system::system_error(ec);
}

bool proxy::properties_loaded() const {
  auto c = cache();
  std::lock_guard lock(c->mu);
  return c->loaded;
}

std::optional<variant> proxy::cached_property(std::string_view name) const {
  auto c = cache();
  std::lock_guard lock(c->mu);
  auto it = c->values.find(std::string(name));
  if (it == c->values.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, variant> proxy::cached_properties() const {
  auto c = cache();
  std::lock_guard lock(c->mu);
  return c->values;
}

void proxy::on_properties_changed(std::function<void(const std::vector<std::string>& names)> listener) {
  auto c = cache();
  std::lock_guard lock(c->mu);
  c->listener = std::move(listener);
}

}  // namespace kbus
