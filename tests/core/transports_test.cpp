// The socket transport's other address kinds against real programs: unixexec through
// systemd-stdio-bridge, nonce-tcp to a dbus-daemon listening on it, launchd through launchctl.
#include "support/bus_fixture.hpp"

#include "kbus/address.hpp"
#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus_config.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace {

class Transports : public testing::Test {
 protected:
  void SetUp() override { thread_ = std::thread([this] { io_.run(); }); }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  // Connects, asks the driver for the bus id, and says which transport carried it.
  std::string bus_id_over(const std::string& address, std::string& transport) {
    kbus::connection c(io_.get_executor());
    boost::system::error_code ec;
    c.connect(address, ec);
    EXPECT_FALSE(ec) << ec.message() << ": " << c.last_error();
    if (ec) return {};
    transport = c.info().transport;
    EXPECT_FALSE(c.unique_name().empty());
    return std::get<0>(c.call(kbus::bus::driver_call("GetId")).read<std::string>().value());
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
};

TEST_F(Transports, UnixexecRunsAProgramWhoseStdioIsTheConnection) {
  if (::access("/usr/bin/systemd-stdio-bridge", X_OK) != 0) GTEST_SKIP() << "systemd-stdio-bridge is not installed";
  if (auto why = kbus::test::private_bus::why_unavailable(kbus::test::bus_kind::dbus_daemon)) GTEST_SKIP() << *why;
  std::string why;
  auto bus = kbus::test::private_bus::start(kbus::test::bus_kind::dbus_daemon, why);
  ASSERT_TRUE(bus) << why;
  const std::string address = "unixexec:path=systemd-stdio-bridge,argv1=" +
                              kbus::escape_address_value("--bus-path=" + bus->address());
  std::string transport, direct_transport;
  const std::string through_bridge = bus_id_over(address, transport);
  EXPECT_EQ(transport, "unixexec");
  EXPECT_EQ(through_bridge, bus_id_over(bus->address(), direct_transport));
  EXPECT_FALSE(through_bridge.empty());

  // A program that cannot be run is a skipped entry with a reason, and the next one is used.
  kbus::connection c(io_.get_executor());
  c.connect("unixexec:path=/nonexistent/kbus-no-such-program;" + bus->address());
  ASSERT_EQ(c.info().skipped.size(), 1u);
  EXPECT_NE(c.info().skipped[0].find("unixexec:path=/nonexistent/kbus-no-such-program"), std::string::npos)
      << c.info().skipped[0];
}

// An entry whose transport this build left out (KBUS_WITH_KDBUS / KBUS_WITH_CUSE off) is
// skipped with "not built in", and the next entry of the list connects.
TEST_F(Transports, AnEntryOfATransportNotBuiltInGivesWayToTheNext) {
  std::string left_out;
  if (!KBUS_WITH_CUSE) left_out = "cuse:path=/dev/kbus/0-kbus-test";
  if (!KBUS_WITH_KDBUS) left_out = "kernel:path=/sys/fs/kdbus/0-kbus-test/bus";
  if (left_out.empty()) GTEST_SKIP() << "every transport is built in";
  if (auto why = kbus::test::private_bus::why_unavailable(kbus::test::bus_kind::dbus_daemon)) GTEST_SKIP() << *why;
  std::string why;
  auto bus = kbus::test::private_bus::start(kbus::test::bus_kind::dbus_daemon, why);
  ASSERT_TRUE(bus) << why;
  std::string transport;
  EXPECT_FALSE(bus_id_over(left_out + ";" + bus->address(), transport).empty());
  EXPECT_EQ(transport, kbus::transport_names::unix_socket);

  kbus::connection c(io_.get_executor());
  boost::system::error_code ec;
  c.connect(left_out, ec);
  EXPECT_TRUE(ec);
  EXPECT_NE(c.last_error().find("is not built in"), std::string::npos) << c.last_error();
}

// launchd: the socket's path comes from `launchctl getenv ENV` (macOS). A launchctl of our own,
// first on PATH, stands in for launchd here.
TEST_F(Transports, LaunchdTakesTheSocketPathFromLaunchctl) {
  if (auto why = kbus::test::private_bus::why_unavailable(kbus::test::bus_kind::dbus_daemon)) GTEST_SKIP() << *why;
  std::string why;
  auto bus = kbus::test::private_bus::start(kbus::test::bus_kind::dbus_daemon, why);
  ASSERT_TRUE(bus) << why;
  const auto entries = kbus::parse_address_list(bus->address()).value();
  const std::string socket_path(entries.at(0).get("path").value());
  std::string dir_template = (std::filesystem::temp_directory_path() / "kbus-launchd-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir_template.data()), nullptr);
  const std::filesystem::path dir(dir_template);
  {
    std::ofstream script(dir / "launchctl");
    script << "#!/bin/sh\n[ \"$1\" = getenv ] && [ \"$2\" = KBUS_TEST_BUS_SOCKET ] && echo '" << socket_path
           << "' && exit 0\nexit 1\n";
  }
  std::filesystem::permissions(dir / "launchctl", std::filesystem::perms::owner_all);
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (dir.string() + ":" + old_path).c_str(), 1);

  std::string transport, direct_transport;
  const std::string id = bus_id_over("launchd:env=KBUS_TEST_BUS_SOCKET", transport);
  EXPECT_EQ(transport, "unix");
  EXPECT_EQ(id, bus_id_over(bus->address(), direct_transport));
  // A variable launchd does not have: the entry is skipped with launchctl's answer as reason.
  kbus::connection c(io_.get_executor());
  boost::system::error_code ec;
  c.connect("launchd:env=KBUS_TEST_NO_SUCH_VARIABLE", ec);
  EXPECT_TRUE(ec);
  EXPECT_NE(c.last_error().find("launchctl getenv KBUS_TEST_NO_SUCH_VARIABLE gave no socket path"), std::string::npos)
      << c.last_error();
  // No launchctl at all (every system but macOS).
  ::setenv("PATH", dir.string().c_str(), 1);
  std::filesystem::remove(dir / "launchctl");
  c.connect("launchd:env=KBUS_TEST_BUS_SOCKET", ec);
  EXPECT_TRUE(ec);
  EXPECT_NE(c.last_error().find("cannot run launchctl"), std::string::npos) << c.last_error();
  ::setenv("PATH", old_path.c_str(), 1);
  std::filesystem::remove_all(dir);
}

TEST_F(Transports, NonceTcpSendsTheNonceFirst) {
  if (::access("/usr/bin/dbus-daemon", X_OK) != 0) GTEST_SKIP() << "dbus-daemon is not installed";
  char tmpl[] = "/tmp/kbus-nonce-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    std::ofstream conf(dir + "/bus.conf");
    conf << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
            "<busconfig><type>session</type>\n"
            "<listen>nonce-tcp:host=127.0.0.1,port=0,noncefile=" << dir << "/nonce</listen>\n"
            "<policy context=\"default\"><allow send_destination=\"*\"/><allow receive_sender=\"*\"/><allow own=\"*\"/></policy>\n"
            "</busconfig>\n";
  }
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 3);
    ::execl("/usr/bin/dbus-daemon", "dbus-daemon", ("--config-file=" + dir + "/bus.conf").c_str(), "--nofork",
            "--nopidfile", "--print-address=3", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string address;
  char ch;
  while (::read(out[0], &ch, 1) == 1 && ch != '\n') address += ch;
  ::close(out[0]);
  ASSERT_TRUE(address.starts_with("nonce-tcp:")) << address;

  std::string transport;
  EXPECT_FALSE(bus_id_over(address, transport).empty());
  EXPECT_EQ(transport, "nonce-tcp");

  // A wrong nonce: the daemon closes the connection, and the entry is skipped with a reason.
  {
    std::ofstream wrong(dir + "/wrong");
    wrong << "0123456789abcdef";
  }
  std::string wrong_address = address;
  const auto at = wrong_address.find("noncefile=");
  ASSERT_NE(at, std::string::npos);
  const auto end = wrong_address.find(',', at);
  wrong_address.replace(at, end == std::string::npos ? std::string::npos : end - at,
                        "noncefile=" + kbus::escape_address_value(dir + "/wrong"));
  kbus::connection c(io_.get_executor());
  boost::system::error_code ec;
  c.connect(wrong_address, ec);
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::no_usable_address)) << c.last_error();

  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
