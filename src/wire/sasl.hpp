// The D-Bus authentication protocol ("Authentication Protocol" in the spec) as two sans-I/O
// state machines: feed them the bytes received, send the bytes they append to `out`. No
// sockets, no files: DBUS_COOKIE_SHA1's keyring and SHA-1 come through sasl::keyring.
#pragma once

#include "kbus/error.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::sasl {

// The spec sets no limit on a SASL line. libdbus keeps at most 16 KiB of one, and dbus-daemon
// 1.14 drops a connection that sends a 20000-byte line (testdata auth/observed): kbus's
// limit for both sides is those 16 KiB.
inline constexpr std::size_t max_line_length = 16 * 1024;
// libdbus's server (dbus-auth.c, max_failures) disconnects once it has sent its sixth REJECTED;
// the spec leaves the number to the server.
inline constexpr int max_rejections = 6;
// DBUS_COOKIE_SHA1 challenges: libdbus uses 16 random bytes (32 hex digits) on both sides.
inline constexpr std::size_t cookie_challenge_bytes = 16;

// The spec's DBUS_COOKIE_SHA1 context names: ASCII, not empty, none of '/', '\\', ' ', '\n',
// '\r', '\t' and '.' (a context names a file in ~/.dbus-keyrings: a server must not be able to
// point a client at another file).
bool valid_cookie_context(std::string_view context) noexcept;

enum class mechanism { external, dbus_cookie_sha1, anonymous };
std::string_view mechanism_name(mechanism m) noexcept;
std::optional<mechanism> mechanism_from_name(std::string_view name) noexcept;

// What DBUS_COOKIE_SHA1 needs from the outside world (the transport layer implements it
// with ~/.dbus-keyrings, getrandom and OpenSSL).
class keyring {
 public:
  virtual ~keyring() = default;
  // Server: a current cookie of `context` (created if needed): its id and its hex value.
  virtual result<std::pair<std::string, std::string>> server_cookie(std::string_view context) = 0;
  // Client: the cookie `id` of `context` (the machine has checked valid_cookie_context).
  virtual result<std::string> find_cookie(std::string_view context, std::string_view id) = 0;
  // `bytes` random bytes as hex, for challenges.
  virtual std::string random_hex(std::size_t bytes) = 0;
  virtual std::string sha1_hex(std::string_view data) = 0;
};

enum class status {
  in_progress,    // feed more input (after sending what was appended to `out`)
  authenticated,  // done: see leftover() for bytes that belong to the message stream; send
                  // what was appended to `out` (BEGIN) before any message. Bytes fed after
                  // this are appended to leftover(), never lost.
  failed,         // disconnect: see failure()
};

std::string hex_encode(std::string_view raw);
std::optional<std::string> hex_decode(std::string_view hex);

class client {
 public:
  struct options {
    // Tried in order; the server's REJECTED list narrows it.
    std::vector<mechanism> mechanisms{mechanism::external};
    // EXTERNAL's identity: the uid as decimal text. Unset: no initial response (the server
    // uses the credentials it sees), answering its DATA challenge with an empty DATA.
    std::optional<std::uint32_t> uid;
    std::string cookie_identity;  // DBUS_COOKIE_SHA1: the user name or uid as text
    keyring* cookies = nullptr;
    bool negotiate_unix_fd = false;
    // Send AUTH EXTERNAL, NEGOTIATE_UNIX_FD and BEGIN at once, without waiting (sd-bus does).
    // Applies when EXTERNAL is the first mechanism; as BEGIN is already on its way, a REJECTED
    // or an unexpected reply cannot be answered and fails the machine (no fallback).
    bool pipeline = false;
  };

  explicit client(options o);

  // The first bytes to send: the NUL byte and the first AUTH (plus the rest when pipelining).
  void start(std::string& out);
  status feed(std::string_view in, std::string& out);

  const std::string& server_guid() const noexcept { return guid_; }
  bool unix_fd_agreed() const noexcept { return fd_agreed_; }
  // start() sent the whole conversation (BEGIN included): messages may follow at once.
  bool pipelined() const noexcept { return pipelined_; }
  std::string_view leftover() const noexcept { return buffer_; }
  const error& failure() const noexcept { return failure_; }

 private:
  // The spec's client states ("Client states"), plus the wait for AGREE_UNIX_FD.
  enum class state { waiting_for_data, waiting_for_ok, waiting_for_reject, waiting_for_agree, done, failed };
  status handle(std::string_view line, std::string& out);
  status on_ok(std::string_view guid, std::string& out);
  status on_rejected(std::string_view offered, std::string& out);
  status on_data(std::string_view data, std::string& out);
  bool next_mechanism(std::string& out);
  void send_auth(std::string& out);
  status fail(errc code, std::string what);

  options opts_;
  std::vector<mechanism> remaining_;
  std::optional<mechanism> current_;
  state state_ = state::waiting_for_data;
  std::string buffer_;
  std::string guid_;
  std::string cookie_challenge_;
  bool fd_agreed_ = false;
  bool pipelined_ = false;
  error failure_;
};

class server {
 public:
  struct options {
    std::string guid;  // 32 hex digits, sent with OK
    // The peer's uid from the socket (SO_PEERCRED ...); unset when the platform has none.
    std::optional<std::uint32_t> peer_uid;
    std::vector<mechanism> mechanisms{mechanism::external};
    keyring* cookies = nullptr;
    std::string cookie_context = "org_freedesktop_general";
    // DBUS_COOKIE_SHA1 proves that the client can read this process's keyring, so it can only
    // authenticate the uid this server runs as (CVE-2019-12749): unset, every
    // DBUS_COOKIE_SHA1 attempt is rejected.
    std::optional<std::uint32_t> own_uid;
    // Maps a user name (DBUS_COOKIE_SHA1 / EXTERNAL identities that are not numbers) to a uid.
    std::function<std::optional<std::uint32_t>(std::string_view)> resolve_user;
    bool unix_fd_supported = false;
    // Whether the authenticated identity (nullopt: ANONYMOUS) may connect; unset: anyone.
    std::function<bool(std::optional<std::uint32_t>)> authorize;
  };

  explicit server(options o);
  status feed(std::string_view in, std::string& out);

  bool unix_fd_agreed() const noexcept { return fd_agreed_; }
  std::optional<std::uint32_t> authenticated_uid() const noexcept { return uid_; }
  std::string_view leftover() const noexcept { return buffer_; }
  const error& failure() const noexcept { return failure_; }

 private:
  enum class state { waiting_for_nul, waiting_for_auth, waiting_for_data, waiting_for_begin, done, failed };
  status handle(std::string_view line, std::string& out);
  status auth(std::string_view mech, std::optional<std::string_view> response, std::string& out);
  status mechanism_step(std::optional<std::string_view> response, std::string& out);
  status reject(std::string& out);
  status accept(std::optional<std::uint32_t> uid, std::string& out);
  std::optional<std::uint32_t> identity_uid(std::string_view identity) const;
  status fail(errc code, std::string what);

  options opts_;
  state state_ = state::waiting_for_nul;
  std::optional<mechanism> current_;
  std::string buffer_;
  std::string cookie_server_challenge_;
  std::string cookie_value_;
  std::optional<std::uint32_t> pending_uid_;
  std::optional<std::uint32_t> uid_;
  int rejections_ = 0;
  bool fd_agreed_ = false;
  error failure_;
};

}  // namespace kbus::sasl
