#include "match/match_index.hpp"

namespace kbus::detail {

match_index::table& match_index::table_of(where kind) {
  switch (kind) {
    case where::path: return by_path_;
    case where::member: return by_member_;
    case where::interface: return by_interface_;
    default: return by_path_namespace_;
  }
}

match_index::bucket& match_index::bucket_of(const location& l) {
  if (l.kind == where::unkeyed) return unkeyed_;
  table& t = table_of(l.kind);
  auto it = t.find(l.key);
  if (it == t.end()) it = t.emplace(l.key, bucket{}).first;
  return it->second;
}

match_index::id match_index::add(match_rule rule) {
  location l{where::unkeyed, {}, 0};
  if (rule.path) l = {where::path, *rule.path, 0};
  else if (rule.member) l = {where::member, *rule.member, 0};
  else if (rule.interface) l = {where::interface, *rule.interface, 0};
  else if (rule.path_namespace) l = {where::path_namespace, *rule.path_namespace, 0};
  bucket& b = bucket_of(l);
  l.index = b.size();
  const id rule_id = next_++;
  if (rule.needs_args()) ++rules_needing_args_;
  b.push_back({rule_id, std::move(rule)});
  locations_.emplace(rule_id, std::move(l));
  return rule_id;
}

bool match_index::remove(id rule_id) {
  auto it = locations_.find(rule_id);
  if (it == locations_.end()) return false;
  const location l = std::move(it->second);
  locations_.erase(it);
  bucket& b = bucket_of(l);
  if (b[l.index].rule.needs_args()) --rules_needing_args_;
  // Swap with the last entry and pop: O(1), and the moved entry's location is updated.
  if (l.index + 1 != b.size()) {
    b[l.index] = std::move(b.back());
    locations_.at(b[l.index].rule_id).index = l.index;
  }
  b.pop_back();
  if (b.empty() && l.kind != where::unkeyed) table_of(l.kind).erase(l.key);
  return true;
}

const match_rule* match_index::find(id rule_id) const {
  auto it = locations_.find(rule_id);
  if (it == locations_.end()) return nullptr;
  const location& l = it->second;
  const bucket* b = nullptr;
  switch (l.kind) {
    case where::path: b = lookup(by_path_, l.key); break;
    case where::member: b = lookup(by_member_, l.key); break;
    case where::interface: b = lookup(by_interface_, l.key); break;
    case where::path_namespace: b = lookup(by_path_namespace_, l.key); break;
    case where::unkeyed: b = &unkeyed_; break;
  }
  return b ? &(*b)[l.index].rule : nullptr;
}

}  // namespace kbus::detail
