// Every command of the kbus program on every bus, the kdbus transport to the in-process bus
// included: the program runs in this process (kbus::cli::run) against a service served here.
#include "cli_runner.hpp"
#include "support/bus_test.hpp"
#include "support/process.hpp"

#include "kbus/bus.hpp"
#include "kbus/object_server.hpp"

#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

#include <fstream>
#include <unistd.h>

namespace {

using namespace kbus::literals;
using kbus::test::background_cli;
using kbus::test::bus_kind;
using kbus::test::run_cli;

class CliCommands : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    conn_.emplace(io_.get_executor());
    conn_->async_connect(bus_->address(), boost::asio::use_future).get();
    server_.emplace(*conn_);
    auto iface = kbus::interface_definition("org.kbus.CliTest1"_iface)
                     .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; },
                             {.in_names = {"a", "b"}, .out_names = {"sum"}})
                     .method("Old"_member, [] {}, {.deprecated = true})
                     .method("Poke"_member, [] {}, {.no_reply = true})
                     .signal<std::string>("Notice"_member, {.names = {"text"}})
                     .property("Label"_member, [this] { return label(); },
                               [this](std::string s) {
                                 std::lock_guard lock(mu_);
                                 label_ = std::move(s);
                               })
                     .property("Version"_member, [] { return std::string("1.0"); },
                               {.emits_changed = kbus::emits_changed::constant})
                     .property("Size"_member, [] { return std::uint32_t{7}; },
                               {.emits_changed = kbus::emits_changed::invalidates});
    ASSERT_TRUE(kbus::bus::async_request_name(*conn_, "org.kbus.CliTest"_bus, kbus::bus::request_name_flags::do_not_queue,
                                              boost::asio::use_future)
                    .get() == kbus::bus::request_name_reply::primary_owner);
    // The object server is used from the connection's executor only.
    boost::asio::post(io_, boost::asio::use_future([&] { server_->add("/org/kbus/CliTest/Thing"_path, iface).value(); }))
        .get();
  }
  void TearDown() override {
    if (server_) boost::asio::post(io_, boost::asio::use_future([&] { server_.reset(); })).get();
    if (conn_) conn_->close();
    bus_test::TearDown();
  }

  std::vector<std::string> kbus(std::vector<std::string> args) const {
    args.insert(args.begin(), "--address=" + bus_->address());
    return args;
  }
  void emit_notice(const std::string& text) {
    boost::asio::post(io_, boost::asio::use_future([&] {
                        (void)server_->emit("/org/kbus/CliTest/Thing"_path, "org.kbus.CliTest1"_iface, "Notice"_member, text);
                      }))
        .get();
  }
  std::string label() {
    std::lock_guard lock(mu_);
    return label_;
  }

  std::optional<kbus::connection> conn_;
  std::optional<kbus::object_server> server_;
  std::mutex mu_;
  std::string label_ = "hello";  // guarded by mu_
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The table row whose first cell is `first`, its cells split at runs of spaces.
std::vector<std::string> row_of(const std::string& table, const std::string& first) {
  for (const auto& line : split_lines(table)) {
    std::istringstream in(line);
    std::vector<std::string> cells;
    for (std::string c; in >> c;) cells.push_back(c);
    if (!cells.empty() && cells[0] == first) return cells;
  }
  return {};
}

std::string this_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

TEST_P(CliCommands, ListShowsTheServiceWithItsCredentials) {
  auto r = run_cli(kbus({"list", "--acquirable"}));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto header = row_of(r.out, "NAME");
  EXPECT_EQ(header, (std::vector<std::string>{"NAME", "PID", "PROCESS", "USER", "CONNECTION", "UNIT", "SESSION",
                                               "DESCRIPTION"}));
  const auto row = row_of(r.out, "org.kbus.CliTest");
  ASSERT_GE(row.size(), 5u) << r.out;
  EXPECT_EQ(row[1], std::to_string(::getpid()));
  EXPECT_EQ(row[2], this_comm());
  EXPECT_EQ(row[4], conn_->unique_name());
  EXPECT_TRUE(row_of(r.out, conn_->unique_name()).empty()) << "--acquirable lists no unique name\n" << r.out;

  auto unique = run_cli(kbus({"list", "--unique", "--no-legend"}));
  ASSERT_EQ(unique.status, 0) << unique.err;
  EXPECT_TRUE(row_of(unique.out, "NAME").empty()) << unique.out;
  EXPECT_EQ(row_of(unique.out, conn_->unique_name()).at(1), std::to_string(::getpid())) << unique.out;
  EXPECT_TRUE(row_of(unique.out, "org.kbus.CliTest").empty()) << unique.out;

  auto json = run_cli(kbus({"--json=pretty", "list"}));
  ASSERT_EQ(json.status, 0) << json.err;
  const auto rows = nlohmann::json::parse(json.out);
  bool found = false;
  for (const auto& row : rows)
    if (row["name"] == "org.kbus.CliTest") found = row["pid"] == ::getpid() && row["connection"] == conn_->unique_name();
  EXPECT_TRUE(found) << json.out;
}

TEST_P(CliCommands, IntrospectShowsMembersValuesAndFlags) {
  auto r = run_cli(kbus({"introspect", "org.kbus.CliTest", "/org/kbus/CliTest/Thing"}));
  ASSERT_EQ(r.status, 0) << r.err;
  using row = std::vector<std::string>;
  EXPECT_EQ(row_of(r.out, "NAME"), (row{"NAME", "TYPE", "SIGNATURE", "RESULT/VALUE", "FLAGS"}));
  EXPECT_EQ(row_of(r.out, "org.kbus.CliTest1"), (row{"org.kbus.CliTest1", "interface", "-", "-", "-"}));
  EXPECT_EQ(row_of(r.out, ".Add"), (row{".Add", "method", "ii", "i", "-"}));
  EXPECT_EQ(row_of(r.out, ".Old"), (row{".Old", "method", "-", "-", "deprecated"}));
  EXPECT_EQ(row_of(r.out, ".Poke"), (row{".Poke", "method", "-", "-", "no-reply"}));
  EXPECT_EQ(row_of(r.out, ".Label"), (row{".Label", "property", "s", "\"hello\"", "emits-change", "writable"}));
  EXPECT_EQ(row_of(r.out, ".Version"), (row{".Version", "property", "s", "\"1.0\"", "const"}));
  EXPECT_EQ(row_of(r.out, ".Size"), (row{".Size", "property", "u", "7", "emits-invalidation"}));
  EXPECT_EQ(row_of(r.out, ".Notice"), (row{".Notice", "signal", "s", "-", "-"}));
  EXPECT_FALSE(row_of(r.out, "org.freedesktop.DBus.Properties").empty()) << r.out;

  auto one = run_cli(kbus({"introspect", "--no-legend", "org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1"}));
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_TRUE(row_of(one.out, "org.freedesktop.DBus.Properties").empty()) << one.out;
  EXPECT_TRUE(row_of(one.out, "NAME").empty()) << one.out;
  EXPECT_EQ(split_lines(one.out).size(), 8u) << one.out;

  auto xml = run_cli(kbus({"introspect", "--xml-interface", "org.kbus.CliTest", "/org/kbus/CliTest/Thing"}));
  ASSERT_EQ(xml.status, 0) << xml.err;
  EXPECT_NE(xml.out.find("<interface name=\"org.kbus.CliTest1\">"), std::string::npos) << xml.out;

  auto missing = run_cli(kbus({"introspect", "org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.Nothing1"}));
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "kbus introspect: the object has no interface org.kbus.Nothing1\n");
}

TEST_P(CliCommands, TreeDrawsTheObjectPaths) {
  auto r = run_cli(kbus({"tree", "org.kbus.CliTest"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "└─/org\n"
            "  └─/org/kbus\n"
            "    └─/org/kbus/CliTest\n"
            "      └─/org/kbus/CliTest/Thing\n");
  auto all = run_cli(kbus({"tree"}));
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_NE(all.out.find("Service org.kbus.CliTest:\n└─/org\n"), std::string::npos) << all.out;
  auto unknown = run_cli(kbus({"tree", "org.kbus.Nobody"}));
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(unknown.err.rfind("kbus tree: org.freedesktop.DBus.Error.", 0), 0u) << unknown.err;
}

TEST_P(CliCommands, StatusReportsThePeerAndTheBus) {
  auto r = run_cli(kbus({"status", "org.kbus.CliTest"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("PID=" + std::to_string(::getpid()) + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UID=" + std::to_string(::getuid()) + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Comm=" + this_comm() + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UniqueName=" + conn_->unique_name() + "\n"), std::string::npos) << r.out;

  auto bus = run_cli(kbus({"--json", "status"}));
  ASSERT_EQ(bus.status, 0) << bus.err;
  const auto j = nlohmann::json::parse(bus.out);
  EXPECT_EQ(j["BusAddress"], bus_->address());
  EXPECT_EQ(j["Transport"], GetParam() == bus_kind::kbusd ? "kernel" : "unix");
  EXPECT_FALSE(j.value("BusID", "").empty()) << bus.out;

  auto pid = run_cli(kbus({"status", std::to_string(::getpid())}));
  ASSERT_EQ(pid.status, 0) << pid.err;
  EXPECT_EQ(pid.out.rfind("PID=" + std::to_string(::getpid()) + "\n", 0), 0u) << pid.out;

  auto nobody = run_cli(kbus({"status", "org.kbus.Nobody"}));
  EXPECT_EQ(nobody.status, 1);
  EXPECT_NE(nobody.err.find("kbus status: org.freedesktop.DBus.Error.NameHasNoOwner"), std::string::npos) << nobody.err;
}

TEST_P(CliCommands, InfoNamesTheTransport) {
  auto r = run_cli(kbus({"info"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(std::string("transport:       ") + (GetParam() == bus_kind::kbusd ? "kernel" : "unix") + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("unique name:     :"), std::string::npos) << r.out;
}

TEST_P(CliCommands, CallsPropertiesAndSignals) {
  const std::vector<std::string> thing = {"org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1"};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), thing.begin(), thing.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return kbus(head);
  };
  auto sum = run_cli(with({"call"}, {"Add", "ii", "--", "-2", "44"}));
  EXPECT_EQ(sum.status, 0) << sum.err;
  EXPECT_EQ(sum.out, "i 42\n");
  EXPECT_EQ(run_cli(with({"--quiet", "call"}, {"Add", "ii", "1", "2"})).out, "");
  EXPECT_EQ(run_cli(with({"--expect-reply=no", "call"}, {"Poke"})).status, 0);
  EXPECT_EQ(run_cli(with({"--auto-start=no", "call"}, {"Add", "ii", "1", "2"})).out, "i 3\n");
  EXPECT_EQ(run_cli(with({"set-property"}, {"Label", "s", "changed"})).status, 0);
  EXPECT_EQ(label(), "changed");
  EXPECT_EQ(run_cli(with({"get-property"}, {"Label", "Version"})).out, "s \"changed\"\ns \"1.0\"\n");
  EXPECT_EQ(run_cli(with({"--json", "get-property"}, {"Size"})).out, "{\"type\":\"u\",\"data\":7}\n");
  auto unknown = run_cli(with({"call"}, {"Nothing"}));
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(unknown.err.rfind("kbus call: org.freedesktop.DBus.Error.UnknownMethod: ", 0), 0u) << unknown.err;

  // emit, to everyone and to one destination, seen by a subscriber.
  kbus::test::notifier seen;
  std::vector<std::string> texts;  // guarded by seen
  auto sub = conn_->async_subscribe(
                      kbus::match_rule::parse("type='signal',interface='org.kbus.CliTest1',member='Said'").value(),
                      [&](const kbus::message& m) {
                        auto text = m.read<std::string>();
                        seen.update([&] { texts.push_back(text ? std::get<0>(*text) : "?"); });
                      },
                      boost::asio::use_future)
                 .get();
  EXPECT_EQ(run_cli(kbus({"emit", "/x", "org.kbus.CliTest1", "Said", "s", "to all"})).status, 0);
  EXPECT_EQ(run_cli(kbus({"emit", "--destination", conn_->unique_name(), "/x", "org.kbus.CliTest1", "Said", "s",
                          "to one"}))
                .status,
            0);
  EXPECT_TRUE(seen.wait_until([&] { return texts.size() == 2; }));
  seen.update([&] { EXPECT_EQ(texts, (std::vector<std::string>{"to all", "to one"})); });
}

TEST_P(CliCommands, MonitorVerbosePrintsHeadersAndTypedBodies) {
  background_cli monitor(kbus({"monitor", "--verbose"}));
  ASSERT_TRUE(monitor.wait_started()) << monitor.err.text();
  auto sum = run_cli(kbus({"call", "org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1", "Add", "ii", "40",
                           "2"}));
  ASSERT_EQ(sum.status, 0) << sum.err;
  const std::vector<std::string> wanted = {"Type=method_call", "Member=Add", "Path=/org/kbus/CliTest/Thing",
                                           "MESSAGE \"ii\" {\n          INT32 40;\n          INT32 2;\n  };",
                                           "Type=method_return", "MESSAGE \"i\" {\n          INT32 42;\n  };"};
  EXPECT_TRUE(monitor.out.wait_until(kbus::test::contains_all(wanted))) << monitor.out.text();
  EXPECT_EQ(monitor.finish(), 0) << monitor.err.text();
}

TEST_P(CliCommands, CaptureWritesPcapThatTsharkDecodes) {
  background_cli capture(kbus({"capture"}));
  ASSERT_TRUE(capture.wait_started()) << capture.err.text();
  const std::string marker = "capture-marker-" + std::to_string(::getpid());
  ASSERT_EQ(run_cli(kbus({"call", "org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1", "Add", "ii", "40",
                          "2"}))
                .status,
            0);
  ASSERT_EQ(run_cli(kbus({"emit", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1", "Said", "s", marker})).status, 0);
  EXPECT_TRUE(capture.out.wait_until([&](const std::string& t) { return t.find(marker) != std::string::npos; }));
  EXPECT_EQ(capture.finish(), 0) << capture.err.text();
  const std::string pcap = capture.out.text();
  ASSERT_GE(pcap.size(), 24u);
  std::uint32_t magic = 0, linktype = 0;
  std::memcpy(&magic, pcap.data(), 4);
  std::memcpy(&linktype, pcap.data() + 20, 4);
  EXPECT_EQ(magic, 0xa1b2c3d4u);
  EXPECT_EQ(linktype, 231u);
  if (!kbus::test::have("/usr/bin/tshark")) GTEST_SKIP() << "tshark is not installed";
  char path[] = "/tmp/kbus-capture-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, pcap.data(), pcap.size()), static_cast<ssize_t>(pcap.size()));
  ::close(fd);
  auto decoded = kbus::test::run(std::string("/usr/bin/tshark -r ") + path +
                                 " -T fields -e dbus.path -e dbus.member -e dbus.type.int32 -e dbus.type.string 2>/dev/null");
  ::unlink(path);
  ASSERT_EQ(decoded.status, 0) << decoded.out;
  EXPECT_NE(decoded.out.find("/org/kbus/CliTest/Thing\tAdd\t40,2"), std::string::npos) << decoded.out;
  EXPECT_NE(decoded.out.find("\t\t42\t"), std::string::npos) << decoded.out;
  EXPECT_NE(decoded.out.find("/org/kbus/CliTest/Thing\tSaid\t\t" + marker), std::string::npos) << decoded.out;
}

TEST_P(CliCommands, WaitReturnsOnTheSignal) {
  background_cli wait(kbus({"wait", "org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1", "Notice",
                           "--timeout", "30"}));
  ASSERT_TRUE(wait.wait_started()) << wait.err.text();
  emit_notice("here I am");
  EXPECT_EQ(wait.wait_exit(), 0) << wait.err.text();
  EXPECT_EQ(wait.out.text(), "s \"here I am\"\n");
}

TEST_P(CliCommands, WaitTimesOutWithExitOne) {
  auto r = run_cli(kbus({"wait", "org.kbus.CliTest", "/org/kbus/CliTest/Thing", "org.kbus.CliTest1", "Notice", "--timeout",
                         "0.2"}));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "kbus wait: timed out after 0.2 s waiting for org.kbus.CliTest1.Notice\n");
  EXPECT_EQ(r.out, "");
}

INSTANTIATE_TEST_SUITE_P(Buses, CliCommands,
                         testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

TEST(CliUsage, ErrorsNameTheCommandAndExitTwo) {
  auto few = run_cli({"introspect", "org.kbus.X"});
  EXPECT_EQ(few.status, 2);
  EXPECT_EQ(few.err.rfind("kbus introspect: too few arguments", 0), 0u) << few.err;
  auto bad = run_cli({"wait", "org.kbus.X", "not/a/path", "org.kbus.X", "S"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err.rfind("kbus wait: PATH: ", 0), 0u) << bad.err;
  auto option = run_cli({"list", "--frobnicate"});
  EXPECT_EQ(option.status, 2);
  EXPECT_EQ(option.err.rfind("kbus list: ", 0), 0u) << option.err;
  auto json = run_cli({"--json=long", "list"});
  EXPECT_EQ(json.status, 2);
  EXPECT_EQ(json.err, "kbus list: --json takes short or pretty, not \"long\"\n");
  auto reply = run_cli({"--expect-reply=maybe", "call", "a.b", "/", "a.b", "M"});
  EXPECT_EQ(reply.status, 2);
  EXPECT_EQ(reply.err, "kbus call: --expect-reply takes yes or no, not \"maybe\"\n");
  auto timeout = run_cli({"wait", "a.b", "/", "a.b", "S", "--timeout", "-1"});
  EXPECT_EQ(timeout.status, 2);
  EXPECT_EQ(timeout.err.rfind("kbus wait: ", 0), 0u) << timeout.err;
  auto unknown = run_cli({"frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_EQ(unknown.err.rfind("kbus: unknown command \"frobnicate\"", 0), 0u) << unknown.err;
  for (const auto& r : {few, bad, option, json, reply, timeout, unknown}) EXPECT_EQ(r.out, "");
}

}  // namespace
