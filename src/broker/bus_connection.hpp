// A connection on a bus (HELLO, kdbus ABI notes §2.3): its pool, its queue of messages, the
// quota it keeps per sending user, its matches.
#pragma once

#include "broker/credentials.hpp"
#include "broker/domain.hpp"
#include "broker/matches.hpp"
#include "broker/peer_io.hpp"
#include "broker/pool.hpp"
#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace kbus::broker {

struct bus;
struct endpoint;

// What one sending user has in a receiver's queue (§2.4).
struct user_quota {
  std::uint64_t memory = 0;
  std::size_t msgs = 0;
  std::size_t fds = 0;
};

// A message in a receiver's queue: its slice in the receiver's pool and what RECV needs.
struct queue_entry {
  std::uint64_t seq = 0;
  std::uint64_t slice = 0;
  std::uint64_t size = 0;
  std::int64_t priority = 0;
  std::uint64_t src_id = 0;
  std::uint64_t cookie = 0;
  bool expect_reply = false;
  bool accounted = false;
  std::uint64_t quota_user = 0;
  std::vector<file_ref> files;
  std::vector<std::size_t> file_slots;  // byte offsets of the int fds in the slice
  std::string dst_name;                 // sent to this well-known name (moves with it)
};

struct bus_connection {
  std::uint64_t id = 0;
  bus* b = nullptr;
  endpoint* ep = nullptr;
  handle_id handle = 0;
  std::uint64_t flags = 0;  // HELLO flags
  std::uint64_t attach_send = 0;
  std::uint64_t attach_recv = 0;
  bool owner = false;  // same euid as the bus creator, or privileged
  bool privileged = false;
  std::uint64_t user = 0;  // accounted to this uid
  credentials creds;       // captured at HELLO (or faked by a proxy)
  bool faked = false;      // CREDS/PIDS/SECLABEL given at HELLO replace process metadata
  std::string description;
  std::span<std::uint8_t> pool_memory;
  std::vector<std::uint8_t> own_memory;
  pool p;
  std::list<queue_entry> queue;
  std::map<std::uint64_t, user_quota> quota;
  std::uint64_t lost = 0;
  std::vector<match_entry> matches;
  std::size_t names = 0;  // names owned or queued for
  std::size_t replies_pending = 0;
  std::string special_name;  // ACTIVATOR: the NAME of HELLO

  bool ordinary() const noexcept {
    return !(flags & (kdbus::hello::activator | kdbus::hello::policy_holder | kdbus::hello::monitor));
  }
  bool activator() const noexcept { return flags & kdbus::hello::activator; }
  bool monitor() const noexcept { return flags & kdbus::hello::monitor; }
  bool policy_holder() const noexcept { return flags & kdbus::hello::policy_holder; }
};

}  // namespace kbus::broker
