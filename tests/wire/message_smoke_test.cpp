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

// SENDER set by a bus: added in place when the message has none (either byte order), replaced
// when it has one; the bytes then parse to the same message with that sender, and the body
// stays where the header says.
TEST(MessageSmoke, SetSenderAddsOrReplacesTheFieldAndKeepsTheBody) {
  for (const auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
    for (const bool had_sender : {false, true}) {
      kbus::message_builder b(kbus::message_type::signal, order);
      b.path("/org/kbus"_path).interface("org.kbus.Iface"_iface).member("Changed"_member);
      if (had_sender) b.sender(":1.999999"_bus);
      auto m = b.build(std::string("body"), std::uint64_t{42});
      m.set_serial(3);
      m.set_sender(":1.7");
      EXPECT_EQ(m.sender(), ":1.7");
      auto [s, n] = m.read<std::string, std::uint64_t>().value();
      EXPECT_EQ(s, "body");
      EXPECT_EQ(n, 42u);
      auto parsed = kbus::message::parse(std::vector<std::byte>(m.bytes().begin(), m.bytes().end()));
      ASSERT_TRUE(parsed) << parsed.error().what();
      EXPECT_EQ(parsed->sender(), ":1.7");
      EXPECT_EQ(parsed->member(), "Changed");
      const auto body = parsed->read<std::string, std::uint64_t>().value();
      EXPECT_EQ(std::get<0>(body), "body");
      EXPECT_EQ(std::get<1>(body), 42u);
    }
  }
}
