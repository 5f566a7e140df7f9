#include "transport/cuse/protocol.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

namespace kbus::detail::cuse {

namespace {

constexpr std::uint32_t size_field_mask = 0x3fffu << 16;

void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  const auto at = out.size();
  out.resize(at + 8);
  std::memcpy(out.data() + at, &v, 8);
}

void put_padded(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
  out.resize(static_cast<std::size_t>(kbus::kdbus::align8(out.size())), 0);
}

kbus::error bad_frame(const char* why) {
  return kbus::error(std::error_code(EPROTO, std::system_category()), std::string("bad send frame: ") + why);
}

}  // namespace

std::uint32_t command_number(std::uint32_t number, std::uint64_t size) noexcept {
  if (size > ioctl_size_max) return number;
  return (number & ~size_field_mask) | (static_cast<std::uint32_t>(size) << 16);
}

std::uint32_t kdbus_command_of(std::uint32_t number) noexcept {
  namespace io = kbus::kdbus::ioctl;
  for (std::uint32_t known : {io::bus_make, io::endpoint_make, io::endpoint_update, io::hello, io::update, io::byebye,
                              io::free, io::conn_info, io::bus_creator_info, io::list, io::send, io::recv,
                              io::name_acquire, io::name_release, io::match_add, io::match_remove})
    if ((known & ~size_field_mask) == (number & ~size_field_mask)) return known;
  return 0;
}

std::vector<std::uint8_t> encode_send_frame(std::span<const std::uint8_t> cmd, std::span<const region> regions) {
  std::size_t total = 16 + static_cast<std::size_t>(kbus::kdbus::align8(cmd.size()));
  for (const auto& r : regions) total += 16 + static_cast<std::size_t>(kbus::kdbus::align8(r.bytes.size()));
  std::vector<std::uint8_t> out;
  out.reserve(total);
  put_u64(out, cmd.size());
  put_padded(out, cmd);
  put_u64(out, regions.size());
  for (const auto& r : regions) {
    put_u64(out, r.address);
    put_u64(out, r.bytes.size());
    put_padded(out, r.bytes);
  }
  return out;
}

result<send_frame> parse_send_frame(std::span<const std::uint8_t> frame) {
  send_frame f;
  std::size_t pos = 0;
  // Reads a u64 and a span of that many bytes (padded to 8) from pos.
  auto take = [&](std::span<const std::uint8_t>& out) -> bool {
    std::uint64_t n = 0;
    if (!kbus::kdbus::load(frame, pos, n)) return false;
    pos += 8;
    if (n > frame.size() - pos) return false;
    out = frame.subspan(pos, static_cast<std::size_t>(n));
    const std::uint64_t step = kbus::kdbus::align8(n);
    if (step > frame.size() - pos) return false;
    pos += static_cast<std::size_t>(step);
    return true;
  };
  if (!take(f.cmd)) return bad_frame("the command runs past the end");
  std::uint64_t count = 0;
  if (!kbus::kdbus::load(frame, pos, count)) return bad_frame("no region count");
  pos += 8;
  // Each region takes at least 16 bytes: a count beyond that cannot be honest.
  if (count > (frame.size() - pos) / 16) return bad_frame("more regions than bytes");
  f.regions.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    region r;
    if (!kbus::kdbus::load(frame, pos, r.address)) return bad_frame("a region without its address");
    pos += 8;
    if (!take(r.bytes)) return bad_frame("a region runs past the end");
    if (r.address + r.bytes.size() < r.address) return bad_frame("a region wraps around");
    f.regions.push_back(r);
  }
  if (pos != frame.size()) return bad_frame("bytes after the last region");
  return f;
}

int send_frame::read(std::uint64_t address, void* out, std::size_t size) const noexcept {
  if (size == 0) return 0;
  for (const auto& r : regions) {
    if (address < r.address) continue;
    const std::uint64_t at = address - r.address;
    if (at > r.bytes.size() || size > r.bytes.size() - at) continue;
    std::memcpy(out, r.bytes.data() + at, size);
    return 0;
  }
  return EFAULT;
}

}  // namespace kbus::detail::cuse
