// The naming rule of kbus-codegen (docs/codegen.md, "Names").
#include "naming.hpp"

#include <gtest/gtest.h>

namespace {

using kbus::codegen::cpp_identifier;
using kbus::codegen::scope_names;

TEST(CodegenNaming, CamelCaseBecomesSnakeCase) {
  EXPECT_EQ(cpp_identifier("GetAll"), "get_all");
  EXPECT_EQ(cpp_identifier("GetHTTPHeader"), "get_http_header");
  EXPECT_EQ(cpp_identifier("IPv4Address"), "ipv4_address");
  EXPECT_EQ(cpp_identifier("Ipv6Address"), "ipv6_address");
  EXPECT_EQ(cpp_identifier("already_snake"), "already_snake");
  EXPECT_EQ(cpp_identifier("DBus"), "dbus");
}

TEST(CodegenNaming, OtherCharactersBecomeOneUnderscore) {
  EXPECT_EQ(cpp_identifier("num-enroll-stages"), "num_enroll_stages");
  EXPECT_EQ(cpp_identifier("Foo-Bar"), "foo_bar");
  EXPECT_EQ(cpp_identifier("__value__"), "value");  // never a reserved identifier
  EXPECT_EQ(cpp_identifier("a__b"), "a_b");
  EXPECT_EQ(cpp_identifier("3D"), "n3_d");
  EXPECT_EQ(cpp_identifier("3d"), "n3d");
  EXPECT_EQ(cpp_identifier("", "arg2"), "arg2");
  EXPECT_EQ(cpp_identifier("---"), "unnamed");
}

TEST(CodegenNaming, KeywordsAndMacrosGetAnUnderscore) {
  for (const char* k : {"class", "new", "namespace", "default", "int", "co_await", "and", "linux", "major", "minor", "errno"})
    EXPECT_EQ(cpp_identifier(k), std::string(k) + "_");
  EXPECT_EQ(cpp_identifier("Class"), "class_");
  EXPECT_EQ(cpp_identifier("interface"), "interface");  // a macro on Windows only
}

TEST(CodegenNaming, LaterClashesGetANumber) {
  scope_names s({"reserved"});
  EXPECT_EQ(s.claim("state"), "state");
  EXPECT_EQ(s.claim("state"), "state_2");
  EXPECT_EQ(s.claim("reserved"), "reserved_2");
  EXPECT_EQ(s.claim("default_"), "default_");
  EXPECT_EQ(s.claim("default_"), "default_2");  // never "default__2"
  // A name whose derived names clash moves on as a whole.
  auto derive = [](const std::string& b) { return std::vector<std::string>{"async_" + b}; };
  EXPECT_EQ(s.claim("async_run"), "async_run");
  EXPECT_EQ(s.claim("run", derive), "run_2");
}

}  // namespace
