// Compile-time checks of the kdbus ABI (§1.2, §1.4 and §1.5): the ioctl numbers and the exact
// layout of every command and payload struct of abi.hpp, as the final kernel defines them.
// Checked once, where the codec is built.
#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <type_traits>

namespace kbus::kdbus {

static_assert(ioctl::bus_make == 0x40189500u);
static_assert(ioctl::endpoint_make == 0x40189510u);
static_assert(ioctl::endpoint_update == 0x40189511u);
static_assert(ioctl::hello == 0xc0609580u);
static_assert(ioctl::update == 0x40189581u);
static_assert(ioctl::byebye == 0x40189582u);
static_assert(ioctl::free == 0x40209583u);
static_assert(ioctl::conn_info == 0x80389584u);
static_assert(ioctl::bus_creator_info == 0x80389585u);
static_assert(ioctl::list == 0x80289586u);
static_assert(ioctl::send == 0x40389590u);
static_assert(ioctl::recv == 0x80409591u);
static_assert(ioctl::name_acquire == 0x401895a0u);
static_assert(ioctl::name_release == 0x401895a1u);
static_assert(ioctl::match_add == 0x402095b0u);
static_assert(ioctl::match_remove == 0x402095b1u);

#define KBUS_KDBUS_FIELD(s, f, off) static_assert(offsetof(s, f) == (off), #s "." #f)
static_assert(std::is_standard_layout_v<cmd> && sizeof(cmd) == 24);
KBUS_KDBUS_FIELD(cmd, size, 0);
KBUS_KDBUS_FIELD(cmd, flags, 8);
KBUS_KDBUS_FIELD(cmd, return_flags, 16);
static_assert(std::is_standard_layout_v<cmd_hello> && sizeof(cmd_hello) == 96);
KBUS_KDBUS_FIELD(cmd_hello, size, 0);
KBUS_KDBUS_FIELD(cmd_hello, flags, 8);
KBUS_KDBUS_FIELD(cmd_hello, return_flags, 16);
KBUS_KDBUS_FIELD(cmd_hello, attach_flags_send, 24);
KBUS_KDBUS_FIELD(cmd_hello, attach_flags_recv, 32);
KBUS_KDBUS_FIELD(cmd_hello, bus_flags, 40);
KBUS_KDBUS_FIELD(cmd_hello, id, 48);
KBUS_KDBUS_FIELD(cmd_hello, pool_size, 56);
KBUS_KDBUS_FIELD(cmd_hello, offset, 64);
KBUS_KDBUS_FIELD(cmd_hello, items_size, 72);
KBUS_KDBUS_FIELD(cmd_hello, id128, 80);
static_assert(std::is_standard_layout_v<kdbus::cmd_free> && sizeof(kdbus::cmd_free) == 32);
KBUS_KDBUS_FIELD(kdbus::cmd_free, size, 0);
KBUS_KDBUS_FIELD(kdbus::cmd_free, flags, 8);
KBUS_KDBUS_FIELD(kdbus::cmd_free, return_flags, 16);
KBUS_KDBUS_FIELD(kdbus::cmd_free, offset, 24);
static_assert(std::is_standard_layout_v<cmd_info> && sizeof(cmd_info) == 56);
KBUS_KDBUS_FIELD(cmd_info, size, 0);
KBUS_KDBUS_FIELD(cmd_info, flags, 8);
KBUS_KDBUS_FIELD(cmd_info, return_flags, 16);
KBUS_KDBUS_FIELD(cmd_info, id, 24);
KBUS_KDBUS_FIELD(cmd_info, attach_flags, 32);
KBUS_KDBUS_FIELD(cmd_info, offset, 40);
KBUS_KDBUS_FIELD(cmd_info, info_size, 48);
static_assert(std::is_standard_layout_v<kdbus::cmd_list> && sizeof(kdbus::cmd_list) == 40);
KBUS_KDBUS_FIELD(kdbus::cmd_list, size, 0);
KBUS_KDBUS_FIELD(kdbus::cmd_list, flags, 8);
KBUS_KDBUS_FIELD(kdbus::cmd_list, return_flags, 16);
KBUS_KDBUS_FIELD(kdbus::cmd_list, offset, 24);
KBUS_KDBUS_FIELD(kdbus::cmd_list, list_size, 32);
static_assert(std::is_standard_layout_v<msg_info> && sizeof(msg_info) == 24);
KBUS_KDBUS_FIELD(msg_info, offset, 0);
KBUS_KDBUS_FIELD(msg_info, msg_size, 8);
KBUS_KDBUS_FIELD(msg_info, return_flags, 16);
static_assert(std::is_standard_layout_v<kdbus::cmd_send> && sizeof(kdbus::cmd_send) == 56);
KBUS_KDBUS_FIELD(kdbus::cmd_send, size, 0);
KBUS_KDBUS_FIELD(kdbus::cmd_send, flags, 8);
KBUS_KDBUS_FIELD(kdbus::cmd_send, return_flags, 16);
KBUS_KDBUS_FIELD(kdbus::cmd_send, msg_address, 24);
KBUS_KDBUS_FIELD(kdbus::cmd_send, reply, 32);
static_assert(offsetof(kdbus::cmd_send, reply) + offsetof(msg_info, msg_size) == 40);
static_assert(offsetof(kdbus::cmd_send, reply) + offsetof(msg_info, return_flags) == 48);
static_assert(std::is_standard_layout_v<kdbus::cmd_recv> && sizeof(kdbus::cmd_recv) == 64);
KBUS_KDBUS_FIELD(kdbus::cmd_recv, size, 0);
KBUS_KDBUS_FIELD(kdbus::cmd_recv, flags, 8);
KBUS_KDBUS_FIELD(kdbus::cmd_recv, return_flags, 16);
KBUS_KDBUS_FIELD(kdbus::cmd_recv, priority, 24);
KBUS_KDBUS_FIELD(kdbus::cmd_recv, dropped_msgs, 32);
KBUS_KDBUS_FIELD(kdbus::cmd_recv, msg, 40);
static_assert(offsetof(kdbus::cmd_recv, msg) + offsetof(msg_info, msg_size) == 48);
static_assert(offsetof(kdbus::cmd_recv, msg) + offsetof(msg_info, return_flags) == 56);
static_assert(std::is_standard_layout_v<cmd_match> && sizeof(cmd_match) == 32);
KBUS_KDBUS_FIELD(cmd_match, size, 0);
KBUS_KDBUS_FIELD(cmd_match, flags, 8);
KBUS_KDBUS_FIELD(cmd_match, return_flags, 16);
KBUS_KDBUS_FIELD(cmd_match, cookie, 24);
static_assert(std::is_standard_layout_v<msg> && sizeof(msg) == 64);
KBUS_KDBUS_FIELD(msg, size, 0);
KBUS_KDBUS_FIELD(msg, flags, 8);
KBUS_KDBUS_FIELD(msg, priority, 16);
KBUS_KDBUS_FIELD(msg, dst_id, 24);
KBUS_KDBUS_FIELD(msg, src_id, 32);
KBUS_KDBUS_FIELD(msg, payload_type, 40);
KBUS_KDBUS_FIELD(msg, cookie, 48);
KBUS_KDBUS_FIELD(msg, timeout_ns, 56);
KBUS_KDBUS_FIELD(msg, cookie_reply, 56);
static_assert(std::is_standard_layout_v<info> && sizeof(info) == 24);
KBUS_KDBUS_FIELD(info, size, 0);
KBUS_KDBUS_FIELD(info, id, 8);
KBUS_KDBUS_FIELD(info, flags, 16);
static_assert(std::is_standard_layout_v<item> && sizeof(item) == 16);
KBUS_KDBUS_FIELD(item, size, 0);
KBUS_KDBUS_FIELD(item, type, 8);
static_assert(std::is_standard_layout_v<vec> && sizeof(vec) == 16);
KBUS_KDBUS_FIELD(vec, size, 0);
KBUS_KDBUS_FIELD(vec, address, 8);
KBUS_KDBUS_FIELD(vec, offset, 8);
static_assert(std::is_standard_layout_v<memfd> && sizeof(memfd) == 24);
KBUS_KDBUS_FIELD(memfd, start, 0);
KBUS_KDBUS_FIELD(memfd, size, 8);
KBUS_KDBUS_FIELD(memfd, fd, 16);
KBUS_KDBUS_FIELD(memfd, pad, 20);
static_assert(std::is_standard_layout_v<kdbus::bloom_parameter> && sizeof(kdbus::bloom_parameter) == 16);
KBUS_KDBUS_FIELD(kdbus::bloom_parameter, size, 0);
KBUS_KDBUS_FIELD(kdbus::bloom_parameter, n_hash, 8);
static_assert(std::is_standard_layout_v<kdbus::bloom_filter> && sizeof(kdbus::bloom_filter) == 8);
KBUS_KDBUS_FIELD(kdbus::bloom_filter, generation, 0);
static_assert(std::is_standard_layout_v<kdbus::name> && sizeof(kdbus::name) == 8);
KBUS_KDBUS_FIELD(kdbus::name, flags, 0);
static_assert(std::is_standard_layout_v<kdbus::creds> && sizeof(kdbus::creds) == 64);
KBUS_KDBUS_FIELD(kdbus::creds, uid, 0);
KBUS_KDBUS_FIELD(kdbus::creds, euid, 8);
KBUS_KDBUS_FIELD(kdbus::creds, suid, 16);
KBUS_KDBUS_FIELD(kdbus::creds, fsuid, 24);
KBUS_KDBUS_FIELD(kdbus::creds, gid, 32);
KBUS_KDBUS_FIELD(kdbus::creds, egid, 40);
KBUS_KDBUS_FIELD(kdbus::creds, sgid, 48);
KBUS_KDBUS_FIELD(kdbus::creds, fsgid, 56);
static_assert(std::is_standard_layout_v<kdbus::pids> && sizeof(kdbus::pids) == 24);
KBUS_KDBUS_FIELD(kdbus::pids, pid, 0);
KBUS_KDBUS_FIELD(kdbus::pids, tid, 8);
KBUS_KDBUS_FIELD(kdbus::pids, ppid, 16);
static_assert(std::is_standard_layout_v<kdbus::caps> && sizeof(kdbus::caps) == 4);
KBUS_KDBUS_FIELD(kdbus::caps, last_cap, 0);
static_assert(std::is_standard_layout_v<kdbus::audit> && sizeof(kdbus::audit) == 8);
KBUS_KDBUS_FIELD(kdbus::audit, sessionid, 0);
KBUS_KDBUS_FIELD(kdbus::audit, loginuid, 4);
static_assert(std::is_standard_layout_v<kdbus::timestamp> && sizeof(kdbus::timestamp) == 24);
KBUS_KDBUS_FIELD(kdbus::timestamp, seqnum, 0);
KBUS_KDBUS_FIELD(kdbus::timestamp, monotonic_ns, 8);
KBUS_KDBUS_FIELD(kdbus::timestamp, realtime_ns, 16);
static_assert(std::is_standard_layout_v<notify_id_change> && sizeof(notify_id_change) == 16);
KBUS_KDBUS_FIELD(notify_id_change, id, 0);
KBUS_KDBUS_FIELD(notify_id_change, flags, 8);
static_assert(std::is_standard_layout_v<notify_name_change> && sizeof(notify_name_change) == 32);
KBUS_KDBUS_FIELD(notify_name_change, old_id, 0);
KBUS_KDBUS_FIELD(notify_name_change, new_id, 16);
static_assert(std::is_standard_layout_v<kdbus::policy_access> && sizeof(kdbus::policy_access) == 24);
KBUS_KDBUS_FIELD(kdbus::policy_access, type, 0);
KBUS_KDBUS_FIELD(kdbus::policy_access, access, 8);
KBUS_KDBUS_FIELD(kdbus::policy_access, id, 16);
#undef KBUS_KDBUS_FIELD

}  // namespace kbus::kdbus
