// Faults: a peer that sends garbage, a message of 100 MiB (partial writes and a slow reader on
// the way), on real buses where one is needed.
#include "support/bus_test.hpp"
#include "support/deadlines.hpp"
#include "support/readable.hpp"
#include "wire/sasl.hpp"

#include "kbus/connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace {

using namespace kbus::literals;
using boost::system::error_code;

// How long a connection may take to fail before the test calls it hung.
constexpr auto connect_limit = kbus::test::event_deadline;

// A server that authenticates a client properly and then answers with `reply` bytes.
class rogue_server {
 public:
  explicit rogue_server(std::string reply) : reply_(std::move(reply)) {
    char tmpl[] = "/tmp/kbus-rogue-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/socket";
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~rogue_server() {
    thread_.join();
    ::close(listener_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string address() const { return "unix:path=" + path_; }

 private:
  void serve() {
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    kbus::sasl::server::options o;
    o.guid = "0123456789abcdef0123456789abcdef";
    o.peer_uid = ::geteuid();
    o.unix_fd_supported = true;
    kbus::sasl::server sasl(o);
    char buf[4096];
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::string out;
      const auto st = sasl.feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
      if (!out.empty()) (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (st != kbus::sasl::status::in_progress) break;
    }
    // The client's Hello is in (or after) the leftover; answer with what we were told to.
    (void)::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    // Keep the socket open until the client hangs up: it must do so by itself.
    wait_for_hang_up(fd);
    ::close(fd);
  }

  // Reads and drops what the client sends until it hangs up, or until connect_to has given up
  // on it (the test then fails there).
  static void wait_for_hang_up(int fd) {
    const auto deadline = std::chrono::steady_clock::now() + connect_limit + std::chrono::seconds(1);
    char buf[4096];
    while (kbus::test::readable_before(fd, deadline)) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EINTR)) return;
    }
  }

  std::string reply_, dir_, path_;
  int listener_ = -1;
  std::thread thread_;
};

// Connects `c` to `server`, running `io` on this thread for at most connect_limit; nullopt
// when the connection hung. Only this runs `io`, so the handler cannot outlive `result`.
std::optional<error_code> connect_to(const rogue_server& server, boost::asio::io_context& io, kbus::connection& c) {
  std::optional<error_code> result;
  c.async_connect(server.address(), [&](error_code ec) { result = ec; });
  const auto end = std::chrono::steady_clock::now() + connect_limit;
  while (!result && std::chrono::steady_clock::now() < end) io.run_one_until(end);
  return result;
}

TEST(Faults, APeerThatSendsGarbageIsDisconnectedWithAClearError) {
  rogue_server server(std::string("GARBAGE!GARBAGE!GARBAGE!GARBAGE!"));
  boost::asio::io_context io;
  kbus::connection c(io.get_executor());
  const auto result = connect_to(server, io, c);
  ASSERT_TRUE(result) << "the connection hung on garbage";
  EXPECT_EQ(*result, kbus::make_error_code(kbus::connection_errc::peer_sent_invalid_message));
  EXPECT_NE(c.last_error().find("invalid byte order"), std::string::npos) << c.last_error();
  EXPECT_FALSE(c.is_open());
}

TEST(Faults, AWellFramedButInvalidMessageIsRefusedToo) {
  // A method return with a boolean of 2 in its body: framing is fine, the content is not.
  // Fields: REPLY_SERIAL 1, SIGNATURE "b" (15 bytes), one byte of padding, then the body.
  const unsigned char bad[] = {'l', 2, 1, 1, 4, 0, 0, 0, 1, 0, 0, 0, 0x0f, 0, 0, 0,
                               5, 1, 'u', 0, 1, 0, 0, 0, 8, 1, 'g', 0, 1, 'b', 0, 0,
                               2, 0, 0, 0};
  rogue_server server(std::string(reinterpret_cast<const char*>(bad), sizeof bad));
  boost::asio::io_context io;
  kbus::connection c(io.get_executor());
  const auto result = connect_to(server, io, c);
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, kbus::make_error_code(kbus::connection_errc::peer_sent_invalid_message));
  EXPECT_NE(c.last_error().find("boolean"), std::string::npos) << c.last_error();
}

class BigMessages : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (bus_) start_io_thread();
  }
};

TEST_P(BigMessages, A100MiBMessageGoesThroughTheBusAndBack) {
  try {
    kbus::connection service(io_.get_executor()), client(io_.get_executor());
    service.async_connect(bus_->address(), boost::asio::use_future).get();
    client.async_connect(bus_->address(), boost::asio::use_future).get();
    service.set_message_handler([&](kbus::message& m) {
      if (m.type() != kbus::message_type::method_call) return;
      auto [first, second] = m.read<std::span<const std::uint8_t>, std::span<const std::uint8_t>>().value();
      // Echo the size and a checksum: the bytes arrived whole and in order.
      std::uint64_t sum = 0;
      for (auto half : {first, second})
        for (std::size_t i = 0; i < half.size(); i += 4096) sum += half[i] * (i / 4096 + 1);
      service.send(kbus::message_builder::method_return(m).build(static_cast<std::uint64_t>(first.size() + second.size()), sum));
    });
    // An array may hold at most 64 MiB (spec): 100 MiB travel as two arrays of 50 MiB.
    std::vector<std::uint8_t> payload(100u << 20);
    const std::size_t half = payload.size() / 2;
    std::uint64_t expected_sum = 0;
    for (std::size_t i = 0; i < payload.size(); i += 4096) {
      payload[i] = static_cast<std::uint8_t>(i / 4096 * 7);
      expected_sum += payload[i] * ((i % half) / 4096 + 1);
    }
    auto call = kbus::message_builder::method_call(kbus::bus_name(service.unique_name()), "/big"_path, "org.kbus.Big"_iface,
                                                   "Take"_member)
                    .build(std::span<const std::uint8_t>(payload).first(half), std::span<const std::uint8_t>(payload).subspan(half));
    auto pending = client.async_call(std::move(call), boost::asio::use_future, kbus::call_options{std::chrono::seconds(120)});
    kbus::message reply;
    try {
      reply = pending.get();
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << ": client: " << client.last_error() << "; service: " << service.last_error();
      throw;
    }
    auto [size, sum] = reply.read<std::uint64_t, std::uint64_t>().value();
    EXPECT_EQ(size, payload.size());
    EXPECT_EQ(sum, expected_sum);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Buses, BigMessages,
                         testing::Values(kbus::test::bus_kind::dbus_daemon, kbus::test::bus_kind::dbus_broker, kbus::test::bus_kind::kbusd,
                                         kbus::test::bus_kind::cuse, kbus::test::bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
