// The final kdbus ABI (systemd/kdbus at 0c05fbd, 2015-08-07; kdbus ABI notes §1), defined here
// without <linux/kdbus.h> (Debian does not ship it): command and payload structs with the
// kernel's exact layout, item types, flags, ioctl numbers, limits, and an item walker that
// validates sizes and alignment and never reads outside its span. One codec, shared by the
// kdbus transport, the CUSE transport and kbusd's core (src/broker). Header-only (the layout is
// checked against the kernel's at compile time in abi_layout.cpp), no I/O, no Asio, no
// exceptions.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kbus::kdbus {

// ---------------------------------------------------------------------------------------------
// §1.1 Constants

inline constexpr std::uint64_t ioctl_magic = 0x95;                    // KDBUS_IOCTL_MAGIC
inline constexpr std::uint64_t src_id_kernel = 0;                     // KDBUS_SRC_ID_KERNEL
inline constexpr std::uint64_t dst_id_name = 0;                       // KDBUS_DST_ID_NAME
inline constexpr std::uint64_t dst_id_broadcast = ~std::uint64_t{0};  // KDBUS_DST_ID_BROADCAST
inline constexpr std::uint64_t match_id_any = ~std::uint64_t{0};      // KDBUS_MATCH_ID_ANY
inline constexpr std::uint64_t flag_negotiate = std::uint64_t{1} << 63;  // KDBUS_FLAG_NEGOTIATE
inline constexpr std::uint64_t payload_kernel = 0;                    // KDBUS_PAYLOAD_KERNEL
inline constexpr std::uint64_t payload_dbus = 0x4442757344427573;     // "DBusDBus", KDBUS_PAYLOAD_DBUS

// ---------------------------------------------------------------------------------------------
// §1.8 Limits (ipc/kdbus/limits.h of the final kernel)

// KDBUS_CMD_MAX_SIZE: any command, and the kdbus_msg header with its items (EMSGSIZE).
inline constexpr std::uint64_t cmd_max_size = 32 * 1024;
// KDBUS_MSG_MAX_PAYLOAD_VEC_SIZE: the sum of a message's PAYLOAD_VEC sizes (EMSGSIZE).
inline constexpr std::uint64_t msg_max_payload_vec_size = 2 * 1024 * 1024;
// KDBUS_MSG_MAX_MEMFD_ITEMS: memfd items per message (E2BIG).
inline constexpr std::size_t msg_max_memfd_items = 16;
// KDBUS_CONN_MAX_FDS_PER_USER: fds per message (EMFILE), and fds in flight from one sending
// user to one receiver (EMFILE). The man page's 253 is stale (notes §7).
inline constexpr std::size_t conn_max_fds_per_user = 16;
// KDBUS_BUS_BLOOM_MAX_SIZE: a bus's bloom filter size in bytes; at least 8, a multiple of 8.
inline constexpr std::uint64_t bus_bloom_max_size = 4096;
inline constexpr std::uint64_t bus_bloom_min_size = 8;
// KDBUS_NAME_MAX_LEN: a well-known name.
inline constexpr std::size_t name_max_len = 255;
// KDBUS_SYSNAME_MAX_LEN: bus, endpoint and connection description names (without the NUL).
inline constexpr std::size_t sysname_max_len = 63;
// KDBUS_MATCH_MAX: match entries per connection, 4096 on the devel branch (b0d09ab); the
// final master had 256. kbus follows devel, the last word on it (EMFILE).
inline constexpr std::size_t match_max = 4096;
// KDBUS_CONN_MAX_MSGS: messages queued from one user in one receiver (ENOBUFS).
inline constexpr std::size_t conn_max_msgs = 256;
// KDBUS_CONN_MAX_NAMES: names one connection may own or queue for (E2BIG).
inline constexpr std::size_t conn_max_names = 256;
// KDBUS_CONN_MAX_REQUESTS_PENDING: outstanding EXPECT_REPLY calls of one caller (EMLINK).
inline constexpr std::size_t conn_max_requests_pending = 128;
// KDBUS_USER_MAX_CONN: connections per user per domain (EMFILE).
inline constexpr std::size_t user_max_conn = 1024;
// KDBUS_USER_MAX_BUSES: buses per user per domain (EMFILE).
inline constexpr std::size_t user_max_buses = 16;

// ---------------------------------------------------------------------------------------------
// §1.4 Command structs. Every field is a u64 (pointers are carried as u64), so the 32-bit and
// 64-bit ABIs are the same. The variable part (items) starts at sizeof(struct).

struct alignas(8) cmd {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
};

struct alignas(8) cmd_hello {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::uint64_t attach_flags_send;
  std::uint64_t attach_flags_recv;
  std::uint64_t bus_flags;   // out
  std::uint64_t id;          // out: the connection's unique id
  std::uint64_t pool_size;   // in
  std::uint64_t offset;      // out: pool offset of the returned items
  std::uint64_t items_size;  // out (missing in the man page's struct)
  std::uint8_t id128[16];    // out: the bus UUID
};

struct alignas(8) cmd_free {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::uint64_t offset;
};

struct alignas(8) cmd_info {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::uint64_t id;
  std::uint64_t attach_flags;
  std::uint64_t offset;     // out
  std::uint64_t info_size;  // out
};

struct alignas(8) cmd_list {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::uint64_t offset;     // out
  std::uint64_t list_size;  // out
};

struct alignas(8) msg_info {
  std::uint64_t offset;
  std::uint64_t msg_size;
  std::uint64_t return_flags;
};

struct alignas(8) cmd_send {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::uint64_t msg_address;  // user pointer to a kdbus_msg
  msg_info reply;             // out: the reply of a synchronous call
};

struct alignas(8) cmd_recv {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::int64_t priority;
  std::uint64_t dropped_msgs;  // out
  msg_info msg;                // out
};

struct alignas(8) cmd_match {
  std::uint64_t size;
  std::uint64_t flags;
  std::uint64_t return_flags;
  std::uint64_t cookie;
};

struct alignas(8) msg {
  std::uint64_t size;
  std::uint64_t flags;
  std::int64_t priority;
  std::uint64_t dst_id;
  std::uint64_t src_id;
  std::uint64_t payload_type;
  std::uint64_t cookie;
  // A call expecting a reply carries its absolute CLOCK_MONOTONIC deadline, a reply the cookie
  // of the call: one u64, a union (the man page's two fields are stale, notes §1.4).
  union {
    std::uint64_t timeout_ns;
    std::uint64_t cookie_reply;
  };
};

// An element of pool results (LIST, CONN_INFO, BUS_CREATOR_INFO).
struct alignas(8) info {
  std::uint64_t size;
  std::uint64_t id;
  std::uint64_t flags;
};

// The header of an item; its payload follows at offset 16. The kernel's struct kdbus_item is
// 80 bytes because of its payload union: never allocate items by sizeof, use item_size().
struct alignas(8) item {
  std::uint64_t size;  // header + payload, without trailing padding
  std::uint64_t type;
};
inline constexpr std::size_t item_header_size = sizeof(item);

// ---------------------------------------------------------------------------------------------
// §1.5 Payload structs

struct alignas(8) vec {
  std::uint64_t size;
  union {
    std::uint64_t address;  // PAYLOAD_VEC (sender); 0 means `size` zero bytes
    std::uint64_t offset;   // PAYLOAD_OFF (receiver): relative to the message start, ~0 = zeros
  };
};

struct alignas(8) memfd {
  std::uint64_t start;
  std::uint64_t size;
  std::int32_t fd;
  std::uint32_t pad;
};

struct alignas(8) bloom_parameter {
  std::uint64_t size;  // bytes
  std::uint64_t n_hash;
};

// Followed by the filter's u64 words.
struct alignas(8) bloom_filter {
  std::uint64_t generation;
};

// Followed by the NUL-terminated name.
struct alignas(8) name {
  std::uint64_t flags;
};

// u64 each (the man page's u32 is stale, notes §1.5); (uid_t)-1 means unknown.
struct alignas(8) creds {
  std::uint64_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
};

struct alignas(8) pids {
  std::uint64_t pid, tid, ppid;  // 0 = unknown or not visible
};

// Followed by 4 capability sets (inheritable, permitted, effective, bounding) of u32 words,
// sized from last_cap.
struct caps {
  std::uint32_t last_cap;
};

struct audit {
  std::uint32_t sessionid;
  std::uint32_t loginuid;
};

struct alignas(8) timestamp {
  std::uint64_t seqnum;
  std::uint64_t monotonic_ns;
  std::uint64_t realtime_ns;
};

struct alignas(8) notify_id_change {
  std::uint64_t id;
  std::uint64_t flags;  // the connection's HELLO flags, or KDBUS_NAME_* flags in a name change
};

// Followed by the NUL-terminated name.
struct alignas(8) notify_name_change {
  notify_id_change old_id;
  notify_id_change new_id;
};

struct alignas(8) policy_access {
  std::uint64_t type;    // policy_type
  std::uint64_t access;  // policy_access_kind
  std::uint64_t id;      // uid or gid
};

// ---------------------------------------------------------------------------------------------
// §1.6 Item types

enum class item_type : std::uint64_t {
  negotiate = 1,
  payload_vec = 2,
  payload_off = 3,
  payload_memfd = 4,
  fds = 5,
  cancel_fd = 6,
  bloom_parameter = 7,
  bloom_filter = 8,
  bloom_mask = 9,
  dst_name = 10,
  make_name = 11,
  attach_flags_send = 12,
  attach_flags_recv = 13,
  id = 14,
  name = 15,
  dst_id = 16,
  // Metadata: 0x1000 + the bit index of the KDBUS_ATTACH_* flag.
  timestamp = 0x1000,
  creds = 0x1001,
  pids = 0x1002,
  auxgroups = 0x1003,
  owned_name = 0x1004,
  tid_comm = 0x1005,
  pid_comm = 0x1006,
  exe = 0x1007,
  cmdline = 0x1008,
  cgroup = 0x1009,
  caps = 0x100a,
  seclabel = 0x100b,
  audit = 0x100c,
  conn_description = 0x100d,
  policy_access = 0x2000,
  name_add = 0x8000,
  name_remove = 0x8001,
  name_change = 0x8002,
  id_add = 0x8003,
  id_remove = 0x8004,
  reply_timeout = 0x8005,
  reply_dead = 0x8006,
};

inline constexpr std::uint64_t to_u64(item_type t) noexcept { return static_cast<std::uint64_t>(t); }

// ---------------------------------------------------------------------------------------------
// §1.7 Flags

namespace attach {
inline constexpr std::uint64_t timestamp = 1ull << 0;
inline constexpr std::uint64_t creds = 1ull << 1;
inline constexpr std::uint64_t pids = 1ull << 2;
inline constexpr std::uint64_t auxgroups = 1ull << 3;
inline constexpr std::uint64_t names = 1ull << 4;
inline constexpr std::uint64_t tid_comm = 1ull << 5;
inline constexpr std::uint64_t pid_comm = 1ull << 6;
inline constexpr std::uint64_t exe = 1ull << 7;
inline constexpr std::uint64_t cmdline = 1ull << 8;
inline constexpr std::uint64_t cgroup = 1ull << 9;
inline constexpr std::uint64_t caps = 1ull << 10;
inline constexpr std::uint64_t seclabel = 1ull << 11;
inline constexpr std::uint64_t audit = 1ull << 12;
inline constexpr std::uint64_t conn_description = 1ull << 13;
inline constexpr std::uint64_t all = (1ull << 14) - 1;  // _KDBUS_ATTACH_ALL
inline constexpr std::uint64_t any = ~0ull;             // _KDBUS_ATTACH_ANY, degraded to all
// Given whenever the receiver asks (metadata.c, notes §2.7).
inline constexpr std::uint64_t implicit = conn_description | timestamp | names | auxgroups | creds | pids;
}  // namespace attach

namespace hello {
inline constexpr std::uint64_t accept_fd = 1ull << 0;
inline constexpr std::uint64_t activator = 1ull << 1;
inline constexpr std::uint64_t policy_holder = 1ull << 2;
inline constexpr std::uint64_t monitor = 1ull << 3;
inline constexpr std::uint64_t allowed = accept_fd | activator | policy_holder | monitor;
}  // namespace hello

namespace msg_flags {
inline constexpr std::uint64_t expect_reply = 1ull << 0;
inline constexpr std::uint64_t no_auto_start = 1ull << 1;
inline constexpr std::uint64_t signal = 1ull << 2;
inline constexpr std::uint64_t allowed = expect_reply | no_auto_start | signal;
}  // namespace msg_flags

namespace send {
inline constexpr std::uint64_t sync_reply = 1ull << 0;
inline constexpr std::uint64_t allowed = sync_reply;
}  // namespace send

namespace recv {
inline constexpr std::uint64_t peek = 1ull << 0;
inline constexpr std::uint64_t drop = 1ull << 1;
inline constexpr std::uint64_t use_priority = 1ull << 2;
inline constexpr std::uint64_t allowed = peek | drop | use_priority;
inline constexpr std::uint64_t return_incomplete_fds = 1ull << 0;  // in msg_info.return_flags
inline constexpr std::uint64_t return_dropped_msgs = 1ull << 1;    // in cmd.return_flags
}  // namespace recv

namespace list {
inline constexpr std::uint64_t unique = 1ull << 0;
inline constexpr std::uint64_t names = 1ull << 1;
inline constexpr std::uint64_t activators = 1ull << 2;
inline constexpr std::uint64_t queued = 1ull << 3;
inline constexpr std::uint64_t allowed = unique | names | activators | queued;
}  // namespace list

namespace match {
inline constexpr std::uint64_t replace = 1ull << 0;
inline constexpr std::uint64_t allowed = replace;
}  // namespace match

namespace make {
inline constexpr std::uint64_t access_group = 1ull << 0;
inline constexpr std::uint64_t access_world = 1ull << 1;
inline constexpr std::uint64_t allowed = access_group | access_world;
}  // namespace make

namespace name_flags {
inline constexpr std::uint64_t replace_existing = 1ull << 0;
inline constexpr std::uint64_t allow_replacement = 1ull << 1;
inline constexpr std::uint64_t queue = 1ull << 2;
inline constexpr std::uint64_t in_queue = 1ull << 3;
inline constexpr std::uint64_t activator = 1ull << 4;
inline constexpr std::uint64_t primary = 1ull << 5;
inline constexpr std::uint64_t acquired = 1ull << 6;
// What NAME_ACQUIRE accepts.
inline constexpr std::uint64_t acquire_allowed = replace_existing | allow_replacement | queue;
}  // namespace name_flags

enum class policy_type : std::uint64_t { none = 0, user = 1, group = 2, world = 3 };
// OWN implies TALK implies SEE.
enum class policy_access_kind : std::uint64_t { see = 0, talk = 1, own = 2 };

// ---------------------------------------------------------------------------------------------
// §1.2 ioctl numbers (kdbus::ioctl::*): the Linux _IOC encoding (dir << 30 | size << 16 | type << 8 | nr). The
// size is only that of the fixed part; the kernel reads `size` bytes from the leading u64.

namespace detail {
inline constexpr std::uint32_t ioc_write = 1;  // _IOC_WRITE
inline constexpr std::uint32_t ioc_read = 2;   // _IOC_READ
inline constexpr std::uint32_t ioc(std::uint32_t dir, std::uint32_t type, std::uint32_t nr, std::size_t size) noexcept {
  return (dir << 30) | (static_cast<std::uint32_t>(size) << 16) | (type << 8) | nr;
}
inline constexpr std::uint32_t iow(std::uint32_t nr, std::size_t size) noexcept {
  return ioc(ioc_write, ioctl_magic, nr, size);
}
inline constexpr std::uint32_t ior(std::uint32_t nr, std::size_t size) noexcept {
  return ioc(ioc_read, ioctl_magic, nr, size);
}
inline constexpr std::uint32_t iowr(std::uint32_t nr, std::size_t size) noexcept {
  return ioc(ioc_read | ioc_write, ioctl_magic, nr, size);
}
}  // namespace detail

namespace ioctl {
inline constexpr std::uint32_t bus_make = kdbus::detail::iow(0x00, sizeof(cmd));
inline constexpr std::uint32_t endpoint_make = kdbus::detail::iow(0x10, sizeof(cmd));
inline constexpr std::uint32_t endpoint_update = kdbus::detail::iow(0x11, sizeof(cmd));
inline constexpr std::uint32_t hello = kdbus::detail::iowr(0x80, sizeof(kdbus::cmd_hello));
inline constexpr std::uint32_t update = kdbus::detail::iow(0x81, sizeof(cmd));
inline constexpr std::uint32_t byebye = kdbus::detail::iow(0x82, sizeof(cmd));
inline constexpr std::uint32_t free = kdbus::detail::iow(0x83, sizeof(kdbus::cmd_free));
inline constexpr std::uint32_t conn_info = kdbus::detail::ior(0x84, sizeof(cmd_info));
inline constexpr std::uint32_t bus_creator_info = kdbus::detail::ior(0x85, sizeof(cmd_info));
inline constexpr std::uint32_t list = kdbus::detail::ior(0x86, sizeof(kdbus::cmd_list));
inline constexpr std::uint32_t send = kdbus::detail::iow(0x90, sizeof(kdbus::cmd_send));
inline constexpr std::uint32_t recv = kdbus::detail::ior(0x91, sizeof(kdbus::cmd_recv));
inline constexpr std::uint32_t name_acquire = kdbus::detail::iow(0xa0, sizeof(cmd));
inline constexpr std::uint32_t name_release = kdbus::detail::iow(0xa1, sizeof(cmd));
inline constexpr std::uint32_t match_add = kdbus::detail::iow(0xb0, sizeof(cmd_match));
inline constexpr std::uint32_t match_remove = kdbus::detail::iow(0xb1, sizeof(cmd_match));

}  // namespace ioctl

// The ioctl number's size field: the fixed part of the command struct.
inline constexpr std::size_t ioctl_fixed_size(std::uint32_t number) noexcept { return (number >> 16) & 0x3fff; }

// ---------------------------------------------------------------------------------------------
// Sizes and alignment

inline constexpr std::uint64_t align8(std::uint64_t n) noexcept { return (n + 7) & ~std::uint64_t{7}; }
// The `size` of an item with `payload` bytes (header + payload, no padding).
inline constexpr std::uint64_t item_size(std::uint64_t payload) noexcept { return item_header_size + payload; }
// The room an item with `payload` bytes takes in a command (padded to 8).
inline constexpr std::uint64_t item_space(std::uint64_t payload) noexcept { return align8(item_size(payload)); }

// Reads a trivially copyable T at `offset` of `bytes` (any alignment); false when it does not fit.
template <class T>
inline bool load(std::span<const std::uint8_t> bytes, std::size_t offset, T& out) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + offset, sizeof(T));
  return true;
}

// Writes a trivially copyable T at `offset` of `bytes`; false when it does not fit.
template <class T>
inline bool store(std::span<std::uint8_t> bytes, std::size_t offset, const T& in) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(bytes.data() + offset, &in, sizeof(T));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Items

// One item of a validated walk: its type, the offset of its header in the walked span, and its
// payload (size - 16 bytes, inside the span).
struct item_ref {
  std::uint64_t type = 0;
  std::size_t offset = 0;
  std::span<const std::uint8_t> payload;

  item_type kind() const noexcept { return static_cast<item_type>(type); }

  // The payload as one u64; false unless it is exactly 8 bytes.
  bool as_u64(std::uint64_t& out) const noexcept {
    return payload.size() == sizeof(std::uint64_t) && load(payload, 0, out);
  }
  // The payload as a T of exactly sizeof(T) bytes.
  template <class T>
  bool as(T& out) const noexcept {
    return payload.size() == sizeof(T) && load(payload, 0, out);
  }
  // A NUL-terminated string payload: the characters before the first NUL; false when there is
  // no NUL inside the payload.
  bool as_string(std::string_view& out) const noexcept {
    const auto* p = reinterpret_cast<const char*>(payload.data());
    const void* nul = payload.empty() ? nullptr : std::memchr(p, 0, payload.size());
    if (!nul) return false;
    out = std::string_view(p, static_cast<std::size_t>(static_cast<const char*>(nul) - p));
    return true;
  }
  // A string that must fill the payload exactly: characters, then exactly one NUL.
  bool as_exact_string(std::string_view& out) const noexcept {
    return as_string(out) && out.size() + 1 == payload.size();
  }
};

// Why a walk over items stopped early (all map to EINVAL at the ioctl boundary, §1.3).
enum class item_walk_error {
  none,
  truncated_header,   // fewer than 16 bytes left for a header
  size_too_small,     // item.size < 16
  size_out_of_range,  // item.size runs past the end of the span
  bad_end,            // the walk does not end exactly at the span's (8-aligned) end
};

// Walks the items of `bytes` (the variable part of a command or message, which starts 8-aligned
// relative to the command). Each item must have size >= 16 and lie within `bytes`; the next
// item starts at ALIGN8(size) after it; the walk must end exactly at ALIGN8(bytes.size()) — the
// last item need not be padded (§1.3). `fn(const item_ref&)` returns 0 to go on or an errno to
// stop with. Returns 0, fn's errno, or EINVAL for a malformed layout (reported in `why` when
// given). Never reads outside `bytes`.
template <class F>
inline int for_each_item(std::span<const std::uint8_t> bytes, F&& fn, item_walk_error* why = nullptr) {
  const std::size_t end = bytes.size();
  std::size_t pos = 0;
  auto fail = [&](item_walk_error e) {
    if (why) *why = e;
    return EINVAL;
  };
  if (why) *why = item_walk_error::none;
  while (pos < end) {
    item header{};
    if (end - pos < sizeof(item)) return fail(item_walk_error::truncated_header);
    std::memcpy(&header, bytes.data() + pos, sizeof(item));
    if (header.size < item_header_size) return fail(item_walk_error::size_too_small);
    if (header.size > end - pos) return fail(item_walk_error::size_out_of_range);
    item_ref ref;
    ref.type = header.type;
    ref.offset = pos;
    ref.payload = bytes.subspan(pos + item_header_size, static_cast<std::size_t>(header.size - item_header_size));
    if (const int r = fn(static_cast<const item_ref&>(ref)); r != 0) return r;
    const std::uint64_t step = align8(header.size);
    // The last item may end unpadded: its padding lies beyond `end`, which is fine only when
    // nothing comes after it.
    if (step >= end - pos) {
      pos = end;
      break;
    }
    pos += static_cast<std::size_t>(step);
  }
  if (pos != end) return fail(item_walk_error::bad_end);
  return 0;
}

// Just the layout check of for_each_item.
inline int validate_items(std::span<const std::uint8_t> bytes, item_walk_error* why = nullptr) {
  return for_each_item(bytes, [](const item_ref&) { return 0; }, why);
}

// Builds items into a byte buffer that keeps every item 8-aligned (relative to its start).
class item_writer {
 public:
  item_writer() = default;
  explicit item_writer(std::vector<std::uint8_t>& out) : out_(&out) {}

  // Appends an item of `type` with `payload`; returns the offset of its header.
  std::size_t add(item_type type, std::span<const std::uint8_t> payload) {
    return add_raw(to_u64(type), payload.data(), payload.size());
  }
  std::size_t add_raw(std::uint64_t type, const void* payload, std::size_t size) {
    auto& b = buffer();
    b.resize(align8(b.size()));
    const std::size_t at = b.size();
    const item header{item_size(size), type};
    b.resize(at + static_cast<std::size_t>(item_space(size)), 0);
    std::memcpy(b.data() + at, &header, sizeof header);
    if (size) std::memcpy(b.data() + at + item_header_size, payload, size);
    return at;
  }
  template <class T>
  std::size_t add_struct(item_type type, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return add_raw(to_u64(type), &value, sizeof(T));
  }
  std::size_t add_u64(item_type type, std::uint64_t v) { return add_struct(type, v); }
  // A NUL-terminated string.
  std::size_t add_string(item_type type, std::string_view s) {
    std::vector<std::uint8_t> tmp(s.size() + 1, 0);
    if (!s.empty()) std::memcpy(tmp.data(), s.data(), s.size());
    return add_raw(to_u64(type), tmp.data(), tmp.size());
  }
  // A struct followed by a NUL-terminated string (kdbus_name, notify_name_change).
  template <class T>
  std::size_t add_struct_string(item_type type, const T& head, std::string_view s) {
    std::vector<std::uint8_t> tmp(sizeof(T) + s.size() + 1, 0);
    std::memcpy(tmp.data(), &head, sizeof(T));
    if (!s.empty()) std::memcpy(tmp.data() + sizeof(T), s.data(), s.size());
    return add_raw(to_u64(type), tmp.data(), tmp.size());
  }

  std::vector<std::uint8_t>& buffer() { return out_ ? *out_ : own_; }

 private:
  std::vector<std::uint8_t>* out_ = nullptr;
  std::vector<std::uint8_t> own_;
};

// A command as ioctl takes it: the fixed struct `head` (its size field set here) followed by
// `items`, in 8-aligned storage. Read the kernel's answer back from the words' start.
template <class T>
std::vector<std::uint64_t> command_words(T& head, std::span<const std::uint8_t> items) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  const std::size_t total = sizeof(T) + items.size();
  std::vector<std::uint64_t> words((total + 7) / 8, 0);
  head.size = total;
  std::memcpy(words.data(), &head, sizeof(T));
  if (!items.empty()) std::memcpy(reinterpret_cast<std::uint8_t*>(words.data()) + sizeof(T), items.data(), items.size());
  return words;
}

// ---------------------------------------------------------------------------------------------
// Name rules

// A bus, endpoint or description name (MAKE_NAME / CONN_DESCRIPTION, §1.6): 1..63 characters
// of [A-Za-z0-9_.-], '-' and '.' neither first nor last. Returns 0, EINVAL, or ENAMETOOLONG.
inline int check_sysname(std::string_view s) noexcept {
  if (s.empty()) return EINVAL;
  if (s.size() > sysname_max_len) return ENAMETOOLONG;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (alnum) continue;
    if ((c == '-' || c == '.') && i != 0 && i + 1 != s.size()) continue;
    return EINVAL;
  }
  return 0;
}

// A well-known name (§2.10): at least two '.'-separated non-empty elements of [A-Za-z0-9_-],
// no element starting with a digit, at most 255 characters. With `allow_wildcard`, a final
// ".*" element is allowed (policy names).
inline bool is_valid_well_known_name(std::string_view s, bool allow_wildcard = false) noexcept {
  if (s.empty() || s.size() > name_max_len) return false;
  bool wildcard = false;
  if (allow_wildcard && s.size() > 2 && s.substr(s.size() - 2) == ".*") {
    s.remove_suffix(2);
    wildcard = true;  // the ".*" counts as the second element: "foo.*" is valid
  }
  int elements = 0;
  bool element_start = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (element_start) return false;
      element_start = true;
      continue;
    }
    const bool digit = c >= '0' && c <= '9';
    const bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
    if (!ok) return false;
    if (element_start) {
      if (digit) return false;
      ++elements;
      element_start = false;
    }
  }
  if (element_start) return false;  // trailing '.'
  return elements >= (wildcard ? 1 : 2);
}

}  // namespace kbus::kdbus
