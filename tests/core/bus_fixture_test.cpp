// The private buses the integration suite runs on, checked with a real peer (busctl).
#include "support/bus_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace {

using kbus::test::bus_kind;

std::string run(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

class BusFixture : public testing::TestWithParam<bus_kind> {};

TEST_P(BusFixture, StartsAndAnswersBusctl) {
  if (auto why = kbus::test::private_bus::why_unavailable(GetParam())) GTEST_SKIP() << *why;
  std::string why;
  auto bus = kbus::test::private_bus::start(GetParam(), why);
  ASSERT_TRUE(bus) << why;
  const std::string out = run("busctl --address=" + bus->address() + " call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId");
  EXPECT_EQ(out.substr(0, 3), "s \"") << out;
}

INSTANTIATE_TEST_SUITE_P(Buses, BusFixture, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return std::string(info.param == bus_kind::dbus_daemon ? "dbus_daemon" : "dbus_broker"); });

}  // namespace
