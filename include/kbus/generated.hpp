// Run-time support for the code that kbus-codegen writes (docs/codegen.md): calls with the
// method's call options, fire-and-forget calls, several out arguments as one named struct,
// property change notifications, and the base of every generated adaptor. Generated code
// includes this header; applications seldom need it directly.
#pragma once

#include "kbus/dbus_names.hpp"
#include "kbus/object_server.hpp"
#include "kbus/proxy.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kbus::generated {

// A call of `member` on the proxy's object and interface.
inline message_builder call_message(const proxy& p, std::string_view member) {
  return message_builder::method_call(p.destination(), p.path(), p.interface(), member_name::unchecked(member));
}

// The out arguments as R: the value itself, or a struct built from the tuple of several.
template <class R, class Wire>
R from_wire(Wire&& w) {
  if constexpr (std::is_same_v<R, detail::plain<Wire>>) return std::forward<Wire>(w);
  // Brace-initialised, not std::make_from_tuple: clang before 16 cannot make an aggregate
  // from parentheses.
  else return std::apply([](auto&&... a) { return R{std::forward<decltype(a)>(a)...}; }, std::forward<Wire>(w));
}

// Blocking call: R is void, one type, or a struct made from the out arguments (Wire is then
// their tuple). Throws as proxy::call does.
template <class R, class Wire = R, class... Args>
R call(proxy& p, std::string_view member, const call_options& options, const Args&... args) {
  message reply = p.get_connection().call(call_message(p, member).build(args...), options);
  auto r = detail::reply_decoder<Wire>::decode(reply);
  if (!r) throw exception(r.error());
  if constexpr (!std::is_void_v<R>) return from_wire<R>(std::move(*r));
}

namespace detail {
// Sends `m` and completes the token with (error_code[, R]), R decoded from the reply by `decode`.
template <class R, class Token, class Decode>
auto async_request(connection& c, message m, const call_options& options, Token&& token, Decode decode) {
  return boost::asio::async_initiate<Token, typename kbus::detail::completion_of<R>::type>(
      [&c, options, decode](auto handler, message m) {
        auto ex = boost::asio::get_associated_executor(handler, c.get_executor());
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        c.async_call(std::move(m),
                     boost::asio::bind_cancellation_slot(
                         slot, boost::asio::bind_executor(ex, [h = std::move(handler), decode](boost::system::error_code ec,
                                                                                              message reply) mutable {
                           if (ec) return kbus::detail::complete_with<R>(h, ec, result<R>(error()));
                           kbus::detail::complete_with<R>(h, ec, decode(reply));
                         })),
                     options);
      },
      token, std::move(m));
}

template <class R, class Wire>
result<R> decode_reply(const message& reply) {
  auto r = kbus::detail::reply_decoder<Wire>::decode(reply);
  if (!r) return r.error();
  if constexpr (std::is_void_v<R>) return {};
  else return from_wire<R>(std::move(*r));
}

inline message_builder properties_message(const proxy& p, std::string_view member) {
  return message_builder::method_call(p.destination(), p.path(), interface_name::unchecked(dbus_names::properties_interface),
                                      member_name::unchecked(member));
}
}  // namespace detail

// Asynchronous call: completes with (error_code) or (error_code, R), as proxy::async_call.
template <class R, class Wire = R, class Token, class... Args>
auto async_call(proxy& p, std::string_view member, const call_options& options, Token&& token, const Args&... args) {
  return detail::async_request<R>(p.get_connection(), call_message(p, member).build(args...), options,
                                  std::forward<Token>(token), &detail::decode_reply<R, Wire>);
}

// A property's value as T. A property of type 'v' is the variant itself.
template <class T>
result<T> property_value(const variant& v) {
  if constexpr (std::is_same_v<T, variant>) return v;
  else return v.template as<T>();
}
template <class T>
variant to_variant(const T& v) {
  if constexpr (std::is_same_v<T, variant>) return v;
  else return variant(v);
}

template <class T>
result<T> decode_property(const message& reply) {
  auto v = reply.read<variant>();
  if (!v) return v.error();
  return property_value<T>(std::get<0>(*v));
}

// org.freedesktop.DBus.Properties.Get and Set, typed; blocking forms throw as proxy::call does.
template <class T>
T get_property(proxy& p, std::string_view name) {
  message reply = p.get_connection().call(
      detail::properties_message(p, dbus_names::properties_get_member).build(p.interface().str(), std::string(name)));
  auto r = decode_property<T>(reply);
  if (!r) throw exception(r.error());
  return std::move(*r);
}
template <class T, class Token>
auto async_get_property(proxy& p, std::string_view name, Token&& token) {
  return detail::async_request<T>(
      p.get_connection(),
      detail::properties_message(p, dbus_names::properties_get_member).build(p.interface().str(), std::string(name)),
      call_options{}, std::forward<Token>(token), &decode_property<T>);
}
template <class T>
void set_property(proxy& p, std::string_view name, const T& v) {
  p.get_connection().call(detail::properties_message(p, dbus_names::properties_set_member)
                              .build(p.interface().str(), std::string(name), to_variant(v)));
}
template <class T, class Token>
auto async_set_property(proxy& p, std::string_view name, const T& v, Token&& token) {
  return detail::async_request<void>(p.get_connection(),
                                     detail::properties_message(p, dbus_names::properties_set_member)
                                         .build(p.interface().str(), std::string(name), to_variant(v)),
                                     call_options{}, std::forward<Token>(token), &detail::decode_reply<void, void>);
}

// org.freedesktop.DBus.Method.NoReply: the call is sent with NO_REPLY_EXPECTED and nothing waits.
template <class... Args>
void send(proxy& p, std::string_view member, const Args&... args) {
  p.get_connection().send(call_message(p, member).flags(message_flags::no_reply_expected).build(args...));
}
// The same, completing with (error_code) once the call is queued.
template <class Token, class... Args>
auto async_send(proxy& p, std::string_view member, Token&& token, const Args&... args) {
  connection& c = p.get_connection();
  return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
      [&c](auto handler, message m) {
        c.send(std::move(m));
        auto ex = boost::asio::get_associated_executor(handler, c.get_executor());
        boost::asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(boost::system::error_code()); });
      },
      token, call_message(p, member).flags(message_flags::no_reply_expected).build(args...));
}

// Calls handler(T) with each new value of property `name` that PropertiesChanged announces:
// with the value (EmitsChangedSignal "true"), or read again with Get when the signal only names
// it ("invalidates"). The handle owns the subscription; no handler runs once it is gone.
template <class T, class F>
subscription watch_property(proxy& p, std::string_view name, F handler) {
  match_rule rule;
  rule.type = message_type::signal;
  rule.sender = p.destination().str();
  rule.path = p.path().str();
  rule.interface = std::string(dbus_names::properties_interface);
  rule.member = std::string(dbus_names::properties_changed_member);
  rule.args.push_back({0, false, p.interface().str()});
  connection& c = p.get_connection();
  auto h = std::make_shared<F>(std::move(handler));
  return c.subscribe(std::move(rule), [&c, h, d = p.destination(), o = p.path(), i = p.interface(),
                                       name = std::string(name)](const message& m) {
    auto body = m.read<std::string, std::map<std::string, variant>, std::vector<std::string>>();
    if (!body) return;
    const auto& changed = std::get<1>(*body);
    const auto& invalidated = std::get<2>(*body);
    if (auto it = changed.find(name); it != changed.end()) {
      if (auto v = property_value<T>(it->second)) (*h)(std::move(*v));
      return;
    }
    if (std::find(invalidated.begin(), invalidated.end(), name) == invalidated.end()) return;
    auto get = message_builder::method_call(d, o, interface_name::unchecked(dbus_names::properties_interface),
                                            member_name::unchecked(dbus_names::properties_get_member))
                   .build(i.str(), name);
    c.async_call(std::move(get), [w = std::weak_ptr<F>(h)](boost::system::error_code ec, message reply) {
      auto alive = w.lock();
      if (ec || !alive) return;
      if (auto t = decode_property<T>(reply)) (*alive)(std::move(*t));
    });
  });
}

// The base of every generated adaptor: where the object is registered, and what it emits.
// Generated classes call these qualified, so a D-Bus member of the same name does not hide them.
class adaptor_base {
 public:
  adaptor_base() = default;
  adaptor_base(const adaptor_base&) = delete;
  adaptor_base& operator=(const adaptor_base&) = delete;
  // Unregisters as a last resort: a derived class should call unregister_object() in its own
  // destructor, so that no call reaches a half-destroyed object.
  virtual ~adaptor_base() { unregister(); }

  bool registered() const noexcept { return server_ != nullptr; }
  const object_path& registered_path() const noexcept { return path_; }

 protected:
  result<void> register_at(object_server& server, object_path path, interface_definition definition) {
    unregister();
    interface_name iface = definition.name();
    // Set before add(): once added, calls may arrive on the connection's thread.
    server_ = &server;
    path_ = path;
    iface_ = iface;
    auto ok = server.add(path, std::move(definition));
    if (!ok) server_ = nullptr;
    return ok;
  }
  void unregister() {
    if (!server_) return;
    server_->remove(path_, iface_);
    server_ = nullptr;
  }
  template <class... Args>
  result<void> emit_signal(std::string_view member, const Args&... args) {
    if (!server_) return error(errc::invalid_value, "the adaptor is not registered on an object server");
    return server_->emit(path_, iface_, member_name::unchecked(member), args...);
  }
  result<void> announce_property_change(std::string_view property) {
    if (!server_) return error(errc::invalid_value, "the adaptor is not registered on an object server");
    return server_->property_changed(path_, iface_, member_name::unchecked(property));
  }

 private:
  object_server* server_ = nullptr;
  object_path path_;
  interface_name iface_;
};

}  // namespace kbus::generated
