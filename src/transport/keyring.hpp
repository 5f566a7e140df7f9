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
// A lock file older than this is taken as left behind by a crashed process.
inline constexpr std::chrono::seconds keyring_stale_lock_age{10};

class file_keyring final : public sasl::keyring {
 public:
  // `home` holds .dbus-keyrings; `now` is a clock for tests.
  explicit file_keyring(std::filesystem::path home,
                        std::function<std::chrono::system_clock::time_point()> now = std::chrono::system_clock::now);

  result<std::pair<std::string, std::string>> server_cookie(std::string_view context) override;
  result<std::string> find_cookie(std::string_view context, std::string_view id) override;
  std::string random_hex(std::size_t bytes) override;
  std::string sha1_hex(std::string_view data) override;

 private:
  result<std::filesystem::path> directory(bool create) const;

  std::filesystem::path home_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

}  // namespace kbus::detail
