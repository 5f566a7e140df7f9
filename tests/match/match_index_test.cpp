// The dispatch index gives exactly what evaluating every rule gives, at 100,000 rules, and
// keeps doing so as rules come and go.
#include "match/match_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace {

kbus::message signal(const std::string& path, const std::string& iface, const std::string& member, const std::string& arg0) {
  return kbus::message_builder::signal(kbus::object_path(path), kbus::interface_name(iface), kbus::member_name(member))
      .build(arg0);
}

TEST(MatchIndex, SameAnswersAsCheckingEveryRule) {
  std::mt19937 rng(5);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  kbus::detail::match_index index;
  std::vector<std::pair<kbus::detail::match_index::id, kbus::match_rule>> all;
  for (int i = 0; i < 100000; ++i) {
    std::string text = "type='signal'";
    switch (pick(4)) {
      case 0: text += ",member='M" + std::to_string(pick(5000)) + "'"; break;
      case 1: text += ",interface='org.i" + std::to_string(pick(3000)) + ".I'"; break;
      case 2: text += ",path='/p/" + std::to_string(pick(3000)) + "'"; break;
      default: if (pick(50) == 0) text += ",arg0='a" + std::to_string(pick(10)) + "'"; else text += ",path_namespace='/p/" + std::to_string(pick(100000)) + "'";
    }
    auto rule = kbus::match_rule::parse(text).value();
    all.emplace_back(index.add(rule), rule);
  }
  // Remove a tenth, in random order.
  std::shuffle(all.begin(), all.end(), rng);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(index.remove(all.back().first));
    ASSERT_FALSE(index.remove(all.back().first));
    all.pop_back();
  }
  EXPECT_EQ(index.size(), all.size());
  for (int i = 0; i < 60; ++i) {
    const auto m = signal("/p/" + std::to_string(pick(3000)), "org.i" + std::to_string(pick(3000)) + ".I",
                          "M" + std::to_string(pick(5000)), "a" + std::to_string(pick(10)));
    std::set<kbus::detail::match_index::id> from_index, from_scan;
    index.for_each_match(m, [&](auto id, const kbus::match_rule&) { EXPECT_TRUE(from_index.insert(id).second); });
    for (const auto& [id, rule] : all)
      if (rule.matches(m)) from_scan.insert(id);
    EXPECT_EQ(from_index, from_scan);
  }
  const auto& [some_id, some_rule] = all.front();
  ASSERT_NE(index.find(some_id), nullptr);
  EXPECT_EQ(*index.find(some_id), some_rule);
}

}  // namespace
