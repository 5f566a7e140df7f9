// Policy (kdbus ABI notes §2.12): who may SEE, TALK to or OWN a name, by user, group or world.
#pragma once

#include "broker/credentials.hpp"
#include "transport/kdbus/abi.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::broker {

// One POLICY_ACCESS entry: a kdbus::policy_type, a kdbus::policy_access_kind and the uid or gid.
struct access_entry {
  std::uint64_t type;
  std::uint64_t access;
  std::uint64_t id;
};

// Access entries by name, as NAME followed by POLICY_ACCESS items list them.
using policy_list = std::map<std::string, std::vector<access_entry>>;

// Names (possibly "prefix.*") with their access entries, and who uploaded them.
struct policy_db {
  struct entry {
    std::vector<access_entry> access;
    const void* owner = nullptr;
  };
  std::map<std::string, entry, std::less<>> entries;

  // The highest access `list` grants to `who`; -1 when nothing applies.
  static int grant(const std::vector<access_entry>& list, const credentials& who);
  // The highest access granted to `who` for `name` (the exact entry, then the wildcard one
  // level up); -1 when nothing grants anything.
  int query(const credentials& who, std::string_view name) const;
  void remove_owner(const void* owner);
};

// Reads NAME followed by POLICY_ACCESS items, repeated, into `out`: 0 or EINVAL.
int collect_policy(const std::vector<kdbus::item_ref>& items, bool allow_wildcard, policy_list& out);
// Replaces what `owner` uploaded to `db` with `add`: EEXIST when another owner has one of the names.
int install_policy(policy_db& db, const void* owner, const policy_list& add);

}  // namespace kbus::broker
