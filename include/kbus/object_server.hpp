// Objects served on a connection: interfaces with typed methods, signals and properties, and
// the specification's standard interfaces generated from them (Introspectable, Properties,
// Peer, and ObjectManager where asked).
//
//   kbus::object_server server(conn);
//   server.add("/org/example/Calc"_path,
//              kbus::interface_definition("org.example.Calc1"_iface)
//                  .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; },
//                          {.in_names = {"a", "b"}, .out_names = {"sum"}})
//                  .signal<std::uint32_t>("Tick"_member, {.names = {"count"}})
//                  .property("Label"_member, [&] { return label; }, [&](std::string s) { label = s; }));
//
// Handlers. Arguments and results are mapped by signature: the handler's parameters are the
// in arguments, its result the out arguments (void: none; std::tuple<A, B>: two; any other type
// with a codec: one). A handler may take a kbus::call_context first (who called, the message).
//   plain        R f(Args...)                      answered when it returns
//   asynchronous void f(async_reply<Outs...>, Args...)  answered when reply() is called (later,
//                                                   from any thread); dropping every copy of
//                                                   the async_reply unanswered sends an error
//   coroutine    boost::asio::awaitable<R> f(Args...)   run with co_spawn on the connection's executor
// R may be kbus::method_result<T> to answer with a D-Bus error instead; a handler may also throw
// kbus::dbus_exception or kbus::call_error (any other exception becomes
// org.freedesktop.DBus.Error.Failed).
//
// Threads. Calls are handled on the connection's executor, in the order they arrive, with no
// lock held: a handler may add or remove objects, emit signals and call other services. The
// registration functions may be called from any thread.
#pragma once

#include "kbus/connection.hpp"
#include "kbus/dbus_names.hpp"
#include "kbus/introspection.hpp"
#include "kbus/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace kbus {

class object_server;

// A D-Bus error that a handler throws: it becomes the error reply. It is a call_error, the
// exception of blocking calls, so an error caught from a call may be thrown on as it is.
class dbus_exception : public call_error {
 public:
  explicit dbus_exception(dbus_error e) : call_error(std::move(e)) {}
  dbus_exception(std::string_view name, std::string message) : call_error(dbus_error{std::string(name), std::move(message)}) {}
  const dbus_error& get() const noexcept { return error(); }
};

// What a handler may return instead of throwing: the value, or a D-Bus error.
template <class T = void>
using method_result = boost::system::result<T, dbus_error>;

// Lets method_result<T>::value() throw dbus_exception (found by argument-dependent lookup).
[[noreturn]] void throw_exception_from_error(const dbus_error& e, const boost::source_location& loc);

namespace detail {
class object_server_impl;

// One incoming call and whether it has been answered.
class call_state {
 public:
  call_state(connection* c, message m) : conn_(c), call_(std::move(m)) {}
  call_state(const call_state&) = delete;
  ~call_state();

  const message& call() const noexcept { return call_; }
  connection* conn() const noexcept { return conn_; }
  // Sends `reply` (built from call()) unless the call was answered already or wants no reply.
  void reply(message reply);
  void fail(const dbus_error& e);
  // The error of the exception being handled.
  void fail_current_exception();
  bool answered() const noexcept { return answered_.load(); }

 private:
  connection* conn_;
  message call_;
  std::atomic<bool> answered_{false};
};
}  // namespace detail

// What a handler may learn about the call it serves. Property getters that run to fill a
// PropertiesChanged signal get one with no call (empty views).
class call_context {
 public:
  call_context() = default;
  explicit call_context(std::shared_ptr<detail::call_state> s) : state_(std::move(s)) {}

  bool has_call() const noexcept { return state_ != nullptr; }
  // The method call (an empty message when there is none).
  const message& call() const noexcept;
  std::string_view sender() const noexcept { return call().sender(); }
  std::string_view path() const noexcept { return call().path(); }
  std::string_view interface() const noexcept { return call().interface(); }
  std::string_view member() const noexcept { return call().member(); }

 private:
  std::shared_ptr<detail::call_state> state_;
};

// The answer to a call, given later by an asynchronous handler. Copies share the call; the
// first reply() or fail() answers it, later ones do nothing.
template <class... Outs>
class async_reply {
 public:
  explicit async_reply(std::shared_ptr<detail::call_state> s) : state_(std::move(s)) {}

  void reply(const Outs&... outs) const { state_->reply(message_builder::method_return(state_->call()).build(outs...)); }
  void fail(const dbus_error& e) const { state_->fail(e); }
  bool answered() const noexcept { return state_->answered(); }
  call_context context() const { return call_context(state_); }

 private:
  std::shared_ptr<detail::call_state> state_;
};

struct method_options {
  std::vector<std::string> in_names{};   // names of the in arguments, in order (may be shorter)
  std::vector<std::string> out_names{};
  std::vector<introspection::annotation> annotations{};
  // Annotations of each in (out) argument, in order (may be shorter), for introspection.
  std::vector<std::vector<introspection::annotation>> in_annotations{};
  std::vector<std::vector<introspection::annotation>> out_annotations{};
  bool deprecated = false;  // org.freedesktop.DBus.Deprecated
  bool no_reply = false;    // org.freedesktop.DBus.Method.NoReply
};

struct signal_options {
  std::vector<std::string> names{};
  std::vector<introspection::annotation> annotations{};
  std::vector<std::vector<introspection::annotation>> arg_annotations{};  // per argument, in order
  bool deprecated = false;
};

// org.freedesktop.DBus.Property.EmitsChangedSignal.
enum class emits_changed {
  yes,          // "true": PropertiesChanged carries the new value
  invalidates,  // "invalidates": PropertiesChanged names the property, without its value
  constant,     // "const": the value never changes
  no,           // "false": no signal
};

struct property_options {
  kbus::emits_changed emits_changed = kbus::emits_changed::yes;
  std::vector<introspection::annotation> annotations{};
  bool deprecated = false;
};

namespace detail {

template <class... T>
struct type_list {};

template <class F>
struct callable_traits : callable_traits<decltype(&F::operator())> {};
template <class R, class... A>
struct callable_traits<R (*)(A...)> {
  using ret = R;
  using args = type_list<A...>;
};
template <class R, class... A>
struct callable_traits<R (*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...)> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R (*)(A...)> {};

template <class T>
struct is_method_result : std::false_type {};
template <class T>
struct is_method_result<boost::system::result<T, dbus_error>> : std::true_type {
  using inner = T;
};

// T, or U for method_result<U>.
template <class T>
struct result_value {
  using type = T;
};
template <class T>
struct result_value<boost::system::result<T, dbus_error>> {
  using type = T;
};

template <class T>
struct is_awaitable : std::false_type {
  using inner = T;
};
template <class T, class E>
struct is_awaitable<boost::asio::awaitable<T, E>> : std::true_type {
  using inner = T;
};

template <class T>
struct is_async_reply : std::false_type {
  using outs = type_list<>;
};
template <class... O>
struct is_async_reply<async_reply<O...>> : std::true_type {
  using outs = type_list<O...>;
};

// The out arguments of a result type.
template <class T>
struct outs_of {
  using type = type_list<T>;
};
template <>
struct outs_of<void> {
  using type = type_list<>;
};
template <class... Ts>
struct outs_of<std::tuple<Ts...>> {
  using type = type_list<Ts...>;
};
template <class T>
struct outs_of<boost::system::result<T, dbus_error>> : outs_of<T> {};

template <class L>
struct first_of {
  using type = void;
};
template <class T, class... Ts>
struct first_of<type_list<T, Ts...>> {
  using type = plain<T>;
};
template <class L>
struct drop_first;
template <class T, class... Ts>
struct drop_first<type_list<T, Ts...>> {
  using type = type_list<Ts...>;
};
template <>
struct drop_first<type_list<>> {
  using type = type_list<>;
};

template <class... Ts>
std::vector<std::string> signatures_of(type_list<Ts...>) {
  return {std::string(signature_of<Ts>().view())...};
}

// Answers a call with what a handler returned.
template <class R>
void send_result(const std::shared_ptr<call_state>& st, R&& r) {
  using T = plain<R>;
  if constexpr (is_method_result<T>::value) {
    if (!r) return st->fail(r.error());
    if constexpr (std::is_void_v<typename is_method_result<T>::inner>) {
      st->reply(message_builder::method_return(st->call()).build());
    } else {
      send_result(st, std::move(*r));
    }
  } else if constexpr (std::is_same_v<typename outs_of<T>::type, type_list<T>>) {
    st->reply(message_builder::method_return(st->call()).build(r));
  } else {
    std::apply([&](const auto&... outs) { st->reply(message_builder::method_return(st->call()).build(outs...)); }, r);
  }
}

struct method_entry {
  introspection::method info;
  std::string in_signature;
  std::function<void(const std::shared_ptr<call_state>&)> invoke;
};

struct property_entry {
  introspection::property info;
  emits_changed emits = emits_changed::yes;
  std::function<method_result<value>(const call_context&)> get;             // empty: write-only
  std::function<method_result<void>(const call_context&, const value&)> set;  // empty: read-only
};

struct signal_entry {
  introspection::signal info;
  std::string signature;
};

struct interface_data {
  interface_name name;
  std::vector<method_entry> methods;
  std::vector<signal_entry> signals;
  std::vector<property_entry> properties;
  std::vector<introspection::annotation> annotations;

  const method_entry* find_method(std::string_view n) const noexcept;
  const property_entry* find_property(std::string_view n) const noexcept;
  const signal_entry* find_signal(std::string_view n) const noexcept;
  introspection::interface describe() const;
};

void add_deprecated(std::vector<introspection::annotation>& list, bool deprecated);
std::vector<introspection::arg> describe_args(const std::vector<std::string>& types, const std::vector<std::string>& names,
                                              introspection::direction dir,
                                              const std::vector<std::vector<introspection::annotation>>& annotations = {});
}  // namespace detail

// One interface of an object, as it is registered: a cheap handle (copies share the definition).
class interface_definition {
 public:
  explicit interface_definition(interface_name name);

  const interface_name& name() const noexcept { return data_->name; }
  // The interface as introspection describes it.
  introspection::interface description() const { return data_->describe(); }

  template <class F>
  interface_definition& method(const member_name& name, F handler, method_options options = {});

  // A signal with arguments of types Args (emitted with object_server::emit).
  template <class... Args>
  interface_definition& signal(const member_name& name, signal_options options = {}) {
    detail::signal_entry e;
    e.info.name = name.str();
    e.info.args = detail::describe_args(detail::signatures_of(detail::type_list<Args...>{}), options.names,
                                        introspection::direction::out, options.arg_annotations);
    e.info.annotations = std::move(options.annotations);
    detail::add_deprecated(e.info.annotations, options.deprecated);
    e.signature = std::string(signature_of<Args...>().view());
    data_->signals.push_back(std::move(e));
    return *this;
  }

  // A read-only property: `getter` is T() or T(const call_context&), T may be `method_result<U>`.
  template <class Get>
  interface_definition& property(const member_name& name, Get getter, property_options options = {}) {
    using T = typename getter_value<Get>::type;
    return add_property<T>(name, make_getter<T>(std::move(getter)), {}, std::move(options));
  }
  // A read-write property: `setter` is void(T), method_result<void>(T), or either with a
  // const call_context& first.
  template <class Get, class Set>
  interface_definition& property(const member_name& name, Get getter, Set setter, property_options options = {}) {
    using T = typename getter_value<Get>::type;
    return add_property<T>(name, make_getter<T>(std::move(getter)), make_setter<T>(std::move(setter)), std::move(options));
  }
  template <class T, class Set>
  interface_definition& write_only_property(const member_name& name, Set setter, property_options options = {}) {
    return add_property<T>(name, {}, make_setter<T>(std::move(setter)), std::move(options));
  }

  interface_definition& annotate(std::string name, std::string value) {
    data_->annotations.push_back({std::move(name), std::move(value)});
    return *this;
  }

 private:
  friend class object_server;
  friend class detail::object_server_impl;

  template <class Get>
  struct getter_value {
    using R = typename std::conditional_t<std::is_invocable_v<Get&, const call_context&>,
                                          std::invoke_result<Get&, const call_context&>, std::invoke_result<Get&>>::type;
    using type = typename detail::result_value<detail::plain<R>>::type;
  };

  template <class T, class Get>
  static std::function<method_result<value>(const call_context&)> make_getter(Get getter) {
    return [getter = std::move(getter)](const call_context& ctx) mutable -> method_result<value> {
      auto get = [&]() -> decltype(auto) {
        if constexpr (std::is_invocable_v<Get&, const call_context&>) return getter(ctx);
        else return getter();
      };
      auto r = get();
      if constexpr (detail::is_method_result<detail::plain<decltype(r)>>::value) {
        if (!r) return r.error();
        return variant(*r).get();
      } else {
        return variant(r).get();
      }
    };
  }

  template <class T, class Set>
  static std::function<method_result<void>(const call_context&, const value&)> make_setter(Set setter) {
    return [setter = std::move(setter)](const call_context& ctx, const value& v) mutable -> method_result<void> {
      // A property of type 'v' takes the value as it came; any other is converted to T.
      auto typed = [&]() -> result<T> {
        if constexpr (std::is_same_v<T, variant>) return variant(v);
        else return variant(v).as<T>();
      }();
      if (!typed)
        return dbus_error{std::string(dbus_errors::invalid_args),
                          "the property has type '" + std::string(signature_of<T>().view()) + "', not '" +
                              std::string(v.type()) + "'"};
      auto set = [&]() -> decltype(auto) {
        if constexpr (std::is_invocable_v<Set&, const call_context&, T>) return setter(ctx, std::move(*typed));
        else return setter(std::move(*typed));
      };
      if constexpr (std::is_void_v<decltype(set())>) {
        set();
        return {};
      } else {
        return set();
      }
    };
  }

  template <class T>
  interface_definition& add_property(const member_name& name, std::function<method_result<value>(const call_context&)> get,
                                     std::function<method_result<void>(const call_context&, const value&)> set,
                                     property_options options) {
    detail::property_entry e;
    e.info.name = name.str();
    e.info.type = std::string(signature_of<T>().view());
    e.info.access = get && set ? introspection::access::readwrite
                    : get      ? introspection::access::read
                               : introspection::access::write;
    e.info.annotations = std::move(options.annotations);
    switch (options.emits_changed) {
      case emits_changed::yes: break;
      case emits_changed::invalidates:
        e.info.annotations.push_back({std::string(dbus_names::emits_changed_signal_annotation), "invalidates"});
        break;
      case emits_changed::constant:
        e.info.annotations.push_back({std::string(dbus_names::emits_changed_signal_annotation), "const"});
        break;
      case emits_changed::no:
        e.info.annotations.push_back({std::string(dbus_names::emits_changed_signal_annotation), "false"});
        break;
    }
    detail::add_deprecated(e.info.annotations, options.deprecated);
    e.emits = options.emits_changed;
    e.get = std::move(get);
    e.set = std::move(set);
    data_->properties.push_back(std::move(e));
    return *this;
  }

  std::shared_ptr<detail::interface_data> data_;
};

// Objects that exist on demand: every path at or below a prefix.
struct subtree_handler {
  // The interfaces of the object at `path`; none when there is no object there.
  std::function<std::vector<interface_definition>(const object_path& path)> lookup;
  // The names of the child nodes of `path`, for introspection (may be left empty).
  std::function<std::vector<std::string>(const object_path& path)> children;
  // The paths of the objects that exist now at or below `prefix` (the subtree's), for an
  // object manager's GetManagedObjects (may be left empty: the subtree's objects are then not
  // listed). Each is looked up for its interfaces; paths outside the subtree are ignored.
  std::function<std::vector<object_path>(const object_path& prefix)> enumerate;
};

class object_server {
 public:
  // Takes the connection's incoming calls (connection::set_message_handler). The server keeps
  // a reference: the connection must neither move nor end before the server does.
  explicit object_server(connection& c);
  object_server(const object_server&) = delete;
  object_server& operator=(const object_server&) = delete;
  ~object_server();

  connection& get_connection() const noexcept;

  // Adds an interface to the object at `path` (an object exists while it has one). An error
  // when the object has that interface already, or it is a standard one. Under an object
  // manager, InterfacesAdded is emitted.
  result<void> add(const object_path& path, interface_definition iface);
  // Removes an interface, or the whole object; false when there was none. Under an object
  // manager, InterfacesRemoved is emitted.
  bool remove(const object_path& path, const interface_name& iface);
  bool remove(const object_path& path);

  // Serves every path at or below `prefix` (registered objects there come first).
  result<void> add_subtree(const object_path& prefix, subtree_handler handler);
  bool remove_subtree(const object_path& prefix);

  // Serves org.freedesktop.DBus.ObjectManager at `path`, for the objects below it.
  result<void> add_object_manager(const object_path& path);
  bool remove_object_manager(const object_path& path);

  // Emits a signal the interface declares, with arguments of its signature.
  template <class... Args>
  result<void> emit(const object_path& path, const interface_name& iface, const member_name& member, const Args&... args) {
    if (auto ok = check_signal(path, iface, member, signature_of<Args...>().view()); !ok) return ok;
    get_connection().send(message_builder::signal(path, iface, member).build(args...));
    return {};
  }

  // Says that a property changed. Changes are sent together: one PropertiesChanged per object
  // and interface for everything changed before the connection's executor gets to them, as
  // the property's EmitsChangedSignal says (values read from the getters then).
  result<void> property_changed(const object_path& path, const interface_name& iface, const member_name& property);

 private:
  result<void> check_signal(const object_path& path, const interface_name& iface, const member_name& member,
                            std::string_view sig) const;
  std::shared_ptr<detail::object_server_impl> impl_;
};

// ---- implementation of the templates ----

namespace detail {

// An argument as handler parameter P takes it: moved, unless P is a non-const lvalue reference
// (a unix_fd or a string parameter by value takes the decoded one).
template <class P, class A>
decltype(auto) pass_arg(A& a) {
  if constexpr (std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>) return (a);
  else return std::move(a);
}

template <bool Ctx, bool Async, class R, class F, class... In, class... Out>
method_entry bind_method(F f, type_list<In...>, type_list<Out...>) {
  method_entry e;
  e.in_signature = std::string(signature_of<In...>().view());
  e.invoke = [f = std::move(f)](const std::shared_ptr<call_state>& st) mutable {
    auto args = st->call().template read<plain<In>...>();
    if (!args) return st->fail({std::string(dbus_errors::invalid_args), args.error().message});
    call_context ctx(st);
    try {
      if constexpr (Async) {
        async_reply<Out...> reply(st);
        std::apply(
            [&](auto&... a) {
              if constexpr (Ctx) f(ctx, std::move(reply), std::move(a)...);
              else f(std::move(reply), std::move(a)...);
            },
            *args);
      } else if constexpr (is_awaitable<R>::value) {
        using X = typename is_awaitable<R>::inner;
        // The coroutine may refer to its arguments and to the handler: both live until it ends.
        auto held = std::make_shared<std::tuple<plain<In>...>>(std::move(*args));
        auto fn = std::make_shared<F>(f);
        R coro = std::apply(
            [&](auto&... a) {
              if constexpr (Ctx) return (*fn)(ctx, a...);
              else return (*fn)(a...);
            },
            *held);
        if constexpr (std::is_void_v<X>) {
          boost::asio::co_spawn(st->conn()->get_executor(), std::move(coro), [st, held, fn](std::exception_ptr e) {
            if (!e) return send_result(st, method_result<void>{});
            try {
              std::rethrow_exception(e);
            } catch (...) {
              st->fail_current_exception();
            }
          });
        } else {
          boost::asio::co_spawn(st->conn()->get_executor(), std::move(coro), [st, held, fn](std::exception_ptr e, X x) {
            if (!e) return send_result(st, std::move(x));
            try {
              std::rethrow_exception(e);
            } catch (...) {
              st->fail_current_exception();
            }
          });
        }
      } else if constexpr (std::is_void_v<R>) {
        std::apply(
            [&](auto&... a) {
              if constexpr (Ctx) f(ctx, pass_arg<In>(a)...);
              else f(pass_arg<In>(a)...);
            },
            *args);
        st->reply(message_builder::method_return(st->call()).build());
      } else {
        send_result(st, std::apply(
                            [&](auto&... a) -> R {
                              if constexpr (Ctx) return f(ctx, pass_arg<In>(a)...);
                              else return f(pass_arg<In>(a)...);
                            },
                            *args));
      }
    } catch (...) {
      st->fail_current_exception();
    }
  };
  return e;
}

template <class F, class R, class... P>
method_entry make_method(F f, type_list<P...>, std::vector<std::string>& in_types, std::vector<std::string>& out_types) {
  using all = type_list<P...>;
  constexpr bool ctx = std::is_same_v<typename first_of<all>::type, call_context>;
  using rest = std::conditional_t<ctx, typename drop_first<all>::type, all>;
  constexpr bool async = is_async_reply<typename first_of<rest>::type>::value;
  using in = std::conditional_t<async, typename drop_first<rest>::type, rest>;
  using result_type = std::conditional_t<is_awaitable<R>::value, typename is_awaitable<R>::inner, R>;
  if constexpr (async) {
    static_assert(std::is_void_v<R>, "an asynchronous handler answers through its async_reply and returns void");
    using out = typename is_async_reply<typename first_of<rest>::type>::outs;
    in_types = signatures_of(in{});
    out_types = signatures_of(out{});
    return bind_method<ctx, true, R>(std::move(f), in{}, out{});
  } else {
    using out = typename outs_of<plain<result_type>>::type;
    in_types = signatures_of(in{});
    out_types = signatures_of(out{});
    return bind_method<ctx, false, R>(std::move(f), in{}, out{});
  }
}

}  // namespace detail

template <class F>
interface_definition& interface_definition::method(const member_name& name, F handler, method_options options) {
  using traits = detail::callable_traits<std::decay_t<F>>;
  std::vector<std::string> in_types, out_types;
  detail::method_entry e =
      detail::make_method<std::decay_t<F>, typename traits::ret>(std::move(handler), typename traits::args{}, in_types, out_types);
  e.info.name = name.str();
  e.info.args = detail::describe_args(in_types, options.in_names, introspection::direction::in, options.in_annotations);
  auto outs = detail::describe_args(out_types, options.out_names, introspection::direction::out, options.out_annotations);
  e.info.args.insert(e.info.args.end(), outs.begin(), outs.end());
  e.info.annotations = std::move(options.annotations);
  detail::add_deprecated(e.info.annotations, options.deprecated);
  if (options.no_reply) e.info.annotations.push_back({std::string(dbus_names::no_reply_annotation), "true"});
  data_->methods.push_back(std::move(e));
  return *this;
}

}  // namespace kbus
