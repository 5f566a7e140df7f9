#include "transport/socket/keyring.hpp"

#include "platform/random_bytes.hpp"
#include "platform/sha1.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

namespace kbus::detail {
namespace {

struct cookie {
  std::uint64_t id;
  std::int64_t created;  // seconds since the epoch
  std::string value;     // hex
};

error keyring_error(const std::string& what) { return error(errc::auth_failed, "keyring: " + what); }

// The spec's context names cannot leave the directory or break the line format.
bool valid_context(std::string_view c) { return sasl::valid_cookie_context(c); }

std::vector<cookie> read_cookies(const std::filesystem::path& file) {
  std::vector<cookie> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    cookie c;
    if (fields >> c.id >> c.created >> c.value && !c.value.empty() && sasl::hex_decode(c.value)) out.push_back(c);
  }
  return out;
}

// An exclusive lock file beside the keyring, as libdbus takes it.
class lock_file {
 public:
  explicit lock_file(std::filesystem::path p) : path_(std::move(p)) {}
  bool acquire() {
    for (int attempt = 0; attempt < keyring_lock_attempts; ++attempt) {
      const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::close(fd);
        held_ = true;
        return true;
      }
      if (errno != EEXIST) return false;
      struct stat st {};
      if (::stat(path_.c_str(), &st) == 0 &&
          std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime) > keyring_stale_lock_age)
        ::unlink(path_.c_str());
      std::this_thread::sleep_for(keyring_lock_retry);
    }
    return false;
  }
  ~lock_file() {
    if (held_) ::unlink(path_.c_str());
  }

 private:
  std::filesystem::path path_;
  bool held_ = false;
};

}  // namespace

file_keyring::file_keyring(std::filesystem::path home, std::function<std::chrono::system_clock::time_point()> now)
    : home_(std::move(home)), now_(std::move(now)) {}

result<std::filesystem::path> file_keyring::directory(bool create) const {
  const auto dir = home_ / ".dbus-keyrings";
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (!create || errno != ENOENT) return keyring_error(dir.string() + ": " + std::strerror(errno));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return keyring_error(dir.string() + ": " + std::strerror(errno));
    if (::lstat(dir.c_str(), &st) != 0) return keyring_error(dir.string() + ": " + std::strerror(errno));
  }
  // The spec: the directory must not be readable or writable by anyone but its owner.
  if (!S_ISDIR(st.st_mode)) return keyring_error(dir.string() + " is not a directory");
  if (st.st_uid != ::geteuid()) return keyring_error(dir.string() + " belongs to another user");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    return keyring_error(dir.string() + " is accessible by group or others (mode " +
                         std::to_string(st.st_mode & 0777) + " decimal); refusing to use it");
  return dir;
}

result<std::pair<std::string, std::string>> file_keyring::server_cookie(std::string_view context) {
  if (!valid_context(context)) return keyring_error("invalid context \"" + std::string(context) + "\"");
  auto dir = directory(true);
  if (!dir) return dir.error();
  const auto file = *dir / std::string(context);
  lock_file lock(*dir / (std::string(context) + ".lock"));
  if (!lock.acquire()) return keyring_error("cannot lock " + file.string());

  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
  std::vector<cookie> kept;
  for (const auto& c : read_cookies(file)) {
    if (c.created > now + cookie_max_future.count()) continue;
    if (now - c.created > cookie_expire_age.count()) continue;
    kept.push_back(c);
  }
  const cookie* fresh = nullptr;
  for (const auto& c : kept)
    if (now - c.created < cookie_renew_age.count() && (!fresh || c.created > fresh->created)) fresh = &c;
  if (fresh) return std::pair<std::string, std::string>{std::to_string(fresh->id), fresh->value};

  std::uint64_t id = 0;
  for (const auto& c : kept) id = std::max(id, c.id);
  auto secret = random_bytes(cookie_bytes);
  if (!secret) return secret.error();
  kept.push_back({id + 1, now, sasl::hex_encode(*secret)});
  // Written beside and renamed over, so readers never see half a file.
  const auto tmp = *dir / (std::string(context) + ".tmp");
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return keyring_error(tmp.string() + ": " + std::strerror(errno));
    std::string text;
    for (const auto& c : kept) text += std::to_string(c.id) + " " + std::to_string(c.created) + " " + c.value + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) return keyring_error("cannot write " + tmp.string());
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) return keyring_error(file.string() + ": " + std::strerror(errno));
  return std::pair<std::string, std::string>{std::to_string(kept.back().id), kept.back().value};
}

result<std::string> file_keyring::find_cookie(std::string_view context, std::string_view id) {
  if (!valid_context(context)) return keyring_error("invalid context \"" + std::string(context) + "\"");
  auto dir = directory(false);
  if (!dir) return dir.error();
  for (const auto& c : read_cookies(*dir / std::string(context)))
    if (std::to_string(c.id) == id) return c.value;
  return keyring_error("no cookie " + std::string(id) + " in context " + std::string(context));
}

std::string file_keyring::random_hex(std::size_t bytes) {
  auto raw = random_bytes(bytes);
  // A guessable challenge would undo the mechanism: better no authentication than a weak one.
  if (!raw) throw std::system_error(make_error_code(errc::auth_failed), raw.error().message);
  return sasl::hex_encode(*raw);
}

std::string file_keyring::sha1_hex(std::string_view data) { return sasl::hex_encode(sha1_digest(data)); }

}  // namespace kbus::detail
