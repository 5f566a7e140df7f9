#include "bare_client.hpp"

#include "kbus_echo_call.hpp"
#include "peers.hpp"

#include "kbus/address.hpp"
#include "kbus/bus.hpp"
#include "kbus/message.hpp"
#include "wire/sasl.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

namespace kbus_bench {
namespace {

// The receive buffer: room for about 500 Echo replies of 64 bytes in one read().
constexpr std::size_t read_size = 64 * 1024;
// Where the fixed header keeps the body's length and the serial (spec, "Message Format").
constexpr std::size_t body_length_offset = 4;
constexpr std::size_t serial_offset = 8;
using kbus::detail::fixed_header_size;

std::string errno_text(const char* what) { return std::string("bare: ") + what + ": " + std::strerror(errno); }

}  // namespace

bare_caller::bare_caller(const std::string& address) {
  auto entries = kbus::parse_address_list(address);
  if (!entries || entries->empty() || (*entries)[0].transport != "unix" || !(*entries)[0].get("path"))
    throw bench_error("bare: needs a unix:path= address, not " + address);
  const std::string path(*(*entries)[0].get("path"));
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) throw bench_error("bare: socket path too long: " + path);
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  fd_ = kbus::unix_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd_.get() < 0) throw bench_error(errno_text("socket"));
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
    throw bench_error(errno_text("connect"));

  kbus::sasl::client::options sasl_options;
  sasl_options.uid = static_cast<std::uint32_t>(::getuid());
  sasl_options.pipeline = true;
  kbus::sasl::client auth(sasl_options);
  std::string out;
  auth.start(out);
  auto status = kbus::sasl::status::in_progress;
  while (status == kbus::sasl::status::in_progress) {
    write_all(out.data(), out.size());
    out.clear();
    char buf[512];
    const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n <= 0) throw bench_error(n == 0 ? "bare: the bus closed the connection during SASL" : errno_text("read"));
    status = auth.feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
  }
  if (status == kbus::sasl::status::failed) throw bench_error("bare: SASL failed: " + auth.failure().what());
  write_all(out.data(), out.size());
  const auto leftover = std::as_bytes(std::span(auth.leftover()));
  in_.assign(std::max(read_size, leftover.size()), std::byte{});
  std::memcpy(in_.data(), leftover.data(), leftover.size());
  in_end_ = leftover.size();

  kbus::message hello = kbus::bus::driver_call("Hello");
  hello.set_serial(serial_++);
  write_all(hello.bytes().data(), hello.bytes().size());
  // The Hello reply; NameAcquired may follow, and the pipelined loop passes over signals.
  for (;;) {
    const auto m = next_message();
    if (!m) {
      read_some();
      continue;
    }
    const auto type = static_cast<kbus::message_type>((*m)[1]);
    if (type == kbus::message_type::error) throw bench_error("bare: Hello failed");
    if (type == kbus::message_type::method_return) break;
  }
}

void bare_caller::write_all(const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_.get(), p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw bench_error(errno_text("write"));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void bare_caller::read_some() {
  // What is left of a message goes to the front; the buffer grows only for a message larger
  // than it.
  std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
  in_end_ -= in_start_;
  in_start_ = 0;
  if (in_end_ == in_.size()) in_.resize(2 * in_.size());
  ssize_t n;
  do n = ::read(fd_.get(), in_.data() + in_end_, in_.size() - in_end_);
  while (n < 0 && errno == EINTR);
  if (n == 0) throw bench_error("bare: the bus closed the connection");
  if (n < 0) throw bench_error(errno_text("read"));
  in_end_ += static_cast<std::size_t>(n);
}

void bare_caller::pipelined(const std::string& s, int total, int window) {
  const kbus::message call = echo_call(kbus::bus_name::unchecked(echo_name), s);
  const auto call_bytes = call.bytes();
  const auto call_body = call.body_bytes();
  std::vector<std::byte> batch;
  batch.reserve(call_bytes.size() * static_cast<std::size_t>(window));
  int sent = 0, done = 0;
  while (done < total) {
    batch.clear();
    for (; sent - done < window && sent < total; ++sent) {
      const std::size_t at = batch.size();
      batch.insert(batch.end(), call_bytes.begin(), call_bytes.end());
      if (serial_ == 0) ++serial_;  // 0 is not a serial
      // The call is in this machine's byte order, so its serial is too.
      std::memcpy(batch.data() + at + serial_offset, &serial_, sizeof serial_);
      ++serial_;
    }
    if (!batch.empty()) write_all(batch.data(), batch.size());
    read_some();
    while (const auto m = next_message()) {
      const auto type = static_cast<kbus::message_type>((*m)[1]);
      if (type == kbus::message_type::error) {
        auto reply = kbus::message::parse(std::vector<std::byte>(m->begin(), m->end()));
        throw bench_error("bare: Echo failed: " + (reply ? std::string(reply->error_name()) : "unreadable error"));
      }
      if (type != kbus::message_type::method_return) continue;
      // Echo's reply body is the call's: the same string in the same place. A reply in the
      // other byte order is parsed and read instead.
      bool same = false;
      if ((*m)[0] == call_bytes[0]) {
        // The body ends the message.
        std::uint32_t body_length;
        std::memcpy(&body_length, m->data() + body_length_offset, sizeof body_length);
        same = body_length == call_body.size() &&
               std::memcmp(m->data() + m->size() - call_body.size(), call_body.data(), call_body.size()) == 0;
      } else {
        const auto reply = kbus::message::parse(std::vector<std::byte>(m->begin(), m->end()));
        if (reply) {
          const auto v = reply->read<std::string_view>();
          same = v && std::get<0>(*v) == s;
        }
      }
      if (!same) throw bench_error("bare: Echo reply differs from the argument");
      ++done;
    }
  }
}

std::optional<std::span<const std::byte>> bare_caller::next_message() {
  const std::span<const std::byte> rest(in_.data() + in_start_, in_end_ - in_start_);
  if (rest.size() < fixed_header_size) return std::nullopt;
  const auto size = kbus::message_size(rest.first(fixed_header_size));
  if (!size) throw bench_error("bare: the bus sent an invalid message: " + size.error().what());
  if (rest.size() < *size) return std::nullopt;
  in_start_ += *size;
  return rest.first(*size);
}

}  // namespace kbus_bench
