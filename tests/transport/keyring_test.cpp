// The DBUS_COOKIE_SHA1 keyring on a real file system, and a whole cookie exchange through it.
#include "transport/socket/keyring.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

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
  EXPECT_FALSE(k.server_cookie("org.freedesktop"));  // the spec forbids '.' anywhere
  EXPECT_FALSE(k.server_cookie(""));
  EXPECT_FALSE(k.find_cookie("../x", "1"));
  EXPECT_FALSE(fs::exists(home.path / ".dbus-keyrings" / "org.freedesktop"));
}

TEST(Keyring, CookieSha1ExchangeThroughTheRealKeyring) {
  temp_home home;
  kbus::detail::file_keyring keys(home.path);
  kbus::sasl::server::options so;
  so.guid = "00112233445566778899aabbccddeeff";
  so.mechanisms = {kbus::sasl::mechanism::dbus_cookie_sha1};
  so.cookies = &keys;
  so.peer_uid = 1000;
  so.own_uid = 1000;
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

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

std::int64_t seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TEST(Keyring, FileFormatAndMode) {
  temp_home home;
  const auto now = std::chrono::system_clock::now();
  kbus::detail::file_keyring k(home.path, [&] { return now; });
  auto c = k.server_cookie("ctx").value();
  const auto file = home.path / ".dbus-keyrings" / "ctx";
  // "id creation-time hex-cookie\n"
  EXPECT_EQ(read_text(file), c.first + " " + std::to_string(seconds(now)) + " " + c.second + "\n");
  EXPECT_EQ(c.second.size(), 2 * kbus::detail::cookie_bytes);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(home.path / ".dbus-keyrings" / "ctx.lock")) << "the lock is released";
}

TEST(Keyring, DropsFutureExpiredAndMalformedCookies) {
  temp_home home;
  const auto now = std::chrono::system_clock::now();
  const auto t = seconds(now);
  fs::create_directory(home.path / ".dbus-keyrings");
  ::chmod((home.path / ".dbus-keyrings").c_str(), 0700);
  const auto file = home.path / ".dbus-keyrings" / "ctx";
  write_text(file, "1 " + std::to_string(t + 10 * 60) + " aaaa\n" +   // ten minutes ahead: dropped
                       "2 " + std::to_string(t - 8 * 60) + " bbbb\n" +  // eight minutes old: expired
                       "3 " + std::to_string(t - 6 * 60) + " cccc\n" +  // six minutes: kept, not used
                       "garbage line\n" + "4 " + std::to_string(t) + " not-hex\n");
  kbus::detail::file_keyring k(home.path, [&] { return now; });
  // Clients find what is in the file, whatever its age (the server decides about age).
  EXPECT_EQ(k.find_cookie("ctx", "1").value(), "aaaa");
  EXPECT_FALSE(k.find_cookie("ctx", "4"));
  auto c = k.server_cookie("ctx").value();
  EXPECT_EQ(c.first, "4") << "a new id above every id kept";
  EXPECT_FALSE(k.find_cookie("ctx", "1"));
  EXPECT_FALSE(k.find_cookie("ctx", "2"));
  EXPECT_EQ(k.find_cookie("ctx", "3").value(), "cccc");
  EXPECT_EQ(k.find_cookie("ctx", "4").value(), c.second);
  EXPECT_EQ(read_text(file).find("garbage"), std::string::npos);
}

TEST(Keyring, LockFiles) {
  temp_home home;
  kbus::detail::file_keyring k(home.path);
  ASSERT_TRUE(k.server_cookie("ctx"));
  const auto lock = home.path / ".dbus-keyrings" / "ctx.lock";
  // A fresh lock held by someone else: the server waits, then gives up saying why.
  write_text(lock, "");
  const auto before = std::chrono::steady_clock::now();
  auto c = k.server_cookie("ctx");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("cannot lock"), std::string::npos) << c.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - before,
            kbus::detail::keyring_lock_retry * (kbus::detail::keyring_lock_attempts - 1));
  EXPECT_TRUE(fs::exists(lock)) << "someone else's lock is left alone";
  // A lock left behind long ago (a crashed process) is removed.
  fs::last_write_time(lock, fs::file_time_type::clock::now() - std::chrono::minutes(1));
  EXPECT_TRUE(k.server_cookie("ctx"));
  EXPECT_FALSE(fs::exists(lock));
}

TEST(Keyring, RefusesWhatIsNotAPrivateDirectory) {
  {
    temp_home home;
    write_text(home.path / ".dbus-keyrings", "a file");
    kbus::detail::file_keyring k(home.path);
    auto c = k.server_cookie("ctx");
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("is not a directory"), std::string::npos) << c.error().message;
  }
  {
    // A symbolic link to a private directory is refused too (lstat: no redirection).
    temp_home home;
    fs::create_directory(home.path / "elsewhere");
    ::chmod((home.path / "elsewhere").c_str(), 0700);
    fs::create_directory_symlink(home.path / "elsewhere", home.path / ".dbus-keyrings");
    kbus::detail::file_keyring k(home.path);
    EXPECT_FALSE(k.server_cookie("ctx"));
  }
  {
    // Group-writable only is refused as well.
    temp_home home;
    fs::create_directory(home.path / ".dbus-keyrings");
    ::chmod((home.path / ".dbus-keyrings").c_str(), 0720);
    kbus::detail::file_keyring k(home.path);
    EXPECT_FALSE(k.server_cookie("ctx"));
  }
  {
    // A client never creates the directory.
    temp_home home;
    kbus::detail::file_keyring k(home.path);
    EXPECT_FALSE(k.find_cookie("ctx", "1"));
    EXPECT_FALSE(fs::exists(home.path / ".dbus-keyrings"));
  }
}

TEST(Keyring, CookieSha1RefusedForAnotherUser) {
  temp_home home;
  kbus::detail::file_keyring keys(home.path);
  kbus::sasl::server::options so;
  so.guid = "00112233445566778899aabbccddeeff";
  so.mechanisms = {kbus::sasl::mechanism::dbus_cookie_sha1};
  so.cookies = &keys;
  so.own_uid = 1000;  // no peer credentials (TCP): only the cookie speaks
  kbus::sasl::server srv(so);
  std::string out;
  srv.feed(std::string("\0AUTH DBUS_COOKIE_SHA1 ", 23) + kbus::sasl::hex_encode("0") + "\r\n", out);
  EXPECT_EQ(out, "REJECTED DBUS_COOKIE_SHA1\r\n");
  EXPECT_FALSE(fs::exists(home.path / ".dbus-keyrings")) << "no cookie made for a refused identity";
}

}  // namespace
