// A D-Bus error's name and message on every completion path.
//
// An operation that sends a call (connection::async_call, every proxy call and property
// operation, proxy::async_load_properties, every kbus::bus helper) completes with
// connection_errc::error_reply when the answer is a D-Bus error. The error's name and message reach the caller through this token
// adapter, whatever the completion token:
//
//   // co_await and use_future: (error_code, T) becomes (exception_ptr, T); an error reply
//   // throws kbus::call_error (name and message, code connection_errc::error_reply), any
//   // other failure boost::system::system_error. call_error is a system_error too.
//   try {
//     int sum = co_await calc.async_call<int>("Add"_member, std::tuple{2, 40},
//                                             kbus::with_dbus_error(boost::asio::use_awaitable));
//   } catch (const kbus::call_error& e) { e.error().name; e.error().message; }
//
//   // A callback that takes an error code: the D-Bus error is written to `failure` (kept
//   // alive by the caller until the handler runs) just before the handler is called.
//   kbus::dbus_error failure;
//   calc.async_call<int>("Add"_member, std::tuple{2, 40}, kbus::with_dbus_error(failure,
//       [&](boost::system::error_code ec, int sum) { if (ec) std::cerr << failure.name; }));
//
//   // Blocking forms throw kbus::call_error; their error_code& forms give error_reply
//   // (connection::call(m, ec) returns the error reply itself: dbus_error_of(reply)).
//
// This is the one place that says it; README.md ("D-Bus errors") points here.
//
// Composes with bind_cancellation_slot, bind_executor and the other Asio adapters, in either
// order. An operation learns where to write the error through the associated characteristic
// kbus::associated_dbus_error (as Asio's associated executor or cancellation slot).
#pragma once

#include "kbus/connection.hpp"

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace kbus {

template <class T, class Default = dbus_error*>
struct associated_dbus_error;

namespace detail {
template <class T>
concept has_dbus_error_slot = requires(const T& t) {
  { t.dbus_error_slot() } -> std::same_as<dbus_error*>;
};

template <class T, class Default, class = void>
struct associated_dbus_error_impl {
  using type = dbus_error*;
  static type get(const T&) noexcept { return nullptr; }
  static type get(const T&, type d) noexcept { return d; }
};
template <class T, class Default>
struct associated_dbus_error_impl<T, Default, std::enable_if_t<has_dbus_error_slot<T>>> {
  using type = dbus_error*;
  static type get(const T& t) noexcept { return t.dbus_error_slot(); }
  static type get(const T& t, type) noexcept { return t.dbus_error_slot(); }
};
// Through Asio's binders (bind_executor, bind_cancellation_slot, ...), which forward every
// associator to what they wrap.
template <class T, class Default>
struct associated_dbus_error_impl<
    T, Default,
    std::enable_if_t<!has_dbus_error_slot<T>,
                     std::void_t<typename boost::asio::associator<associated_dbus_error, T, Default>::type>>>
    : boost::asio::associator<associated_dbus_error, T, Default> {};
}  // namespace detail

// Where an operation writes the D-Bus error of an error reply for this handler (nullptr: nowhere).
template <class T, class Default>
struct associated_dbus_error : detail::associated_dbus_error_impl<T, Default> {};

template <class T>
dbus_error* get_associated_dbus_error(const T& t) noexcept {
  return associated_dbus_error<T>::get(t);
}

namespace detail {
// What an operation does with a call's outcome before it completes.
inline void note_dbus_error(dbus_error* slot, const boost::system::error_code& ec, const message& reply) {
  if (slot && ec == make_error_code(connection_errc::error_reply) && reply.type() == message_type::error)
    *slot = dbus_error_of(reply);
}

// The handler with_dbus_error puts around the caller's: it owns (Throwing) or borrows the place
// the operation writes the D-Bus error to, and hands the outcome on.
template <class Handler, bool Throwing>
class dbus_error_handler {
 public:
  dbus_error_handler(Handler h, dbus_error* out) : inner_(std::move(h)), out_(out) {}
  explicit dbus_error_handler(Handler h)
      : inner_(std::move(h)), owned_(std::make_unique<dbus_error>()), out_(owned_.get()) {}

  dbus_error* dbus_error_slot() const noexcept { return out_; }
  const Handler& get() const noexcept { return inner_; }

  template <class... A>
  void operator()(boost::system::error_code ec, A&&... a) {
    const bool error_reply = ec == make_error_code(connection_errc::error_reply);
    if constexpr (sizeof...(A) == 1) {
      // connection::async_call completes with the error reply itself.
      if constexpr ((std::is_same_v<std::decay_t<A>, message> && ...)) {
        if (out_->name.empty()) ((note_dbus_error(out_, ec, a)), ...);
      }
    }
    if (!error_reply) *out_ = dbus_error{};
    if constexpr (Throwing) {
      std::exception_ptr e;
      if (error_reply && !out_->name.empty()) e = std::make_exception_ptr(call_error(*out_));
      else if (ec) e = std::make_exception_ptr(boost::system::system_error(ec));
      std::move(inner_)(std::move(e), std::forward<A>(a)...);
    } else {
      std::move(inner_)(ec, std::forward<A>(a)...);
    }
  }

 private:
  Handler inner_;
  std::unique_ptr<dbus_error> owned_;
  dbus_error* out_;
};

template <class Initiation, bool Throwing>
struct dbus_error_initiation {
  Initiation initiation;
  dbus_error* out = nullptr;
  template <class Handler, class... A>
  void operator()(Handler&& h, A&&... a) {
    using H = dbus_error_handler<std::decay_t<Handler>, Throwing>;
    if constexpr (Throwing) std::move(initiation)(H(std::forward<Handler>(h)), std::forward<A>(a)...);
    else std::move(initiation)(H(std::forward<Handler>(h), out), std::forward<A>(a)...);
  }
};
}  // namespace detail

// The token adapters (see the top of this file).
template <class Token>
struct with_dbus_error_t {
  Token token;
};
template <class Token>
struct with_dbus_error_into_t {
  Token token;
  dbus_error* out;
};

template <class Token>
with_dbus_error_t<std::decay_t<Token>> with_dbus_error(Token&& token) {
  return {std::forward<Token>(token)};
}
template <class Token>
with_dbus_error_into_t<std::decay_t<Token>> with_dbus_error(dbus_error& out, Token&& token) {
  return {std::forward<Token>(token), &out};
}

}  // namespace kbus

namespace kbus::detail {
// The return_type of the adapted token's async_result, where it has one (Asio's binders need it).
template <class Result, class = void>
struct adapted_return_type {};
template <class Result>
struct adapted_return_type<Result, std::void_t<typename Result::return_type>> {
  using return_type = typename Result::return_type;
};
}  // namespace kbus::detail

namespace boost::asio {

template <class Token, class... Args>
struct async_result<kbus::with_dbus_error_t<Token>, void(boost::system::error_code, Args...)>
    : kbus::detail::adapted_return_type<async_result<Token, void(std::exception_ptr, Args...)>> {
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& init, RawToken&& token, InitArgs&&... args) {
    return async_initiate<Token, void(std::exception_ptr, Args...)>(
        kbus::detail::dbus_error_initiation<std::decay_t<Initiation>, true>{std::forward<Initiation>(init)},
        token.token, std::forward<InitArgs>(args)...);
  }
};

template <class Token, class... Args>
struct async_result<kbus::with_dbus_error_into_t<Token>, void(boost::system::error_code, Args...)>
    : kbus::detail::adapted_return_type<async_result<Token, void(boost::system::error_code, Args...)>> {
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& init, RawToken&& token, InitArgs&&... args) {
    kbus::dbus_error* out = token.out;
    return async_initiate<Token, void(boost::system::error_code, Args...)>(
        kbus::detail::dbus_error_initiation<std::decay_t<Initiation>, false>{std::forward<Initiation>(init), out},
        token.token, std::forward<InitArgs>(args)...);
  }
};

// The caller's handler keeps its executor, allocator and cancellation slot.
template <template <class, class> class Associator, class Handler, bool Throwing, class Default>
struct associator<Associator, kbus::detail::dbus_error_handler<Handler, Throwing>, Default> {
  using type = typename Associator<Handler, Default>::type;
  static type get(const kbus::detail::dbus_error_handler<Handler, Throwing>& h) noexcept {
    return Associator<Handler, Default>::get(h.get());
  }
  static auto get(const kbus::detail::dbus_error_handler<Handler, Throwing>& h, const Default& d) noexcept
      -> decltype(Associator<Handler, Default>::get(h.get(), d)) {
    return Associator<Handler, Default>::get(h.get(), d);
  }
};

}  // namespace boost::asio
