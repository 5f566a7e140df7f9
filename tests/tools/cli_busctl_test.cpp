// The kbus program beside busctl on dbus-daemon and dbus-broker, against kbus-demo-service and
// a dbus-python service: list, introspect, tree and status show the same names, members, types,
// values and flags; capture gives pcap that tshark decodes; wait returns on a signal or times out.
#include "support/bus_test.hpp"
#include "support/monitor_start.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

namespace {

using kbus::test::bus_kind;
using kbus::test::child_process;
using kbus::test::have;
using kbus::test::run;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> cells;
  for (std::string c; in >> c;) cells.push_back(c);
  return cells;
}

// KEY=VALUE lines.
std::map<std::string, std::string> fields_of(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& line : lines_of(text))
    if (auto eq = line.find('='); eq != std::string::npos && line[0] != ' ') out[line.substr(0, eq)] = line.substr(eq + 1);
  return out;
}

class CliBesideBusctl : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    if (!have("/usr/bin/busctl")) GTEST_SKIP() << "busctl is not installed";
    bus_test::SetUp();
    if (!bus_) return;
    demo_.emplace(std::vector<std::string>{std::string(KBUS_BINARY_DIR) + "/tools/kbus-demo-service", "--address",
                                           bus_->address()});
    ASSERT_EQ(demo_->read_line(), "READY\n");
    if (have("/usr/bin/python3") && run("/usr/bin/python3 -c 'import dbus, gi'").status == 0) {
      python_.emplace(std::vector<std::string>{"/usr/bin/python3", std::string(KBUS_SOURCE_DIR) + "/tests/peers/python_service.py",
                                               bus_->address()});
      ASSERT_EQ(python_->read_line(), "READY\n");
    }
  }

  std::string kbus(const std::string& args) const {
    return std::string(KBUS_BINARY_DIR) + "/tools/kbus --address=" + bus_->address() + " " + args;
  }
  std::string busctl(const std::string& args) const { return "/usr/bin/busctl --address=" + bus_->address() + " " + args; }
  // The services to compare: (name, object path).
  std::vector<std::pair<std::string, std::string>> services() const {
    std::vector<std::pair<std::string, std::string>> s{{"org.kbus.Demo", "/org/kbus/Demo"}};
    if (python_) s.emplace_back("org.kbus.PyPeer", "/org/kbus/PyPeer");
    return s;
  }

  std::optional<child_process> demo_, python_;
};

TEST_P(CliBesideBusctl, ListShowsTheSameNamesAndOwners) {
  auto theirs = run(busctl("list --acquired --no-legend"));
  auto ours = run(kbus("list --acquirable --no-legend"));
  ASSERT_EQ(theirs.status, 0) << theirs.out;
  ASSERT_EQ(ours.status, 0) << ours.out;
  const auto their_lines = lines_of(theirs.out), our_lines = lines_of(ours.out);
  ASSERT_EQ(our_lines.size(), their_lines.size()) << ours.out << "\n---\n" << theirs.out;
  for (std::size_t i = 0; i < our_lines.size(); ++i) {
    const auto a = cells_of(our_lines[i]), b = cells_of(their_lines[i]);
    ASSERT_GE(a.size(), 6u) << our_lines[i];
    ASSERT_GE(b.size(), 6u) << their_lines[i];
    // NAME PID PROCESS USER CONNECTION; UNIT where both know it. Only the bus daemon's own PID
    // and process differ on dbus-broker, and only because of how the test starts it: busctl
    // takes them from the socket (SO_PEERCRED names whoever made the listening socket: this
    // test), kbus from GetConnectionCredentials (the broker names its launcher).
    const bool environmental_driver = GetParam() == bus_kind::dbus_broker && a[0] == "org.freedesktop.DBus";
    for (std::size_t c = 0; c < 5; ++c) {
      if (environmental_driver && (c == 1 || c == 2)) continue;
      EXPECT_EQ(a[c], b[c]) << "column " << c << "\n" << ours.out << "\n---\n" << theirs.out;
    }
    if (a[5] != "-" && b[5] != "-") {
      EXPECT_EQ(a[5], b[5]);
    }
  }
  // Activatable names (dbus-daemon counts its own), marked as busctl marks them.
  auto their_activatable = run(busctl("list --activatable --no-legend"));
  auto our_activatable = run(kbus("list --activatable --no-legend"));
  ASSERT_EQ(our_activatable.status, 0) << our_activatable.out;
  EXPECT_EQ(lines_of(our_activatable.out).size(), lines_of(their_activatable.out).size()) << our_activatable.out;
  for (std::size_t i = 0; i < lines_of(our_activatable.out).size() && i < lines_of(their_activatable.out).size(); ++i)
    EXPECT_EQ(cells_of(lines_of(our_activatable.out)[i]), cells_of(lines_of(their_activatable.out)[i]));
  // The MACHINE column: the services' machine IDs.
  auto their_machines = run(busctl("list --acquired --show-machine --no-legend"));
  auto our_machines = run(kbus("list --acquirable --show-machine --no-legend"));
  ASSERT_EQ(our_machines.status, 0) << our_machines.out;
  for (std::size_t i = 0; i < lines_of(our_machines.out).size() && i < lines_of(their_machines.out).size(); ++i)
    EXPECT_EQ(cells_of(lines_of(our_machines.out)[i]).back(), cells_of(lines_of(their_machines.out)[i]).back());
  // Unique names: each program sees itself, so only the services' rows are compared.
  auto their_unique = run(busctl("list --unique --no-legend"));
  auto our_unique = run(kbus("list --unique"));
  ASSERT_EQ(our_unique.status, 0) << our_unique.out;
  EXPECT_EQ(cells_of(lines_of(our_unique.out).at(0)).at(0), "NAME") << "the legend";
  auto row_for = [](const std::string& text, const std::string& name) {
    for (const auto& line : lines_of(text))
      if (auto c = cells_of(line); !c.empty() && c[0] == name) return c;
    return std::vector<std::string>{};
  };
  for (const auto& [name, path] : services()) {
    const auto row = row_for(ours.out, name);
    ASSERT_FALSE(row.empty()) << name;
    EXPECT_EQ(row_for(our_unique.out, row[4]), row_for(their_unique.out, row[4])) << row[4];
  }
}

TEST_P(CliBesideBusctl, IntrospectShowsTheSameMembersTypesValuesAndFlags) {
  for (const auto& [name, path] : services()) {
    auto theirs = run(busctl("introspect " + name + " " + path));
    auto ours = run(kbus("introspect " + name + " " + path));
    ASSERT_EQ(theirs.status, 0) << theirs.out;
    ASSERT_EQ(ours.status, 0) << ours.out;
    const auto their_lines = lines_of(theirs.out), our_lines = lines_of(ours.out);
    ASSERT_EQ(our_lines.size(), their_lines.size()) << ours.out << "\n---\n" << theirs.out;
    for (std::size_t i = 0; i < our_lines.size(); ++i) {
      auto a = cells_of(our_lines[i]), b = cells_of(their_lines[i]);
      // The demo's counter ticks every second: its value may move between the two programs.
      if (!a.empty() && a[0] == ".Counter" && a.size() > 3 && b.size() > 3) a[3] = b[3] = "N";
      EXPECT_EQ(a, b) << our_lines[i] << "\n" << their_lines[i];
    }
    // The XML as received: the same text busctl gets.
    auto xml = run(kbus("introspect --xml-interface " + name + " " + path));
    auto their_xml = run(busctl("introspect --xml-interface " + name + " " + path));
    EXPECT_EQ(xml.out, their_xml.out);
  }
}

TEST_P(CliBesideBusctl, TreeDrawsTheSameObjects) {
  for (const auto& [name, path] : services()) {
    auto theirs = run(busctl("tree " + name));
    auto ours = run(kbus("tree " + name));
    ASSERT_EQ(ours.status, 0) << ours.out;
    EXPECT_EQ(ours.out, theirs.out);
  }
  // Every service: the same blocks ("Service NAME:" and its tree).
  auto blocks = [](const std::string& text) {
    std::set<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
      auto end = text.find("\n\n", at);
      if (end == std::string::npos) end = text.size();
      out.insert(text.substr(at, end - at));
      at = end + 2;
    }
    return out;
  };
  auto theirs = run(busctl("tree"));
  auto ours = run(kbus("tree"));
  ASSERT_EQ(ours.status, 0) << ours.out;
  EXPECT_EQ(blocks(ours.out), blocks(theirs.out)) << ours.out << "\n---\n" << theirs.out;
}

TEST_P(CliBesideBusctl, StatusReportsTheSameCredentials) {
  for (const auto& [name, path] : services()) {
    const auto theirs = fields_of(run(busctl("status " + name)).out);
    auto ours_run = run(kbus("status " + name));
    ASSERT_EQ(ours_run.status, 0) << ours_run.out;
    const auto ours = fields_of(ours_run.out);
    for (const char* key : {"PID", "UID", "Comm", "Exe", "CommandLine", "UniqueName"}) {
      ASSERT_TRUE(ours.count(key) && theirs.count(key)) << key << "\n" << ours_run.out;
      EXPECT_EQ(ours.at(key), theirs.at(key)) << key;
    }
    for (const auto& [key, v] : ours) {
      if (theirs.count(key)) {
        EXPECT_EQ(v, theirs.at(key)) << key;
      }
    }
  }
  // The bus: the same ID; the daemon's process as the list test says (on dbus-broker busctl
  // describes whoever made the listening socket, here this test).
  const auto theirs = fields_of(run(busctl("status")).out);
  const auto ours = fields_of(run(kbus("status")).out);
  ASSERT_TRUE(ours.count("BusID") && theirs.count("BusID"));
  EXPECT_EQ(ours.at("BusID"), theirs.at("BusID"));
  if (GetParam() == bus_kind::dbus_daemon) {
    for (const char* key : {"PID", "UID", "Comm", "Exe", "CommandLine"}) {
      ASSERT_TRUE(ours.count(key) && theirs.count(key)) << key;
      EXPECT_EQ(ours.at(key), theirs.at(key)) << key;
    }
  }
}

// kbus capture while calls run: tshark's D-Bus dissector reads every message with the paths,
// members and bodies that were sent.
TEST_P(CliBesideBusctl, CaptureGivesPcapThatTsharkDecodes) {
  if (!have("/usr/bin/tshark")) GTEST_SKIP() << "tshark is not installed";
  start_io_thread();
  kbus::connection watcher(io_.get_executor());
  watcher.connect(bus_->address());
  kbus::test::monitor_start_watch started(watcher);
  child_process capture({std::string(KBUS_BINARY_DIR) + "/tools/kbus", "--address=" + bus_->address(), "capture"});
  ASSERT_TRUE(started.wait()) << "kbus capture did not become a monitor";
  const std::string marker = "captured-" + std::to_string(::getpid());
  EXPECT_EQ(run(kbus("call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Add ii 40 2")).out, "i 42");
  EXPECT_EQ(run(kbus("call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Echo v s " + marker)).out, "v s \"" + marker + "\"");
  // The call and its reply both carry the marker.
  auto twice = [&](const std::string& out) {
    const auto first = out.find(marker);
    return first != std::string::npos && out.find(marker, first + 1) != std::string::npos;
  };
  const std::string pcap = capture.read_until(twice);
  ASSERT_TRUE(twice(pcap));
  watcher.close();
  char path[] = "/tmp/kbus-capture-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, pcap.data(), pcap.size()), static_cast<ssize_t>(pcap.size()));
  ::close(fd);
  auto decoded = run(std::string("/usr/bin/tshark -r ") + path +
                     " -T fields -e dbus.message_type -e dbus.path -e dbus.member -e dbus.type.int32"
                     " -e dbus.type.string 2>/dev/null");
  auto malformed = run(std::string("/usr/bin/tshark -r ") + path + " -Y _ws.malformed 2>/dev/null | wc -l");
  ::unlink(path);
  ASSERT_EQ(decoded.status, 0) << decoded.out;
  EXPECT_NE(decoded.out.find("1\t/org/kbus/Demo\tAdd\t40,2"), std::string::npos) << decoded.out;
  EXPECT_NE(decoded.out.find("2\t\t\t42\t"), std::string::npos) << decoded.out;
  EXPECT_NE(decoded.out.find("1\t/org/kbus/Demo\tEcho\t\t" + marker), std::string::npos) << decoded.out;
  EXPECT_NE(decoded.out.find("2\t\t\t\t" + marker), std::string::npos) << decoded.out;
  EXPECT_EQ(malformed.out, "0") << "every message decodes";
}

TEST_P(CliBesideBusctl, WaitReturnsOnTheSignalAndTimesOut) {
  // The demo ticks every second.
  auto tick = run(kbus("wait org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Tick --timeout 20"));
  EXPECT_EQ(tick.status, 0) << tick.out;
  EXPECT_EQ(tick.out.rfind("u ", 0), 0u) << tick.out;
  auto none = run(kbus("wait org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Nothing --timeout 0.3"));
  EXPECT_EQ(none.status, 1);
  EXPECT_EQ(none.out, "kbus wait: timed out after 0.3 s waiting for org.kbus.Demo1.Nothing");
}

INSTANTIATE_TEST_SUITE_P(Buses, CliBesideBusctl, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
