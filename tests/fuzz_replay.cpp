// Replays every input of fuzz/corpus/NAME/ through kbus_fuzz_NAME: the fuzzers' findings stay
// fixed, with any compiler and under the sanitizers of the suite.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

extern "C" int kbus_fuzz_message(const std::uint8_t*, std::size_t);
extern "C" int kbus_fuzz_signature(const std::uint8_t*, std::size_t);
extern "C" int kbus_fuzz_body(const std::uint8_t*, std::size_t);
extern "C" int kbus_fuzz_json(const std::uint8_t*, std::size_t);
extern "C" int kbus_fuzz_address(const std::uint8_t*, std::size_t);
extern "C" int kbus_fuzz_sasl(const std::uint8_t*, std::size_t);
extern "C" int kbus_fuzz_match_rule(const std::uint8_t*, std::size_t);
#ifdef KBUS_REPLAY_KBUSD_DEVICE
extern "C" int kbus_fuzz_kbusd_device(const std::uint8_t*, std::size_t);
#endif

namespace {

using target_fn = int (*)(const std::uint8_t*, std::size_t);

void replay(const std::string& name, target_fn fn) {
  const std::filesystem::path dir = std::filesystem::path(KBUS_SOURCE_DIR) / "fuzz" / "corpus" / name;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no corpus at " << dir;
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<char> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(fn(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), 0);
    ++inputs;
  }
  EXPECT_GT(inputs, 0);
}

TEST(FuzzCorpus, Message) { replay("message", kbus_fuzz_message); }
TEST(FuzzCorpus, Signature) { replay("signature", kbus_fuzz_signature); }
TEST(FuzzCorpus, Body) { replay("body", kbus_fuzz_body); }
TEST(FuzzCorpus, Json) { replay("json", kbus_fuzz_json); }
TEST(FuzzCorpus, Address) { replay("address", kbus_fuzz_address); }
TEST(FuzzCorpus, Sasl) { replay("sasl", kbus_fuzz_sasl); }
TEST(FuzzCorpus, MatchRule) { replay("match_rule", kbus_fuzz_match_rule); }
#ifdef KBUS_REPLAY_KBUSD_DEVICE
TEST(FuzzCorpus, KbusdDevice) { replay("kbusd_device", kbus_fuzz_kbusd_device); }
#endif

}  // namespace
