// The registry from address scheme to connector: every transport built in has its line.
#include "kbus/address.hpp"
#include "kbus_config.hpp"
#include "transport/registry.hpp"
#include "transport/socket/connectors.hpp"
#if KBUS_WITH_KDBUS
#include "transport/kdbus/connector.hpp"
#endif

#include <gtest/gtest.h>

namespace {

using kbus::detail::find_connector;
namespace schemes = kbus::transport_names;

TEST(Registry, EverySchemeBuiltInFindsItsConnector) {
  EXPECT_EQ(find_connector(schemes::unix_socket), &kbus::detail::connect_unix);
  EXPECT_EQ(find_connector(schemes::launchd), &kbus::detail::connect_launchd);
  EXPECT_EQ(find_connector(schemes::tcp), &kbus::detail::connect_tcp);
  EXPECT_EQ(find_connector(schemes::nonce_tcp), &kbus::detail::connect_nonce_tcp);
  EXPECT_EQ(find_connector(schemes::unixexec), &kbus::detail::connect_unixexec);
#if KBUS_WITH_KDBUS
  EXPECT_EQ(find_connector(schemes::kernel), &kbus::detail::kdbus::connect);
#endif
}

// KBUS_WITH_KDBUS=OFF leaves kernel: out, KBUS_WITH_CUSE=OFF cuse: (the connection then skips
// such an entry as "not built in").
TEST(Registry, TransportsLeftOutAtConfigureTimeFindNothing) {
  if (!KBUS_WITH_KDBUS) {
    EXPECT_EQ(find_connector(schemes::kernel), nullptr);
  }
  if (!KBUS_WITH_CUSE) {
    EXPECT_EQ(find_connector(schemes::cuse), nullptr);
  }
  if (KBUS_WITH_KDBUS && KBUS_WITH_CUSE) GTEST_SKIP() << "every transport is built in";
}

TEST(Registry, SchemesNotBuiltInFindNothing) {
  EXPECT_EQ(find_connector(schemes::autolaunch), nullptr);
  EXPECT_EQ(find_connector(schemes::systemd), nullptr);
  EXPECT_EQ(find_connector("tcp6"), nullptr);
  EXPECT_EQ(find_connector(""), nullptr);
}

}  // namespace
