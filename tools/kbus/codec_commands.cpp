// kbus decode / kbus encode: raw messages to and from JSON.
#include "commands.hpp"

#include "kbus/json.hpp"
#include "kbus/message.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace kbus::cli {
namespace {

constexpr const char* decode_usage = "usage: kbus decode [--hex] [FILE]\n";
constexpr const char* encode_usage = "usage: kbus encode [--big-endian] [--hex] [FILE]\n";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex text to bytes; whitespace between digits is ignored.
bool from_hex(const std::string& text, std::vector<std::byte>& out, std::string& why) {
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const int d = hex_digit(c);
    if (d < 0) {
      why = "character " + std::to_string(i) + " is not a hex digit";
      return false;
    }
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<std::byte>(high << 4 | d));
      high = -1;
    }
  }
  if (high >= 0) {
    why = "odd number of hex digits";
    return false;
  }
  return true;
}

struct codec_args {
  bool help = false;  // usage printed, nothing else to do
  bool hex = false;
  bool big_endian = false;
  std::string file;
};

// Parses [--help] [--hex] [--big-endian] [FILE]; false (after printing usage) on anything else.
bool parse_codec_args(const arguments& args, bool allow_big_endian, const char* usage, codec_args& out) {
  bool files_only = false;
  for (const auto& a : args) {
    if (!files_only && a == "--") {
      files_only = true;
    } else if (!files_only && (a == "--help" || a == "-h")) {
      std::cout << usage;
      out.help = true;
      return true;
    } else if (!files_only && a == "--hex") {
      out.hex = true;
    } else if (!files_only && allow_big_endian && a == "--big-endian") {
      out.big_endian = true;
    } else if (!files_only && a.size() > 1 && a[0] == '-') {
      std::cerr << "kbus: unknown option " << a << "\n" << usage;
      return false;
    } else if (out.file.empty()) {
      out.file = a;
    } else {
      std::cerr << "kbus: more than one FILE\n" << usage;
      return false;
    }
  }
  return true;
}

}  // namespace

bool read_input(const std::string& path, std::string& out) {
  if (path.empty() || path == "-") {
    out.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return !std::cin.bad();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int decode_command(const global_options&, const arguments& args) {
  codec_args a;
  if (!parse_codec_args(args, false, decode_usage, a)) return 2;
  if (a.help) return 0;
  std::string input;
  if (!read_input(a.file, input)) {
    std::cerr << "kbus: cannot read " << (a.file.empty() ? "stdin" : a.file) << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::vector<std::byte> bytes;
  if (a.hex) {
    std::string why;
    if (!from_hex(input, bytes, why)) {
      std::cerr << "kbus: invalid hex input: " << why << "\n";
      return 1;
    }
  } else {
    bytes.resize(input.size());
    std::memcpy(bytes.data(), input.data(), input.size());
  }
  // A message read from a file has no descriptors with it.
  parse_options options;
  options.fds_detached = true;
  auto m = message::parse(std::move(bytes), {}, options);
  if (!m) {
    std::cerr << "kbus: invalid message: " << m.error().what() << "\n";
    return 1;
  }
  std::cout << message_to_json(*m) << "\n";
  return 0;
}

int encode_command(const global_options&, const arguments& args) {
  codec_args a;
  if (!parse_codec_args(args, true, encode_usage, a)) return 2;
  if (a.help) return 0;
  std::string input;
  if (!read_input(a.file, input)) {
    std::cerr << "kbus: cannot read " << (a.file.empty() ? "stdin" : a.file) << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  auto m = message_from_json(input, a.big_endian ? byte_order::big : byte_order::little);
  if (!m) {
    std::cerr << "kbus: cannot encode: " << m.error().what() << "\n";
    return 1;
  }
  const auto bytes = m->bytes();
  if (a.hex) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2 + 1);
    for (auto b : bytes) {
      out += digits[static_cast<unsigned>(b) >> 4];
      out += digits[static_cast<unsigned>(b) & 0xf];
    }
    std::cout << out << "\n";
  } else {
    std::cout.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace kbus::cli
