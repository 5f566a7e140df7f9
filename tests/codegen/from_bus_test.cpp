// kbus-codegen --from-bus against kbus-demo-service gives the code its XML gives.
#include "run_codegen.hpp"

#include "support/bus_test.hpp"
#include "support/process.hpp"
#include "support/testdata.hpp"

#include <kbus/proxy.hpp>

#include <algorithm>
#include <filesystem>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
namespace fs = std::filesystem;

class CodegenFromBus : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    dir_ = fs::temp_directory_path() / ("kbus-codegen-from-bus-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "file");
    demo_.emplace(std::vector<std::string>{std::string(KBUS_BINARY_DIR) + "/tools/kbus-demo-service", "--address",
                                           bus_->address()});
    ASSERT_EQ(demo_->read_line(), "READY\n");
  }
  void TearDown() override {
    demo_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
    bus_test::TearDown();
  }
  fs::path dir_;
  std::optional<kbus::test::child_process> demo_;
};

TEST_P(CodegenFromBus, GivesWhatTheServicesXmlGives) {
  // The XML under the name --from-bus gives the object /org/kbus/Demo.
  fs::copy_file(fs::path(KBUS_SOURCE_DIR) / "tools/kbus-demo-service/org.kbus.Demo1.xml", dir_ / "org_kbus_Demo.xml");
  auto from_file = kbus::test::run_codegen({"-o", (dir_ / "file").string(), (dir_ / "org_kbus_Demo.xml").string()});
  ASSERT_EQ(from_file.status, 0) << from_file.output;
  auto from_bus = kbus::test::run_codegen(
      {"--from-bus", "--address", bus_->address(), "-o", (dir_ / "bus").string(), "org.kbus.Demo", "/org/kbus/Demo"});
  ASSERT_EQ(from_bus.status, 0) << from_bus.output;
  for (const char* suffix : {"_types.hpp", "_proxy.hpp", "_adaptor.hpp"}) {
    const std::string name = std::string("org_kbus_Demo") + suffix;
    ASSERT_TRUE(fs::exists(dir_ / "bus" / name)) << name;
    EXPECT_EQ(kbus::test::read_file(dir_ / "bus" / name), kbus::test::read_file(dir_ / "file" / name)) << name;
  }
}

TEST_P(CodegenFromBus, WalksChildNodesWhenRecursive) {
  // An item of the demo's object manager: a child node with an interface of its own.
  start_io_thread();
  kbus::connection c(io_.get_executor());
  c.connect(bus_->address());
  kbus::proxy demo(c, "org.kbus.Demo"_bus, "/org/kbus/Demo"_path, "org.kbus.Demo1"_iface);
  const auto item = demo.call<kbus::object_path>("AddItem"_member, std::string("first"));
  c.close();
  auto r = kbus::test::run_codegen({"--from-bus", "--recursive", "--address", bus_->address(), "--proxy", "-o",
                                    dir_.string(), "org.kbus.Demo", "/org"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "org_kbus_Demo_proxy.hpp"));
  EXPECT_FALSE(fs::exists(dir_ / "org_kbus_Demo_adaptor.hpp"));  // --proxy only
  // The item's object: its own stem, its own interface.
  const std::string stem = item.str().substr(1);
  std::string expected = stem;
  std::replace(expected.begin(), expected.end(), '/', '_');
  EXPECT_TRUE(fs::exists(dir_ / (expected + "_proxy.hpp"))) << expected;
}

TEST_P(CodegenFromBus, AServiceThatIsNotThereIsAnError) {
  auto r = kbus::test::run_codegen({"--from-bus", "--address", bus_->address(), "-o", dir_.string(), "org.kbus.Nobody", "/"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("kbus-codegen: "), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Buses, CodegenFromBus, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
