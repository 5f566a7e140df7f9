// The CUSE device protocol (transport/cuse/protocol.hpp): send frames, ioctl numbers.
#include "transport/cuse/protocol.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

namespace proto = kbus::detail::cuse;
namespace kd = kbus::kdbus;

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t first) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(first + i);
  return v;
}

TEST(CuseProtocol, ASendFrameCarriesTheCommandAndEveryRegionBack) {
  const auto cmd = bytes(sizeof(kd::cmd_send), 1);
  const auto msg = bytes(61, 100), payload = bytes(5, 200);
  const proto::region regions[] = {{0x1000, msg}, {0x7f0000, payload}};
  const auto frame = proto::encode_send_frame(cmd, regions);
  EXPECT_EQ(frame.size() % 8, 0u);
  auto parsed = proto::parse_send_frame(frame);
  ASSERT_TRUE(parsed) << parsed.error().what();
  EXPECT_EQ(std::vector<std::uint8_t>(parsed->cmd.begin(), parsed->cmd.end()), cmd);
  ASSERT_EQ(parsed->regions.size(), 2u);
  std::vector<std::uint8_t> out(3);
  // A read inside one region is served; one across regions or outside them is EFAULT.
  EXPECT_EQ(parsed->read(0x1000 + 58, out.data(), 3), 0);
  EXPECT_EQ(out, (std::vector<std::uint8_t>{158, 159, 160}));
  EXPECT_EQ(parsed->read(0x7f0000 + 3, out.data(), 3), EFAULT);
  EXPECT_EQ(parsed->read(0x2000, out.data(), 1), EFAULT);
  EXPECT_EQ(parsed->read(0x2000, out.data(), 0), 0);
}

TEST(CuseProtocol, AFrameThatLiesAboutItsSizesIsRefused) {
  const auto cmd = bytes(40, 1), msg = bytes(16, 9);
  const proto::region regions[] = {{0x1000, msg}};
  const auto frame = proto::encode_send_frame(cmd, regions);
  // Cut anywhere: refused, never read past the end.
  for (std::size_t n = 0; n < frame.size(); ++n)
    EXPECT_FALSE(proto::parse_send_frame(std::span(frame).first(n))) << "cut at " << n;
  // Bytes after the last region.
  auto longer = frame;
  longer.resize(longer.size() + 8);
  EXPECT_FALSE(proto::parse_send_frame(longer));
  // A region count beyond what the bytes can hold.
  auto lying = frame;
  const std::uint64_t count = ~std::uint64_t{0};
  std::memcpy(lying.data() + 8 + 40, &count, 8);
  EXPECT_FALSE(proto::parse_send_frame(lying));
  // A region that wraps around the address space.
  auto wrapping = frame;
  const std::uint64_t address = ~std::uint64_t{0} - 4;
  std::memcpy(wrapping.data() + 8 + 40 + 8, &address, 8);
  EXPECT_FALSE(proto::parse_send_frame(wrapping));
}

TEST(CuseProtocol, ACommandNumberCarriesTheWholeCommandSizeAndStillNamesItsCommand) {
  const std::uint32_t n = proto::command_number(kd::ioctl::name_acquire, 200);
  EXPECT_EQ(kd::ioctl_fixed_size(n), 200u);
  EXPECT_EQ(proto::kdbus_command_of(n), kd::ioctl::name_acquire);
  EXPECT_EQ(proto::kdbus_command_of(kd::ioctl::hello), kd::ioctl::hello);
  // Too large for the 14-bit field: the standard number, served in three round trips.
  EXPECT_EQ(proto::command_number(kd::ioctl::match_add, 20000), kd::ioctl::match_add);
  EXPECT_EQ(proto::kdbus_command_of(0x12345678u), 0u);
  EXPECT_EQ(proto::kdbus_command_of(proto::slice_ioctl), 0u);
}

}  // namespace
