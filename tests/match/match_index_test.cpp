// The dispatch index gives exactly what evaluating every rule gives, at 100,000 rules, keeps
// doing so as rules come and go, and looks at a number of candidates that does not grow with
// the number of unrelated rules.
#include "match/match_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace {

using kbus::detail::match_index;

kbus::message signal(const std::string& path, const std::string& iface, const std::string& member, const std::string& arg0) {
  return kbus::message_builder::signal(kbus::object_path(path), kbus::interface_name(iface), kbus::member_name(member))
      .build(arg0);
}

kbus::match_input input(std::string_view path, std::string_view iface, std::string_view member) {
  kbus::match_input m;
  m.type = kbus::message_type::signal;
  m.sender = ":1.1";
  m.path = path;
  m.interface = iface;
  m.member = member;
  return m;
}

TEST(MatchIndex, SameAnswersAsCheckingEveryRule) {
  std::mt19937 rng(5);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  match_index index;
  std::vector<std::pair<match_index::id, kbus::match_rule>> all;
  for (int i = 0; i < 100000; ++i) {
    std::string text = pick(2) ? "type='signal'" : "";
    auto comma = [&] { return text.empty() ? "" : ","; };
    switch (pick(6)) {
      case 0: text += comma() + std::string("member='M") + std::to_string(pick(5000)) + "'"; break;
      case 1: text += comma() + std::string("interface='org.i") + std::to_string(pick(3000)) + ".I'"; break;
      case 2: text += comma() + std::string("path='/p/") + std::to_string(pick(3000)) + "'"; break;
      case 3:
        text += comma() + std::string("path_namespace='/p/") + std::to_string(pick(30000)) + "'";
        if (pick(3) == 0) text += ",member='M" + std::to_string(pick(5000)) + "'";
        break;
      case 4:
        text += comma() + std::string("interface='org.i") + std::to_string(pick(3000)) + ".I',member='M" +
                std::to_string(pick(5000)) + "',arg0='a" + std::to_string(pick(10)) + "'";
        break;
      default:
        // Unkeyed rules: rare, as in real use (a sender's every signal, a monitor's catch-all).
        if (pick(100) == 0) text += comma() + std::string("arg0='a") + std::to_string(pick(10)) + "'";
        else text += comma() + std::string("path_namespace='/q/") + std::to_string(pick(30000)) + "'";
    }
    auto rule = kbus::match_rule::parse(text);
    ASSERT_TRUE(rule) << text;
    all.emplace_back(index.add(*rule), *rule);
  }
  ASSERT_EQ(index.size(), 100000u);
  EXPECT_TRUE(index.needs_args());
  // Remove a tenth, in random order.
  std::shuffle(all.begin(), all.end(), rng);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(index.remove(all.back().first));
    ASSERT_FALSE(index.remove(all.back().first));
    ASSERT_EQ(index.find(all.back().first), nullptr);
    all.pop_back();
  }
  EXPECT_EQ(index.size(), all.size());
  std::size_t matched = 0;
  for (int i = 0; i < 80; ++i) {
    const std::string path = pick(2) ? "/p/" + std::to_string(pick(3000)) : "/p/" + std::to_string(pick(30000)) + "/c/d";
    const auto m = signal(path, "org.i" + std::to_string(pick(3000)) + ".I", "M" + std::to_string(pick(5000)),
                          "a" + std::to_string(pick(10)));
    std::set<match_index::id> from_index, from_scan;
    index.for_each_match(m, [&](auto id, const kbus::match_rule&) { EXPECT_TRUE(from_index.insert(id).second); });
    for (const auto& [id, rule] : all)
      if (rule.matches(m)) from_scan.insert(id);
    EXPECT_EQ(from_index, from_scan) << path;
    matched += from_scan.size();
  }
  EXPECT_GT(matched, 80u);  // the messages hit real subscribers, not only empty sets
  for (const auto& [id, rule] : all) {
    const auto* found = index.find(id);
    ASSERT_NE(found, nullptr);
    ASSERT_EQ(*found, rule);
  }
}

TEST(MatchIndex, CandidatesDoNotGrowWithUnrelatedRules) {
  // The same 3 subscribers of the signal, among 10, 1,000 and 100,000 rules keyed by other
  // members, interfaces, paths and path namespaces.
  const auto m = input("/org/kbus/target/child", "org.kbus.Target", "Hit");
  for (int unrelated : {10, 1000, 100000}) {
    match_index index;
    for (int i = 0; i < unrelated; ++i) {
      const std::string n = std::to_string(i);
      switch (i % 4) {
        case 0: index.add(kbus::match_rule::parse("type='signal',member='Member" + n + "'").value()); break;
        case 1: index.add(kbus::match_rule::parse("type='signal',interface='org.kbus.Iface" + n + "'").value()); break;
        case 2: index.add(kbus::match_rule::parse("type='signal',path='/org/kbus/obj" + n + "'").value()); break;
        default: index.add(kbus::match_rule::parse("path_namespace='/org/kbus/ns" + n + "'").value()); break;
      }
    }
    const auto a = index.add(kbus::match_rule::parse("type='signal',interface='org.kbus.Target',member='Hit'").value());
    const auto b = index.add(kbus::match_rule::parse("path_namespace='/org/kbus/target'").value());
    const auto c = index.add(kbus::match_rule::parse("sender=':1.1'").value());
    index.add(kbus::match_rule::parse("member='Hit',path='/elsewhere'").value());  // a candidate that fails
    EXPECT_FALSE(index.needs_args());
    std::set<match_index::id> got;
    index.for_each_match(m, [&](auto id, const auto&) { got.insert(id); });
    EXPECT_EQ(got, (std::set<match_index::id>{a, b, c})) << unrelated;
    // Candidates: a (member Hit), b (namespace above the path), c (unkeyed). The rule filed
    // under path '/elsewhere' is not even looked at.
    EXPECT_EQ(index.candidate_count(m), 3u) << unrelated;
  }
}

TEST(MatchIndex, PathNamespaceBuckets) {
  match_index index;
  const auto root = index.add(kbus::match_rule::parse("path_namespace='/'").value());
  const auto a = index.add(kbus::match_rule::parse("path_namespace='/a'").value());
  const auto ab = index.add(kbus::match_rule::parse("path_namespace='/a/b'").value());
  const auto abc = index.add(kbus::match_rule::parse("path_namespace='/a/b/c'").value());
  index.add(kbus::match_rule::parse("path_namespace='/a/bc'").value());
  index.add(kbus::match_rule::parse("path_namespace='/ab'").value());
  auto ids = [&](std::string_view path) {
    std::set<match_index::id> got;
    index.for_each_match(input(path, "", ""), [&](auto id, const auto&) { got.insert(id); });
    return got;
  };
  using S = std::set<match_index::id>;
  EXPECT_EQ(ids("/"), (S{root}));
  EXPECT_EQ(ids("/a"), (S{root, a}));
  EXPECT_EQ(ids("/a/b"), (S{root, a, ab}));
  EXPECT_EQ(ids("/a/b/c/d/e"), (S{root, a, ab, abc}));
  EXPECT_EQ(ids("/x"), (S{root}));
  EXPECT_EQ(ids(""), (S{}));  // no path: no path_namespace matches
  // Removal empties buckets and keeps the others.
  EXPECT_TRUE(index.remove(ab));
  EXPECT_EQ(ids("/a/b/c"), (S{root, a, abc}));
  EXPECT_EQ(index.candidate_count(input("/a/b/c", "", "")), 3u);
}

TEST(MatchIndex, ArgumentsAreReadOnlyWhenNeeded) {
  match_index index;
  const auto m = signal("/p", "org.e.I", "M", "value");
  index.add(kbus::match_rule::parse("member='M'").value());
  EXPECT_FALSE(index.needs_args());
  const auto arg = index.add(kbus::match_rule::parse("member='M',arg0='value'").value());
  EXPECT_TRUE(index.needs_args());
  int n = 0;
  index.for_each_match(m, [&](auto, const auto&) { ++n; });
  EXPECT_EQ(n, 2);
  // Without the arguments in the input, the arg0 rule cannot match.
  n = 0;
  index.for_each_match(kbus::make_match_input(m), [&](auto, const auto&) { ++n; });
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(index.remove(arg));
  EXPECT_FALSE(index.needs_args());
  EXPECT_FALSE(index.remove(arg));
  EXPECT_EQ(index.find(arg), nullptr);
}

}  // namespace
