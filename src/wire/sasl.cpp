#include "wire/sasl.hpp"

#include <algorithm>
#include <charconv>

namespace kbus::sasl {
namespace {

constexpr std::string_view crlf = "\r\n";

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// Splits "COMMAND rest" at the first run of spaces; rest keeps inner spaces.
std::pair<std::string_view, std::string_view> split_command(std::string_view line) {
  const std::size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return {line, {}};
  std::string_view rest = line.substr(sp);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return {line.substr(0, sp), rest};
}

std::optional<std::uint32_t> parse_uid(std::string_view s) {
  std::uint32_t uid = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), uid);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return uid;
}

// Compares two digests in a time that does not depend on where they differ.
bool same_digest(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Takes the next complete "\r\n"-terminated line from `buffer`; false when there is none yet.
bool take_line(std::string& buffer, std::string& line) {
  const std::size_t end = buffer.find(crlf);
  if (end == std::string::npos) return false;
  line.assign(buffer, 0, end);
  buffer.erase(0, end + crlf.size());
  return true;
}

}  // namespace

std::string_view mechanism_name(mechanism m) noexcept {
  switch (m) {
    case mechanism::external: return "EXTERNAL";
    case mechanism::dbus_cookie_sha1: return "DBUS_COOKIE_SHA1";
    case mechanism::anonymous: return "ANONYMOUS";
  }
  return "";
}

std::optional<mechanism> mechanism_from_name(std::string_view name) noexcept {
  for (auto m : {mechanism::external, mechanism::dbus_cookie_sha1, mechanism::anonymous})
    if (mechanism_name(m) == name) return m;
  return std::nullopt;
}

bool valid_cookie_context(std::string_view context) noexcept {
  if (context.empty()) return false;
  for (char c : context) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || u == 0 || c == '/' || c == '\\' || c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '.')
      return false;
  }
  return true;
}

std::string hex_encode(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// ---------------------------------------------------------------- client

client::client(options o) : opts_(std::move(o)), remaining_(opts_.mechanisms) {}

status client::fail(errc code, std::string what) {
  state_ = state::failed;
  failure_ = error(code, std::move(what));
  return status::failed;
}

void client::send_auth(std::string& out) {
  const mechanism m = *current_;
  out += "AUTH ";
  out += mechanism_name(m);
  switch (m) {
    case mechanism::external:
      if (opts_.uid) {
        out += ' ';
        out += hex_encode(std::to_string(*opts_.uid));
      }
      break;
    case mechanism::dbus_cookie_sha1:
      out += ' ';
      out += hex_encode(opts_.cookie_identity);
      break;
    case mechanism::anonymous:
      out += ' ';
      out += hex_encode("kbus");
      break;
  }
  out += crlf;
  state_ = state::waiting_for_data;
}

bool client::next_mechanism(std::string& out) {
  while (!remaining_.empty()) {
    const mechanism m = remaining_.front();
    remaining_.erase(remaining_.begin());
    if (m == mechanism::dbus_cookie_sha1 && !opts_.cookies) continue;
    current_ = m;
    send_auth(out);
    return true;
  }
  return false;
}

void client::start(std::string& out) {
  out += '\0';
  if (!next_mechanism(out)) {
    fail(errc::auth_failed, "no authentication mechanism to try");
    return;
  }
  if (opts_.pipeline && current_ == mechanism::external) {
    // The whole conversation at once: the replies are checked as they come.
    if (!opts_.uid) out += "DATA\r\n";
    if (opts_.negotiate_unix_fd) out += "NEGOTIATE_UNIX_FD\r\n";
    out += "BEGIN\r\n";
    pipelined_ = true;
  }
}

status client::feed(std::string_view in, std::string& out) {
  if (state_ == state::failed) return status::failed;
  buffer_.append(in);
  if (state_ == state::done) return status::authenticated;
  std::string line;
  while (state_ != state::done && state_ != state::failed && take_line(buffer_, line)) {
    if (line.size() > max_line_length)
      return fail(errc::auth_protocol_error, "the server sent a line longer than 16 KiB");
    if (handle(line, out) == status::failed) return status::failed;
  }
  if (state_ == state::done) return status::authenticated;
  if (buffer_.size() > max_line_length)
    return fail(errc::auth_protocol_error, "the server sent a line longer than 16 KiB");
  return status::in_progress;
}

status client::on_ok(std::string_view guid, std::string& out) {
  // As libdbus's client: the GUID must be hex and not empty, or the server is broken. (The
  // spec's GUIDs have 32 digits; libdbus's own scripts send shorter ones, so no length check.)
  if (guid.empty() || !hex_decode(guid))
    return fail(errc::auth_protocol_error, "the server's OK carries \"" + std::string(guid) + "\", not a hex GUID");
  guid_.assign(guid);
  if (opts_.negotiate_unix_fd) {
    if (!pipelined_) out += "NEGOTIATE_UNIX_FD\r\n";
    state_ = state::waiting_for_agree;
  } else {
    if (!pipelined_) out += "BEGIN\r\n";
    state_ = state::done;
  }
  return status::in_progress;
}

status client::on_rejected(std::string_view offered_text, std::string& out) {
  if (pipelined_)
    return fail(errc::auth_failed, "the server rejected " + std::string(mechanism_name(*current_)) + " (it offers: " +
                                       std::string(offered_text) + ")");
  // Keep only what the server offers, in our order.
  std::vector<std::string_view> offered;
  for (std::string_view rest = offered_text; !rest.empty();) {
    auto [word, tail] = split_command(rest);
    if (!word.empty()) offered.push_back(word);
    rest = tail;
  }
  std::erase_if(remaining_, [&](mechanism m) {
    return std::find(offered.begin(), offered.end(), mechanism_name(m)) == offered.end();
  });
  if (!next_mechanism(out))
    return fail(errc::auth_failed,
                "no mechanism left that the server accepts (it offers: " + std::string(offered_text) + ")");
  return status::in_progress;
}

status client::on_data(std::string_view data, std::string& out) {
  if (current_ == mechanism::dbus_cookie_sha1) {
    // The spec's step: the server sent hex("context cookie-id server-challenge").
    auto challenge = hex_decode(data);
    const std::size_t a = challenge ? challenge->find(' ') : std::string::npos;
    const std::size_t b = a == std::string::npos ? a : challenge->find(' ', a + 1);
    if (b == std::string::npos || challenge->find(' ', b + 1) != std::string::npos || b + 1 == challenge->size()) {
      // The mechanism cannot go on: the spec's "REJECT" step, answered with ERROR.
      out += "ERROR \"DBUS_COOKIE_SHA1 challenge is not 'context id challenge' in hex\"\r\n";
      return status::in_progress;
    }
    const std::string context = challenge->substr(0, a);
    const std::string id = challenge->substr(a + 1, b - a - 1);
    const std::string server_challenge = challenge->substr(b + 1);
    if (!valid_cookie_context(context)) {
      out += "ERROR \"DBUS_COOKIE_SHA1 context is not a valid context name\"\r\n";
      return status::in_progress;
    }
    auto cookie = opts_.cookies->find_cookie(context, id);
    if (!cookie) {
      out += "ERROR \"no DBUS_COOKIE_SHA1 cookie of that context and id here\"\r\n";
      return status::in_progress;
    }
    const std::string mine = opts_.cookies->random_hex(cookie_challenge_bytes);
    const std::string digest = opts_.cookies->sha1_hex(server_challenge + ":" + mine + ":" + *cookie);
    out += "DATA " + hex_encode(mine + " " + digest) + "\r\n";
    state_ = state::waiting_for_ok;
    return status::in_progress;
  }
  if (current_ == mechanism::external) {
    // A challenge to EXTERNAL (the server's answer to AUTH EXTERNAL without an initial
    // response): the identity, or an empty DATA for "whoever the credentials say".
    if (!pipelined_) out += opts_.uid ? "DATA " + hex_encode(std::to_string(*opts_.uid)) + "\r\n" : "DATA\r\n";
    state_ = state::waiting_for_ok;
    return status::in_progress;
  }
  // ANONYMOUS has no second step.
  out += "ERROR \"ANONYMOUS takes no challenge\"\r\n";
  return status::in_progress;
}

status client::handle(std::string_view line, std::string& out) {
  auto [command, arg] = split_command(line);
  if (pipelined_) {
    // BEGIN is on its way already: nothing can be said any more, so only the expected
    // replies are acceptable (a line sent now would land in the message stream).
    if (command == "OK" && (state_ == state::waiting_for_data || state_ == state::waiting_for_ok))
      return on_ok(arg, out);
    if (command == "REJECTED" && (state_ == state::waiting_for_data || state_ == state::waiting_for_ok))
      return on_rejected(arg, out);
    if (command == "DATA" && state_ == state::waiting_for_data && arg.empty()) return on_data(arg, out);
    if (command == "AGREE_UNIX_FD" && state_ == state::waiting_for_agree) {
      fd_agreed_ = true;
      state_ = state::done;
      return status::in_progress;
    }
    if (command == "ERROR" && state_ == state::waiting_for_agree) {
      state_ = state::done;  // the server cannot pass fds: go on without
      return status::in_progress;
    }
    return fail(errc::auth_protocol_error, "the server answered \"" + std::string(line).substr(0, 200) +
                                               "\" to a pipelined EXTERNAL authentication");
  }
  switch (state_) {
    case state::waiting_for_data:
      if (command == "DATA") return on_data(arg, out);
      if (command == "OK") return on_ok(arg, out);
      if (command == "REJECTED") return on_rejected(arg, out);
      if (command == "ERROR") {
        out += "CANCEL\r\n";
        state_ = state::waiting_for_reject;
        return status::in_progress;
      }
      break;
    case state::waiting_for_ok:
      if (command == "OK") return on_ok(arg, out);
      if (command == "REJECTED") return on_rejected(arg, out);
      if (command == "DATA" || command == "ERROR") {
        out += "CANCEL\r\n";
        state_ = state::waiting_for_reject;
        return status::in_progress;
      }
      break;
    case state::waiting_for_reject:
      // The spec: after CANCEL only REJECTED may come; anything else ends the conversation.
      if (command == "REJECTED") return on_rejected(arg, out);
      return fail(errc::auth_protocol_error,
                  "the server answered \"" + std::string(line).substr(0, 200) + "\" to CANCEL instead of REJECTED");
    case state::waiting_for_agree:
      if (command == "AGREE_UNIX_FD") {
        fd_agreed_ = true;
        out += "BEGIN\r\n";
        state_ = state::done;
        return status::in_progress;
      }
      if (command == "ERROR") {
        // The server cannot pass fds: go on without.
        out += "BEGIN\r\n";
        state_ = state::done;
        return status::in_progress;
      }
      break;
    case state::done:
    case state::failed:
      break;
  }
  // Anything else: tell the server we did not understand, as the spec asks, and stay.
  out += "ERROR \"Unknown command\"\r\n";
  return status::in_progress;
}

// ---------------------------------------------------------------- server

server::server(options o) : opts_(std::move(o)) {
  if (!opts_.cookies) std::erase(opts_.mechanisms, mechanism::dbus_cookie_sha1);
}

status server::fail(errc code, std::string what) {
  state_ = state::failed;
  failure_ = error(code, std::move(what));
  return status::failed;
}

status server::feed(std::string_view in, std::string& out) {
  if (state_ == state::failed) return status::failed;
  buffer_.append(in);
  if (state_ == state::done) return status::authenticated;
  if (state_ == state::waiting_for_nul) {
    if (buffer_.empty()) return status::in_progress;
    if (buffer_[0] != '\0') return fail(errc::auth_protocol_error, "the client did not start with a NUL byte");
    buffer_.erase(0, 1);
    state_ = state::waiting_for_auth;
  }
  std::string line;
  while (state_ != state::done && state_ != state::failed && take_line(buffer_, line)) {
    if (line.size() > max_line_length) return fail(errc::auth_protocol_error, "client sent a line longer than 16 KiB");
    if (handle(line, out) == status::failed) return status::failed;
  }
  if (state_ == state::failed) return status::failed;
  if (state_ == state::done) return status::authenticated;
  if (buffer_.size() > max_line_length) return fail(errc::auth_protocol_error, "client sent a line longer than 16 KiB");
  return status::in_progress;
}

status server::reject(std::string& out) {
  out += "REJECTED";
  for (auto m : opts_.mechanisms) {
    out += ' ';
    out += mechanism_name(m);
  }
  out += crlf;
  current_.reset();
  pending_uid_.reset();
  state_ = state::waiting_for_auth;
  if (++rejections_ >= max_rejections)
    return fail(errc::auth_failed, "the client failed to authenticate " + std::to_string(rejections_) + " times");
  return status::in_progress;
}

status server::accept(std::optional<std::uint32_t> uid, std::string& out) {
  // A proven identity that may not connect is rejected like a failed proof: the client may
  // try another mechanism, and never hears OK.
  if (opts_.authorize && !opts_.authorize(uid)) return reject(out);
  pending_uid_ = uid;
  out += "OK " + opts_.guid + "\r\n";
  state_ = state::waiting_for_begin;
  return status::in_progress;
}

std::optional<std::uint32_t> server::identity_uid(std::string_view identity) const {
  if (auto uid = parse_uid(identity)) return uid;
  if (opts_.resolve_user) return opts_.resolve_user(identity);
  return std::nullopt;
}

status server::auth(std::string_view mech, std::optional<std::string_view> response, std::string& out) {
  auto m = mechanism_from_name(mech);
  if (!m || std::find(opts_.mechanisms.begin(), opts_.mechanisms.end(), *m) == opts_.mechanisms.end())
    return reject(out);
  current_ = m;
  if (!response) {
    // No initial response: an empty challenge, the answer comes as DATA.
    out += "DATA\r\n";
    state_ = state::waiting_for_data;
    return status::in_progress;
  }
  return mechanism_step(response, out);
}

status server::mechanism_step(std::optional<std::string_view> response, std::string& out) {
  // Odd-length or non-hex data is "Invalid hex encoding" (dbus-daemon 1.14 lets an odd
  // length through; the spec's hex encoding has none).
  auto data = hex_decode(response.value_or(""));
  if (!data) {
    out += "ERROR \"Invalid hex encoding\"\r\n";
    return status::in_progress;
  }
  switch (*current_) {
    case mechanism::external: {
      // An empty identity means "whoever the credentials say"; a given one must be that
      // same uid, in decimal.
      if (!opts_.peer_uid) return reject(out);
      if (data->empty()) return accept(*opts_.peer_uid, out);
      auto uid = parse_uid(*data);
      if (!uid || *uid != *opts_.peer_uid) return reject(out);
      return accept(*uid, out);
    }
    case mechanism::anonymous:
      // The trace string is informational; the peer stays anonymous: no credentials.
      return accept(std::nullopt, out);
    case mechanism::dbus_cookie_sha1: {
      if (cookie_server_challenge_.empty()) {
        auto uid = identity_uid(*data);
        // Only this server's own user (CVE-2019-12749), and only if the socket agrees.
        if (!uid || !opts_.own_uid || *uid != *opts_.own_uid || (opts_.peer_uid && *uid != *opts_.peer_uid))
          return reject(out);
        auto cookie = opts_.cookies->server_cookie(opts_.cookie_context);
        if (!cookie) return reject(out);
        pending_uid_ = uid;
        cookie_value_ = cookie->second;
        cookie_server_challenge_ = opts_.cookies->random_hex(cookie_challenge_bytes);
        out += "DATA " + hex_encode(opts_.cookie_context + " " + cookie->first + " " + cookie_server_challenge_) + "\r\n";
        state_ = state::waiting_for_data;
        return status::in_progress;
      }
      // "client-challenge sha1(server-challenge:client-challenge:cookie)"
      const std::size_t sp = data->find(' ');
      const std::string expected =
          sp == std::string::npos
              ? std::string()
              : opts_.cookies->sha1_hex(cookie_server_challenge_ + ":" + data->substr(0, sp) + ":" + cookie_value_);
      const std::uint32_t uid = pending_uid_.value_or(0);
      cookie_server_challenge_.clear();
      cookie_value_.clear();
      // An empty client challenge would let a replayed answer through (libdbus refuses it too).
      if (sp == std::string::npos || sp == 0 || expected.empty() || !same_digest(data->substr(sp + 1), expected))
        return reject(out);
      return accept(uid, out);
    }
  }
  return reject(out);
}

status server::handle(std::string_view line, std::string& out) {
  if (!is_printable_ascii(line)) {
    out += "ERROR \"Command contained non-ASCII\"\r\n";
    return status::in_progress;
  }
  auto [command, arg] = split_command(line);
  if (command == "BEGIN") {
    if (state_ != state::waiting_for_begin) return fail(errc::auth_protocol_error, "BEGIN before authentication");
    uid_ = pending_uid_;
    state_ = state::done;
    return status::authenticated;
  }
  switch (state_) {
    case state::waiting_for_auth:
      if (command == "AUTH") {
        if (arg.empty()) return reject(out);
        auto [mech, response] = split_command(arg);
        const bool has_response = arg.find(' ') != std::string_view::npos;
        return auth(mech, has_response ? std::optional<std::string_view>(response) : std::nullopt, out);
      }
      if (command == "ERROR") return reject(out);
      if (command == "DATA" || command == "CANCEL") {
        out += "ERROR \"Not currently in an auth conversation\"\r\n";
        return status::in_progress;
      }
      if (command == "NEGOTIATE_UNIX_FD") {
        out += "ERROR \"Need to authenticate first\"\r\n";
        return status::in_progress;
      }
      break;
    case state::waiting_for_data:
      if (command == "DATA") return mechanism_step(arg, out);
      if (command == "CANCEL" || command == "ERROR") {
        cookie_server_challenge_.clear();
        cookie_value_.clear();
        return reject(out);
      }
      // The texts of libdbus (dbus-auth.c), which clients may show to people.
      if (command == "AUTH") {
        out += "ERROR \"Sent AUTH while another AUTH in progress\"\r\n";
        return status::in_progress;
      }
      if (command == "NEGOTIATE_UNIX_FD") {
        out += "ERROR \"Need to authenticate first\"\r\n";
        return status::in_progress;
      }
      break;
    case state::waiting_for_begin:
      if (command == "CANCEL" || command == "ERROR") return reject(out);
      if (command == "AUTH") {
        out += "ERROR \"Sent AUTH while expecting BEGIN\"\r\n";
        return status::in_progress;
      }
      if (command == "NEGOTIATE_UNIX_FD") {
        if (opts_.unix_fd_supported) {
          fd_agreed_ = true;
          out += "AGREE_UNIX_FD\r\n";
        } else {
          out += "ERROR \"Unix fd passing is not supported on this connection\"\r\n";
        }
        return status::in_progress;
      }
      if (command == "DATA") {
        out += "ERROR \"Sent DATA while expecting BEGIN\"\r\n";
        return status::in_progress;
      }
      break;
    default:
      break;
  }
  out += "ERROR \"Unknown command\"\r\n";
  return status::in_progress;
}

}  // namespace kbus::sasl
