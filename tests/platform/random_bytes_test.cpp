// Random bytes from each source this build has (getrandom, arc4random_buf, /dev/urandom): the
// fallbacks are exercised here, not only the one that the system prefers.
#include "kbus_config.hpp"
#include "platform/random_bytes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace {

using kbus::detail::random_source;

// 32 bytes twice: the same twice, or all zero, would be a broken source (probability 2^-256).
void expect_random(random_source source) {
  auto a = kbus::detail::random_bytes_from(source, 32);
  auto b = kbus::detail::random_bytes_from(source, 32);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, std::string(32, '\0'));
}

TEST(RandomBytes, EverySourceBuiltInGivesRandomBytes) {
  const auto sources = kbus::detail::available_random_sources();
  ASSERT_FALSE(sources.empty());
  EXPECT_EQ(sources.back(), random_source::urandom);
  for (auto s : sources) expect_random(s);
}

TEST(RandomBytes, DevUrandomServesEverywhere) { expect_random(random_source::urandom); }

TEST(RandomBytes, TheSourcesTheBuildFoundAreTheOnesOffered) {
  const auto sources = kbus::detail::available_random_sources();
  auto has = [&](random_source s) { return std::find(sources.begin(), sources.end(), s) != sources.end(); };
  EXPECT_EQ(has(random_source::getrandom), KBUS_HAVE_GETRANDOM != 0);
  EXPECT_EQ(has(random_source::arc4random), KBUS_HAVE_ARC4RANDOM_BUF != 0);
  if (!KBUS_HAVE_ARC4RANDOM_BUF) {
    auto r = kbus::detail::random_bytes_from(random_source::arc4random, 4);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not built in"), std::string::npos) << r.error().message;
  }
}

TEST(RandomBytes, TheChosenWayGivesTheBytesAskedFor) {
  for (std::size_t n : {0u, 1u, 16u, 300u}) {
    auto r = kbus::detail::random_bytes(n);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->size(), n);
  }
}

}  // namespace
