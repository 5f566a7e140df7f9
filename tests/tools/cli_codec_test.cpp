// The `kbus` program's decode and encode, run as a user runs them.
#include "support/testdata.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sys/wait.h>

namespace {

struct run_result {
  int status;
  std::string out;  // stdout and stderr, interleaved
  std::string err;  // stderr alone
};

// A temporary file holding `content`, removed with the object.
struct temp_file {
  explicit temp_file(const std::string& content) {
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::close(fd);
  }
  ~temp_file() { ::unlink(path); }
  char path[32] = "/tmp/kbus-cli-XXXXXX";
};

// Runs `kbus ARGS` with `input` on stdin (through a file), stdout and stderr captured.
run_result run_kbus(const std::string& args, const std::string& input) {
  temp_file in(input), err("");
  // Stderr to its own file. ARGS is shell text (quotes and all), as a user types it.
  const std::string cmd =
      std::string(KBUS_BINARY_DIR) + "/tools/kbus " + args + " < " + in.path + " 2> " + err.path;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  std::string err_text = kbus::test::read_file(err.path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out + err_text, err_text};
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

TEST(Cli, FileArgumentsAndSpacedHex) {
  auto hex = run_kbus("encode --hex", call_json);
  ASSERT_EQ(hex.status, 0) << hex.out;
  // Hex as people paste it: spaces, line breaks, capitals.
  std::string spaced;
  for (std::size_t i = 0; i < hex.out.size(); ++i) {
    spaced += static_cast<char>(std::toupper(static_cast<unsigned char>(hex.out[i])));
    if (i % 2 == 1) spaced += i % 32 == 31 ? "\n" : " ";
  }
  temp_file hex_file(spaced);
  auto decoded = run_kbus(std::string("decode --hex ") + hex_file.path, "");
  ASSERT_EQ(decoded.status, 0) << decoded.out;
  EXPECT_EQ(nlohmann::json::parse(decoded.out), nlohmann::json::parse(call_json));
  temp_file json_file(call_json);
  auto from_file = run_kbus(std::string("encode --hex -- ") + json_file.path, "");
  EXPECT_EQ(from_file.status, 0) << from_file.out;
  EXPECT_EQ(from_file.out, hex.out);

  EXPECT_EQ(run_kbus("decode --hex /nonexistent/kbus-message", "").status, 1);
  EXPECT_NE(run_kbus("decode /nonexistent/kbus-message", "").err.find("cannot read /nonexistent/kbus-message"),
            std::string::npos);
  auto odd = run_kbus("decode --hex", "6c0");
  EXPECT_EQ(odd.status, 1);
  EXPECT_NE(odd.err.find("odd number of hex digits"), std::string::npos) << odd.err;
  EXPECT_EQ(run_kbus("decode --hex", "6x").status, 1);
}

TEST(Cli, DecodesCapturesWithUnixFdsAndNoDescriptors) {
  KBUS_REQUIRE_TESTDATA(file, "messages/captured/dbus-daemon/messages.jsonl");
  std::ifstream in(file);
  std::string line;
  int with_fds = 0;
  while (std::getline(in, line)) {
    const auto cap = nlohmann::json::parse(line);
    if (!cap["header"].contains("unix_fds")) continue;
    auto out = run_kbus("decode --hex", cap["hex"].get<std::string>());
    ASSERT_EQ(out.status, 0) << out.out;
    const nlohmann::json expected{{"header", cap["header"]}, {"body", cap["body"]}};
    EXPECT_EQ(nlohmann::json::parse(out.out), expected);
    // And back: the same bytes as the bus delivered them (serial, fields and fd count included).
    auto again = run_kbus(std::string("encode --hex") + (cap["byte_order"] == "B" ? " --big-endian" : ""), out.out);
    ASSERT_EQ(again.status, 0) << again.out;
    auto redecoded = run_kbus("decode --hex", again.out);
    EXPECT_EQ(nlohmann::json::parse(redecoded.out), expected);
    ++with_fds;
  }
  EXPECT_GT(with_fds, 0);
}

TEST(Cli, UsageAndOptions) {
  auto help = run_kbus("--help", "");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("decode [--hex] [FILE]"), std::string::npos) << help.out;
  EXPECT_TRUE(help.err.empty()) << help.err;
  auto decode_help = run_kbus("decode --help", "");
  EXPECT_EQ(decode_help.status, 0);
  EXPECT_EQ(decode_help.err, "");
  EXPECT_NE(decode_help.out.find("usage: kbus decode"), std::string::npos) << decode_help.out;

  // Usage problems exit 2 with the reason on stderr.
  for (const char* args : {"", "frobnicate", "--frobnicate decode", "decode --frobnicate", "decode a b",
                           "encode --big-endian --verbose", "--timeout"}) {
    auto r = run_kbus(args, "");
    EXPECT_EQ(r.status, 2) << "kbus " << args;
    EXPECT_FALSE(r.err.empty()) << "kbus " << args;
    EXPECT_EQ(r.out, r.err) << "kbus " << args << ": nothing on stdout";
  }
  EXPECT_NE(run_kbus("frobnicate", "").err.find("unknown command \"frobnicate\""), std::string::npos);
  // "--" ends the global options; global options do not disturb the codec commands.
  auto dashed = run_kbus("-- encode --hex", call_json);
  EXPECT_EQ(dashed.status, 0) << dashed.out;
  auto global = run_kbus("--json --user encode --hex", call_json);
  EXPECT_EQ(global.status, 0) << global.out;
  EXPECT_EQ(global.out, dashed.out);
}

}  // namespace
