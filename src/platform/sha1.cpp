#include "platform/sha1.hpp"

#include "kbus/error.hpp"
#include "kbus_config.hpp"

#include <boost/uuid/detail/sha1.hpp>

#if KBUS_SHA1_OPENSSL
#include <openssl/evp.h>
#elif KBUS_SHA1_COMMONCRYPTO
#include <CommonCrypto/CommonDigest.h>
#endif

#include <system_error>

namespace kbus::detail {

sha1_implementation chosen_sha1() noexcept {
#if KBUS_SHA1_OPENSSL
  return sha1_implementation::openssl;
#elif KBUS_SHA1_COMMONCRYPTO
  return sha1_implementation::commoncrypto;
#else
  return sha1_implementation::boost;
#endif
}

std::string sha1_digest_boost(std::string_view data) {
  // Boost 1.81's digest is five 32-bit words, most significant byte first.
  boost::uuids::detail::sha1 h;
  h.process_bytes(data.data(), data.size());
  boost::uuids::detail::sha1::digest_type words;
  h.get_digest(words);
  std::string out;
  for (unsigned word : words)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((word >> shift) & 0xff);
  return out;
}

std::string sha1_digest(std::string_view data) {
#if KBUS_SHA1_OPENSSL
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr) != 1 || len == 0)
    throw std::system_error(make_error_code(errc::auth_failed), "OpenSSL cannot compute SHA-1");
  return std::string(reinterpret_cast<const char*>(digest), len);
#elif KBUS_SHA1_COMMONCRYPTO
  // CommonDigest.h (macOS): CC_SHA1 takes a CC_LONG length; the keyring's inputs are short.
  unsigned char digest[CC_SHA1_DIGEST_LENGTH];
  CC_SHA1(data.data(), static_cast<CC_LONG>(data.size()), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
#else
  return sha1_digest_boost(data);
#endif
}

}  // namespace kbus::detail
