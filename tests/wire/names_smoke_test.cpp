#include "kbus/names.hpp"

#include <gtest/gtest.h>

using namespace kbus::literals;

TEST(Names, LiteralsAndMake) {
  EXPECT_EQ("/org/kbus"_path.str(), "/org/kbus");
  EXPECT_EQ("a{sv}(ii)"_sig.str(), "a{sv}(ii)");
  EXPECT_FALSE(kbus::object_path::make("/a//b"));
  EXPECT_EQ(kbus::object_path::make("/a//b").error(), kbus::errc::invalid_object_path);
  EXPECT_THROW(kbus::signature{"a{vs}"}, kbus::exception);
  EXPECT_TRUE(kbus::bus_name::make(":1.42"));
}
