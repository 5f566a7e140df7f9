// Bad input is refused with the file, the line and the reason (exit status 1), bad usage with
// exit status 2, and in both cases nothing is left in the output folder.
#include "run_codegen.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

namespace {

namespace fs = std::filesystem;

const fs::path bad_dir = fs::path(KBUS_SOURCE_DIR) / "tests/codegen/bad";
const fs::path good_xml = fs::path(KBUS_SOURCE_DIR) / "tests/codegen/xml/org.kbus.PyPeer1.xml";

class CodegenBadInput : public testing::Test {
 protected:
  void SetUp() override {
    out_ = fs::temp_directory_path() / ("kbus-codegen-bad-" + std::to_string(::getpid()));
    fs::remove_all(out_);
    fs::create_directories(out_);
  }
  void TearDown() override { fs::remove_all(out_); }
  bool output_is_empty() const { return fs::is_empty(out_); }
  // Generates the good file and then `bad` in one run.
  kbus::test::codegen_run refuse(const char* bad) {
    return kbus::test::run_codegen({"-o", out_.string(), good_xml.string(), (bad_dir / bad).string()});
  }
  fs::path out_;
};

TEST_F(CodegenBadInput, EachFileIsRefusedWithItsLineAndReason) {
  const struct {
    const char* file;
    int line;
    const char* reason;
  } cases[] = {
      {"not_well_formed.xml", 5, "not well-formed XML: mismatched tag"},
      {"bad_signature.xml", 4, "invalid type 'a{vs}'"},
      {"two_types.xml", 3, "'ii' is more than one complete type"},
      {"bad_interface.xml", 2, "invalid interface name 'org.example..Bad1'"},
      {"bad_member.xml", 3, "invalid signal name 'Not-A-Member'"},
      {"bad_access.xml", 3, "access 'readonly' is not read, write or readwrite"},
      {"bad_struct.xml", 4, "org.kbus.Struct: 3 member names for a struct of 2 fields"},
      {"bad_timeout.xml", 3, "Method.Timeout 'soon' is not a number of milliseconds"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    auto r = refuse(c.file);
    EXPECT_EQ(r.status, 1);
    const std::string where = (bad_dir / c.file).string() + ":" + std::to_string(c.line) + ": ";
    EXPECT_NE(r.output.find(where), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.reason), std::string::npos) << r.output;
    // The good file of the same run is not written either, and no temporary file is left.
    EXPECT_TRUE(output_is_empty());
  }
}

TEST_F(CodegenBadInput, AMissingFileIsBadInput) {
  auto r = kbus::test::run_codegen({"-o", out_.string(), (bad_dir / "no-such-file.xml").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no-such-file.xml: cannot be read"), std::string::npos) << r.output;
  EXPECT_TRUE(output_is_empty());
}

TEST_F(CodegenBadInput, BadUsageExitsWithTwo) {
  EXPECT_EQ(kbus::test::run_codegen({}).status, 2);
  EXPECT_EQ(kbus::test::run_codegen({"--no-such-option", good_xml.string()}).status, 2);
  EXPECT_EQ(kbus::test::run_codegen({"--namespace", "9lives", "-o", out_.string(), good_xml.string()}).status, 2);
  EXPECT_EQ(kbus::test::run_codegen({"--namespace", "a::class", "-o", out_.string(), good_xml.string()}).status, 2);
  EXPECT_EQ(kbus::test::run_codegen({"--system", "-o", out_.string(), good_xml.string()}).status, 2);
  EXPECT_EQ(kbus::test::run_codegen({"--from-bus", "org.kbus.Demo"}).status, 2);
  EXPECT_EQ(kbus::test::run_codegen({"--from-bus", "--system", "--user", "org.kbus.Demo", "/"}).status, 2);
  // Two inputs that would write the same files.
  EXPECT_EQ(kbus::test::run_codegen({"-o", out_.string(), good_xml.string(), good_xml.string()}).status, 2);
  EXPECT_TRUE(output_is_empty());
}

TEST_F(CodegenBadInput, AGoodRunWritesOnlyTheFilesAsked) {
  auto r = kbus::test::run_codegen({"--adaptor", "-o", out_.string(), good_xml.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"org.kbus.PyPeer1_adaptor.hpp", "org.kbus.PyPeer1_types.hpp"}));
}

}  // namespace
