// kbus decode / kbus encode: raw messages to and from JSON.
#include "context.hpp"

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

namespace {
// The input: FILE, or stdin; false after reporting why.
bool read_codec_input(const context& ctx, std::string& input) {
  const std::string file = ctx.args.empty() ? "" : ctx.args[0];
  if (read_input(file, input)) return true;
  ctx.fail("cannot read " + (file.empty() ? std::string("stdin") : file) + ": " + std::strerror(errno));
  return false;
}
}  // namespace

int decode_command(context& ctx) {
  if (!ctx.arg_count(0, 1, "decode [--hex] [FILE]")) return 2;
  std::string input;
  if (!read_codec_input(ctx, input)) return 1;
  std::vector<std::byte> bytes;
  if (ctx.opt.hex) {
    std::string why;
    if (!from_hex(input, bytes, why)) return ctx.fail("invalid hex input: " + why);
  } else {
    bytes.resize(input.size());
    std::memcpy(bytes.data(), input.data(), input.size());
  }
  // A message read from a file has no descriptors with it.
  parse_options options;
  options.fds_detached = true;
  auto m = message::parse(std::move(bytes), {}, options);
  if (!m) return ctx.fail("invalid message: " + m.error().what());
  ctx.out << ctx.json_text(message_to_json(*m)) << "\n";
  return 0;
}

int encode_command(context& ctx) {
  if (!ctx.arg_count(0, 1, "encode [--big-endian] [--hex] [FILE]")) return 2;
  std::string input;
  if (!read_codec_input(ctx, input)) return 1;
  auto m = message_from_json(input, ctx.opt.big_endian ? byte_order::big : byte_order::little);
  if (!m) return ctx.fail("cannot encode: " + m.error().what());
  const auto bytes = m->bytes();
  if (ctx.opt.hex) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2 + 1);
    for (auto b : bytes) {
      out += digits[static_cast<unsigned>(b) >> 4];
      out += digits[static_cast<unsigned>(b) & 0xf];
    }
    ctx.out << out << "\n";
  } else {
    ctx.out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  ctx.out.flush();
  return ctx.out ? 0 : 1;
}

}  // namespace kbus::cli
