// kbusd's device protocol over CUSE (kdbus ABI notes §5): the kdbus ABI, shaped around what a
// CUSE device cannot do. CUSE has no mmap, passes no fds, gives the server offset 0 for every
// read and write, and moves at most 32 pages per request; an unrestricted ioctl that chases
// pointers costs one round trip per retry (§5.1). So:
//
// - Control commands (HELLO, names, matches, info, list, free, update, byebye) are ioctls with
//   the kdbus ABI's structs. The server first asks for max(_IOC_SIZE(number), 8) bytes at the
//   argument and then, if the command's `size` says more, for the rest: a client that puts the
//   command's whole size into the number's size field (command_number) is served in two round
//   trips, any other kdbus client in three.
// - A message goes out with write(2): one send frame (the SEND command, then every region of the
//   caller's memory it points at: the kdbus_msg and its PAYLOAD_VEC bytes), in chunks of at most
//   max_transfer bytes, each with a write_header. The last chunk runs the SEND, and its write
//   returns the SEND's errno. A chunk sent again (after EINTR) is recognised by its offset and
//   not appended twice.
// - A message comes back with read(2): a read_header and the message's pool slice, freed in the
//   server as it is read; a slice larger than one transfer comes in chunks, one per read. The
//   header says whether a read now would find more (read_more): when it would not, the client
//   answers its next RECV EAGAIN itself instead of asking. Nothing is lost by that: the server
//   notes what it told each file (that answer, an EAGAIN, a POLL without POLLIN) and sends a
//   poll notification when something comes for a file told that nothing waits, and only then.
// - Other pool slices (HELLO's items, CONN_INFO, LIST) are fetched with the slice ioctl and
//   freed with FREE, as on the kernel.
//
// Shared by the cuse: transport (the client) and kbusd (the server). No I/O here.
#pragma once

#include "kbus/error.hpp"
#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kbus::detail::cuse {

// What one read or write moves in one CUSE request: the kernel's FUSE_DEFAULT_MAX_PAGES_PER_REQ
// (32 pages of 4 KiB, notes §5.1, never raised for CUSE), less one page so that a buffer that
// does not start on a page boundary still fits in 32 pages (the kernel would split it).
inline constexpr std::size_t max_transfer = 31 * 4096;
// libfuse's CUSE max_read (notes §5.2): the server never answers a read with more.
inline constexpr std::size_t max_read = 128 * 1024;

inline constexpr std::uint32_t write_magic = 0x4653424b;  // "KBSF", little-endian
inline constexpr std::uint32_t read_magic = 0x5253424b;   // "KBSR"

// Before each chunk of a send frame.
struct write_header {
  std::uint32_t magic = write_magic;
  std::uint32_t reserved = 0;
  std::uint64_t frame_id = 0;      // the client's counter: a new id starts a new frame
  std::uint64_t frame_size = 0;    // bytes of the whole frame
  std::uint64_t chunk_offset = 0;  // where this chunk's bytes go in the frame
};
static_assert(sizeof(write_header) == 32);

enum class read_kind : std::uint32_t { message = 1 };

// read_header::flags: a read now would not be answered EAGAIN: there is more of this slice,
// another message, a count of lost ones, or the connection's end.
inline constexpr std::uint64_t read_more = 1;

// Before the bytes each read returns.
struct read_header {
  std::uint32_t magic = read_magic;
  read_kind kind = read_kind::message;
  std::uint64_t offset = 0;        // the slice's pool offset (RECV's msg.offset)
  std::uint64_t msg_size = 0;      // the whole slice (RECV's msg.msg_size)
  std::uint64_t chunk_offset = 0;  // where this read's bytes lie in the slice
  std::uint64_t dropped_msgs = 0;  // RECV's dropped_msgs
  std::uint64_t return_flags = 0;  // RECV's return_flags
  std::uint64_t flags = 0;         // read_more, as things stood once this read was answered
};
static_assert(sizeof(read_header) == 56);

// The slice ioctl: copies [offset, offset + size) of the caller's pool to `address`.
struct slice_request {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t address = 0;
};
static_assert(sizeof(slice_request) == 24);
// _IOWR(KDBUS_IOCTL_MAGIC, 0xc0, struct slice_request): a number kdbus never used.
inline constexpr std::uint32_t slice_ioctl = (3u << 30) | (std::uint32_t{sizeof(slice_request)} << 16) |
                                             (std::uint32_t{kbus::kdbus::ioctl_magic} << 8) | 0xc0u;

// _IOC_SIZE's field holds 14 bits.
inline constexpr std::uint64_t ioctl_size_max = 0x3fff;

// `number` with the command's whole `size` in its size field (when it fits), so that the
// server fetches it at once.
std::uint32_t command_number(std::uint32_t number, std::uint64_t size) noexcept;
// The kdbus command a number stands for, whatever its size field says (0 when none).
std::uint32_t kdbus_command_of(std::uint32_t number) noexcept;

// A region of the sender's memory that the SEND command points at.
struct region {
  std::uint64_t address = 0;
  std::span<const std::uint8_t> bytes;
};

// A send frame: [u64 cmd size][cmd, padded to 8][u64 region count]
// then per region [u64 address][u64 size][bytes, padded to 8].
std::vector<std::uint8_t> encode_send_frame(std::span<const std::uint8_t> cmd, std::span<const region> regions);

struct send_frame {
  std::span<const std::uint8_t> cmd;
  std::vector<region> regions;
  // Copies `size` bytes at `address` out of the regions: 0, or EFAULT when no one region holds
  // them all.
  int read(std::uint64_t address, void* out, std::size_t size) const noexcept;
};
// Checks and splits a frame; the spans point into `frame`.
result<send_frame> parse_send_frame(std::span<const std::uint8_t> frame);

}  // namespace kbus::detail::cuse
