// Interop with real peers on both buses: busctl, gdbus, dbus-send and python3-dbus call a
// service made with kbus; kbus (library and program) calls a service made with dbus-python.
#include "support/bus_test.hpp"
#include "support/monitor_start.hpp"
#include "support/process.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;

// A peer command; every peer answers at once here, so a slow one means a call went unanswered
// until its timeout.
kbus::test::command_result run_peer(const std::string& cmd) {
  const auto start = std::chrono::steady_clock::now();
  auto result = kbus::test::run(cmd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << cmd;
  return result;
}


using kbus::test::child_process;
using kbus::test::have;

// A kbus service on its own thread: org.kbus.Interop at /org/kbus/Interop.
class kbus_service {
 public:
  explicit kbus_service(const std::string& address) : conn_(io_.get_executor()), work_(io_.get_executor()) {
    thread_ = std::thread([this] { io_.run(); });
    conn_.async_connect(address, boost::asio::use_future).get();
    conn_.set_message_handler([this](kbus::message& m) { handle(m); });
    reply_ = kbus::bus::async_request_name(conn_, "org.kbus.Interop"_bus, kbus::bus::request_name_flags::do_not_queue,
                                           boost::asio::use_future)
                 .get();
  }
  ~kbus_service() {
    conn_.close();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  kbus::bus::request_name_reply name_reply() const { return reply_; }

 private:
  void handle(kbus::message& m) {
    if (m.type() != kbus::message_type::method_call) return;
    if (m.interface() != "org.kbus.Interop") {
      // Every call gets an answer (dbus-python introspects before calling).
      conn_.send(kbus::message_builder::error(m, "org.freedesktop.DBus.Error.UnknownInterface"_error)
                     .build(std::string("only org.kbus.Interop is served here")));
      return;
    }
    if (m.member() == "Add") {
      auto args = m.read<std::int32_t, std::int32_t>();
      if (!args) {
        conn_.send(kbus::message_builder::error(m, "org.freedesktop.DBus.Error.InvalidArgs"_error).build(args.error().message));
        return;
      }
      conn_.send(kbus::message_builder::method_return(m).build(std::get<0>(*args) + std::get<1>(*args)));
    } else if (m.member() == "Echo") {
      conn_.send(kbus::message_builder::method_return(m)
                     .build_values(kbus::signature(std::string(m.signature())), m.values().value())
                     .value());
    } else if (m.member() == "ReadFd") {
      auto [fd] = m.read<kbus::unix_fd>().value();
      char buf[256] = {};
      const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
      conn_.send(kbus::message_builder::method_return(m).build(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0)));
    } else if (m.member() == "Fail") {
      conn_.send(kbus::message_builder::error(m, "org.kbus.Interop.Error.Failed"_error).build(std::string("kbus says no")));
    }
  }

  boost::asio::io_context io_;
  kbus::connection conn_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  kbus::bus::request_name_reply reply_{};
};

class Interop : public kbus::test::bus_test {};

TEST_P(Interop, PeersCallAKbusService) {
  kbus_service service(bus_->address());
  ASSERT_EQ(service.name_reply(), kbus::bus::request_name_reply::primary_owner);
  const std::string a = bus_->address();
  const std::string target = "org.kbus.Interop /org/kbus/Interop org.kbus.Interop";

  if (have("/usr/bin/busctl")) {
    EXPECT_EQ(run_peer("busctl --address=" + a + " call " + target + " Add ii 2 40").out, "i 42");
    EXPECT_EQ(run_peer("busctl --address=" + a + " call " + target + " Echo v 'a{sv}' 2 k s x n u 7").out,
              "v a{sv} 2 \"k\" s \"x\" \"n\" u 7");
    EXPECT_EQ(run_peer("busctl --address=" + a + " -- call " + target + " Echo '(ybnqiuxtd)' 1 true -2 3 -4 5 -6 7 8.5").out,
              "(ybnqiuxtd) 1 true -2 3 -4 5 -6 7 8.5");
    EXPECT_EQ(run_peer("busctl --address=" + a + " call " + target + " Echo aoag 1 /a/b 2 s 'a{sv}'").out,
              "aoag 1 \"/a/b\" 2 \"s\" \"a{sv}\"");
    auto fail = run_peer("busctl --address=" + a + " call " + target + " Fail");
    EXPECT_NE(fail.status, 0);
    EXPECT_NE(fail.out.find("kbus says no"), std::string::npos) << fail.out;
  }
  if (have("/usr/bin/gdbus")) {
    EXPECT_EQ(run_peer("gdbus call --address " + a + " --dest org.kbus.Interop --object-path /org/kbus/Interop "
                  "--method org.kbus.Interop.Add 2 40")
                  .out,
              "(42,)");
    EXPECT_EQ(run_peer("gdbus call --address " + a + " --dest org.kbus.Interop --object-path /org/kbus/Interop "
                  "--method org.kbus.Interop.Echo \"<@a{sv} {'k': <uint64 7>}>\"")
                  .out,
              "(<{'k': <uint64 7>}>,)");
  }
  if (have("/usr/bin/dbus-send")) {
    auto r = run_peer("dbus-send --bus=" + a + " --print-reply --dest=org.kbus.Interop /org/kbus/Interop "
                 "org.kbus.Interop.Add int32:2 int32:40");
    EXPECT_NE(r.out.find("int32 42"), std::string::npos) << r.out;
    auto f = run_peer("dbus-send --bus=" + a + " --print-reply --dest=org.kbus.Interop /org/kbus/Interop org.kbus.Interop.Fail");
    EXPECT_NE(f.out.find("org.kbus.Interop.Error.Failed"), std::string::npos) << f.out;
  }
  if (have("/usr/bin/python3") && run_peer("/usr/bin/python3 -c 'import dbus'").status == 0) {
    // dbus-python passes a descriptor; the kbus service reads from it.
    const std::string script =
        "import dbus, os\n"
        "b = dbus.bus.BusConnection('" + a + "')\n"
        "o = b.get_object('org.kbus.Interop', '/org/kbus/Interop')\n"
        "print(o.Add(2, 40, dbus_interface='org.kbus.Interop'))\n"
        "r, w = os.pipe(); os.write(w, b'through a pipe'); os.close(w)\n"
        "print(o.ReadFd(dbus.types.UnixFd(r), dbus_interface='org.kbus.Interop'))\n"
        "print(o.Echo(dbus.Dictionary({'x': dbus.Int64(-9)}, signature='sv'), dbus_interface='org.kbus.Interop'))\n";
    auto r = run_peer("/usr/bin/python3 -c \"" + script + "\"");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("42\nthrough a pipe\ndbus.Dictionary({dbus.String('x'): dbus.Int64(-9, variant_level=1)}"),
              std::string::npos)
        << r.out;
  }
}

TEST_P(Interop, KbusCallsAPythonService) {
  if (!have("/usr/bin/python3") || run_peer("/usr/bin/python3 -c 'import dbus, gi'").status != 0)
    GTEST_SKIP() << "python3-dbus and python3-gi are not installed";
  const std::string script = std::string(KBUS_SOURCE_DIR) + "/tests/peers/python_service.py";
  child_process service({"/usr/bin/python3", script, bus_->address()});
  ASSERT_EQ(service.read_line(), "READY\n");

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread t([&] { io.run(); });
  {
    kbus::connection c(io.get_executor());
    c.async_connect(bus_->address(), boost::asio::use_future).get();
    auto call = [&](const char* member, const auto&... args) {
      return kbus::message_builder::method_call("org.kbus.PyPeer"_bus, "/org/kbus/PyPeer"_path, "org.kbus.PyPeer"_iface,
                                                kbus::member_name(member))
          .build(args...);
    };
    auto sum = c.async_call(call("Add", std::int32_t{2}, std::int32_t{40}), boost::asio::use_future).get();
    EXPECT_EQ(std::get<0>(sum.read<std::int32_t>().value()), 42);

    // Every type family through a variant and back.
    std::map<std::string, kbus::variant> dict{{"s", kbus::variant(std::string("str"))},
                                              {"i64", kbus::variant(std::int64_t{-1} << 40)},
                                              {"t", kbus::variant(std::uint64_t{1} << 63)},
                                              {"d", kbus::variant(2.5)},
                                              {"b", kbus::variant(true)},
                                              {"y", kbus::variant(std::uint8_t{200})},
                                              {"n", kbus::variant(std::int16_t{-3})},
                                              {"q", kbus::variant(std::uint16_t{3})},
                                              {"o", kbus::variant("/a/b"_path)},
                                              {"g", kbus::variant("a{sv}"_sig)},
                                              {"ay", kbus::variant(std::vector<std::uint8_t>{0, 1, 255})},
                                              {"struct", kbus::variant(std::tuple<std::int32_t, std::string>{7, "x"})},
                                              {"nested", kbus::variant(kbus::variant(std::string("deep")))}};
    auto echoed = c.async_call(call("Echo", kbus::variant(dict)), boost::asio::use_future).get();
    auto [back] = echoed.read<kbus::variant>().value();
    EXPECT_EQ((back.as<std::map<std::string, kbus::variant>>().value()), dict);

    // An error raised in Python reaches kbus with its name and message.
    try {
      c.async_call(call("Fail"), boost::asio::use_future).get();
      ADD_FAILURE() << "Fail did not fail";
    } catch (const boost::system::system_error& e) {
      EXPECT_EQ(e.code(), kbus::make_error_code(kbus::connection_errc::error_reply));
    }
    std::promise<kbus::message> failed;
    c.async_call(call("Fail"), [&](boost::system::error_code, kbus::message r) { failed.set_value(std::move(r)); });
    const kbus::message fail_reply = failed.get_future().get();
    EXPECT_EQ(kbus::dbus_error_of(fail_reply).name, "org.kbus.PyPeer.Error.Failed");
    EXPECT_EQ(kbus::dbus_error_of(fail_reply).message, "python says no");

    // A descriptor from kbus, read by Python.
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    ASSERT_EQ(::write(p[1], "from kbus", 9), 9);
    ::close(p[1]);
    kbus::unix_fd r(p[0]);
    auto text = c.async_call(call("ReadFd", r), boost::asio::use_future).get();
    EXPECT_EQ(std::get<0>(text.read<std::string>().value()), "from kbus");
    c.close();
  }
  work.reset();
  io.stop();
  t.join();

  // The kbus program too.
  const std::string kbus = std::string(KBUS_BINARY_DIR) + "/tools/kbus --address=" + bus_->address();
  EXPECT_EQ(run_peer(kbus + " call org.kbus.PyPeer /org/kbus/PyPeer org.kbus.PyPeer Add ii -- -2 44").out, "i 42");
  EXPECT_EQ(run_peer(kbus + " --json call org.kbus.PyPeer /org/kbus/PyPeer org.kbus.PyPeer Echo v 'a{ub}' 1 7 true").out,
            "{\"type\":\"v\",\"data\":[{\"type\":\"a{ub}\",\"data\":{\"7\":true}}]}");
  EXPECT_EQ(run_peer(kbus + " get-property org.kbus.PyPeer /org/kbus/PyPeer org.kbus.PyPeer Label").out, "s \"python\"");
  EXPECT_EQ(run_peer(kbus + " set-property org.kbus.PyPeer /org/kbus/PyPeer org.kbus.PyPeer Label s changed").status, 0);
  EXPECT_EQ(run_peer(kbus + " get-property org.kbus.PyPeer /org/kbus/PyPeer org.kbus.PyPeer Label").out, "s \"changed\"");
  auto fail = run_peer(kbus + " call org.kbus.PyPeer /org/kbus/PyPeer org.kbus.PyPeer Fail");
  EXPECT_EQ(fail.status, 1);
  EXPECT_EQ(fail.out, "kbus call: org.kbus.PyPeer.Error.Failed: python says no");
  auto list = run_peer(kbus + " list");
  EXPECT_NE(list.out.find("org.kbus.PyPeer"), std::string::npos) << list.out;
  auto info = run_peer(kbus + " info");
  EXPECT_NE(info.out.find("transport:       unix"), std::string::npos) << info.out;

}

// `kbus monitor` shows what busctl does on the bus, replies and errors included, as
// dbus-monitor would.
TEST_P(Interop, KbusMonitorSeesBusctlCallsRepliesAndErrors) {
  if (!have("/usr/bin/busctl")) GTEST_SKIP() << "busctl is not installed";
  const std::string address = bus_->address();
  start_io_thread();
  kbus::connection watcher(io_.get_executor());
  watcher.connect(address);
  kbus::test::monitor_start_watch monitor_started(watcher);
  child_process monitor({std::string(KBUS_BINARY_DIR) + "/tools/kbus", "--address=" + address, "monitor"});
  ASSERT_TRUE(monitor_started.wait()) << "kbus monitor did not become a monitor";
  // Fails: nobody owns the name, and the monitor shows the error.
  run_peer("busctl --address=" + address +
      " call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s org.kbus.Nobody");
  const std::vector<std::string> wanted = {
      "type=method_call", "member=GetNameOwner",
      "type=method_return sender=org.freedesktop.DBus",  // Hello's
      "type=error sender=org.freedesktop.DBus", "error_name=org.freedesktop.DBus.Error.NameHasNoOwner"};
  const auto out = monitor.read_until(kbus::test::contains_all(wanted));
  for (const auto& w : wanted) EXPECT_NE(out.find(w), std::string::npos) << w << "\n---\n" << out;
  watcher.close();
}

INSTANTIATE_TEST_SUITE_P(Buses, Interop, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return std::string(info.param == bus_kind::dbus_daemon ? "dbus_daemon" : "dbus_broker"); });

}  // namespace
