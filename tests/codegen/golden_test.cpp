// The generated code, kept in golden files (tests/codegen/golden): a change to the output shows
// up as a diff in review. KBUS_UPDATE_GOLDEN=1 writes the files anew instead of comparing.
#include "run_codegen.hpp"

#include "support/testdata.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

const fs::path source_dir = fs::path(KBUS_SOURCE_DIR);

void check_golden(const fs::path& xml, const std::vector<std::string>& flags, const std::vector<std::string>& outputs) {
  const fs::path dir = fs::temp_directory_path() / ("kbus-codegen-golden-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::vector<std::string> args = flags;
  args.insert(args.end(), {"-o", dir.string(), xml.string()});
  auto r = kbus::test::run_codegen(args);
  ASSERT_EQ(r.status, 0) << r.output;
  const bool update = std::getenv("KBUS_UPDATE_GOLDEN") != nullptr;
  for (const auto& name : outputs) {
    const fs::path golden = source_dir / "tests/codegen/golden" / name;
    const std::string made = kbus::test::read_file(dir / name);
    if (update) {
      std::ofstream(golden, std::ios::binary) << made;
      continue;
    }
    EXPECT_EQ(made, kbus::test::read_file(golden))
        << name << " differs from its golden file: if the change is meant, run the test with KBUS_UPDATE_GOLDEN=1 "
        << "and review the diff";
  }
  fs::remove_all(dir);
}

TEST(CodegenGolden, TheRoundTripInterface) {
  check_golden(source_dir / "tests/codegen/xml/org.kbus.Test.Everything1.xml", {"--namespace", "codegen_test"},
               {"org.kbus.Test.Everything1_types.hpp", "org.kbus.Test.Everything1_proxy.hpp",
                "org.kbus.Test.Everything1_adaptor.hpp"});
}

TEST(CodegenGolden, TheDemoServicesProxyAlone) {
  check_golden(source_dir / "tools/kbus-demo-service/org.kbus.Demo1.xml", {"--proxy", "--namespace", "demo"},
               {"org.kbus.Demo1_types.hpp", "org.kbus.Demo1_proxy.hpp"});
}

}  // namespace
