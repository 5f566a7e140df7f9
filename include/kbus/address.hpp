// D-Bus server addresses ("Server Addresses" in the spec): a ';'-separated list of entries
// `transport:key=value,key=value`, values percent-escaped. Parsing checks the syntax as libdbus
// does (a trailing ';' ends the list; an empty list, a leading ';' or ";;" is an error; keys and
// values may not be empty); check() and check_address_list() add what each known transport
// requires. An entry of a transport this library does not know parses, and is skipped as
// unsupported when connecting (errc::unsupported_address from check()), as libdbus skips it.
#pragma once

#include "kbus/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kbus {

// The transports of D-Bus addresses by their scheme, named once: address_entry::transport and
// connection_info::transport hold one of these.
namespace transport_names {
inline constexpr std::string_view unix_socket = "unix";
inline constexpr std::string_view launchd = "launchd";
inline constexpr std::string_view tcp = "tcp";
inline constexpr std::string_view nonce_tcp = "nonce-tcp";
inline constexpr std::string_view unixexec = "unixexec";
inline constexpr std::string_view autolaunch = "autolaunch";
inline constexpr std::string_view systemd = "systemd";
inline constexpr std::string_view kernel = "kernel";  // the kdbus device
inline constexpr std::string_view cuse = "cuse";      // kbusd's CUSE device
}  // namespace transport_names

struct address_entry {
  std::string transport;
  // In the order given, unescaped. A repeated key keeps every occurrence; get() sees the first.
  std::vector<std::pair<std::string, std::string>> options;

  std::optional<std::string_view> get(std::string_view key) const noexcept;
  // The canonical text: keys in their order, values escaped (lowercase hex, as libdbus).
  std::string to_string() const;
  // What the transport requires of its keys (unix: exactly one of path/abstract/dir/tmpdir/
  // runtime; tcp: a port in 0..65535; guid: 32 hex digits; ...). Unknown transports are
  // errc::unsupported_address.
  // Errors name the transport and the key: "tcp: key \"port\": \"x\" is not a number in 0..65535".
  result<void> check() const;

  friend bool operator==(const address_entry&, const address_entry&) = default;
};

result<std::vector<address_entry>> parse_address_list(std::string_view text);

// check() on every entry of a known transport; the first broken one is errc::invalid_address
// with its index: "entry 1: tcp: key \"port\": ...". Entries of unknown transports pass (a
// connection skips them with a reason).
result<void> check_address_list(const std::vector<address_entry>& entries);

// Percent-escaping of the spec: bytes of [-0-9A-Za-z_/.\*] as they are, others as %xx.
std::string escape_address_value(std::string_view raw);
result<std::string> unescape_address_value(std::string_view escaped);

// The spec's and sd-bus's defaults, from the environment values the caller read (the wire
// layer reads no environment). `env` is $DBUS_SYSTEM_BUS_ADDRESS / $DBUS_SESSION_BUS_ADDRESS.
std::string default_system_bus_address(std::optional<std::string_view> env);
std::string default_session_bus_address(std::optional<std::string_view> env, unsigned uid,
                                        std::optional<std::string_view> xdg_runtime_dir);

}  // namespace kbus
