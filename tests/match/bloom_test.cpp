// Bloom filters against the vectors of the kdbus notes (§2.9, computed with sd-bus's code and
// cross-checked with an independent SipHash), SipHash against its reference vectors, and the
// property that matters: a rule's mask is contained in the filter of every message it matches.
#include "match/bloom.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using kbus::detail::bloom_filter;
using kbus::detail::bloom_parameters;

std::set<std::size_t> bits_of(const bloom_filter& f) {
  std::set<std::size_t> out;
  for (std::size_t b = 0; b < f.parameters().size * 8; ++b)
    if (f.test_bit(b)) out.insert(b);
  return out;
}

std::set<std::size_t> bits_for(std::string_view s, std::size_t size, std::size_t hashes) {
  bloom_filter f(bloom_parameters{size, hashes});
  f.add("", s);
  return bits_of(f);
}

TEST(Bloom, SipHashReferenceVectors) {
  // The SipHash paper's key 00 01 .. 0f: the empty message, and 15 bytes 00..0e.
  std::array<std::uint8_t, 16> key{};
  for (int i = 0; i < 16; ++i) key[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(kbus::detail::siphash24("", key), 0x726fdb47dd0e0e31ull);
  std::string fifteen;
  for (int i = 0; i < 15; ++i) fifteen += static_cast<char>(i);
  EXPECT_EQ(kbus::detail::siphash24(fifteen, key), 0xa129ca6149be45e5ull);
}

TEST(Bloom, SdBusVectors) {
  using S = std::set<std::size_t>;
  EXPECT_EQ(bits_for("interface:org.freedesktop.DBus", 64, 8), (S{419, 384, 90, 1, 317, 249, 417, 474}));
  EXPECT_EQ(bits_for("member:NameOwnerChanged", 64, 8), (S{289, 108, 414, 301, 234, 125, 244, 433}));
  EXPECT_EQ(bits_for("message-type:signal", 64, 8), (S{388, 108, 102, 383, 132, 138, 312, 309}));
  EXPECT_EQ(bits_for("path:/org/freedesktop/DBus", 64, 8), (S{281, 246, 377, 301, 215, 27, 143, 494}));
  EXPECT_EQ(bits_for("arg0:foo", 64, 1), (S{436}));
  EXPECT_EQ(bits_for("arg0:foo", 8, 1), (S{13}));
}

TEST(Bloom, Parameters) {
  EXPECT_TRUE((bloom_parameters{64, 8}.check()));
  EXPECT_TRUE((bloom_parameters{8, 1}.check()));
  EXPECT_FALSE((bloom_parameters{24, 1}.check()));   // 192 bits: not a power of two
  EXPECT_FALSE((bloom_parameters{12, 1}.check()));   // not a multiple of 8
  EXPECT_FALSE((bloom_parameters{64, 33}.check()));  // 2 bytes x 33 > 64 hash bytes
  EXPECT_TRUE((bloom_parameters{8192, 21}.check()));  // 16 bits need 2 bytes: 42 <= 64
}

TEST(Bloom, MaskOfAMatchingRuleIsInTheFilter) {
  auto m = kbus::message_builder::signal(kbus::object_path("/org/example/Obj/child"),
                                         kbus::interface_name("org.example.Iface"), kbus::member_name("Changed"))
               .build(std::string("org.example.Thing"), kbus::object_path("/a/b"), std::vector<std::string>{"x", "y"});
  for (const bloom_parameters& p : {bloom_parameters{64, 8}, bloom_parameters{8, 1}, bloom_parameters{256, 4}}) {
    const auto filter = kbus::detail::bloom_for_message(m, p);
    for (const char* text :
         {"type='signal'", "interface='org.example.Iface',member='Changed'", "path='/org/example/Obj/child'",
          "path_namespace='/org/example'", "path_namespace='/'", "arg0='org.example.Thing'", "arg0namespace='org.example'",
          "arg1path='/a/'", ""}) {
      auto rule = kbus::match_rule::parse(text).value();
      ASSERT_TRUE(rule.matches(m)) << text;
      EXPECT_TRUE(filter.contains_all(kbus::detail::bloom_mask_for_rule(rule, p))) << text << " size " << p.size;
    }
  }
  // And a rule that does not match is, with the default size, filtered out.
  const auto filter = kbus::detail::bloom_for_message(m, {});
  auto other = kbus::match_rule::parse("member='SomethingElse'").value();
  EXPECT_FALSE(filter.contains_all(kbus::detail::bloom_mask_for_rule(other, {})));
}

}  // namespace
