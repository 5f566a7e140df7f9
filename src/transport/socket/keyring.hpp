// The DBUS_COOKIE_SHA1 keyring of the spec: ~/.dbus-keyrings/<context>, one cookie a line
// ("id creation-time hex-cookie"), readable by its owner only.
#pragma once

#include "wire/sasl.hpp"

#include <chrono>
#include <filesystem>

namespace kbus::detail {

// libdbus's timings (dbus-keyring.c): a server makes a new cookie when the newest is 5 minutes
// old, drops cookies after 7 minutes, and ignores ones dated more than 5 minutes ahead.
inline constexpr std::chrono::seconds cookie_renew_age{5 * 60};
inline constexpr std::chrono::seconds cookie_expire_age{7 * 60};
inline constexpr std::chrono::seconds cookie_max_future{5 * 60};
// A lock file older than this is taken as left behind by a crashed process (the spec: "if the
// lock cannot be obtained after a reasonable time, it may be deleted as stale").
inline constexpr std::chrono::seconds keyring_stale_lock_age{10};
// How long a server waits for another process's lock before giving up: 40 x 25 ms = 1 s.
inline constexpr int keyring_lock_attempts = 40;
inline constexpr std::chrono::milliseconds keyring_lock_retry{25};
// libdbus writes 24 random bytes per cookie (48 hex digits).
inline constexpr std::size_t cookie_bytes = 24;

class file_keyring final : public sasl::keyring {
 public:
  // `home` holds .dbus-keyrings; `now` is a clock for tests.
  explicit file_keyring(std::filesystem::path home,
                        std::function<std::chrono::system_clock::time_point()> now = std::chrono::system_clock::now);

  result<std::pair<std::string, std::string>> server_cookie(std::string_view context) override;
  result<std::string> find_cookie(std::string_view context, std::string_view id) override;
  // From the system (platform/random_bytes.hpp); throws std::system_error if neither gives bytes
  // (a predictable challenge must never be used).
  std::string random_hex(std::size_t bytes) override;
  // SHA-1 (platform/sha1.hpp); throws std::system_error if the library fails.
  std::string sha1_hex(std::string_view data) override;

 private:
  result<std::filesystem::path> directory(bool create) const;

  std::filesystem::path home_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

}  // namespace kbus::detail
