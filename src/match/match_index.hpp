// Many match rules, and the ones a message matches, in time that does not grow with the number
// of unrelated rules.
//
// Each rule is filed once, under the most selective key it has: path, else member, else
// interface, else path_namespace, else "unkeyed" (rules with none of these, e.g. sender='...'
// or type='signal' alone). A message looks only at the rules filed under its own path, member
// and interface, under each of the path's ancestors ("/", "/a", "/a/b" for "/a/b/c"; the
// path_namespace rules), and at the unkeyed rules. Each of those sets is disjoint from the
// others, so no rule is seen twice.
//
// Cost of for_each_match: O(L + depth(path) + C), where L is the length of the message's
// names (hashing), depth(path) the number of path_namespace buckets probed, and C the number
// of candidate rules: those that share the message's path, member or interface, have a
// path_namespace above its path, or have none of the four keys. Each candidate is fully
// evaluated (match_rule::matches). Rules filed under other keys cost nothing: 10 or 100,000
// unrelated rules take the same time. Add and remove are O(1) on average (hash tables; a
// removed entry is replaced by the bucket's last one).
#pragma once

#include "kbus/match.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kbus::detail {

class match_index {
 public:
  using id = std::uint64_t;

  // Files the rule; ids start at 1 and are never reused by one index.
  id add(match_rule rule);
  // False when there is no such rule.
  bool remove(id rule_id);
  std::size_t size() const noexcept { return locations_.size(); }
  bool empty() const noexcept { return locations_.empty(); }
  const match_rule* find(id rule_id) const;
  // Whether some rule looks at body arguments (else a message's body need not be read).
  bool needs_args() const noexcept { return rules_needing_args_ > 0; }

  // Calls f(id, rule) once for every rule that matches `m`.
  template <class F>
  void for_each_match(const match_input& m, F&& f, const name_owner_lookup* names = nullptr) const {
    visit_candidates(m, [&](const entry& e) {
      if (e.rule.matches(m, names)) f(e.rule_id, e.rule);
    });
  }

  // How many rules for_each_match(m) would evaluate (the complexity bound above, for tests and
  // diagnostics).
  std::size_t candidate_count(const match_input& m) const {
    std::size_t n = 0;
    visit_candidates(m, [&](const entry&) { ++n; });
    return n;
  }

  // The same for a decoded message; reads its arguments only when some rule needs them.
  template <class F>
  void for_each_match(const message& m, F&& f, const name_owner_lookup* names = nullptr) const {
    if (!needs_args()) return for_each_match(make_match_input(m), f, names);
    const message_match_args args(m);
    for_each_match(make_match_input(m, args.span()), f, names);
  }

 private:
  struct entry {
    id rule_id;
    match_rule rule;
  };
  using bucket = std::vector<entry>;
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using table = std::unordered_map<std::string, bucket, string_hash, std::equal_to<>>;
  enum class where : std::uint8_t { path, member, interface, path_namespace, unkeyed };
  struct location {
    where kind;
    std::string key;
    std::size_t index;
  };

  static const bucket* lookup(const table& t, std::string_view key) {
    if (key.empty() || t.empty()) return nullptr;
    auto it = t.find(key);
    return it == t.end() ? nullptr : &it->second;
  }

  template <class V>
  void visit_candidates(const match_input& m, V&& visit) const {
    auto all = [&](const bucket* b) {
      if (b)
        for (const auto& e : *b) visit(e);
    };
    all(lookup(by_path_, m.path));
    all(lookup(by_member_, m.member));
    all(lookup(by_interface_, m.interface));
    if (!by_path_namespace_.empty() && !m.path.empty() && m.path[0] == '/') {
      // "/" and every ancestor of the path, then the path itself.
      all(lookup(by_path_namespace_, "/"));
      for (std::size_t at = 1; at < m.path.size(); ++at)
        if (m.path[at] == '/') all(lookup(by_path_namespace_, m.path.substr(0, at)));
      if (m.path.size() > 1) all(lookup(by_path_namespace_, m.path));
    }
    all(&unkeyed_);
  }

  table& table_of(where kind);
  bucket& bucket_of(const location& l);

  id next_ = 1;
  std::size_t rules_needing_args_ = 0;
  table by_path_, by_member_, by_interface_, by_path_namespace_;
  bucket unkeyed_;
  std::unordered_map<id, location> locations_;
};

}  // namespace kbus::detail
