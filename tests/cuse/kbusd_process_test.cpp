// kbusd, the program, over the kernel's CUSE (run where /dev/cuse exists: the VM suite): a
// client killed during a call, kbusd killed and started again, two users under a policy, the
// quota of each user in a receiver, and garbage written to the real device. Named ".../cuse":
// the host's ctest leaves them to the VM.
#include "support/bus_test.hpp"
#include "support/process.hpp"

#include "kbus/connection.hpp"
#include "kbus/bus.hpp"
#include "transport/cuse/protocol.hpp"
#include "transport/kdbus/abi.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <future>
#include <optional>
#include <random>
#include <sstream>
#include <system_error>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using kbus::test::private_bus;
using error_code = boost::system::error_code;

struct ran {
  int status;
  std::string out;
};

// What a child wrote to `fd` until it closed it (`fd` is closed then), and its wait status.
ran collect(pid_t pid, int fd) {
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {status, text};
}

// `argv` run as `uid`/`gid` (no supplementary groups), with DBUS_SESSION_BUS_ADDRESS set.
ran run_as(unsigned uid, unsigned gid, const std::vector<std::string>& argv, const std::string& address) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::setenv("DBUS_SESSION_BUS_ADDRESS", address.c_str(), 1);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  const auto [status, text] = collect(pid, out[0]);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

std::string program(const char* name) { return kbus::test::built_program(name).value_or(name); }

class KbusdProcess : public kbus::test::bus_test {};

TEST_P(KbusdProcess, AServiceKilledDuringACallFailsItsCallerAndKbusdGoesOn) {
  start_io_thread();
  kbus::test::child_process service({program("kbus-demo-service"), "--address", bus_->address()});
  ASSERT_NE(service.read_until(kbus::test::contains_all({"READY"})).find("READY"), std::string::npos);
  kbus::connection client(io_.get_executor());
  client.connect(bus_->address());
  auto sleep = kbus::message_builder::method_call("org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface,
                                                  "Sleep"_member)
                   .build(std::uint32_t{600000});
  std::promise<std::pair<error_code, kbus::message>> answered;
  client.async_call(std::move(sleep), [&](error_code ec, kbus::message reply) { answered.set_value({ec, std::move(reply)}); });
  // Sent means queued in the service (kdbus hands a message over in SEND): kill it now.
  client.flush();
  service.kill();
  auto [ec, reply] = answered.get_future().get();
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply)) << ec.message();
  EXPECT_EQ(kbus::dbus_error_of(reply).name, "org.freedesktop.DBus.Error.NoReply");
  // kbusd goes on: a new client's call to itself through the bus.
  kbus::connection again(io_.get_executor());
  again.connect(bus_->address());
  EXPECT_FALSE(kbus::bus::get_id(again).empty());
}

TEST_P(KbusdProcess, KbusdKilledDisconnectsItsClientsWhoConnectAgainOnceItIsBack) {
  start_io_thread();
  kbus::connection client(io_.get_executor());
  client.connect(bus_->address());
  std::promise<error_code> ended;
  auto never = kbus::message_builder::method_call(kbus::bus_name(client.unique_name()), "/nowhere"_path, "org.kbus.None"_iface,
                                                  "Wait"_member)
                   .build();
  client.async_call(std::move(never), [&](error_code ec, kbus::message) { ended.set_value(ec); },
                    kbus::call_options{std::chrono::seconds(600)});
  bus_->kill();
  EXPECT_EQ(ended.get_future().get(), kbus::make_error_code(kbus::connection_errc::disconnected));
  EXPECT_FALSE(client.is_open());
  std::string why;
  ASSERT_TRUE(bus_->restart(why)) << why;
  kbus::connection back(io_.get_executor());
  back.connect(bus_->address());
  EXPECT_EQ(back.info().transport, "cuse");
  EXPECT_FALSE(kbus::bus::get_id(back).empty());
}

TEST_P(KbusdProcess, GarbageWrittenToTheDeviceGetsErrorsAndKbusdGoesOn) {
  const std::string path = bus_->address().substr(std::string("cuse:path=").size());
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::mt19937_64 random(42);
  for (int i = 0; i < 300; ++i) {
    std::vector<std::uint8_t> bytes(random() % 512 + 1);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
    EXPECT_LT(::write(fd, bytes.data(), bytes.size()), 0);
    alignas(8) std::uint8_t arg[512];
    for (auto& b : arg) b = static_cast<std::uint8_t>(random());
    const unsigned long numbers[] = {kbus::kdbus::ioctl::hello, kbus::kdbus::ioctl::name_acquire,
                                     kbus::kdbus::ioctl::match_add, 0xc0189500u + (random() % 256)};
    ::ioctl(fd, numbers[random() % 4], arg);
    // A pointer into nothing: EFAULT from the kernel's copy, not a crash of kbusd.
    ::ioctl(fd, kbus::kdbus::ioctl::hello, reinterpret_cast<void*>(8));
  }
  char buf[64];
  EXPECT_LT(::read(fd, buf, sizeof buf), 0);
  ::close(fd);
  kbus::connection after(io_.get_executor());
  start_io_thread();
  after.connect(bus_->address());
  EXPECT_FALSE(kbus::bus::get_id(after).empty());
}

INSTANTIATE_TEST_SUITE_P(Buses, KbusdProcess, testing::Values(bus_kind::cuse),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

// Two users under a policy file: only uid 1000 may own org.kbus.Demo, only it may talk to it;
// root bypasses the policy (kdbus ABI notes §2.12).
TEST(KbusdPolicy, TwoUsersOneMayOwnAndTalkTheOtherNeither_cuse) {
  if (auto why = private_bus::why_unavailable(bus_kind::cuse)) GTEST_SKIP() << *why;
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as two users";
  char dir[] = "/tmp/kbusd-policy-XXXXXX";
  ASSERT_TRUE(::mkdtemp(dir));
  const std::string file = std::string(dir) + "/policy.json";
  std::ofstream(file) << R"({"names": {"org.kbus.Demo": {"own": [{"user": 1000}], "talk": [{"user": 1000}]}}})";
  ::chmod(dir, 0755);
  std::string why;
  auto bus = private_bus::start_cuse(file, why);
  ASSERT_TRUE(bus) << why;
  auto call_as = [&](unsigned uid) {
    std::vector<std::string> argv = {program("kbus"), "--address", bus->address(), "call", "org.kbus.Demo", "/org/kbus/Demo",
                                     "org.kbus.Demo1", "Add", "ii", "40", "2"};
    return run_as(uid, uid, argv, bus->address());
  };
  // uid 1001 may not own the name.
  const auto refused = run_as(1001, 1001, {program("kbus-demo-service"), "--address", bus->address()}, bus->address());
  EXPECT_NE(refused.status, 0) << refused.out;
  EXPECT_NE(refused.out.find("cannot own org.kbus.Demo"), std::string::npos) << refused.out;
  // uid 1000 may: it says READY once it owns the name.
  kbus::test::child_process owner({program("kbus-demo-service"), "--address", bus->address()}, {.as_user = 1000u});
  ASSERT_NE(owner.read_until(kbus::test::contains_all({"READY"})).find("READY"), std::string::npos);
  const auto as_owner = call_as(1000);
  EXPECT_EQ(as_owner.status, 0) << as_owner.out;
  EXPECT_NE(as_owner.out.find("42"), std::string::npos) << as_owner.out;
  const auto stranger = call_as(1001);
  EXPECT_NE(stranger.status, 0) << stranger.out;
  EXPECT_NE(stranger.out.find("AccessDenied"), std::string::npos) << stranger.out;
  const auto root = call_as(0);
  EXPECT_EQ(root.status, 0) << root.out;
  std::filesystem::remove_all(dir);
}

// What `count` sends as one user told: how many went, and the error of the first that did not.
struct sent_as {
  int sent = 0;
  int error = 0;  // an errno value; 0: all went
  std::string why;
};

// The errno value a send failed with (the transport's std::error_code, as boost carries it);
// -1 when it is not a system error.
int errno_of(const error_code& ec) {
  const std::error_code code = ec;
  return code.category() == std::system_category() || code.category() == std::generic_category() ? code.value() : -1;
}

// A child process acting as `uid` connects to `address` and sends `count` calls that expect no
// reply to `receiver`, one after the other, stopping at the first that fails. The test process
// has no threads here (nothing runs an io_context), so the child may use the whole library.
sent_as send_as(unsigned uid, const std::string& address, const std::string& receiver, int count) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {0, -1, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    sent_as r;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(126);
    boost::asio::io_context io;
    kbus::connection c(io.get_executor());
    error_code connected = boost::asio::error::would_block;
    c.async_connect(address, [&](error_code ec) { connected = ec; });
    while (connected == boost::asio::error::would_block && io.run_one()) {
    }
    if (connected) {
      r = {0, -1, "connect: " + connected.message()};
    } else {
      for (int i = 0; i < count && !r.error; ++i) {
        auto m = kbus::message_builder::method_call(kbus::bus_name(receiver), "/quota"_path, "org.kbus.Quota"_iface,
                                                    "Fill"_member)
                     .flags(kbus::message_flags::no_reply_expected)
                     .build(std::uint32_t(i));
        std::optional<error_code> done;
        c.async_send(std::move(m), [&](error_code ec) { done = ec; });
        while (!done && io.run_one()) {
        }
        if (!done) r = {r.sent, -1, "the send never completed"};
        else if (*done) r = {r.sent, errno_of(*done), done->message()};
        else ++r.sent;
      }
    }
    const std::string line = std::to_string(r.sent) + " " + std::to_string(r.error) + " " + r.why;
    [[maybe_unused]] auto n = ::write(out[1], line.data(), line.size());
    ::_exit(0);
  }
  ::close(out[1]);
  const auto [status, text] = collect(pid, out[0]);
  sent_as r{0, -1, "the child said nothing (status " + std::to_string(status) + ")"};
  std::istringstream in(text);
  if (in >> r.sent >> r.error) {
    r.why.clear();
    std::getline(in >> std::ws, r.why);
  }
  return r;
}

// The pool quota is per sending user (kdbus ABI notes §2.4): a receiver that never reads takes
// at most 256 queued messages from one user, however many connections that user sends from;
// the next fails with ENOBUFS, and another user can still send to it. Per connection, uid
// 1000's second connection would not be refused; per receiver, uid 1001 would be.
TEST(KbusdQuota, OneUserFillsItsShareOfAReceiverAnotherUserStillSends_cuse) {
  if (auto why = private_bus::why_unavailable(bus_kind::cuse)) GTEST_SKIP() << *why;
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as two users";
  // Both users may talk to the receiver's name (without a policy, a user talks to its own uid
  // only, and a call that expects no reply is dropped quietly when it may not go).
  char dir[] = "/tmp/kbusd-quota-XXXXXX";
  ASSERT_TRUE(::mkdtemp(dir));
  const std::string file = std::string(dir) + "/policy.json";
  std::ofstream(file) << R"({"names": {"org.kbus.Demo": {"own": [{"user": 0}], "talk": [{"user": 1000}, {"user": 1001}]}}})";
  ::chmod(dir, 0755);
  std::string why;
  auto bus = private_bus::start_cuse(file, why);
  ASSERT_TRUE(bus) << why;
  // The receiver connects and owns the name, then nothing runs its io_context: it never reads
  // its queue.
  boost::asio::io_context io;
  kbus::connection receiver(io.get_executor());
  error_code connected = boost::asio::error::would_block;
  receiver.async_connect(bus->address(), [&](error_code ec) { connected = ec; }, {.names = {{"org.kbus.Demo"_bus}}});
  while (connected == boost::asio::error::would_block && io.run_one()) {
  }
  ASSERT_FALSE(connected) << connected.message();
  const std::string name = "org.kbus.Demo";
  constexpr int per_user = static_cast<int>(kbus::kdbus::conn_max_msgs);
  // uid 1000 from two connections: half the share from the first, the rest from the second,
  // whose next message is one too many.
  const auto first = send_as(1000, bus->address(), name, per_user / 2);
  EXPECT_EQ(first.sent, per_user / 2) << first.why;
  EXPECT_EQ(first.error, 0) << first.why;
  const auto second = send_as(1000, bus->address(), name, per_user / 2 + 1);
  EXPECT_EQ(second.sent, per_user / 2) << second.why;
  EXPECT_EQ(second.error, ENOBUFS) << second.why;
  // uid 1001 still may: its share of the same receiver is its own.
  const auto other = send_as(1001, bus->address(), name, 2);
  EXPECT_EQ(other.sent, 2) << other.why;
  EXPECT_EQ(other.error, 0) << other.why;
  // And uid 1000 still may not.
  const auto again = send_as(1000, bus->address(), name, 1);
  EXPECT_EQ(again.sent, 0) << again.why;
  EXPECT_EQ(again.error, ENOBUFS) << again.why;
  std::filesystem::remove_all(dir);
}

}  // namespace
