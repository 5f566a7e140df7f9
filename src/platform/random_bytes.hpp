// Random bytes for DBUS_COOKIE_SHA1 cookies and challenges and for listening socket names:
// getrandom(2) (Linux 3.17+, FreeBSD 12+), arc4random_buf(3) (the BSDs, macOS, glibc 2.36+),
// /dev/urandom everywhere. A source that fails (an old kernel, a seccomp filter) gives way to
// the next.
#pragma once

#include "kbus/error.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace kbus::detail {

enum class random_source { getrandom, arc4random, urandom };

// The sources this build has, best first (urandom always, last).
std::vector<random_source> available_random_sources();

// `bytes` bytes from the first source that gives them; an error when none does.
result<std::string> random_bytes(std::size_t bytes);

// `bytes` bytes from `source` alone; an error when it fails or is not built in.
result<std::string> random_bytes_from(random_source source, std::size_t bytes);

}  // namespace kbus::detail
