// SHA-1, for DBUS_COOKIE_SHA1 (the spec fixes the hash; it proves that the client can read a
// cookie, nothing more). OpenSSL where the build finds it, CommonCrypto on Apple, and else
// Boost.UUID's header-only SHA-1 (musl builds, where no OpenSSL is built for the target).
#pragma once

#include <string>
#include <string_view>

namespace kbus::detail {

enum class sha1_implementation { openssl, commoncrypto, boost };

// The implementation this build chose (cmake/platform.cmake).
sha1_implementation chosen_sha1() noexcept;

// The 20-byte digest of `data` through the chosen implementation; throws std::system_error if
// the library fails (OpenSSL can, when a FIPS policy forbids SHA-1).
std::string sha1_digest(std::string_view data);

// Through Boost.UUID, which every build has: the fallback, tested beside the chosen one.
std::string sha1_digest_boost(std::string_view data);

}  // namespace kbus::detail
