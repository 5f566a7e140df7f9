// SASL: any bytes, fed in pieces to a server and (after its start) to a client, never crash
// them; each ends in progress, authenticated or failed, and a failure always says why.
#include "wire/sasl.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

class fixed_keyring : public kbus::sasl::keyring {
 public:
  kbus::result<std::pair<std::string, std::string>> server_cookie(std::string_view) override {
    return std::pair<std::string, std::string>{"1", "00ff"};
  }
  kbus::result<std::string> find_cookie(std::string_view, std::string_view id) override {
    if (id == "1") return std::string("00ff");
    return kbus::error(kbus::errc::auth_failed, "none");
  }
  std::string random_hex(std::size_t bytes) override { return std::string(bytes * 2, '5'); }
  std::string sha1_hex(std::string_view data) override { return kbus::sasl::hex_encode(data.substr(0, 20)); }
};

void check(kbus::sasl::status st, const kbus::error& failure) {
  if (st == kbus::sasl::status::failed && failure.message.empty()) std::abort();
}

}  // namespace

extern "C" int kbus_fuzz_sasl(const std::uint8_t* data, std::size_t size) {
  fixed_keyring keys;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // The first byte chooses how the input is cut into pieces.
  const std::size_t piece = size ? 1 + data[0] % 64 : 1;

  kbus::sasl::server::options so;
  so.guid = "0123456789abcdef0123456789abcdef";
  so.peer_uid = size > 1 && (data[1] & 1) ? std::optional<std::uint32_t>(0) : std::nullopt;
  so.mechanisms = {kbus::sasl::mechanism::external, kbus::sasl::mechanism::dbus_cookie_sha1,
                   kbus::sasl::mechanism::anonymous};
  so.cookies = &keys;
  so.unix_fd_supported = true;
  kbus::sasl::server srv(so);
  std::string out;
  for (std::size_t at = 0; at < in.size(); at += piece) {
    auto st = srv.feed(in.substr(at, piece), out);
    check(st, srv.failure());
    if (st != kbus::sasl::status::in_progress) break;
  }

  kbus::sasl::client::options co;
  co.mechanisms = so.mechanisms;
  co.uid = 0;
  co.cookie_identity = "0";
  co.cookies = &keys;
  co.negotiate_unix_fd = size > 2 && (data[2] & 1);
  kbus::sasl::client cli(co);
  out.clear();
  cli.start(out);
  for (std::size_t at = 0; at < in.size(); at += piece) {
    auto st = cli.feed(in.substr(at, piece), out);
    check(st, cli.failure());
    if (st != kbus::sasl::status::in_progress) break;
  }
  return 0;
}
