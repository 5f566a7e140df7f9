#include "platform/random_bytes.hpp"

#include "kbus_config.hpp"

#include <fcntl.h>
#include <unistd.h>
#if KBUS_HAVE_GETRANDOM
#include <sys/random.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kbus::detail {

namespace {

error random_error(const std::string& what) { return error(errc::auth_failed, "no random bytes: " + what); }

#if KBUS_HAVE_GETRANDOM
result<std::string> from_getrandom(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return random_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  return raw;
}
#endif

result<std::string> from_urandom(std::size_t bytes) {
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return random_error(std::string("/dev/urandom: ") + std::strerror(errno));
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::read(fd, raw.data() + got, bytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != bytes) return random_error("/dev/urandom gave " + std::to_string(got) + " bytes");
  return raw;
}

}  // namespace

std::vector<random_source> available_random_sources() {
  std::vector<random_source> out;
  if (KBUS_HAVE_GETRANDOM) out.push_back(random_source::getrandom);
  if (KBUS_HAVE_ARC4RANDOM_BUF) out.push_back(random_source::arc4random);
  out.push_back(random_source::urandom);
  return out;
}

result<std::string> random_bytes_from(random_source source, std::size_t bytes) {
  switch (source) {
    case random_source::getrandom:
#if KBUS_HAVE_GETRANDOM
      return from_getrandom(bytes);
#else
      return random_error("getrandom is not built in");
#endif
    case random_source::arc4random: {
#if KBUS_HAVE_ARC4RANDOM_BUF
      // Cannot fail (arc4random(3) on the BSDs, macOS and glibc).
      std::string raw(bytes, '\0');
      ::arc4random_buf(raw.data(), bytes);
      return raw;
#else
      return random_error("arc4random_buf is not built in");
#endif
    }
    case random_source::urandom: return from_urandom(bytes);
  }
  return random_error("unknown source");
}

result<std::string> random_bytes(std::size_t bytes) {
  std::string why;
  for (auto source : available_random_sources()) {
    auto r = random_bytes_from(source, bytes);
    if (r) return r;
    why += (why.empty() ? "" : "; ") + r.error().message;
  }
  return error(errc::auth_failed, why);
}

}  // namespace kbus::detail
