# What the target system offers where POSIX systems differ (src/platform/: one file per
# concern). Each answer is a define in one generated header, kbus_config.hpp, so the sources ask
# KBUS_HAVE_* instead of guessing from the system's name.
include(CheckCXXSymbolExists)
include(CheckCXXSourceCompiles)
include(CheckIncludeFileCXX)

# Peer credentials of a local socket.
check_cxx_symbol_exists(SO_PEERCRED "sys/socket.h" KBUS_HAVE_SO_PEERCRED)                      # Linux, OpenBSD
check_cxx_symbol_exists(LOCAL_PEERCRED "sys/types.h;sys/socket.h;sys/un.h;sys/ucred.h" KBUS_HAVE_LOCAL_PEERCRED)  # FreeBSD, macOS
check_cxx_symbol_exists(LOCAL_PEERPID "sys/types.h;sys/socket.h;sys/un.h" KBUS_HAVE_LOCAL_PEERPID)  # macOS
check_cxx_symbol_exists(LOCAL_PEEREID "sys/types.h;sys/socket.h;sys/un.h" KBUS_HAVE_LOCAL_PEEREID)  # NetBSD
check_cxx_symbol_exists(getpeereid "sys/types.h;unistd.h" KBUS_HAVE_GETPEEREID)
# FreeBSD's dbus-daemon reads the client's credentials from an SCM_CREDS message on the first
# byte (libdbus dbus-sysdeps-unix.c write_credentials_byte; GLib gcredentialsprivate.h
# G_CREDENTIALS_USE_FREEBSD_CMSGCRED). macOS declares struct cmsgcred too, but its buses read
# LOCAL_PEERCRED and GLib sends nothing there: only FreeBSD and DragonFly send it.
check_cxx_source_compiles("
  #include <sys/types.h>
  #include <sys/socket.h>
  int main() { struct cmsgcred c; (void)c; return SCM_CREDS; }" KBUS_HAVE_CMSGCRED)
if(KBUS_HAVE_CMSGCRED AND NOT APPLE)
  set(KBUS_SEND_SCM_CREDS ON)
else()
  set(KBUS_SEND_SCM_CREDS OFF)
endif()

# Close-on-exec and SIGPIPE.
check_cxx_symbol_exists(SOCK_CLOEXEC "sys/socket.h" KBUS_HAVE_SOCK_CLOEXEC)
check_cxx_symbol_exists(MSG_CMSG_CLOEXEC "sys/socket.h" KBUS_HAVE_MSG_CMSG_CLOEXEC)
check_cxx_symbol_exists(MSG_NOSIGNAL "sys/socket.h" KBUS_HAVE_MSG_NOSIGNAL)
check_cxx_symbol_exists(SO_NOSIGPIPE "sys/socket.h" KBUS_HAVE_SO_NOSIGPIPE)

# Random bytes.
check_cxx_symbol_exists(getrandom "sys/random.h" KBUS_HAVE_GETRANDOM)
check_cxx_symbol_exists(arc4random_buf "stdlib.h" KBUS_HAVE_ARC4RANDOM_BUF)

# SHA-1 for DBUS_COOKIE_SHA1: OpenSSL where found, CommonCrypto on Apple, else Boost.UUID's
# header-only SHA-1 (as on musl, where no OpenSSL is built for the target).
find_package(OpenSSL COMPONENTS Crypto QUIET)
check_include_file_cxx("CommonCrypto/CommonDigest.h" KBUS_HAVE_COMMONCRYPTO)
if(OpenSSL_FOUND AND NOT (APPLE AND KBUS_HAVE_COMMONCRYPTO))
  set(KBUS_SHA1 openssl)
elseif(APPLE AND KBUS_HAVE_COMMONCRYPTO)
  set(KBUS_SHA1 commoncrypto)
else()
  set(KBUS_SHA1 boost)
endif()
set(KBUS_SHA1_OPENSSL OFF)
set(KBUS_SHA1_COMMONCRYPTO OFF)
set(KBUS_SHA1_BOOST OFF)
string(TOUPPER ${KBUS_SHA1} kbus_sha1_upper)
set(KBUS_SHA1_${kbus_sha1_upper} ON)

# The abstract socket namespace is a feature of Linux's kernel, not of a header.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(KBUS_HAVE_ABSTRACT_SOCKETS ON)
else()
  set(KBUS_HAVE_ABSTRACT_SOCKETS OFF)
endif()

# Floating-point std::from_chars: libstdc++ 11+ has it; libc++ (Debian's 14, zig 0.11's 16,
# macOS's) does not.
check_cxx_source_compiles("
  #include <charconv>
  int main() { const char s[] = \"1.5\"; double d = 0; return std::from_chars(s, s + 3, d).ec == std::errc{} ? 0 : 1; }"
  KBUS_HAVE_FLOAT_FROM_CHARS)

message(STATUS "kbus platform: SHA-1 from ${KBUS_SHA1}; transports kdbus=${KBUS_WITH_KDBUS} cuse=${KBUS_WITH_CUSE}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/kbus_config.hpp.in ${PROJECT_BINARY_DIR}/generated/kbus_config.hpp)
