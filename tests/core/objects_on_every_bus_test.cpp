// A kbus service and a kbus client on each bus, kbusd (the kdbus transport) included: typed
// calls and errors, properties with PropertiesChanged, a signal, introspection through a proxy.
// (The suites with busctl, gdbus and Python peers need a bus those programs can reach: the
// socket buses only.)
#include "support/bus_test.hpp"
#include "support/notifier.hpp"

#include "kbus/object_server.hpp"
#include "kbus/proxy.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;

class ObjectsOnEveryBus : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (bus_) start_io_thread();
  }
};

TEST_P(ObjectsOnEveryBus, ServiceAndProxyTalk) {
  kbus::connection service_conn(io_.get_executor()), client_conn(io_.get_executor());
  service_conn.connect(bus_->address());
  client_conn.connect(bus_->address());
  std::mutex mutex;
  std::string label = "start";
  kbus::test::notifier seen;  // the Tick and the cache's changes; outlives the proxy below
  {
    kbus::object_server server(service_conn);
    ASSERT_TRUE(server.add("/org/kbus/Calc"_path,
                           kbus::interface_definition("org.kbus.Calc1"_iface)
                               .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; })
                               .method("Fail"_member,
                                       []() -> std::int32_t {
                                         throw kbus::dbus_exception("org.kbus.Calc1.Error.No", "not today");
                                       })
                               .signal<std::uint32_t>("Tick"_member)
                               .property(
                                   "Label"_member,
                                   [&] {
                                     std::lock_guard lock(mutex);
                                     return label;
                                   },
                                   [&](std::string s) {
                                     std::lock_guard lock(mutex);
                                     label = std::move(s);
                                   })));

    kbus::proxy calc(client_conn, kbus::bus_name(service_conn.unique_name()), "/org/kbus/Calc"_path,
                     "org.kbus.Calc1"_iface);
    EXPECT_EQ(calc.call<std::int32_t>("Add"_member, 40, 2), 42);
    try {
      calc.call<std::int32_t>("Fail"_member);
      ADD_FAILURE() << "no error";
    } catch (const kbus::call_error& e) {
      EXPECT_EQ(e.error().name, "org.kbus.Calc1.Error.No");
      EXPECT_EQ(e.error().message, "not today");
    }
    EXPECT_EQ(calc.get_property<std::string>("Label"_member), "start");

    // A signal and a property change, seen through the proxy.
    std::atomic<std::uint32_t> ticks{0};
    auto on_tick = calc.on_signal<std::uint32_t>("Tick"_member, [&](std::uint32_t n) {
      ticks = n;
      seen.notify();
    });
    calc.on_properties_changed([&](const std::vector<std::string>&) { seen.notify(); });
    calc.load_properties();
    calc.set_property("Label"_member, std::string("changed"));
    ASSERT_TRUE(server.emit("/org/kbus/Calc"_path, "org.kbus.Calc1"_iface, "Tick"_member, std::uint32_t{7}));
    seen.wait_until([&] { return ticks == 7 && calc.cached_property<std::string>("Label") == "changed"; });
    EXPECT_EQ(ticks, 7u);
    EXPECT_EQ(calc.cached_property<std::string>("Label"), "changed");

    // A proxy made from the service's own introspection data checks calls before sending.
    auto described = kbus::proxy::introspect(client_conn, kbus::bus_name(service_conn.unique_name()),
                                             "/org/kbus/Calc"_path, "org.kbus.Calc1"_iface);
    EXPECT_EQ(described.call<std::int32_t>("Add"_member, 1, 2), 3);
    EXPECT_THROW(described.call<std::int32_t>("Add"_member, std::string("one"), 2), std::exception);
  }
  service_conn.close();
  client_conn.close();
}

INSTANTIATE_TEST_SUITE_P(Buses, ObjectsOnEveryBus,
                         testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse,
                                         bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
