// Matches (kdbus ABI notes §2.8): the rules a connection installed with MATCH_ADD, and a
// message or notification as the matcher sees it.
#pragma once

#include "transport/kdbus/abi.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::broker {

struct bus_connection;

// One rule of a match entry.
struct broker_match_rule {
  kdbus::item_type type{};
  std::vector<std::uint64_t> mask;       // BLOOM_MASK: generations x bloom words
  std::uint64_t id = 0;                  // ID, DST_ID, ID_ADD, ID_REMOVE
  std::uint64_t old_id = 0, new_id = 0;  // NAME_*
  std::string name;                      // NAME; NAME_* when has_name
  bool has_name = false;
};

// One MATCH_ADD: matches when all its rules do.
struct match_entry {
  std::uint64_t cookie = 0;
  std::vector<broker_match_rule> rules;
};

// A message as the matcher sees it.
struct match_subject {
  bool kernel = false;
  const bus_connection* sender = nullptr;
  std::uint64_t dst_id = 0;
  std::span<const std::uint64_t> bloom;
  std::uint64_t generation = 0;
  kdbus::item_type notify = kdbus::item_type::id_add;
  std::uint64_t id = 0, old_id = 0, new_id = 0;
  std::string_view name;
};

}  // namespace kbus::broker
