// cuse: entries in an address list: tried in their place, a missing device skipped with its
// reason, and the connection that comes of one says it is a cuse: connection.
#include "support/bus_test.hpp"

#include "kbus/connection.hpp"

#include <gtest/gtest.h>

namespace {

using kbus::test::bus_kind;

class CuseAddresses : public kbus::test::bus_test {};

TEST_P(CuseAddresses, AMissingDeviceIsSkippedWithItsReasonAndTheNextEntryIsTried) {
  start_io_thread();
  kbus::connection c(io_.get_executor());
  c.connect("cuse:path=/dev/kbus/no-such-bus;" + bus_->address());
  ASSERT_EQ(c.info().skipped.size(), 1u);
  EXPECT_NE(c.info().skipped[0].find("/dev/kbus/no-such-bus"), std::string::npos) << c.info().skipped[0];
  EXPECT_NE(c.info().skipped[0].find("No such file or directory"), std::string::npos) << c.info().skipped[0];
  EXPECT_EQ(c.info().transport, "cuse");
  EXPECT_EQ(c.info().address, bus_->address());
  EXPECT_FALSE(c.info().unix_fd_passing);
}

INSTANTIATE_TEST_SUITE_P(Buses, CuseAddresses, testing::Values(bus_kind::cuse, bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
