// A bus made with BUS_MAKE (kdbus ABI notes §2.1): its endpoints, its connections, its name
// registry and its policy.
#pragma once

#include "broker/bus_connection.hpp"
#include "broker/credentials.hpp"
#include "broker/policy.hpp"
#include "transport/kdbus/abi.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

namespace kbus::broker {

struct name_owner {
  bus_connection* conn;
  std::uint64_t flags;  // stored: QUEUE | ALLOW_REPLACEMENT
};

// A well-known name: its owner and the connections queued for it, and its activator.
struct name_entry {
  std::list<name_owner> queue;  // the head is the primary owner
  bus_connection* activator = nullptr;
  bus_connection* primary() const noexcept { return queue.empty() ? activator : queue.front().conn; }
};

using name_map = std::map<std::string, name_entry, std::less<>>;

struct endpoint {
  bus* b = nullptr;
  std::string name;
  bool custom = false;
  std::uint64_t uid = 0, gid = 0;
  policy_db policy;  // custom endpoints: empty = everything denied
};

struct bus {
  std::uint64_t id = 0;
  std::string name;
  std::uint64_t flags = 0;
  std::array<std::uint8_t, 16> id128{};
  kdbus::bloom_parameter bloom{};
  std::uint64_t attach_send = 0;
  credentials creator;
  std::uint64_t seqnum = 0;
  std::map<std::string, std::unique_ptr<endpoint>, std::less<>> endpoints;
  std::map<std::uint64_t, bus_connection*> connections;
  name_map names;
  policy_db policy;
};

}  // namespace kbus::broker
