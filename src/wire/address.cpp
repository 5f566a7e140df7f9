#include "kbus/address.hpp"

#include <charconv>
#include <initializer_list>

namespace kbus {
namespace {

// The spec's "Server Addresses": guid= is the server's 128-bit UUID in hex.
constexpr std::size_t guid_hex_digits = 32;
// TCP ports are 16-bit (RFC 793); the spec's tcp: port= is one of them, 0 meaning "any".
constexpr unsigned max_tcp_port = 65535;

// The spec's optionally-escaped bytes: everything else must be %-escaped.
bool is_optionally_escaped(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
         c == '/' || c == '.' || c == '\\' || c == '*';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

error bad(std::size_t entry, const std::string& what) {
  return error(errc::invalid_address, "entry " + std::to_string(entry) + ": " + what);
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> set) {
  for (auto s : set)
    if (v == s) return true;
  return false;
}

}  // namespace

std::string escape_address_value(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (is_optionally_escaped(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

result<std::string> unescape_address_value(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c == '%') {
      const int hi = i + 1 < escaped.size() ? hex_value(escaped[i + 1]) : -1;
      const int lo = i + 2 < escaped.size() ? hex_value(escaped[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return error(errc::invalid_address, "'%' at offset " + std::to_string(i) + " is not followed by two hex digits");
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (is_optionally_escaped(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      return error(errc::invalid_address,
                   "byte " + std::to_string(static_cast<unsigned char>(c)) + " at offset " + std::to_string(i) +
                       " must be %-escaped");
    }
  }
  return out;
}

std::optional<std::string_view> address_entry::get(std::string_view key) const noexcept {
  for (const auto& [k, v] : options)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::string address_entry::to_string() const {
  std::string out = transport + ":";
  bool first = true;
  for (const auto& [k, v] : options) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += '=';
    out += escape_address_value(v);
  }
  return out;
}

result<std::vector<address_entry>> parse_address_list(std::string_view text) {
  if (text.empty()) return error(errc::invalid_address, "empty address");
  std::vector<address_entry> entries;
  std::size_t start = 0;
  std::size_t index = 0;
  while (start < text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view entry = text.substr(start, end - start);
    // A trailing ';' ends the list (dbus-daemon accepts it); an empty entry elsewhere is an error.
    if (entry.empty()) return bad(index, "empty entry");
    const std::size_t colon = entry.find(':');
    if (colon == std::string_view::npos) return bad(index, "\"" + std::string(entry) + "\" has no ':' after the transport name");
    address_entry e;
    e.transport.assign(entry.substr(0, colon));
    std::string_view rest = entry.substr(colon + 1);
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      const std::string_view pair = rest.substr(0, comma);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) return bad(index, "\"" + std::string(pair) + "\" is not key=value");
      const std::string_view key = pair.substr(0, eq);
      const std::string_view raw = pair.substr(eq + 1);
      if (key.empty()) return bad(index, "a key is empty");
      if (raw.empty()) return bad(index, "key \"" + std::string(key) + "\" has an empty value");
      auto value = unescape_address_value(raw);
      if (!value) return bad(index, "value of key \"" + std::string(key) + "\": " + value.error().message);
      e.options.emplace_back(std::string(key), std::move(*value));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
      if (rest.empty()) return bad(index, "ends with ','");
    }
    entries.push_back(std::move(e));
    ++index;
    start = end + 1;
  }
  return entries;
}

result<void> address_entry::check() const {
  auto fail = [&](const std::string& what) -> result<void> {
    return error(errc::invalid_address, transport + ": " + what);
  };
  auto key_fail = [&](std::string_view key, const std::string& what) -> result<void> {
    return fail("key \"" + std::string(key) + "\": " + what);
  };
  auto allowed = [&](std::initializer_list<std::string_view> keys) -> result<void> {
    for (const auto& [k, v] : options)
      if (!one_of(k, keys)) return key_fail(k, "unknown to this transport");
    return {};
  };
  auto count = [&](std::string_view key) {
    std::size_t n = 0;
    for (const auto& [k, v] : options) n += k == key;
    return n;
  };
  for (const auto& [k, v] : options)
    if (count(k) > 1) return key_fail(k, "given more than once");
  auto guid_ok = [&]() -> result<void> {
    if (auto guid = get("guid")) {
      // The spec's "Server Addresses": the server's UUID, 16 bytes as 32 hex digits.
      bool hex = guid->size() == guid_hex_digits;
      for (char c : *guid) hex = hex && hex_value(c) >= 0;
      if (!hex) return key_fail("guid", "\"" + std::string(*guid) + "\" is not 32 hex digits");
    }
    return {};
  };
  auto port_ok = [&]() -> result<void> {
    if (auto port = get("port")) {
      unsigned p = 0;
      auto [ptr, ec] = std::from_chars(port->data(), port->data() + port->size(), p);
      if (ec != std::errc{} || ptr != port->data() + port->size() || p > max_tcp_port)
        return key_fail("port", "\"" + std::string(*port) + "\" is not a number in 0..65535");
    }
    if (auto family = get("family"); family && !one_of(*family, {"ipv4", "ipv6"}))
      return key_fail("family", "\"" + std::string(*family) + "\" is not ipv4 or ipv6");
    return {};
  };
  auto required = [&](std::string_view key) -> result<void> {
    if (!get(key)) return key_fail(key, "missing; this transport needs it");
    return {};
  };

  // Per transport, the keys of the spec's "Transports" section, in order of the checks.
  result<void> r;
  if (transport == transport_names::unix_socket) {
    r = allowed({"path", "abstract", "dir", "tmpdir", "runtime", "guid"});
    if (!r) return r;
    const std::size_t kinds = count("path") + count("abstract") + count("dir") + count("tmpdir") + count("runtime");
    if (kinds != 1) return fail("needs exactly one of path, abstract, dir, tmpdir and runtime");
    if (auto rt = get("runtime"); rt && *rt != "yes") return key_fail("runtime", "must be \"yes\"");
  } else if (transport == transport_names::tcp) {
    r = allowed({"host", "bind", "port", "family", "guid"});
    if (r) r = port_ok();
  } else if (transport == transport_names::nonce_tcp) {
    // noncefile is optional: a listening server writes a new one (spec, "Nonce-authenticated TCP").
    r = allowed({"host", "bind", "port", "family", "noncefile", "guid"});
    if (r) r = port_ok();
  } else if (transport == transport_names::unixexec) {
    for (const auto& [k, v] : options) {
      if (one_of(k, {"path", "guid"})) continue;
      unsigned n = 0;
      if (k.rfind("argv", 0) == 0 && k.size() > 4 &&
          std::from_chars(k.data() + 4, k.data() + k.size(), n).ptr == k.data() + k.size())
        continue;
      return key_fail(k, "unknown to this transport (path, argv0, argv1, ... and guid are)");
    }
    r = required("path");
  } else if (transport == transport_names::launchd) {
    r = allowed({"env", "guid"});
    if (r) r = required("env");
  } else if (transport == transport_names::kernel || transport == transport_names::cuse) {
    r = allowed({"path", "guid"});
    if (r) r = required("path");
  } else if (transport == transport_names::autolaunch) {
    r = allowed({"scope", "guid"});
  } else if (transport == transport_names::systemd) {
    // Listening sockets passed by systemd (the spec's "systemd:" transport, no keys).
    r = allowed({"guid"});
  } else {
    return error(errc::unsupported_address, "transport \"" + transport + "\" is not supported");
  }
  if (!r) return r;
  return guid_ok();
}

result<void> check_address_list(const std::vector<address_entry>& entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto r = entries[i].check();
    if (!r && r.error() == errc::invalid_address)
      return error(errc::invalid_address, "entry " + std::to_string(i) + ": " + r.error().message);
  }
  return {};
}

std::string default_system_bus_address(std::optional<std::string_view> env) {
  if (env && !env->empty()) return std::string(*env);
  return "kernel:path=/sys/fs/kdbus/0-system/bus;cuse:path=/dev/kbus/0-system;unix:path=/run/dbus/system_bus_socket";
}

std::string default_session_bus_address(std::optional<std::string_view> env, unsigned uid,
                                        std::optional<std::string_view> xdg_runtime_dir) {
  if (env && !env->empty()) return std::string(*env);
  const std::string id = std::to_string(uid) + "-user";
  std::string out = "kernel:path=/sys/fs/kdbus/" + id + "/bus;cuse:path=/dev/kbus/" + id;
  if (xdg_runtime_dir && !xdg_runtime_dir->empty())
    out += ";unix:path=" + escape_address_value(std::string(*xdg_runtime_dir) + "/bus");
  return out;
}

}  // namespace kbus
