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
  EXPECT_TRUE((bloom_parameters{24, 1}.check()));     // 192 bits: any multiple of 8 bytes
  EXPECT_TRUE((bloom_parameters{4096, 32}.check()));  // 32768 bits: 2 bytes x 32 = 64
  EXPECT_FALSE((bloom_parameters{4096, 33}.check()));  // 66 hash bytes > 64
  EXPECT_FALSE((bloom_parameters{12, 1}.check()));    // not a multiple of 8
  EXPECT_FALSE((bloom_parameters{0, 1}.check()));
  EXPECT_FALSE((bloom_parameters{4104, 1}.check()));  // above KDBUS_BUS_BLOOM_MAX_SIZE
  EXPECT_FALSE((bloom_parameters{64, 0}.check()));
  EXPECT_FALSE((bloom_parameters{64, 33}.check()));   // 2 bytes x 33 > 64 hash bytes
  EXPECT_TRUE((bloom_parameters{64, 32}.check()));
  EXPECT_TRUE((bloom_parameters{8, 64}.check()));     // 64 bits need 1 byte: 64 x 1
  EXPECT_FALSE((bloom_parameters{8, 65}.check()));
  // Bytes per index: floor(log2(bits)) rounded up to bytes, as sd-bus's u64log2.
  EXPECT_EQ((bloom_parameters{8, 1}.index_bytes()), 1u);    // 64 bits
  EXPECT_EQ((bloom_parameters{32, 1}.index_bytes()), 1u);   // 256 bits: log2 8
  EXPECT_EQ((bloom_parameters{40, 1}.index_bytes()), 1u);   // 320 bits: floor log2 8
  EXPECT_EQ((bloom_parameters{64, 1}.index_bytes()), 2u);   // 512 bits: log2 9
  EXPECT_EQ((bloom_parameters{4096, 1}.index_bytes()), 2u);
  EXPECT_FALSE(bloom_filter::make({12, 1}));
  EXPECT_TRUE(bloom_filter::make({24, 3}));
  // Invalid parameters never reach past the keys: the filter stays empty.
  bloom_filter bad(bloom_parameters{64, 40});
  bad.add("", "x");
  EXPECT_TRUE(bad.none());
  EXPECT_FALSE(bad.test_bit(0));
}

TEST(Bloom, SizesThatAreNotPowersOfTwo) {
  // 24 bytes = 192 bits: one byte per index, index = byte & 191, as sd-bus computed it.
  std::array<std::uint8_t, 16> key0{0xb9, 0x66, 0x0b, 0xf0, 0x46, 0x70, 0x47, 0xc1,
                                    0x88, 0x75, 0xc4, 0x9c, 0x54, 0xb9, 0xbd, 0x15};
  const std::uint64_t h = kbus::detail::siphash24("arg0:foo", key0);
  EXPECT_EQ(bits_for("arg0:foo", 24, 1), (std::set<std::size_t>{static_cast<std::size_t>(h & 0xff & 191)}));
  // The vectors pin the first two bytes of that hash: byte 0 & 63 = 13 (m = 64), and
  // (byte 0 << 8 | byte 1) & 511 = 436 (m = 512).
  EXPECT_EQ(h & 63, 13u);
  EXPECT_EQ(((h & 0xff) << 8 | (h >> 8 & 0xff)) & 511, 436u);
  // 40 bytes = 320 bits: floor(log2 320) = 8, so one byte per index and p & 319 < 64 for p < 256;
  // every bit of any string lands in the first word (a quirk of sd-bus's formula, kept).
  for (const char* s : {"interface:org.freedesktop.DBus", "member:NameOwnerChanged", "path:/", "x"})
    for (auto bit : bits_for(s, 40, 8)) EXPECT_LT(bit, 64u) << s;
  // Every bit stays inside the filter for every valid size.
  for (std::size_t size = 8; size <= 4096; size += 8)
    for (auto bit : bits_for("member:NameOwnerChanged", size, 4)) EXPECT_LT(bit, size * 8) << size;
}

TEST(Bloom, PrefixStrings) {
  // add_prefixes adds exactly what the notes list for "/foo/bar/waldo".
  bloom_filter f(bloom_parameters{4096, 1});
  f.add_prefixes("path-slash-prefix:", "/foo/bar/waldo", '/');
  bloom_filter g(bloom_parameters{4096, 1});
  for (const char* p : {"/foo/bar/waldo", "/foo/bar/", "/foo/bar", "/foo/", "/foo", "/"}) g.add("path-slash-prefix:", p);
  EXPECT_EQ(f.words(), g.words());
  bloom_filter d(bloom_parameters{4096, 1});
  d.add_prefixes("arg0-dot-prefix:", "org.example.X", '.');
  bloom_filter e(bloom_parameters{4096, 1});
  for (const char* p : {"org.example.X", "org.example.", "org.example", "org.", "org"}) e.add("arg0-dot-prefix:", p);
  EXPECT_EQ(d.words(), e.words());
}

TEST(Bloom, FilterOfAMessage) {
  auto m = kbus::message_builder::signal(kbus::object_path("/org/freedesktop/DBus"),
                                         kbus::interface_name("org.freedesktop.DBus"),
                                         kbus::member_name("NameOwnerChanged"))
               .sender(kbus::bus_name("org.freedesktop.DBus"))
               .build(std::string("org.example.Name"), std::int32_t{1}, std::vector<std::string>{"a", "b"},
                      kbus::signature("a{sv}"), kbus::object_path("/x/y"));
  const bloom_parameters p{64, 8};
  bloom_filter want(p);
  want.add("message-type:", "signal");
  want.add("interface:", "org.freedesktop.DBus");
  want.add("member:", "NameOwnerChanged");
  want.add("path:", "/org/freedesktop/DBus");
  for (const char* s : {"/org/freedesktop/DBus", "/org/freedesktop/", "/org/freedesktop", "/org/", "/org", "/"})
    want.add("path-slash-prefix:", s);
  want.add("arg0:", "org.example.Name");
  for (const char* s : {"org.example.Name", "org.example.", "org.example", "org.", "org"}) want.add("arg0-dot-prefix:", s);
  want.add("arg0-slash-prefix:", "org.example.Name");
  want.add("arg2-has:", "a");
  want.add("arg2-has:", "b");
  want.add("arg3:", "a{sv}");
  want.add("arg3-dot-prefix:", "a{sv}");
  want.add("arg3-slash-prefix:", "a{sv}");
  want.add("arg4:", "/x/y");
  want.add("arg4-dot-prefix:", "/x/y");
  for (const char* s : {"/x/y", "/x/", "/x", "/"}) want.add("arg4-slash-prefix:", s);
  const auto got = kbus::detail::bloom_for_message(m, p);
  EXPECT_EQ(got.words(), want.words());
  // The sender's name is not in it: the same message from another sender has the same filter.
  auto other = kbus::message_builder::signal(kbus::object_path("/org/freedesktop/DBus"),
                                             kbus::interface_name("org.freedesktop.DBus"),
                                             kbus::member_name("NameOwnerChanged"))
                   .sender(kbus::bus_name(":1.99"))
                   .build(std::string("org.example.Name"), std::int32_t{1}, std::vector<std::string>{"a", "b"},
                          kbus::signature("a{sv}"), kbus::object_path("/x/y"));
  EXPECT_EQ(kbus::detail::bloom_for_message(other, p).words(), got.words());
}

TEST(Bloom, MaskOfARule) {
  const bloom_parameters p{64, 8};
  auto rule = kbus::match_rule::parse(
                  "type='signal',sender='org.x.Y',interface='org.example.I',member='M',path_namespace='/a',"
                  "destination=':1.4',arg0='x',arg1path='/p/',arg2='z',arg0namespace='org.example'")
                  .value();
  bloom_filter want(p);
  want.add("message-type:", "signal");
  want.add("interface:", "org.example.I");
  want.add("member:", "M");
  want.add("path-slash-prefix:", "/a");
  want.add("arg0:", "x");
  want.add("arg2:", "z");
  want.add("arg0-dot-prefix:", "org.example");
  EXPECT_EQ(kbus::detail::bloom_mask_for_rule(rule, p).words(), want.words());
  // With max_arg = 0 (for v228 sd-bus senders) arg2 stays out of the mask.
  bloom_filter arg0_only(p);
  for (auto [k, v] : {std::pair{"message-type:", "signal"}, {"interface:", "org.example.I"}, {"member:", "M"},
                      {"path-slash-prefix:", "/a"}, {"arg0:", "x"}, {"arg0-dot-prefix:", "org.example"}})
    arg0_only.add(k, v);
  EXPECT_EQ(kbus::detail::bloom_mask_for_rule(rule, p, 0).words(), arg0_only.words());
  // path= uses path:, and a rule with only names, argNpath or eavesdrop sets no bit.
  bloom_filter path_only(p);
  path_only.add("path:", "/a/b");
  EXPECT_EQ(kbus::detail::bloom_mask_for_rule(kbus::match_rule::parse("path='/a/b'").value(), p).words(),
            path_only.words());
  EXPECT_TRUE(kbus::detail::bloom_mask_for_rule(
                  kbus::match_rule::parse("sender=':1.2',destination=':1.3',arg0path='/a/',eavesdrop='true'").value(), p)
                  .none());
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
