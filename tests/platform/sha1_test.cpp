// SHA-1 for DBUS_COOKIE_SHA1: the implementation this build chose, and Boost.UUID's (the
// fallback where there is no OpenSSL, as on musl), against FIPS 180 test vectors.
#include "kbus_config.hpp"
#include "platform/sha1.hpp"
#include "wire/sasl.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string hex(const std::string& raw) { return kbus::sasl::hex_encode(raw); }

void expect_vectors(std::string (*sha1)(std::string_view)) {
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex(sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, TheChosenImplementationGivesTheStandardDigests) { expect_vectors(&kbus::detail::sha1_digest); }

TEST(Sha1, BoostUuidsSha1GivesTheStandardDigests) { expect_vectors(&kbus::detail::sha1_digest_boost); }

TEST(Sha1, TheBuildChoseWhatItFound) {
  using kbus::detail::sha1_implementation;
  const auto chosen = kbus::detail::chosen_sha1();
  EXPECT_EQ(chosen == sha1_implementation::openssl, KBUS_SHA1_OPENSSL != 0);
  EXPECT_EQ(chosen == sha1_implementation::commoncrypto, KBUS_SHA1_COMMONCRYPTO != 0);
  EXPECT_EQ(chosen == sha1_implementation::boost, KBUS_SHA1_BOOST != 0);
}

}  // namespace
