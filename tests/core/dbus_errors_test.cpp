// A D-Bus error's name and message on every completion path (coroutine, future, callback,
// blocking), through kbus::with_dbus_error and kbus::call_error; on dbus-daemon, dbus-broker and
// kbusd, against a service made here.
#include "support/bus_test.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_errors.hpp"
#include "kbus/object_server.hpp"
#include "kbus/proxy.hpp"
#include "kbus/with_dbus_error.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <future>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;

constexpr std::string_view failed_name = "org.kbus.Test.Error.Failed";
constexpr std::string_view failed_text = "failed, as asked";
const auto service_name = "org.kbus.Test.Errors"_bus;

// A service that owns its name as it connects, whose Fail method answers a D-Bus error; a
// client proxy for it. io_ runs on its own thread.
class DbusErrors : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    service_.emplace(io_.get_executor());
    server_.emplace(*service_);
    server_->add("/org/kbus/Test"_path,
                 kbus::interface_definition("org.kbus.Test1"_iface)
                     .method("Fail"_member,
                             []() -> std::int32_t { throw kbus::dbus_exception(failed_name, std::string(failed_text)); })
                     .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; }));
    service_->connect(bus_->address(), {.names = {{service_name}}});
    client_.emplace(io_.get_executor());
    client_->connect(bus_->address());
    calc_.emplace(*client_, service_name, "/org/kbus/Test"_path, "org.kbus.Test1"_iface);
  }
  void TearDown() override {
    calc_.reset();
    server_.reset();
    if (client_) client_->close();
    if (service_) service_->close();
    bus_test::TearDown();
  }

  static void expect_failed(const kbus::dbus_error& e) {
    EXPECT_EQ(e.name, failed_name);
    EXPECT_EQ(e.message, failed_text);
  }

  std::optional<kbus::connection> service_, client_;
  std::optional<kbus::object_server> server_;
  std::optional<kbus::proxy> calc_;
};

// What `f` threw: the D-Bus error of a kbus::call_error, or a description of anything else.
template <class F>
kbus::dbus_error thrown_by(F f) {
  try {
    f();
  } catch (const kbus::call_error& e) {
    EXPECT_EQ(e.code(), kbus::make_error_code(kbus::connection_errc::error_reply));
    EXPECT_EQ(std::string(e.what()), e.error().name + ": " + e.error().message);
    return e.error();
  } catch (const std::exception& e) {
    return {"(not a D-Bus error)", e.what()};
  }
  return {"(nothing thrown)", ""};
}

TEST_P(DbusErrors, ACoroutineCatchesTheDbusErrorWithItsNameAndMessage) {
  auto co = boost::asio::co_spawn(
      io_,
      [&]() -> boost::asio::awaitable<kbus::dbus_error> {
        try {
          co_await calc_->async_call<std::int32_t>("Fail"_member, std::tuple{},
                                                   kbus::with_dbus_error(boost::asio::use_awaitable));
        } catch (const kbus::call_error& e) {
          co_return e.error();
        }
        co_return kbus::dbus_error{"(nothing thrown)", ""};
      },
      boost::asio::use_future);
  expect_failed(co.get());
  // A success goes through untouched.
  auto sum = boost::asio::co_spawn(
      io_,
      [&]() -> boost::asio::awaitable<std::int32_t> {
        co_return co_await calc_->async_call<std::int32_t>("Add"_member, std::tuple{40, 2},
                                                           kbus::with_dbus_error(boost::asio::use_awaitable));
      },
      boost::asio::use_future);
  EXPECT_EQ(sum.get(), 42);
}

TEST_P(DbusErrors, AFutureThrowsTheDbusErrorWithItsNameAndMessage) {
  expect_failed(thrown_by([&] {
    calc_->async_call<std::int32_t>("Fail"_member, std::tuple{}, kbus::with_dbus_error(boost::asio::use_future)).get();
  }));
  expect_failed(thrown_by(
      [&] { calc_->async_call("Fail"_member, std::tuple{}, kbus::with_dbus_error(boost::asio::use_future)).get(); }));
  // The untyped call and the driver helpers too.
  expect_failed(thrown_by([&] {
    calc_->async_call_message("Fail"_member, std::tuple{}, kbus::with_dbus_error(boost::asio::use_future)).get();
  }));
  auto e = thrown_by([&] {
    kbus::bus::async_get_name_owner(*client_, "org.kbus.Nobody"_bus, kbus::with_dbus_error(boost::asio::use_future)).get();
  });
  EXPECT_EQ(e.name, kbus::dbus_errors::name_has_no_owner);
  EXPECT_FALSE(e.message.empty());
  // A failure that is no D-Bus error stays a system_error with its code.
  try {
    calc_->async_call<std::string>("Add"_member, std::tuple{1, 2}, kbus::with_dbus_error(boost::asio::use_future)).get();
    ADD_FAILURE() << "a reply of the wrong type was taken";
  } catch (const kbus::call_error& x) {
    ADD_FAILURE() << "not a D-Bus error: " << x.what();
  } catch (const boost::system::system_error& x) {
    EXPECT_EQ(x.code(), kbus::make_error_code(kbus::errc::type_mismatch));
  }
}

TEST_P(DbusErrors, ACallbackReadsTheDbusErrorBesideItsErrorCode) {
  kbus::dbus_error failure{"(left from before)", ""};
  std::promise<std::pair<error_code, kbus::dbus_error>> outcome;
  calc_->async_call<std::int32_t>("Fail"_member, std::tuple{}, kbus::with_dbus_error(failure, [&](error_code ec, std::int32_t) {
                                    outcome.set_value({ec, failure});
                                  }));
  auto [ec, seen] = outcome.get_future().get();
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply));
  expect_failed(seen);
  expect_failed(failure);
  // Through Asio's binders, outside or inside the adapter.
  std::promise<error_code> bound;
  kbus::dbus_error failure2;
  calc_->async_call("Fail"_member, std::tuple{},
                    boost::asio::bind_executor(io_.get_executor(), kbus::with_dbus_error(failure2, [&](error_code e) {
                                                 bound.set_value(e);
                                               })));
  EXPECT_EQ(bound.get_future().get(), kbus::make_error_code(kbus::connection_errc::error_reply));
  expect_failed(failure2);
  // A success leaves it empty.
  std::promise<std::int32_t> sum;
  calc_->async_call<std::int32_t>("Add"_member, std::tuple{40, 2}, kbus::with_dbus_error(failure, [&](error_code e, std::int32_t v) {
                                    EXPECT_FALSE(e);
                                    sum.set_value(v);
                                  }));
  EXPECT_EQ(sum.get_future().get(), 42);
  EXPECT_TRUE(failure.name.empty());
  EXPECT_TRUE(failure.message.empty());
  // The driver helpers write it as well.
  kbus::dbus_error driver_failure;
  std::promise<error_code> owner;
  kbus::bus::async_get_name_owner(*client_, "org.kbus.Nobody"_bus,
                                  kbus::with_dbus_error(driver_failure, [&](error_code e, std::string) { owner.set_value(e); }));
  EXPECT_EQ(owner.get_future().get(), kbus::make_error_code(kbus::connection_errc::error_reply));
  EXPECT_EQ(driver_failure.name, kbus::dbus_errors::name_has_no_owner);
}

TEST_P(DbusErrors, ABlockingCallThrowsCallErrorWithItsNameAndMessage) {
  expect_failed(thrown_by([&] { calc_->call<std::int32_t>("Fail"_member); }));
  auto e = thrown_by([&] { kbus::bus::get_name_owner(*client_, "org.kbus.Nobody"_bus); });
  EXPECT_EQ(e.name, kbus::dbus_errors::name_has_no_owner);
  // The property cache's GetAll, blocking and through a future.
  kbus::proxy other(*client_, service_name, "/org/kbus/Test"_path, "org.kbus.Nope1"_iface);
  EXPECT_EQ(thrown_by([&] { other.load_properties(); }).name, kbus::dbus_errors::unknown_interface);
  EXPECT_EQ(thrown_by([&] { other.async_load_properties(kbus::with_dbus_error(boost::asio::use_future)).get(); }).name,
            kbus::dbus_errors::unknown_interface);
  // call_error is a system_error: code error_reply.
  try {
    calc_->call("Fail"_member);
    ADD_FAILURE() << "nothing thrown";
  } catch (const boost::system::system_error& x) {
    EXPECT_EQ(x.code(), kbus::make_error_code(kbus::connection_errc::error_reply));
  }
}

INSTANTIATE_TEST_SUITE_P(Buses, DbusErrors, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse, bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
