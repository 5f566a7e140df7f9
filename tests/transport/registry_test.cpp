// The registry from address scheme to connector: every transport built in has its line.
#include "kbus/address.hpp"
#include "transport/kdbus/connector.hpp"
#include "transport/registry.hpp"
#include "transport/socket/connectors.hpp"

#include <gtest/gtest.h>

namespace {

using kbus::detail::find_connector;
namespace names = kbus::transport_names;

TEST(Registry, EverySchemeBuiltInFindsItsConnector) {
  EXPECT_EQ(find_connector(names::unix_socket), &kbus::detail::connect_unix);
  EXPECT_EQ(find_connector(names::launchd), &kbus::detail::connect_launchd);
  EXPECT_EQ(find_connector(names::tcp), &kbus::detail::connect_tcp);
  EXPECT_EQ(find_connector(names::nonce_tcp), &kbus::detail::connect_nonce_tcp);
  EXPECT_EQ(find_connector(names::unixexec), &kbus::detail::connect_unixexec);
  EXPECT_EQ(find_connector(names::kernel), &kbus::detail::kdbus::connect);
}

TEST(Registry, SchemesNotBuiltInFindNothing) {
  EXPECT_EQ(find_connector(names::autolaunch), nullptr);
  EXPECT_EQ(find_connector(names::systemd), nullptr);
  EXPECT_EQ(find_connector("tcp6"), nullptr);
  EXPECT_EQ(find_connector(""), nullptr);
}

}  // namespace
