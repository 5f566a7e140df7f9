// busctl's argument and output syntax, checked against what busctl 252 does with the same input.
#include "busctl_syntax.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using kbus::cli::format_busctl;
using kbus::cli::parse_busctl_args;

std::string round_trip(const std::string& sig, std::vector<std::string> args) {
  auto values = parse_busctl_args(sig, args);
  if (!values) return "error: " + values.error().what();
  return format_busctl(sig, *values);
}

TEST(BusctlSyntax, PrintsAsBusctlDoes) {
  // Each expectation is busctl's own output for the same arguments echoed back.
  EXPECT_EQ(round_trip("a{sv}", {"2", "key1", "s", "hello", "key2", "u", "7"}),
            "a{sv} 2 \"key1\" s \"hello\" \"key2\" u 7");
  EXPECT_EQ(round_trip("v", {"(isd)", "1", "a b", "2.5"}), "v (isd) 1 \"a b\" 2.5");
  EXPECT_EQ(round_trip("v", {"a(ii)", "2", "1", "2", "3", "4"}), "v a(ii) 2 1 2 3 4");
  EXPECT_EQ(round_trip("v", {"aai", "2", "1", "1", "2", "3", "4"}), "v aai 2 1 1 2 3 4");
  EXPECT_EQ(round_trip("v", {"a{sv}", "1", "k", "(ii)", "1", "2"}), "v a{sv} 1 \"k\" (ii) 1 2");
  EXPECT_EQ(round_trip("v", {"a{sa{sv}}", "1", "x", "1", "y", "s", "z"}), "v a{sa{sv}} 1 \"x\" 1 \"y\" s \"z\"");
  EXPECT_EQ(round_trip("v", {"d", "1234567.125"}), "v d 1.23457e+06");
  EXPECT_EQ(round_trip("v", {"d", "1e300"}), "v d 1e+300");
  EXPECT_EQ(round_trip("v", {"b", "yes"}), "v b true");
  EXPECT_EQ(round_trip("v", {"x", "-9223372036854775808"}), "v x -9223372036854775808");
  EXPECT_EQ(round_trip("v", {"t", "18446744073709551615"}), "v t 18446744073709551615");
  EXPECT_EQ(round_trip("v", {"as", "0"}), "v as 0");
  EXPECT_EQ(round_trip("v", {"s", ""}), "v s \"\"");
  EXPECT_EQ(round_trip("v", {"g", "a{sv}"}), "v g \"a{sv}\"");
  EXPECT_EQ(round_trip("v", {"s", "q\"x\\ny"}), "v s \"q\\\"x\\\\ny\"");
  EXPECT_EQ(round_trip("v", {"s", "tab\there \xc3\xa9 \x01"}), "v s \"tab\\there \\303\\251 \\001\"");
  EXPECT_EQ(round_trip("", {}), "");
}

TEST(BusctlSyntax, RejectsWithReasons) {
  EXPECT_NE(round_trip("i", {"12x"}).find("\"12x\" is not a valid signed 32-bit integer"), std::string::npos)
      << round_trip("i", {"12x"});
  EXPECT_NE(round_trip("y", {"256"}).find("unsigned 8-bit"), std::string::npos);
  EXPECT_NE(round_trip("ii", {"1"}).find("too few arguments"), std::string::npos);
  EXPECT_NE(round_trip("i", {"1", "2"}).find("too many arguments"), std::string::npos);
  EXPECT_NE(round_trip("as", {"3", "a"}).find("fewer arguments follow"), std::string::npos);
  EXPECT_NE(round_trip("o", {"/a//b"}).find("empty element"), std::string::npos);
  EXPECT_NE(round_trip("v", {"ii", "1", "2"}).find("more than one complete type"), std::string::npos);
  EXPECT_NE(round_trip("b", {"maybe"}).find("not a boolean"), std::string::npos);
  EXPECT_NE(round_trip("a{vs}", {"0"}).find("basic type"), std::string::npos);
}

TEST(BusctlSyntax, ParsesIntoTypedValues) {
  auto v = parse_busctl_args("a{sv}(yb)", std::vector<std::string>{"1", "k", "u", "0x10", "255", "off"});
  ASSERT_TRUE(v) << v.error().what();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].type(), "a{sv}");
  EXPECT_EQ((*v)[0].items()[0].items()[1].items()[0].as_uint(), 16u);
  EXPECT_EQ((*v)[1].type(), "(yb)");
  EXPECT_EQ((*v)[1].items()[0].as_uint(), 255u);
  EXPECT_FALSE((*v)[1].items()[1].as_bool());
}

}  // namespace
