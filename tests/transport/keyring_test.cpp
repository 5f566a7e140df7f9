// The DBUS_COOKIE_SHA1 keyring on a real file system, and a whole cookie exchange through it.
#include "transport/keyring.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace {

namespace fs = std::filesystem;

struct temp_home {
  fs::path path;
  temp_home() {
    char tmpl[] = "/tmp/kbus-keyring-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_home() { fs::remove_all(path); }
};

TEST(Keyring, Sha1IsSha1) {
  kbus::detail::file_keyring k("/nonexistent");
  // FIPS 180 test vector.
  EXPECT_EQ(k.sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(k.random_hex(16).size(), 32u);
  EXPECT_NE(k.random_hex(16), k.random_hex(16));
}

TEST(Keyring, CreatesFindsRenewsAndExpires) {
  temp_home home;
  auto now = std::chrono::system_clock::now();
  kbus::detail::file_keyring k(home.path, [&] { return now; });
  auto first = k.server_cookie("org_freedesktop_general");
  ASSERT_TRUE(first) << first.error().what();
  struct stat st {};
  ASSERT_EQ(::stat((home.path / ".dbus-keyrings").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(k.find_cookie("org_freedesktop_general", first->first).value(), first->second);
  // Within five minutes the same cookie is used again.
  now += std::chrono::minutes(4);
  EXPECT_EQ(k.server_cookie("org_freedesktop_general").value(), *first);
  // After five minutes a new one is made; the old one is still there for clients.
  now += std::chrono::minutes(2);
  auto second = k.server_cookie("org_freedesktop_general").value();
  EXPECT_NE(second.first, first->first);
  EXPECT_TRUE(k.find_cookie("org_freedesktop_general", first->first));
  // After seven minutes the old one is dropped when the file is next written.
  now += std::chrono::minutes(6);
  auto third = k.server_cookie("org_freedesktop_general").value();
  EXPECT_FALSE(k.find_cookie("org_freedesktop_general", first->first));
  EXPECT_NE(third.first, second.first);
}

TEST(Keyring, RefusesADirectoryOthersCanRead) {
  temp_home home;
  fs::create_directory(home.path / ".dbus-keyrings");
  ::chmod((home.path / ".dbus-keyrings").c_str(), 0755);
  kbus::detail::file_keyring k(home.path);
  auto c = k.server_cookie("org_freedesktop_general");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("accessible by group or others"), std::string::npos);
  EXPECT_FALSE(k.find_cookie("org_freedesktop_general", "1"));
}

TEST(Keyring, RefusesContextsThatEscape) {
  temp_home home;
  kbus::detail::file_keyring k(home.path);
  EXPECT_FALSE(k.server_cookie("../etc"));
  EXPECT_FALSE(k.server_cookie(".hidden"));
  EXPECT_FALSE(k.server_cookie("a b"));
}

TEST(Keyring, CookieSha1ExchangeThroughTheRealKeyring) {
  temp_home home;
  kbus::detail::file_keyring keys(home.path);
  kbus::sasl::server::options so;
  so.guid = "00112233445566778899aabbccddeeff";
  so.mechanisms = {kbus::sasl::mechanism::dbus_cookie_sha1};
  so.cookies = &keys;
  so.peer_uid = 1000;
  kbus::sasl::server srv(so);
  kbus::sasl::client::options co;
  co.mechanisms = {kbus::sasl::mechanism::dbus_cookie_sha1};
  co.cookie_identity = "1000";
  co.cookies = &keys;
  kbus::sasl::client cli(co);
  std::string to_server, to_client;
  cli.start(to_server);
  auto ss = kbus::sasl::status::in_progress, cs = kbus::sasl::status::in_progress;
  for (int i = 0; i < 10 && cs != kbus::sasl::status::authenticated; ++i) {
    ss = srv.feed(std::exchange(to_server, {}), to_client);
    cs = cli.feed(std::exchange(to_client, {}), to_server);
  }
  ss = srv.feed(std::exchange(to_server, {}), to_client);
  EXPECT_EQ(cs, kbus::sasl::status::authenticated);
  EXPECT_EQ(ss, kbus::sasl::status::authenticated);
  EXPECT_EQ(srv.authenticated_uid(), 1000u);
}

}  // namespace
