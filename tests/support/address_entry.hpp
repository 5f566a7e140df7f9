// The entry of a one-entry address, for tests that hand a connector its entry directly.
#pragma once

#include "kbus/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kbus::test {

// The test fails, and gets an empty entry, when `text` is not exactly one valid entry.
inline kbus::address_entry entry_of(const std::string& text) {
  auto entries = kbus::parse_address_list(text);
  EXPECT_TRUE(entries && entries->size() == 1) << text;
  return entries && !entries->empty() ? (*entries)[0] : kbus::address_entry{};
}

}  // namespace kbus::test
