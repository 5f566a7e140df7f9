// README.md's complete programs: every C++ block with a main() is a file of examples/ (named
// by the comment above it), word for word, so a README that drifts fails here; and they work:
// the service owns its name on a private bus and the client gets 42 back.
#include "support/bus_test.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace {

using kbus::test::bus_kind;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct code_block {
  std::string marker;  // the line above the opening fence
  std::string text;
};

// The ```cpp blocks of a Markdown text.
std::vector<code_block> cpp_blocks(const std::string& markdown) {
  std::vector<code_block> out;
  std::istringstream in(markdown);
  std::string line, previous;
  while (std::getline(in, line)) {
    if (line == "```cpp") {
      code_block b{previous, {}};
      while (std::getline(in, line) && line != "```") b.text += line + "\n";
      out.push_back(std::move(b));
    }
    previous = line;
  }
  return out;
}

// "examples/x.cpp" from "<!-- examples/x.cpp -->", else "".
std::string named_file(const std::string& marker) {
  const std::string open = "<!-- ", close = " -->";
  if (!marker.starts_with(open) || !marker.ends_with(close)) return "";
  return marker.substr(open.size(), marker.size() - open.size() - close.size());
}

TEST(ReadmeExamples, EveryCompleteBlockIsTheExampleFileItNames) {
  const auto blocks = cpp_blocks(read_file(std::string(KBUS_SOURCE_DIR) + "/README.md"));
  std::set<std::string> files;
  for (const auto& b : blocks) {
    if (b.text.find("int main(") == std::string::npos) continue;  // a fragment, not a program
    const std::string file = named_file(b.marker);
    ASSERT_FALSE(file.empty()) << "a complete program in README.md names no file of examples/ above it:\n" << b.text;
    EXPECT_EQ(b.text, read_file(std::string(KBUS_SOURCE_DIR) + "/" + file))
        << "README.md's block differs from " << file;
    files.insert(file);
  }
  EXPECT_EQ(files, (std::set<std::string>{"examples/readme_client.cpp", "examples/readme_service.cpp"}));
}

// The examples are programs of their own, so they need a bus another process can reach: the
// socket buses (kbusd of this suite lives inside the test process).
class ReadmeExamples : public kbus::test::bus_test {
 protected:
  static std::string example(const char* name) { return std::string(KBUS_BINARY_DIR) + "/examples/" + name; }
  std::string with_bus(const std::string& program) const {
    return "DBUS_SESSION_BUS_ADDRESS='" + bus_->address() + "' " + program;
  }
};

TEST_P(ReadmeExamples, TheServiceOwnsItsNameAndTheClientGets42) {
#ifndef KBUS_README_EXAMPLES_BUILT
  GTEST_SKIP() << "the examples are not built (KBUS_BUILD_EXAMPLES=OFF)";
#endif
  kbus::test::child_process service(
      {"/usr/bin/env", "DBUS_SESSION_BUS_ADDRESS=" + bus_->address(), example("readme_service")});
  ASSERT_EQ(service.read_line(), "serving org.example.Calc\n");
  const auto client = kbus::test::run(with_bus(example("readme_client")));
  EXPECT_EQ(client.status, 0) << client.out;
  EXPECT_EQ(client.out, "42");
  // A second service cannot have the name: it says why and fails.
  const auto second = kbus::test::run(with_bus(example("readme_service")));
  EXPECT_EQ(second.status, 1);
  EXPECT_EQ(second.out, "cannot serve: cannot own org.example.Calc: the bus answered exists (another connection owns it)");
}

INSTANTIATE_TEST_SUITE_P(Buses, ReadmeExamples, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
