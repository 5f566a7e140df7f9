// The common shape of a command (kdbus ABI notes §1.3-1.7): size, flags (with NEGOTIATE),
// then items, each checked against the items the command accepts.
#pragma once

#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kbus::broker {

// One item a command accepts.
struct item_rule {
  kdbus::item_type type;
  bool multiple;
  bool mandatory;
};

struct parsed_command {
  std::uint64_t flags = 0;
  std::vector<kdbus::item_ref> items;  // views into the command's bytes
  bool negotiate = false;              // KDBUS_FLAG_NEGOTIATE: answered in the command's bytes
};

// Checks `cmd` (`fixed` = the command struct's size, `allowed` its flags) and collects its
// items. With NEGOTIATE, writes back the flags and item types the command knows.
int parse_command(std::span<std::uint8_t> cmd, std::size_t fixed, std::uint64_t allowed,
                  std::span<const item_rule> rules, parsed_command& out);
// Per-type validation of a command's item (§1.6).
int validate_item(const kdbus::item_ref& it);
// Attach flags: _KDBUS_ATTACH_ANY becomes all; unknown bits are EINVAL.
int check_attach(std::uint64_t& flags);

}  // namespace kbus::broker
