// A proxy for one interface of a remote object: (destination, path, interface). Typed calls by
// name, properties, and a proxy made at run time from the object's introspection data.
//
//   kbus::proxy calc(conn, "org.example.Calc"_bus, "/org/example/Calc"_path, "org.example.Calc1"_iface);
//   calc.async_call<std::int32_t>("Add"_member, std::tuple{2, 40}, [](auto ec, std::int32_t sum) {...});
//   std::int32_t sum = calc.call<std::int32_t>("Add"_member, 2, 40);          // blocking
//   auto label = calc.get_property<std::string>("Label"_member);
//   auto sub = calc.on_signal<std::uint32_t>("Tick"_member, [](std::uint32_t n) {...});   // typed signals
//   calc.load_properties();                       // a cache that PropertiesChanged keeps current
//   std::optional<std::string> l = calc.cached_property<std::string>("Label");
//
// Results: R is void, one type, or std::tuple<A, B, ...> for several out arguments. The reply's
// signature is checked against R (errc::type_mismatch otherwise); a proxy that has the
// interface's description (made from introspection) also checks the arguments and R against it
// before anything is sent, and the types of the properties it describes (a property it does not
// describe, as dbus-python never does, is left to the service).
//
// Asynchronous operations take a completion token and complete with (error_code[, R]); a D-Bus
// error reply is connection_errc::error_reply, its name and text reachable through
// kbus::with_dbus_error(token) (kbus/with_dbus_error.hpp: a co_await or future throws
// kbus::call_error, a callback gets them written beside its error code); async_call_message
// keeps the whole reply. Cancellation through the token's cancellation slot ends an operation
// with operation_aborted. Blocking operations throw kbus::call_error for an error reply (name
// and text kept) and boost::system::system_error otherwise; on a thread that runs the
// connection's executor they fail with connection_errc::would_deadlock instead of waiting for
// themselves.
#pragma once

#include "kbus/connection.hpp"
#include "kbus/introspection.hpp"
#include "kbus/object_server.hpp"
#include "kbus/with_dbus_error.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include <future>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace kbus {

namespace detail {

template <class R>
struct reply_decoder {
  static result<R> decode(const message& m) {
    auto r = m.read<R>();
    if (!r) return r.error();
    return std::move(std::get<0>(*r));
  }
  static constexpr auto signature() { return signature_of<R>(); }
};
template <>
struct reply_decoder<void> {
  static result<void> decode(const message& m) {
    if (!m.signature().empty())
      return error(errc::type_mismatch, "the reply has signature '" + std::string(m.signature()) + "', expected none");
    return {};
  }
  static constexpr auto signature() { return signature_of<>(); }
};
template <class... Ts>
struct reply_decoder<std::tuple<Ts...>> {
  static result<std::tuple<Ts...>> decode(const message& m) { return m.read<Ts...>(); }
  static constexpr auto signature() { return signature_of<Ts...>(); }
};

template <class R>
struct completion_of {
  using type = void(boost::system::error_code, R);
};
template <>
struct completion_of<void> {
  using type = void(boost::system::error_code);
};

// Calls the handler of a completion with (ec) or (ec, value).
template <class R, class Handler>
void complete_with(Handler& h, boost::system::error_code ec, result<R> r) {
  if constexpr (std::is_void_v<R>) {
    if (!ec && !r) ec = boost::system::error_code(r.error().code);
    std::move(h)(ec);
  } else {
    if (!ec && !r) ec = boost::system::error_code(r.error().code);
    std::move(h)(ec, ec || !r ? R{} : std::move(*r));
  }
}

// Sends `m` on `c` and completes `handler` through finish(handler, ec, reply), on the handler's
// executor, with its cancellation slot, and writes a D-Bus error where it asks (with_dbus_error).
template <class Handler, class Finish>
void call_then(connection& c, message m, Handler handler, Finish finish, call_options options = {}) {
  auto ex = boost::asio::get_associated_executor(handler, c.get_executor());
  auto slot = boost::asio::get_associated_cancellation_slot(handler);
  dbus_error* failure = get_associated_dbus_error(handler);
  c.async_call(std::move(m),
               boost::asio::bind_cancellation_slot(
                   slot, boost::asio::bind_executor(ex, [h = std::move(handler), finish = std::move(finish), failure](
                                                            boost::system::error_code ec, message reply) mutable {
                     note_dbus_error(failure, ec, reply);
                     finish(h, ec, reply);
                   })),
               options);
}

// The cache of a proxy's properties, shared with the subscription that keeps it current.
struct property_cache {
  std::mutex mu;
  std::map<std::string, variant> values;
  bool loaded = false;
  std::function<void(const std::vector<std::string>&)> listener;
  subscription sub;
};

// Calls `f` with the typed arguments of a signal; false when they are not of types Args.
template <class... Args, class F>
bool call_with_signal_args(F& f, const message& m) {
  auto args = m.read<Args...>();
  if (!args) return false;
  std::apply([&](auto&... a) { f(a...); }, *args);
  return true;
}

}  // namespace detail

// A proxy keeps a reference to its connection, which must neither move nor end before it.
class proxy {
 public:
  proxy() = default;
  proxy(connection& c, bus_name destination, object_path path, interface_name iface);
  // With the interface's description: calls are checked against it before they are sent.
  proxy(connection& c, bus_name destination, object_path path, introspection::interface description);

  proxy(proxy&&) noexcept = default;
  proxy& operator=(proxy&&) noexcept = default;

  connection& get_connection() const noexcept { return *conn_; }
  const bus_name& destination() const noexcept { return destination_; }
  const object_path& path() const noexcept { return path_; }
  const interface_name& interface() const noexcept { return interface_; }
  // The description, for a proxy made from introspection data (else nullptr).
  const introspection::interface* description() const noexcept { return description_ ? &*description_ : nullptr; }

  // Introspects the object and makes a proxy that knows the interface. Signature:
  // void(error_code, proxy); errc::invalid_value when the object has no such interface.
  template <class Token>
  static auto async_introspect(connection& c, bus_name destination, object_path path, interface_name iface,
                               Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, proxy)>(
        [&c](auto handler, bus_name d, object_path p, interface_name i) {
          auto call = introspect_call(d, p);
          detail::call_then(c, std::move(call), std::move(handler),
                            [&c, d, p, i](auto& h, boost::system::error_code ec, const message& reply) {
                              proxy out;
                              if (!ec) {
                                auto made = from_introspection(c, d, p, i, reply);
                                if (made) out = std::move(*made);
                                else ec = boost::system::error_code(made.error().code);
                              }
                              std::move(h)(ec, std::move(out));
                            });
        },
        token, std::move(destination), std::move(path), std::move(iface));
  }
  // Blocking.
  static proxy introspect(connection& c, bus_name destination, object_path path, interface_name iface);

  // ---- calls ----

  // Calls `member` with `args`; completes with (error_code, R), or (error_code) for R = void.
  template <class R = void, class... Args, class Token>
  auto async_call(const member_name& member, const std::tuple<Args...>& args, Token&& token, call_options options = {}) {
    std::optional<error> invalid = check_call(member, signature_of<Args...>().view(), detail::reply_decoder<R>::signature().view());
    message m = invalid ? message{} : std::apply([&](const auto&... a) { return method_call(member).build(a...); }, args);
    return boost::asio::async_initiate<Token, typename detail::completion_of<R>::type>(
        [this, options](auto handler, message m, std::optional<error> invalid) {
          auto ex = boost::asio::get_associated_executor(handler, conn_->get_executor());
          if (invalid) {
            return boost::asio::post(ex, [h = std::move(handler), e = *invalid]() mutable {
              detail::complete_with<R>(h, boost::system::error_code(e.code), result<R>(e));
            });
          }
          detail::call_then(
              *conn_, std::move(m), std::move(handler),
              [](auto& h, boost::system::error_code ec, const message& reply) {
                if (ec) return detail::complete_with<R>(h, ec, result<R>(error()));
                detail::complete_with<R>(h, ec, detail::reply_decoder<R>::decode(reply));
              },
              options);
        },
        token, std::move(m), std::move(invalid));
  }

  // The whole reply (an error reply too): (error_code, message).
  template <class... Args, class Token>
  auto async_call_message(const member_name& member, const std::tuple<Args...>& args, Token&& token,
                          call_options options = {}) {
    message m = std::apply([&](const auto&... a) { return method_call(member).build(a...); }, args);
    return conn_->async_call(std::move(m), std::forward<Token>(token), options);
  }

  // Blocking: R, or throws (see the top of this file).
  template <class R = void, class... Args>
  R call(const member_name& member, const Args&... args) {
    if (auto invalid = check_call(member, signature_of<Args...>().view(), detail::reply_decoder<R>::signature().view()))
      throw exception(*invalid);
    message reply = blocking_call(method_call(member).build(args...));
    auto r = detail::reply_decoder<R>::decode(reply);
    if (!r) throw exception(r.error());
    if constexpr (!std::is_void_v<R>) return std::move(*r);
  }

  // Calls with values known at run time: the signature is the description's, else the values'.
  // Completes with (error_code, std::vector<value>).
  template <class Token>
  auto async_call_values(const member_name& member, const std::vector<value>& args, Token&& token) {
    auto m = values_call(member, args);
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::vector<value>)>(
        [this](auto handler, result<message> m) {
          auto ex = boost::asio::get_associated_executor(handler, conn_->get_executor());
          if (!m) {
            return boost::asio::post(ex, [h = std::move(handler), e = m.error()]() mutable {
              std::move(h)(boost::system::error_code(e.code), std::vector<value>{});
            });
          }
          detail::call_then(*conn_, std::move(*m), std::move(handler),
                            [](auto& h, boost::system::error_code ec, const message& reply) {
                              std::vector<value> out;
                              if (!ec) {
                                auto v = reply.values();
                                if (v) out = std::move(*v);
                                else ec = boost::system::error_code(v.error().code);
                              }
                              std::move(h)(ec, std::move(out));
                            });
        },
        token, std::move(m));
  }
  std::vector<value> call_values(const member_name& member, const std::vector<value>& args);

  // ---- properties (org.freedesktop.DBus.Properties) ----

  // (error_code, T); errc::type_mismatch when the value is not a T.
  template <class T, class Token>
  auto async_get_property(const member_name& name, Token&& token) {
    std::optional<error> invalid = check_property(name, signature_of<T>().view(), false);
    return boost::asio::async_initiate<Token, void(boost::system::error_code, T)>(
        [this, name](auto handler, std::optional<error> invalid) {
          auto ex = boost::asio::get_associated_executor(handler, conn_->get_executor());
          if (invalid) {
            return boost::asio::post(ex, [h = std::move(handler), e = *invalid]() mutable {
              std::move(h)(boost::system::error_code(e.code), T{});
            });
          }
          detail::call_then(*conn_, properties_call("Get").build(interface_.str(), name.str()), std::move(handler),
                            [](auto& h, boost::system::error_code ec, const message& reply) {
                              result<T> r = ec ? result<T>(error()) : unpack_property<T>(reply);
                              detail::complete_with<T>(h, ec, std::move(r));
                            });
        },
        token, std::move(invalid));
  }
  template <class T>
  T get_property(const member_name& name) {
    if (auto invalid = check_property(name, signature_of<T>().view(), false)) throw exception(*invalid);
    auto r = unpack_property<T>(blocking_call(properties_call("Get").build(interface_.str(), name.str())));
    if (!r) throw exception(r.error());
    return std::move(*r);
  }

  template <class T, class Token>
  auto async_set_property(const member_name& name, const T& v, Token&& token) {
    std::optional<error> invalid = check_property(name, signature_of<T>().view(), true);
    message m = invalid ? message{} : properties_call("Set").build(interface_.str(), name.str(), variant(v));
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, message m, std::optional<error> invalid) {
          auto ex = boost::asio::get_associated_executor(handler, conn_->get_executor());
          if (invalid) {
            return boost::asio::post(ex, [h = std::move(handler), e = *invalid]() mutable {
              std::move(h)(boost::system::error_code(e.code));
            });
          }
          detail::call_then(*conn_, std::move(m), std::move(handler),
                            [](auto& h, boost::system::error_code ec, const message&) { std::move(h)(ec); });
        },
        token, std::move(m), std::move(invalid));
  }
  template <class T>
  void set_property(const member_name& name, const T& v) {
    if (auto invalid = check_property(name, signature_of<T>().view(), true)) throw exception(*invalid);
    blocking_call(properties_call("Set").build(interface_.str(), name.str(), variant(v)));
  }

  // Every property of the interface: (error_code, std::map<std::string, variant>).
  template <class Token>
  auto async_get_all_properties(Token&& token) {
    return async_call_on_properties<std::map<std::string, variant>>("GetAll", std::forward<Token>(token));
  }
  std::map<std::string, variant> get_all_properties();

  // ---- signals ----

  // Calls `handler(Args...)` for every signal `member` of this interface that the destination
  // emits from this object (followed through owner changes of a well-known name); signals with
  // other argument types are passed over. With a description, a signal it does not declare
  // with these types is refused (kbus::exception). The handle owns the subscription.
  template <class... Args, class F>
  subscription on_signal(const member_name& member, F handler) {
    if (auto invalid = check_signal(member, signature_of<Args...>().view())) throw exception(*invalid);
    return conn_->subscribe(signal_rule(member), [h = std::move(handler)](const message& m) mutable {
      detail::call_with_signal_args<Args...>(h, m);
    });
  }
  // The same, completing with (error_code, subscription) once the bus has the rule, so that
  // every signal emitted afterwards arrives.
  template <class... Args, class F, class Token>
  auto async_on_signal(const member_name& member, F handler, Token&& token) {
    if (auto invalid = check_signal(member, signature_of<Args...>().view())) throw exception(*invalid);
    return conn_->async_subscribe(
        signal_rule(member),
        [h = std::move(handler)](const message& m) mutable { detail::call_with_signal_args<Args...>(h, m); },
        std::forward<Token>(token));
  }

  // ---- the property cache ----

  // Subscribes to PropertiesChanged, then fills the cache with GetAll; from then on the cache
  // follows every change (an invalidated property is read again with Get). (error_code).
  template <class Token>
  auto async_load_properties(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          auto ex = boost::asio::get_associated_executor(handler, conn_->get_executor());
          boost::asio::cancellation_slot slot = boost::asio::get_associated_cancellation_slot(handler);
          dbus_error* failure = get_associated_dbus_error(handler);
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          start_load_properties(
              [ex, h](boost::system::error_code ec) { boost::asio::post(ex, [h, ec]() mutable { std::move(*h)(ec); }); },
              slot, failure);
        },
        token);
  }
  void load_properties();  // blocking
  bool properties_loaded() const;
  std::optional<variant> cached_property(std::string_view name) const;
  template <class T>
  std::optional<T> cached_property(std::string_view name) const {
    auto v = cached_property(name);
    if (!v) return std::nullopt;
    auto t = v->as<T>();
    if (!t) return std::nullopt;
    return std::move(*t);
  }
  std::map<std::string, variant> cached_properties() const;
  // Called on the connection's executor after each update of the cache, with the names of the
  // properties that changed (or were invalidated and read again).
  void on_properties_changed(std::function<void(const std::vector<std::string>& names)> listener);

 private:
  match_rule signal_rule(const member_name& member) const;
  std::optional<error> check_signal(const member_name& member, std::string_view sig) const;
  // Subscribes, then GetAll; both steps take `slot`'s cancellation, a D-Bus error goes to `failure`.
  void start_load_properties(std::function<void(boost::system::error_code)> done,
                             boost::asio::cancellation_slot slot = {}, dbus_error* failure = nullptr);
  std::shared_ptr<detail::property_cache> cache() const;

  static message introspect_call(const bus_name& d, const object_path& p);
  static result<proxy> from_introspection(connection& c, const bus_name& d, const object_path& p,
                                          const interface_name& i, const message& reply);
  message_builder method_call(const member_name& member) const;
  message_builder properties_call(const char* member) const;
  result<message> values_call(const member_name& member, const std::vector<value>& args) const;
  // An error when the description says the call cannot be right.
  std::optional<error> check_call(const member_name& member, std::string_view in, std::string_view out) const;
  std::optional<error> check_property(const member_name& name, std::string_view type, bool write) const;
  // Sends and waits; throws for an error reply or a failed call.
  message blocking_call(message m);

  template <class T>
  static result<T> unpack_property(const message& reply) {
    auto v = reply.read<variant>();
    if (!v) return v.error();
    return std::get<0>(*v).as<T>();
  }

  template <class R, class Token>
  auto async_call_on_properties(const char* member, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, R)>(
        [this](auto handler, message m) {
          detail::call_then(*conn_, std::move(m), std::move(handler),
                            [](auto& h, boost::system::error_code ec, const message& reply) {
                              result<R> r = ec ? result<R>(error()) : detail::reply_decoder<R>::decode(reply);
                              detail::complete_with<R>(h, ec, std::move(r));
                            });
        },
        token, properties_call(member).build(interface_.str()));
  }

  connection* conn_ = nullptr;
  bus_name destination_;
  object_path path_;
  interface_name interface_;
  std::optional<introspection::interface> description_;
  mutable std::shared_ptr<detail::property_cache> cache_;
};

}  // namespace kbus
