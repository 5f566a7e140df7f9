// Where the shared test data is, and small helpers for reading it.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kbus::test {

// $KBUS_TESTDATA, else the folder beside the checkout; empty when neither exists.
inline std::optional<std::filesystem::path> testdata_dir() {
  if (const char* env = std::getenv("KBUS_TESTDATA"); env && *env) {
    if (std::filesystem::is_directory(env)) return std::filesystem::path(env);
    return std::nullopt;
  }
  if (std::filesystem::is_directory(KBUS_DEFAULT_TESTDATA)) return std::filesystem::path(KBUS_DEFAULT_TESTDATA);
  return std::nullopt;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

inline std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> out;
  auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(digit(hex[i]) << 4 | digit(hex[i + 1])));
  return out;
}

inline std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[static_cast<unsigned>(b) >> 4];
    out += digits[static_cast<unsigned>(b) & 0xf];
  }
  return out;
}

}  // namespace kbus::test

// Skips the test, saying why, when the shared test data is not there.
#define KBUS_REQUIRE_TESTDATA(dir_var, sub)                                                    \
  const auto kbus_td_root_##dir_var = ::kbus::test::testdata_dir();                            \
  if (!kbus_td_root_##dir_var || !std::filesystem::exists(*kbus_td_root_##dir_var / (sub)))    \
    GTEST_SKIP() << "shared test data not found (set KBUS_TESTDATA): " << (sub);              \
  const std::filesystem::path dir_var = *kbus_td_root_##dir_var / (sub)
