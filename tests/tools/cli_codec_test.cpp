// The `kbus` program's decode and encode, run as a user runs them.
#include "support/testdata.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sys/wait.h>

namespace {

struct run_result {
  int status;
  std::string out;
};

// Runs `kbus ARGS` with `input` on stdin (through a file) and stdout captured.
run_result run_kbus(const std::string& args, const std::string& input) {
  char in_path[] = "/tmp/kbus-cli-in-XXXXXX";
  const int fd = ::mkstemp(in_path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::close(fd);
  const std::string cmd = std::string(KBUS_BINARY_DIR) + "/tools/kbus " + args + " < " + in_path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  ::unlink(in_path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string call_json =
    R"({"header": {"type": "method_call", "serial": 5, "path": "/org/kbus/Demo", "interface": "org.kbus.Demo1",)"
    R"( "member": "Add", "destination": "org.kbus.Demo", "flags": ["no_auto_start"]},)"
    R"( "body": {"type": "ia{sv}", "data": [-7, {"k": {"type": "as", "data": ["a"]}}]}})";

TEST(Cli, EncodeThenDecodeInBothByteOrders) {
  for (const std::string order : {"", "--big-endian "}) {
    auto hex = run_kbus("encode " + order + "--hex", call_json);
    ASSERT_EQ(hex.status, 0) << hex.out;
    EXPECT_EQ(hex.out.substr(0, 2), order.empty() ? "6c" : "42");
    auto back = run_kbus("decode --hex", hex.out);
    ASSERT_EQ(back.status, 0) << back.out;
    EXPECT_EQ(nlohmann::json::parse(back.out), nlohmann::json::parse(call_json));
  }
  // Binary output, then binary input.
  auto bin = run_kbus("encode", call_json);
  ASSERT_EQ(bin.status, 0);
  auto back = run_kbus("decode", bin.out);
  ASSERT_EQ(back.status, 0) << back.out;
  EXPECT_EQ(nlohmann::json::parse(back.out), nlohmann::json::parse(call_json));
}

TEST(Cli, DecodesTheSharedVectors) {
  KBUS_REQUIRE_TESTDATA(file, "vectors/glib-seed1.jsonl");
  std::ifstream in(file);
  std::string line;
  for (int i = 0; i < 5 && std::getline(in, line); ++i) {
    const auto vec = nlohmann::json::parse(line);
    auto out = run_kbus("decode --hex", vec["be"].get<std::string>());
    ASSERT_EQ(out.status, 0) << out.out;
    const nlohmann::json expected{{"header", vec["header"]}, {"body", vec["body"]}};
    EXPECT_EQ(nlohmann::json::parse(out.out), expected);
  }
}

TEST(Cli, InvalidInputExitsOneWithAReason) {
  auto bad = run_kbus("decode --hex", "6c01000100000000010000000000000000");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("invalid message:"), std::string::npos) << bad.out;
  auto bad_json = run_kbus("encode", R"({"header": {"type": "signal", "serial": 1}, "body": {"type": "i", "data": ["x"]}})");
  EXPECT_EQ(bad_json.status, 1);
  EXPECT_NE(bad_json.out.find("body[0]"), std::string::npos) << bad_json.out;
  auto usage = run_kbus("frobnicate", "");
  EXPECT_EQ(usage.status, 2);
}

TEST(Cli, Match) {
  auto canonical = run_kbus("match \"member=Foo,type='signal',arg0=x\"", "");
  EXPECT_EQ(canonical.status, 0);
  EXPECT_EQ(canonical.out, "type='signal',member='Foo',arg0='x'\n");
  auto bad = run_kbus("match \"member='9Foo'\"", "");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("key 'member'"), std::string::npos) << bad.out;
  const std::string msg = R"({"header": {"type": "signal", "serial": 1, "path": "/a/b", "interface": "org.x.Y",)"
                          R"( "member": "Foo", "flags": []}, "body": {"type": "s", "data": ["x"]}})";
  EXPECT_EQ(run_kbus("match \"type='signal',arg0='x',path_namespace='/a'\" --message -", msg).status, 0);
  EXPECT_EQ(run_kbus("match \"arg0='y'\" --message -", msg).status, 1);
}

}  // namespace
