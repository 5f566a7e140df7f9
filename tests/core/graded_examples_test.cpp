// The graded programs of examples/ (README "Examples") run as processes against a private bus
// and do what they say: a first call, signals, properties, coroutines, choosing a transport, a
// peer-to-peer connection and the generated proxy and adaptor.
#include "support/bus_test.hpp"
#include "support/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using kbus::test::bus_kind;
using testing::HasSubstr;

// Programs of their own need a bus another process can reach: the socket buses.
class GradedExamples : public kbus::test::bus_test {
 protected:
  kbus::test::command_result example(const std::string& name, const std::string& args = "") const {
    return kbus::test::run("DBUS_SESSION_BUS_ADDRESS='" + bus_->address() + "' " + std::string(KBUS_BINARY_DIR) +
                           "/examples/" + name + args + " 2>&1");
  }
};

#ifndef KBUS_GRADED_EXAMPLES_BUILT
#define SKIP_UNLESS_BUILT() GTEST_SKIP() << "the examples are not built (KBUS_BUILD_EXAMPLES=OFF)"
#else
#define SKIP_UNLESS_BUILT() (void)0
#endif

TEST_P(GradedExamples, FirstCallListsTheBusAndItself) {
  SKIP_UNLESS_BUILT();
  const auto r = example("first_call");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("org.freedesktop.DBus\n"));
  EXPECT_THAT(r.out, testing::MatchesRegex("(.|\n)*:[0-9.]+  \\(this program\\)(.|\n)*"));
}

TEST_P(GradedExamples, SignalsArriveInOrder) {
  SKIP_UNLESS_BUILT();
  const auto r = example("signals");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "tick 1\ntick 2\ntick 3");
}

TEST_P(GradedExamples, PropertiesAreReadSetAndCached) {
  SKIP_UNLESS_BUILT();
  const auto r = example("properties");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Counter = 7\nLabel = kitchen\nLabel set; the service has hall\ncached Label = hall");
}

TEST_P(GradedExamples, CoroutinesCallAtOnceAndCatchADBusError) {
  SKIP_UNLESS_BUILT();
  const auto r = example("async_coroutines");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, testing::MatchesRegex("bus id 32 hex digits, [0-9]+ names, we own our unique name\n"
                                           "as expected: org.freedesktop.DBus.Error.ServiceUnknown"));
}

TEST_P(GradedExamples, ChoosingATransportSkipsWhatIsNotThere) {
  SKIP_UNLESS_BUILT();
  const auto r = example("choosing_transport", " 'kernel:path=/nonexistent/kdbus/bus;" + bus_->address() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("skipped kernel:path=/nonexistent/kdbus/bus: "));
  EXPECT_THAT(r.out, HasSubstr("connected with the unix transport to "));
  // Nothing usable: it says so and fails.
  const auto none = example("choosing_transport", " 'kernel:path=/nonexistent/kdbus/bus'");
  EXPECT_EQ(none.status, 1) << none.out;
  EXPECT_THAT(none.out, HasSubstr("no entry worked: "));
}

TEST_P(GradedExamples, PeerToPeerNeedsNoBus) {
  SKIP_UNLESS_BUILT();
  const auto r = kbus::test::run(std::string(KBUS_BINARY_DIR) + "/examples/peer_to_peer 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\n2 + 40 = 42"));
}

TEST_P(GradedExamples, GeneratedProxyCallsGeneratedAdaptor) {
  SKIP_UNLESS_BUILT();
  const auto r = example("codegen_greeter");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Hello, Ada (visitor 1)\nBonjour, Grace (visitor 2)\n  Ada\n  Grace");
}

INSTANTIATE_TEST_SUITE_P(Buses, GradedExamples, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
