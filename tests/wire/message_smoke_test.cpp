#include "kbus/message.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace kbus::literals;

struct point {
  std::int32_t x;
  std::int32_t y;
  std::string label;
};
template <>
struct kbus::codec<point> : kbus::aggregate_codec<point> {};

TEST(MessageSmoke, TypedRoundTrip) {
  static_assert(kbus::signature_of<std::map<std::string, kbus::variant>>().view() == "a{sv}");
  static_assert(kbus::signature_of<point, std::vector<std::tuple<int, std::string, double>>>().view() == "(iis)a(isd)");
  auto m = kbus::message_builder::method_call("org.kbus.Test"_bus, "/org/kbus"_path, "org.kbus.Iface"_iface,
                                              "Do"_member)
               .build(std::int32_t{-5}, std::string("hi"), point{1, 2, "p"},
                      std::map<std::string, kbus::variant>{{"a", kbus::variant(std::uint32_t{7})}});
  m.set_serial(9);
  auto parsed = kbus::message::parse(std::vector<std::byte>(m.bytes().begin(), m.bytes().end()));
  ASSERT_TRUE(parsed) << parsed.error().what();
  EXPECT_EQ(parsed->signature(), "is(iis)a{sv}");
  auto [i, s, p, d] = parsed->read<std::int32_t, std::string, point, std::map<std::string, kbus::variant>>().value();
  EXPECT_EQ(i, -5);
  EXPECT_EQ(s, "hi");
  EXPECT_EQ(p.label, "p");
  EXPECT_EQ(d.at("a").as<std::uint32_t>().value(), 7u);
}

// The spec caps an array at 64 MiB; a receiver must refuse more, so the encoder does not build it.
TEST(MessageSmoke, ArraysOverSixtyFourMiBAreRefusedWhenEncoded) {
  auto signal = [] {
    return kbus::message_builder::signal("/p"_path, "org.kbus.P"_iface, "M"_member);
  };
  std::vector<std::uint8_t> bytes(64u << 20);
  auto at_limit = signal().build(std::span<const std::uint8_t>(bytes));
  at_limit.set_serial(1);
  auto parsed = kbus::message::parse(std::vector<std::byte>(at_limit.bytes().begin(), at_limit.bytes().end()));
  ASSERT_TRUE(parsed) << parsed.error().what();

  bytes.push_back(0);
  try {
    signal().build(std::span<const std::uint8_t>(bytes));
    ADD_FAILURE() << "an array of 64 MiB + 1 byte was encoded";
  } catch (const kbus::exception& e) {
    EXPECT_EQ(e.get(), kbus::errc::array_too_long) << e.what();
  }
  try {
    signal().build(std::vector<std::uint32_t>((16u << 20) + 1));
    ADD_FAILURE() << "an array of 64 MiB + 4 bytes was encoded";
  } catch (const kbus::exception& e) {
    EXPECT_EQ(e.get(), kbus::errc::array_too_long) << e.what();
  }
}
