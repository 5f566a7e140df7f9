// Every introspection file of the shared test data: its code compiled when this program was
// built (tests/codegen/CMakeLists.txt); here, the files kbus-codegen refused, and why.
#include "support/testdata.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

namespace {

TEST(CodegenCorpus, OnlyInvalidFilesAreRefusedAndEachSaysWhereAndWhy) {
#ifndef KBUS_CODEGEN_CORPUS
  GTEST_SKIP() << "the shared test data was not there when the tests were configured";
#else
  auto data = kbus::test::testdata_dir();
  if (!data) GTEST_SKIP() << "no shared test data";
  // file -> (exit status, message)
  std::map<std::string, std::pair<std::string, std::string>> refused;
  std::istringstream lines(kbus::test::read_file(std::filesystem::path(KBUS_CODEGEN_CORPUS_DIR) / "refused.txt"));
  for (std::string line; std::getline(lines, line);) {
    auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    refused[line.substr(0, t1)] = {line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)};
  }
  // The index says which files are not well-formed or use invalid types: each is refused.
  auto index = nlohmann::json::parse(kbus::test::read_file(*data / "introspection/index.json"));
  std::size_t files = 0;
  for (const auto& e : index) {
    ++files;
    const std::string file = e["file"].get<std::string>().substr(std::string("introspection/").size());
    if (!e["well_formed"].get<bool>() || !e["invalid_types"].empty()) {
      EXPECT_TRUE(refused.count(file)) << file;
    }
  }
  EXPECT_EQ(files, 400u);
  // And these are all that are refused: a type code that does not exist, a method and an
  // interface whose names break the specification.
  const std::map<std::string, std::string> expected = {
      {"zbus/invalid_arg_type.xml", "zbus/invalid_arg_type.xml:7: invalid type 'z'"},
      {"dbus-cxx/some.thing.xml", "dbus-cxx/some.thing.xml:4: invalid method name 'some.method'"},
      {"glib/test-codegen.xml", "glib/test-codegen.xml:353: invalid interface name 'ChangingInterfaceV1'"},
  };
  EXPECT_EQ(refused.size(), expected.size());
  for (const auto& [file, message] : expected) {
    ASSERT_TRUE(refused.count(file)) << file;
    EXPECT_EQ(refused[file].first, "1") << file;
    EXPECT_NE(refused[file].second.find(message), std::string::npos) << refused[file].second;
  }
#endif
}

}  // namespace
