// Many match rules, and the ones a message matches, in time that does not grow with the
// number of unrelated rules: each rule is filed under its most selective key (member, else
// interface, else path), and a message looks only at the rules filed under its own member,
// interface and path, plus the rules that have none of the three.
#pragma once

#include "kbus/match.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace kbus::detail {

class match_index {
 public:
  using id = std::uint64_t;

  id add(match_rule rule);
  // False when there is no such rule.
  bool remove(id rule_id);
  std::size_t size() const noexcept { return locations_.size(); }
  const match_rule* find(id rule_id) const;

  // Calls f(id, rule) for every rule that matches `m`.
  template <class F>
  void for_each_match(const message& m, F&& f, const name_owner_lookup& owner_of = {}) const {
    auto visit = [&](const bucket* b) {
      if (!b) return;
      for (const auto& e : *b)
        if (e.rule.matches(m, owner_of)) f(e.rule_id, e.rule);
    };
    visit(lookup(by_member_, m.member()));
    visit(lookup(by_interface_, m.interface()));
    visit(lookup(by_path_, m.path()));
    visit(&unkeyed_);
  }

 private:
  struct entry {
    id rule_id;
    match_rule rule;
  };
  using bucket = std::vector<entry>;
  using table = std::unordered_map<std::string, bucket>;
  enum class where : std::uint8_t { member, interface, path, unkeyed };
  struct location {
    where kind;
    std::string key;
    std::size_t index;
  };

  static const bucket* lookup(const table& t, std::string_view key) {
    if (key.empty() || t.empty()) return nullptr;
    auto it = t.find(std::string(key));
    return it == t.end() ? nullptr : &it->second;
  }
  bucket& bucket_of(const location& l);

  id next_ = 1;
  table by_member_, by_interface_, by_path_;
  bucket unkeyed_;
  std::unordered_map<id, location> locations_;
};

}  // namespace kbus::detail
