#include "match/match_index.hpp"

namespace kbus::detail {

match_index::bucket& match_index::bucket_of(const location& l) {
  switch (l.kind) {
    case where::member: return by_member_[l.key];
    case where::interface: return by_interface_[l.key];
    case where::path: return by_path_[l.key];
    default: return unkeyed_;
  }
}

match_index::id match_index::add(match_rule rule) {
  location l{where::unkeyed, {}, 0};
  if (rule.member) l = {where::member, *rule.member, 0};
  else if (rule.interface) l = {where::interface, *rule.interface, 0};
  else if (rule.path) l = {where::path, *rule.path, 0};
  bucket& b = bucket_of(l);
  l.index = b.size();
  const id rule_id = next_++;
  b.push_back({rule_id, std::move(rule)});
  locations_.emplace(rule_id, std::move(l));
  return rule_id;
}

bool match_index::remove(id rule_id) {
  auto it = locations_.find(rule_id);
  if (it == locations_.end()) return false;
  const location l = it->second;
  locations_.erase(it);
  bucket& b = bucket_of(l);
  // Swap with the last entry and pop: O(1), and the moved entry's location is updated.
  if (l.index + 1 != b.size()) {
    b[l.index] = std::move(b.back());
    locations_[b[l.index].rule_id].index = l.index;
  }
  b.pop_back();
  if (b.empty() && l.kind != where::unkeyed) {
    if (l.kind == where::member) by_member_.erase(l.key);
    else if (l.kind == where::interface) by_interface_.erase(l.key);
    else by_path_.erase(l.key);
  }
  return true;
}

const match_rule* match_index::find(id rule_id) const {
  auto it = locations_.find(rule_id);
  if (it == locations_.end()) return nullptr;
  const location& l = it->second;
  const bucket* b = nullptr;
  switch (l.kind) {
    case where::member: b = lookup(by_member_, l.key); break;
    case where::interface: b = lookup(by_interface_, l.key); break;
    case where::path: b = lookup(by_path_, l.key); break;
    default: b = &unkeyed_; break;
  }
  return b ? &(*b)[l.index].rule : nullptr;
}

}  // namespace kbus::detail
