// Proxies on real buses (dbus-daemon and dbus-broker) against services made with kbus
// (kbus-demo-service), GLib (python3-gi) and dbus-python.
#include "support/bus_test.hpp"
#include "support/notifier.hpp"
#include "support/process.hpp"

#include "kbus/connection.hpp"
#include "kbus/proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;

using kbus::test::child_process;

bool python_has(const char* modules) {
  if (::access("/usr/bin/python3", X_OK) != 0) return false;
  const std::string cmd = std::string("/usr/bin/python3 -c 'import ") + modules + "' 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}


class Proxy : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    conn_.emplace(io_.get_executor());
    conn_->async_connect(bus_->address(), boost::asio::use_future).get();
  }
  void TearDown() override {
    if (conn_) conn_->close();
    bus_test::TearDown();
  }
  // Starts a peer and waits until it owns its name.
  void start(std::vector<std::string> argv) {
    argv.push_back(bus_->address());
    peer_.emplace(std::move(argv));
    ASSERT_EQ(peer_->read_line(), "READY\n");
  }
  void start_demo() {
    peer_.emplace(std::vector<std::string>{std::string(KBUS_BINARY_DIR) + "/tools/kbus-demo-service", "--address",
                                           bus_->address()});
    ASSERT_EQ(peer_->read_line(), "READY\n");
  }
  static std::string script(const char* name) { return std::string(KBUS_SOURCE_DIR) + "/tests/peers/" + name; }

  std::optional<kbus::connection> conn_;
  std::optional<child_process> peer_;
};

// The D-Bus error a blocking call threw.
template <class F>
kbus::dbus_error thrown_by(F f) {
  try {
    f();
  } catch (const kbus::call_error& e) {
    return e.error();
  } catch (const std::exception& e) {
    return {"(not a D-Bus error)", e.what()};
  }
  return {"(nothing thrown)", ""};
}

TEST_P(Proxy, TypedCallsAndPropertiesOfAKbusService) {
  start_demo();
  kbus::proxy demo(*conn_, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface);
  EXPECT_EQ(demo.call<std::int32_t>("Add"_member, std::int32_t{40}, std::int32_t{2}), 42);
  EXPECT_EQ(demo.call<kbus::variant>("Echo"_member, kbus::variant(std::string("hi"))), kbus::variant(std::string("hi")));

  // Asynchronous, with a callback, a future and a coroutine.
  std::promise<std::int32_t> sum;
  demo.async_call<std::int32_t>("Add"_member, std::tuple{std::int32_t{1}, std::int32_t{2}}, [&](error_code ec, std::int32_t v) {
    EXPECT_FALSE(ec) << ec.message();
    sum.set_value(v);
  });
  EXPECT_EQ(sum.get_future().get(), 3);
  auto slow = demo.async_call<std::uint32_t>("Sleep"_member, std::tuple{std::uint32_t{2000}}, boost::asio::use_future);
  auto quick = demo.async_call<std::int32_t>("Add"_member, std::tuple{std::int32_t{5}, std::int32_t{5}}, boost::asio::use_future);
  EXPECT_EQ(quick.get(), 10);
  EXPECT_EQ(slow.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(slow.get(), 2000u);
  auto co = boost::asio::co_spawn(
      io_,
      [&]() -> boost::asio::awaitable<std::int32_t> {
        co_return co_await demo.async_call<std::int32_t>("Add"_member, std::tuple{std::int32_t{7}, std::int32_t{8}},
                                                         boost::asio::use_awaitable);
      },
      boost::asio::use_future);
  EXPECT_EQ(co.get(), 15);

  // Errors: the D-Bus error with its name, and a reply that is not what R says.
  auto e = thrown_by([&] { demo.call("Fail"_member); });
  EXPECT_EQ(e.name, "org.kbus.Demo1.Error.Failed");
  EXPECT_EQ(e.message, "the demo failed, as asked");
  e = thrown_by([&] { demo.call("Nope"_member); });
  EXPECT_EQ(e.name, "org.freedesktop.DBus.Error.UnknownMethod");
  std::promise<error_code> failed;
  demo.async_call("Fail"_member, std::tuple{}, [&](error_code ec) { failed.set_value(ec); });
  EXPECT_EQ(failed.get_future().get(), kbus::make_error_code(kbus::connection_errc::error_reply));
  try {
    demo.call<std::string>("Add"_member, std::int32_t{1}, std::int32_t{2});
    ADD_FAILURE() << "a reply of the wrong type was taken";
  } catch (const kbus::exception& x) {
    EXPECT_EQ(x.get().code, kbus::make_error_code(kbus::errc::type_mismatch));
  }
  // The whole reply, when the caller wants it.
  auto m = demo.async_call_message("Fail"_member, std::tuple{}, boost::asio::use_future);
  try {
    m.get();
  } catch (const boost::system::system_error& x) {
    EXPECT_EQ(x.code(), kbus::make_error_code(kbus::connection_errc::error_reply));
  }

  // Properties.
  EXPECT_EQ(demo.get_property<std::string>("Version"_member), "1.0");
  demo.set_property("Label"_member, std::string("from a proxy"));
  EXPECT_EQ(demo.async_get_property<std::string>("Label"_member, boost::asio::use_future).get(), "from a proxy");
  demo.async_set_property("Label"_member, std::string("again"), boost::asio::use_future).get();
  auto all = demo.get_all_properties();
  EXPECT_EQ(all.at("Label"), kbus::variant(std::string("again")));
  EXPECT_EQ(all.size(), 3u);
  e = thrown_by([&] { demo.set_property("Counter"_member, 5u); });
  EXPECT_EQ(e.name, "org.freedesktop.DBus.Error.PropertyReadOnly");
  e = thrown_by([&] { demo.get_property<std::string>("Missing"_member); });
  EXPECT_EQ(e.name, "org.freedesktop.DBus.Error.UnknownProperty");
}

TEST_P(Proxy, MadeFromIntrospectionChecksCallsBeforeSending) {
  start_demo();
  auto demo = kbus::proxy::introspect(*conn_, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface);
  ASSERT_NE(demo.description(), nullptr);
  EXPECT_EQ(demo.description()->find_method("Add")->in_signature(), "ii");
  EXPECT_EQ(demo.call<std::int32_t>("Add"_member, std::int32_t{2}, std::int32_t{2}), 4);
  // Wrong argument types, a wrong result type, a method that is not there: refused here.
  auto refused = [&](auto f, kbus::errc code) {
    try {
      f();
      ADD_FAILURE() << "not refused";
    } catch (const kbus::exception& x) {
      EXPECT_EQ(x.get().code, kbus::make_error_code(code)) << x.what();
    }
  };
  refused([&] { demo.call<std::int32_t>("Add"_member, std::string("2"), std::int32_t{2}); }, kbus::errc::type_mismatch);
  refused([&] { demo.call<std::string>("Add"_member, std::int32_t{2}, std::int32_t{2}); }, kbus::errc::type_mismatch);
  refused([&] { demo.call("Subtract"_member); }, kbus::errc::invalid_value);
  refused([&] { demo.set_property("Counter"_member, 1u); }, kbus::errc::invalid_value);
  refused([&] { demo.get_property<std::int32_t>("Label"_member); }, kbus::errc::type_mismatch);
  EXPECT_EQ(demo.async_call<std::int32_t>("Add"_member, std::tuple{std::string("x")}, boost::asio::use_future).wait_for(std::chrono::seconds(5)),
            std::future_status::ready);

  // Values known only at run time take the description's signature.
  auto out = demo.call_values("Add"_member, {kbus::value::int32(20), kbus::value::int32(22)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], kbus::value::int32(42));
  auto path = demo.async_call_values("AddItem"_member, {kbus::value::string("made at run time")}, boost::asio::use_future).get();
  ASSERT_EQ(path.size(), 1u);
  EXPECT_EQ(path[0].type(), "o");
  auto item = kbus::proxy::async_introspect(*conn_, "org.kbus.Demo"_bus, kbus::object_path(path[0].as_string()),
                                            "org.kbus.Demo1.Item"_iface, boost::asio::use_future)
                  .get();
  EXPECT_EQ(item.get_property<std::string>("Name"_member), "made at run time");
  // An interface the object does not have.
  auto missing = kbus::proxy::async_introspect(*conn_, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Nope1"_iface,
                                               boost::asio::use_future);
  EXPECT_THROW(missing.get(), boost::system::system_error);
}

TEST_P(Proxy, AGlibService) {
  if (!python_has("gi")) GTEST_SKIP() << "python3-gi is not installed";
  start({"/usr/bin/python3", script("glib_service.py")});
  // GLib's own introspection data makes the proxy.
  auto g = kbus::proxy::introspect(*conn_, "org.kbus.GPeer"_bus, "/org/kbus/GPeer"_path, "org.kbus.GPeer1"_iface);
  ASSERT_NE(g.description(), nullptr);
  EXPECT_EQ(g.description()->find_property("Level")->annotations.size(), 1u);
  EXPECT_EQ(g.call<std::int32_t>("Add"_member, std::int32_t{-2}, std::int32_t{44}), 42);
  EXPECT_EQ((g.call<std::tuple<std::string, std::uint32_t>>("Split"_member, std::string("glib"))),
            (std::tuple<std::string, std::uint32_t>{"g", 4}));
  const std::map<std::string, kbus::variant> dict{{"n", kbus::variant(std::int64_t{-5})}, {"s", kbus::variant(std::string("x"))}};
  EXPECT_EQ(g.call<kbus::variant>("Echo"_member, kbus::variant(dict)), kbus::variant(dict));
  auto e = thrown_by([&] { g.call("Fail"_member); });
  EXPECT_EQ(e.name, "org.kbus.GPeer1.Error.Failed");
  EXPECT_EQ(e.message, "glib says no");
  EXPECT_EQ(g.get_property<std::string>("Version"_member), "2.0");
  g.set_property("Label"_member, std::string("set by kbus"));
  EXPECT_EQ(g.get_property<std::string>("Label"_member), "set by kbus");
  g.set_property("Level"_member, std::int32_t{9});
  auto all = g.get_all_properties();
  EXPECT_EQ(all.at("Level"), kbus::variant(std::int32_t{9}));
  EXPECT_EQ(all.at("Label"), kbus::variant(std::string("set by kbus")));
}

TEST_P(Proxy, ADbusPythonService) {
  if (!python_has("dbus, gi")) GTEST_SKIP() << "python3-dbus and python3-gi are not installed";
  start({"/usr/bin/python3", script("python_props_service.py")});
  // dbus-python writes introspection data from its decorators.
  auto p = kbus::proxy::introspect(*conn_, "org.kbus.PyProps"_bus, "/org/kbus/PyProps"_path, "org.kbus.PyProps1"_iface);
  ASSERT_NE(p.description(), nullptr);
  EXPECT_EQ(p.description()->find_method("Keys")->in_signature(), "a{sv}");
  EXPECT_EQ(p.description()->find_signal("Bumped")->signature(), "us");
  EXPECT_EQ(p.call<std::string>("Join"_member, std::vector<std::string>{"a", "b", "c"}), "a-b-c");
  EXPECT_EQ(p.call<std::vector<std::string>>(
                "Keys"_member, std::map<std::string, kbus::variant>{{"z", kbus::variant(1)}, {"a", kbus::variant(true)}}),
            (std::vector<std::string>{"a", "z"}));
  p.call("Bump"_member, 3u);
  EXPECT_EQ(p.get_property<std::uint32_t>("Count"_member), 3u);
  auto e = thrown_by([&] { p.call("Fail"_member); });
  EXPECT_EQ(e.name, "org.kbus.PyProps1.Error.Failed");
  EXPECT_EQ(e.message, "python props fail");
  // Without a description, the values' own types are the signature.
  kbus::proxy plain(*conn_, "org.kbus.PyProps"_bus, "/org/kbus/PyProps"_path, "org.kbus.PyProps1"_iface);
  auto out = plain.call_values("Join"_member, {kbus::value::array("s", {kbus::value::string("x"), kbus::value::string("y")})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], kbus::value::string("x-y"));
  e = thrown_by([&] { plain.set_property("Count"_member, 1u); });
  EXPECT_EQ(e.name, "org.freedesktop.DBus.Error.PropertyReadOnly");
}

TEST_P(Proxy, SignalsAndThePropertyCacheOfAKbusService) {
  start_demo();
  // Declared before the proxy, which calls into them until it ends.
  std::mutex mu;
  std::vector<std::uint32_t> ticks;
  std::vector<std::string> changed_names;
  kbus::test::notifier cache_changed;
  auto demo = kbus::proxy::introspect(*conn_, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface);
  auto sub = demo.on_signal<std::uint32_t>("Tick"_member, [&](std::uint32_t n) {
    std::lock_guard lock(mu);
    ticks.push_back(n);
  });
  // Types that the description contradicts are refused.
  EXPECT_THROW(demo.on_signal<std::string>("Tick"_member, [](const std::string&) {}), kbus::exception);
  EXPECT_THROW(demo.on_signal<>("Tock"_member, [] {}), kbus::exception);

  demo.on_properties_changed([&](const std::vector<std::string>& names) {
    {
      std::lock_guard lock(mu);
      changed_names.insert(changed_names.end(), names.begin(), names.end());
    }
    cache_changed.notify();
  });
  demo.async_load_properties(boost::asio::use_future).get();
  EXPECT_TRUE(demo.properties_loaded());
  EXPECT_EQ(demo.cached_property<std::string>("Version"), "1.0");
  EXPECT_EQ(demo.cached_property<std::string>("Label"), "kbus");
  EXPECT_EQ(demo.cached_property<std::uint32_t>("Label"), std::nullopt);  // not a u
  const auto first = demo.cached_property<std::uint32_t>("Counter").value();
  const auto counter_reaches = [&](std::uint32_t n) {
    return cache_changed.wait_until([&] { return demo.cached_property<std::uint32_t>("Counter") >= n; });
  };
  // Ticks arrive in order, and the cache follows Counter.
  ASSERT_TRUE(counter_reaches(first + 2)) << "Counter did not change twice";
  {
    std::lock_guard lock(mu);
    ASSERT_GE(ticks.size(), 1u);
    for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_EQ(ticks[i], ticks[i - 1] + 1);
    EXPECT_NE(std::find(changed_names.begin(), changed_names.end(), "Counter"), changed_names.end());
  }
  // A change made by someone else reaches the cache.
  kbus::connection other(io_.get_executor());
  other.connect(bus_->address());
  kbus::proxy(other, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface)
      .set_property("Label"_member, std::string("changed elsewhere"));
  EXPECT_TRUE(cache_changed.wait_until([&] { return demo.cached_property<std::string>("Label") == "changed elsewhere"; }));
  other.close();
  // A reset subscription hears nothing more. The service changes Counter right after each
  // Tick, so Counter going up shows that a Tick went by. A reset from this thread reaches the
  // connection's executor a moment later: the ticks are counted once the next Tick has gone
  // by, and the one after must not be heard.
  sub.reset();
  const auto counter_after_reset = demo.cached_property<std::uint32_t>("Counter").value();
  ASSERT_TRUE(counter_reaches(counter_after_reset + 1)) << "no Tick after the reset";
  std::size_t seen;
  {
    std::lock_guard lock(mu);
    seen = ticks.size();
  }
  ASSERT_TRUE(counter_reaches(counter_after_reset + 2)) << "no second Tick after the reset";
  std::lock_guard lock(mu);
  EXPECT_EQ(ticks.size(), seen);
}

TEST_P(Proxy, SignalsAndThePropertyCacheOfAGlibService) {
  if (!python_has("gi")) GTEST_SKIP() << "python3-gi is not installed";
  start({"/usr/bin/python3", script("glib_service.py")});
  kbus::test::notifier cache_changed;  // before the proxy, which calls into it until it ends
  auto g = kbus::proxy::introspect(*conn_, "org.kbus.GPeer"_bus, "/org/kbus/GPeer"_path, "org.kbus.GPeer1"_iface);
  std::promise<std::pair<std::uint32_t, std::string>> tick;
  auto sub = g.async_on_signal<std::uint32_t, std::string>(
                  "Tick"_member, [&](std::uint32_t n, const std::string& note) { tick.set_value({n, note}); },
                  boost::asio::use_future)
                 .get();
  g.on_properties_changed([&](const std::vector<std::string>&) { cache_changed.notify(); });
  g.load_properties();
  EXPECT_EQ(g.cached_property<std::int32_t>("Level"), 1);
  g.call("Emit"_member, 5u);
  auto f = tick.get_future();
  ASSERT_EQ(f.wait_for(kbus::test::event_deadline), std::future_status::ready);
  EXPECT_EQ(f.get(), (std::pair<std::uint32_t, std::string>{5, "tick 5"}));
  // Label comes with its value; Level is only invalidated, and read again.
  g.call("SetBoth"_member, std::string("both"), std::int32_t{7});
  EXPECT_TRUE(cache_changed.wait_until([&] { return g.cached_property<std::string>("Label") == "both"; }));
  EXPECT_TRUE(cache_changed.wait_until([&] { return g.cached_property<std::int32_t>("Level") == 7; }));
}

TEST_P(Proxy, SignalsAndThePropertyCacheOfADbusPythonService) {
  if (!python_has("dbus, gi")) GTEST_SKIP() << "python3-dbus and python3-gi are not installed";
  start({"/usr/bin/python3", script("python_props_service.py")});
  // Declared before the proxy, which calls into them until it ends. The notifier's lock guards
  // `bumped`.
  kbus::test::notifier changed;
  std::vector<std::pair<std::uint32_t, std::string>> bumped;
  kbus::proxy p(*conn_, "org.kbus.PyProps"_bus, "/org/kbus/PyProps"_path, "org.kbus.PyProps1"_iface);
  auto sub = p.async_on_signal<std::uint32_t, std::string>(
                  "Bumped"_member,
                  [&](std::uint32_t n, const std::string& why) { changed.update([&] { bumped.emplace_back(n, why); }); },
                  boost::asio::use_future)
                 .get();
  // A subscription with other types hears nothing of it.
  std::atomic<int> wrong{0};
  auto other = p.on_signal<std::string>("Bumped"_member, [&](const std::string&) { ++wrong; });
  p.on_properties_changed([&](const std::vector<std::string>&) { changed.notify(); });
  p.load_properties();
  EXPECT_EQ(p.cached_property<std::uint32_t>("Count"), 0u);
  p.call("Bump"_member, 2u);
  p.call("Bump"_member, 3u);
  EXPECT_TRUE(changed.wait_until([&] { return p.cached_property<std::uint32_t>("Count") == 5u; }));
  EXPECT_TRUE(changed.wait_until([&] { return bumped.size() == 2; }));
  EXPECT_EQ(changed.read([&] { return bumped; }),
            (std::vector<std::pair<std::uint32_t, std::string>>{{2, "by 2"}, {5, "by 3"}}));
  EXPECT_EQ(wrong.load(), 0);
  p.set_property("Name"_member, std::string("renamed"));
  EXPECT_TRUE(changed.wait_until([&] { return p.cached_property<std::string>("Name") == "renamed"; }));
}

INSTANTIATE_TEST_SUITE_P(Buses, Proxy, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return std::string(info.param == bus_kind::dbus_daemon ? "dbus_daemon" : "dbus_broker"); });

}  // namespace
